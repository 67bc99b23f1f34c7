"""The e-mail's words in the recipient's language: gettext catalogues managed with Babel, as
the dashboard's (server/http/i18n.py), in their own domain `notifications`:

    locales/notifications.pot                      extracted from events.py and this module:
        PYTHONPATH=. pybabel extract -k N_ --no-wrap --sort-by-file \\
          -o server/notifications/locales/notifications.pot \\
          server/notifications/events.py server/notifications/messages.py
    locales/<lang>/LC_MESSAGES/notifications.po    the translations (en, ja)

A language is offered when its catalogue is there; a recipient's language tag is matched
exactly, then by its language (`ja-JP` -> `ja`), else English. An untranslated or fuzzy
message falls back to the English msgid.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

from server.notifications.events import EVENTS, N_

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "notifications"
DEFAULT = "en"

DIGEST_SUBJECT = N_("SATREPS Hub: {count} notifications of the day")
DIGEST_INTRO = N_("What happened in your projects since the last summary:")
FOOTER = N_("You receive this e-mail because of your notification preferences in SATREPS Hub.")


@cache
def catalogues() -> dict[str, dict[str, str]]:
    """{language: {msgid: translation}} for every catalogue present."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        with path.open("rb") as f:
            catalog = read_po(f, domain=DOMAIN)
        found[path.parent.parent.name] = {
            str(m.id): str(m.string)
            for m in catalog
            if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
        }
    return found


def language_of(tag: str | None) -> str:
    available = catalogues()
    if tag:
        for candidate in (tag, tag.split("-", 1)[0]):
            for code in available:
                if code.lower() == candidate.lower():
                    return code
    return DEFAULT


class _Values(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def gettext(language: str, msgid: str, values: dict[str, Any] | None = None) -> str:
    text = catalogues().get(language, {}).get(msgid) or msgid
    return text.format_map(_Values(values or {}))


def values_of(event: Any) -> dict[str, Any]:
    """The placeholders of an outbox row: its payload and subject ids."""
    values: dict[str, Any] = dict(event.payload or {})
    for name in ("project_id", "institution_id", "dataset_id", "upload_id"):
        values.setdefault(name, getattr(event, name))
    return values


def render(event: Any, tag: str | None) -> tuple[str, str, str]:
    """(language, subject, text) of one event's e-mail."""
    language = language_of(tag)
    kind = EVENTS[event.event]
    values = values_of(event)
    subject = gettext(language, kind.subject, values)
    body = gettext(language, kind.body, values)
    return language, subject, f"{body}\n\n-- \n{gettext(language, FOOTER)}\n"


def render_digest(events: list[Any], tag: str | None) -> tuple[str, str, str]:
    language = language_of(tag)
    lines = [gettext(language, DIGEST_INTRO), ""]
    for event in events:
        kind = EVENTS[event.event]
        lines.append("- " + gettext(language, kind.subject, values_of(event)))
    lines += ["", "-- ", gettext(language, FOOTER)]
    subject = gettext(language, DIGEST_SUBJECT, {"count": len(events)})
    return language, subject, "\n".join(lines) + "\n"
