"""Relay global ids (base64 of "Type:pk", as strawberry writes them) outside GraphQL: the
command line reads them, and error messages name an object by the id clients use."""

from __future__ import annotations

import base64
import binascii


class BadId(ValueError):
    """Not an id of the expected type; the message says what was expected."""


def global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def _decode(raw: str) -> tuple[str, str] | None:
    try:
        text = base64.b64decode(raw, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, sep, pk = text.partition(":")
    return (type_name, pk) if sep and type_name else None


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'AEIOU' else 'a'} {noun}"


def parse_id(raw: str, *types: str) -> tuple[str, int]:
    """(type, pk) of RAW, which is a global id of one of TYPES, `Type:pk`, or a plain number
    (which names the first of TYPES). BadId names the expected types otherwise."""
    text = raw.strip()
    expected = " or ".join(types)
    example = global_id(types[0], 1)
    hint = f"give its global id (e.g. {example}), {types[0]}:<number> or a plain number"
    if text.isdigit():
        pk = int(text)
        if pk <= 0:
            raise BadId(f"{raw!r} is not {_a(expected)} id: numbers start at 1")
        return types[0], pk
    decoded = _decode(text)
    if decoded is None and ":" in text and text.partition(":")[0]:
        type_name, _, rest = text.partition(":")
        decoded = (type_name, rest)
    if decoded is None:
        raise BadId(f"{raw!r} is not {_a(expected)} id: {hint}")
    type_name, pk_text = decoded
    if type_name not in types:
        raise BadId(f"{raw!r} is {_a(type_name)} id, not {_a(expected)} id")
    if not pk_text.isdigit() or int(pk_text) <= 0:
        raise BadId(f"{raw!r} is not {_a(expected)} id: {hint}")
    return type_name, int(pk_text)
