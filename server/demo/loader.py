"""The demo's catalogue: the JSON files in `data/`, read into typed specs.

The files ship inside the package (pyproject's package-data) and are read with
importlib.resources, so an installed wheel finds them as a checkout does.

- institutions.json: real institutions, one a line. Their order is the order the
  benchmark generator picks from, so it is part of the random sequence.
- names.json: per country, given and family names (or full names where that fits
  better), and whether the family name comes first. A string is a Latin-script name whose
  English spelling is its ASCII fold ("Nguyễn" -> "Nguyen"); a pair is [English, local].
- projects.json: the demo projects as written down, one a line (institutions by key, the
  lead first; `third` and `withdrawn_after` only where they are not the default).
- countries.json: each partner country's region (for course titles), currency (for
  equipment bought locally) and language (ISO 639-1, for learning materials).
- currencies.json: rough yen per unit (demo values, not a rate source) and the ISO 4217
  currencies whose minor unit is 0.
- fields.json: per SATREPS field (a theme code), what a project buys, trains, aims at and
  measures; `generic_outputs` serve projects of every field.
- texts.json: the words of phase histories and of cooperation, PDM and M&E records.
- topics.json: per root field, the topics of the synthetic benchmark projects.
"""

from __future__ import annotations

import json
import random
import unicodedata
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from server.models.enums import EvaluationKind, InstitutionKind, ProjectPhase

Name = tuple[str, str]  # (English spelling, local spelling)
_ASCII_FOLD = str.maketrans({"đ": "d", "Đ": "D", "ı": "i", "ø": "o", "ł": "l", "ß": "ss"})


def read(name: str) -> Any:
    """One data file, parsed."""
    return json.loads(files(__package__ or "server.demo").joinpath("data", name).read_text("utf-8"))


