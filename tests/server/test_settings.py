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


def test_a_cached_get_answer_never_outlives_its_download_urls() -> None:
    """Anonymous GET answers are public for max-age seconds; the download URLs inside must
    still work when a shared cache serves the last copy (issue 18 item 2)."""
    assert Settings(get_cache_max_age=299, download_url_minutes=5).get_cache_max_age == 299
    with pytest.raises(pydantic.ValidationError, match="download URLs that have expired"):
        Settings(get_cache_max_age=300, download_url_minutes=5)
