"""What a client sent in an input: the fields it set, the ones it left UNSET left out."""

from __future__ import annotations

from typing import Any

import strawberry


def given(obj: object, *names: str) -> dict[str, Any]:
    """The input fields the client actually sent (UNSET ones are left out)."""
    return {n: getattr(obj, n) for n in names if getattr(obj, n) is not strawberry.UNSET}