def ascii_fold(text: str) -> str:
    """'Nguyễn Đức' -> 'Nguyen Duc', 'Yılmaz' -> 'Yilmaz'."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _pair(raw: list[int]) -> tuple[int, int]:
    low, high = raw
    return low, high


# ---- institutions --------------------------------------------------------------------


@dataclass(frozen=True)
class InstitutionSpec:
    key: str
    country: str
    kind: InstitutionKind
    name_en: str
    name_local: str | None = None
    acronym: str | None = None
    ror_id: str | None = None
    website: str | None = None


def _institutions() -> tuple[InstitutionSpec, ...]:
    return tuple(
        InstitutionSpec(**{**raw, "kind": InstitutionKind(raw["kind"])})
        for raw in read("institutions.json")
    )


# ---- people --------------------------------------------------------------------------


@dataclass(frozen=True)
class NamePool:
    """Names of one country: given x family, or a list of full names where that fits better."""

    given: tuple[Name, ...] = ()
    family: tuple[Name, ...] = ()
    full: tuple[Name, ...] = ()
    family_first_en: bool = False
    family_first_local: bool = False

    def draw(self, rng: random.Random) -> tuple[str, str | None]:
        if self.full:
            en, local = rng.choice(self.full)
        else:
            (given_en, given_local), (family_en, family_local) = (
                rng.choice(self.given),
                rng.choice(self.family),
            )
            en = " ".join((family_en, given_en) if self.family_first_en else (given_en, family_en))
            local = " ".join(
                (family_local, given_local)
                if self.family_first_local
                else (given_local, family_local)
            )
        return en, (local if local != en else None)


def _name(raw: str | list[str]) -> Name:
    """A Latin-script name (its English spelling is its ASCII fold), or [English, local]."""
    if isinstance(raw, str):
        return ascii_fold(raw), raw
    en, local = raw
    return en, local


def _name_pools() -> dict[str, NamePool]:
    return {
        country: NamePool(
            given=tuple(map(_name, raw.get("given", ()))),
            family=tuple(map(_name, raw.get("family", ()))),
            full=tuple(map(_name, raw.get("full", ()))),
            family_first_en=raw.get("family_first_en", False),
            family_first_local=raw.get("family_first_local", False),
        )
        for country, raw in read("names.json").items()
    }


# ---- projects ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectSpec:
    """A project as written down: who leads, who takes part, how far it got."""

    acronym: str
    title: str
    theme: str
    countries: tuple[str, ...]
    japanese: tuple[str, ...]  # institution keys, the lead first
    partners: tuple[str, ...]  # institution keys, the lead first
    phase: ProjectPhase
    third: tuple[str, ...] = ()
    withdrawn_after: ProjectPhase = ProjectPhase.PLANNING


def _projects() -> tuple[ProjectSpec, ...]:
    return tuple(
        ProjectSpec(
            acronym=raw["acronym"],
            title=raw["title"],
            theme=raw["theme"],
            countries=tuple(raw["countries"]),
            japanese=tuple(raw["japanese"]),
            partners=tuple(raw["partners"]),
            phase=ProjectPhase(raw["phase"]),
            third=tuple(raw.get("third", ())),
            withdrawn_after=ProjectPhase(raw.get("withdrawn_after", ProjectPhase.PLANNING)),
        )
        for raw in read("projects.json")
    )


# ---- fields: what projects buy, train, aim at and measure ----------------------------


@dataclass(frozen=True)
class Gear:
    item: str
    category: str
    yen: tuple[int, int]  # unit value, thousands of yen
    quantity: tuple[int, int] = (1, 1)


@dataclass(frozen=True)
class IndicatorSpec:
    description: str
    unit: str
    baseline: tuple[int, int]
    target: tuple[int, int]
    verification: str


@dataclass(frozen=True)
class OutputSpec:
    description: str
    activities: tuple[str, ...]
    indicators: tuple[IndicatorSpec, ...]


@dataclass(frozen=True)
class FieldSpec:
    """What a project of one SATREPS field buys, trains, aims at and measures."""

    gear: tuple[Gear, ...]
    goal: str
    goal_indicators: tuple[IndicatorSpec, ...]
    purpose: str
    purpose_indicators: tuple[IndicatorSpec, ...]
    outputs: tuple[OutputSpec, ...]
    skills: tuple[str, ...]  # in-country training and dispatch topics
    courses: tuple[str, ...]  # training-in-Japan topics
    materials: tuple[str, ...]
    audiences: tuple[str, ...]


def _gear(raw: dict[str, Any]) -> Gear:
    quantity = _pair(raw["quantity"]) if "quantity" in raw else (1, 1)
    return Gear(raw["item"], raw["category"], _pair(raw["yen"]), quantity)


def _indicators(raw: list[dict[str, Any]]) -> tuple[IndicatorSpec, ...]:
    return tuple(
        IndicatorSpec(
            x["description"], x["unit"], _pair(x["baseline"]), _pair(x["target"]), x["verification"]
        )
        for x in raw
    )


def _output(raw: dict[str, Any]) -> OutputSpec:
    return OutputSpec(raw["description"], tuple(raw["activities"]), _indicators(raw["indicators"]))


def _field(raw: dict[str, Any]) -> FieldSpec:
    return FieldSpec(
        gear=tuple(map(_gear, raw["gear"])),
        goal=raw["goal"],
        goal_indicators=_indicators(raw["goal_indicators"]),
        purpose=raw["purpose"],
        purpose_indicators=_indicators(raw["purpose_indicators"]),
        outputs=tuple(map(_output, raw["outputs"])),
        skills=tuple(raw["skills"]),
        courses=tuple(raw["courses"]),
        materials=tuple(raw["materials"]),
        audiences=tuple(raw["audiences"]),
    )


# ---- the catalogue -------------------------------------------------------------------

INSTITUTIONS = _institutions()
INSTITUTION_BY_KEY: dict[str, InstitutionSpec] = {i.key: i for i in INSTITUTIONS}
NAME_POOLS = _name_pools()
PROJECTS = _projects()

_countries: dict[str, dict[str, str]] = read("countries.json")
REGION = {code: c["region"] for code, c in _countries.items()}
CURRENCY = {code: c["currency"] for code, c in _countries.items()}
LANGUAGE = {code: c["language"] for code, c in _countries.items()}
_currencies = read("currencies.json")
YEN_PER_UNIT: dict[str, float] = _currencies["yen_per_unit"]
ZERO_DECIMAL_CURRENCIES = frozenset[str](_currencies["zero_decimal"])

_fields = read("fields.json")
GENERIC_OUTPUTS = tuple(map(_output, _fields["generic_outputs"]))
FIELDS = {theme: _field(raw) for theme, raw in _fields["fields"].items()}

_texts = read("texts.json")
PHASE_NOTES = {ProjectPhase(phase): note for phase, note in _texts["phase_notes"].items()}
DISPATCH_PURPOSES: tuple[str, ...] = tuple(_texts["dispatch_purposes"])
COURSE_OUTCOMES: tuple[str, ...] = tuple(_texts["course_outcomes"])
JCC_DECISIONS: tuple[str, ...] = tuple(_texts["jcc_decisions"])
REPORT_SUMMARIES: tuple[str, ...] = tuple(_texts["report_summaries"])
LESSONS: tuple[str, ...] = tuple(_texts["lessons"])
FOLLOW_UPS: tuple[str, ...] = tuple(_texts["follow_ups"])
EVALUATION_TEXT = {EvaluationKind(kind): text for kind, text in _texts["evaluations"].items()}
LICENCES: tuple[str, ...] = tuple(_texts["licences"])

TOPICS: dict[str, tuple[str, ...]] = {
    field: tuple(topics) for field, topics in read("topics.json").items()
}
