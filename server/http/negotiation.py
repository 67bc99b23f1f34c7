"""Content negotiation of the landing pages: which of the offered media types an Accept
header prefers (RFC 9110 §12.5.1: the most specific range that matches sets a type's
weight; q=0 refuses it; equal weights go to the server's order)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_HEADER = 2048  # longer headers are read up to here


@dataclass(frozen=True)
class MediaRange:
    type: str
    subtype: str
    q: float
    params: dict[str, str] = field(default_factory=dict)

    def specificity(self, media: str) -> int:
        """-1: no match; 0: */*; 1: type/*; 2: exact (3 with parameters)."""
        kind, _, sub = media.partition("/")
        if self.type == "*" and self.subtype == "*":
            return 0
        if self.type != kind:
            return -1
        if self.subtype == "*":
            return 1
        if self.subtype != sub:
            return -1
        return 3 if self.params else 2


def parse_accept(header: str | None) -> list[MediaRange]:
    ranges: list[MediaRange] = []
    for part in (header or "*/*")[:MAX_HEADER].split(","):
        pieces = [p.strip() for p in part.split(";")]
        kind, _, sub = pieces[0].lower().partition("/")
        if not kind or not sub:
            continue
        q, params = 1.0, {}
        for piece in pieces[1:]:
            name, _, value = piece.partition("=")
            name, value = name.strip().lower(), value.strip().strip('"')
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = -1.0
            elif name:
                params[name] = value
        if 0 <= q <= 1:
            ranges.append(MediaRange(kind, sub, q, params))
    return ranges


def choose(header: str | None, offered: Sequence[str]) -> tuple[str, dict[str, str]] | None:
    """The best offered media type with the parameters of the range that chose it, or None
    when none is acceptable."""
    ranges = parse_accept(header)
    best: tuple[float, int, str, dict[str, str]] | None = None
    for index, media in enumerate(offered):
        matches = [(r.specificity(media), r) for r in ranges]
        matches = [(s, r) for s, r in matches if s >= 0]
        if not matches:
            continue
        _, chosen = max(matches, key=lambda m: m[0])
        if chosen.q <= 0:
            continue
        if best is None or chosen.q > best[0] or (chosen.q == best[0] and -index > best[1]):
            best = (chosen.q, -index, media, chosen.params)
    return None if best is None else (best[2], best[3])
