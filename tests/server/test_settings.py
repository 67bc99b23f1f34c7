"""Settings refuse values the rest of the system cannot carry."""

from __future__ import annotations

import pydantic
import pytest

from server.core.config import Settings


@pytest.mark.parametrize("name", ["rate_limit_points", "rate_limit_anonymous_points"])
def test_rate_limit_budgets_fit_a_graphql_int(name: str) -> None:
    assert getattr(Settings(**{name: 2**31 - 1}), name) == 2**31 - 1  # rateLimit { limit }
    with pytest.raises(pydantic.ValidationError, match=name):
        Settings(**{name: 2**31})
