"""Coverage unions (the antimeridian rule), profiles read defensively, the checks' codes."""

from __future__ import annotations

import datetime as dt

from server.core.errors import Collector
from server.datasets.coverage import (
    Box,
    Period,
    check_box,
    check_period,
    from_profile,
    union_boxes,
    union_periods,
    union_source,
)
from server.models.enums import CoverageSource

UTC = dt.UTC


def box(w: float, s: float, e: float, n: float) -> Box:
    return Box(w, s, e, n)


def test_union_of_ordinary_boxes_is_their_envelope() -> None:
    # Mekong: Chiang Saen to Can Tho, and a file on Tonle Sap
    assert union_boxes([box(100.09, 10.03, 106.02, 20.27), box(103.7, 12.4, 104.6, 13.2)]) == box(
        100.09, 10.03, 106.02, 20.27
    )
    assert union_boxes([None, None]) is None


def test_union_across_the_antimeridian_goes_the_short_way() -> None:
    # Viti Levu (east longitudes) and Lakeba (west longitudes): 3.6 degrees across 180,
    # not 357 degrees the other way round
    fiji = union_boxes([box(178.44, -18.14, 179.38, -16.43), box(-178.80, -18.23, -178.80, -18.23)])
    assert fiji == box(178.44, -18.23, -178.80, -16.43) and fiji.crosses_antimeridian
    # a crossing box and an ordinary one to its east
    assert union_boxes([box(170, 0, -170, 1), box(-160, 0, -150, 1)]) == box(170, 0, -150, 1)
    # two boxes far apart on either side of the Pacific: the gap across 180 is the wider
    assert union_boxes([box(100, 0, 110, 1), box(-80, 0, -70, 1)]) == box(-80, 0, 110, 1)


def test_union_ties_and_full_circles() -> None:
    # gaps of 180 both ways: the box does not cross
    assert union_boxes([box(-90, 0, -90, 0), box(90, 0, 90, 0)]) == box(-90, 0, 90, 0)
    assert union_boxes([box(-180, -10, 180, 10), box(5, 0, 6, 1)]) == box(-180, -10, 180, 10)
    # crossing boxes that together go all the way round
    assert union_boxes([box(0, 0, -1, 1), box(-2, 0, 2, 1)]) == box(-180, 0, 180, 1)


def test_points_are_boxes_of_no_size() -> None:
    assert union_boxes([box(105.0, 10.0, 105.0, 10.0)]) == box(105.0, 10.0, 105.0, 10.0)


def test_periods_and_sources() -> None:
    a = Period(dt.datetime(2020, 1, 1, tzinfo=UTC), dt.datetime(2021, 1, 1, tzinfo=UTC))
    b = Period(None, dt.datetime(2024, 6, 1, tzinfo=UTC))
    assert union_periods([a, b, None]) == Period(a.start, b.end)
    assert union_periods([None]) is None
    assert union_source([CoverageSource.DATA, None]) == CoverageSource.DATA
    assert union_source([CoverageSource.DATA, CoverageSource.PERSON]) == CoverageSource.MIXED


def test_profiles_are_read_defensively() -> None:
    good = {
        "coverage": {
            "bbox": [100, 10, 106, 20],
            "time_start": "2020-01-01T00:00:00Z",
            "time_end": "2024-12-31T00:00:00+07:00",
        }
    }
    found, period = from_profile(good)
    assert found == box(100, 10, 106, 20)
    assert period == Period(
        dt.datetime(2020, 1, 1, tzinfo=UTC), dt.datetime(2024, 12, 30, 17, tzinfo=UTC)
    )
    for bad in (None, {}, {"coverage": "x"}, {"coverage": {"bbox": [1, 2, 3]}}):
        assert from_profile(bad) == (None, None)
    assert from_profile({"coverage": {"bbox": [0, 95, 1, 96]}}) == (None, None)  # not degrees
    assert from_profile({"coverage": {"bbox": [0, 0, True, 1]}}) == (None, None)
    assert from_profile({"coverage": {"bbox": None, "time_start": "not a date"}}) == (None, None)
    # a naive time is UTC; a reversed period is put right
    reversed_ = {"coverage": {"time_start": "2024-01-01T00:00:00", "time_end": "2020-01-01"}}
    assert from_profile(reversed_)[1] == Period(
        dt.datetime(2020, 1, 1, tzinfo=UTC), dt.datetime(2024, 1, 1, tzinfo=UTC)
    )


def codes(errors: Collector) -> set[str]:
    return {d.code for d in errors.details}


def test_checks_give_stable_codes() -> None:
    errors = Collector()
    assert check_box(errors, "bbox", 170, -20, -170, -10) == box(170, -20, -170, -10)
    assert codes(errors) == set()
    for args, code in [
        ((181, 0, 1, 1), "INVALID_LONGITUDE"),
        ((0, 10, 1, 5), "INVALID_LATITUDE"),
        ((0, -91, 1, 5), "INVALID_LATITUDE"),
        ((0, 0, float("nan"), 1), "INVALID_LONGITUDE"),
    ]:
        errors = Collector()
        assert check_box(errors, "bbox", *args) is None and codes(errors) == {code}, args
    start, end = dt.datetime(2024, 1, 1), dt.datetime(2020, 1, 1)
    for given in ((start, end), (None, None)):
        errors = Collector()
        assert check_period(errors, "period", *given) is None
        assert codes(errors) == {"INVALID_PERIOD"}
