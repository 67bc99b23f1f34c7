"""Seismic waveforms (workers/processing/formats/seismic.py, ObsPy in the sandbox): miniSEED
and SAC headers, channels, time span, sampling rates, gaps and overlaps. Real files: ObsPy's
own test records (tests/workers/data/README.md)."""

from __future__ import annotations

from pathlib import Path

import obspy

from tests.fixtures.processing import fails, run
from workers.processing import ErrorCode
from workers.processing.detect import detect_format

DATA = Path(__file__).parent / "data"
ANMO = DATA / "IU.ANMO.00.BHZ.mseed"
_BLOCKETTE_1000 = 48  # where IU.ANMO's records have their blockette 1000
_RECORD_LENGTH = _BLOCKETTE_1000 + 6  # its record length, as a power of two


def test_a_miniseed_record_of_the_2010_chile_earthquake(tmp_path: Path) -> None:
    result = run(tmp_path, ANMO.read_bytes(), "anmo.mseed")
    assert (result.format.kind, result.format.media_type) == ("mseed", "application/vnd.fdsn.mseed")
    profile = result.profile
    assert profile is not None and profile["kind"] == "seismic"
    (channel,) = profile["channels"]
    assert channel["id"] == "IU.ANMO.00.BHZ" and channel["sampling_rates"] == [20.0]
    trace = obspy.read(ANMO)[0]  # every sample decoded, here in the test
    assert channel["samples"] == trace.stats.npts == len(trace.data)
    assert profile["coverage"] == {
        "bbox": None,  # miniSEED has no station coordinates
        "time_start": "2010-02-27T06:29:59.819538Z",
        "time_end": "2010-02-27T06:31:00.169538Z",
    }
    assert profile["records"]["record_length"] == 512
    assert profile["search_text"] == "IU.ANMO.00.BHZ ANMO"
    assert (profile["gaps"], profile["overlaps"]) == (0, 0)


def test_several_stations_and_channels(tmp_path: Path) -> None:
    body = (DATA / "dataselect_example_mixed_wildcards.mseed").read_bytes()
    profile = run(tmp_path, body, "iu.mseed").profile
    assert profile is not None
    expected = sorted({t.id for t in obspy.read(DATA / "dataselect_example_mixed_wildcards.mseed")})
    assert [c["id"] for c in profile["channels"]] == expected and profile["channel_count"] == 4
    assert profile["sampling_rates"] == [20.0, 40.0]
    starts = [c["start"] for c in profile["channels"]]
    assert profile["coverage"]["time_start"] == min(starts)


def test_gaps_are_listed(tmp_path: Path) -> None:
    profile = run(tmp_path, (DATA / "gaps.mseed").read_bytes(), "gaps.mseed").profile
    assert profile is not None
    expected = obspy.read(DATA / "gaps.mseed", headonly=True).get_gaps()
    assert profile["gaps"] == len(expected) == 3 and profile["overlaps"] == 0
    assert profile["channels"][0]["segments"] == 4
    first = profile["gap_list"][0]
    assert first["id"] == "BW.BGLD..EHE" and first["samples"] == expected[0][7] > 0


def test_the_same_records_twice_are_an_overlap(tmp_path: Path) -> None:
    profile = run(tmp_path, ANMO.read_bytes() * 2, "twice.mseed").profile
    assert profile is not None and (profile["gaps"], profile["overlaps"]) == (0, 1)
    assert profile["gap_list"][0]["seconds"] < 0


def test_a_sac_file_with_its_station_coordinates(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "seism.sac").read_bytes(), "seism.sac")
    assert result.format.kind == "sac"
    profile = result.profile
    assert profile is not None and profile["format"] == "SAC"
    header = obspy.read(DATA / "seism.sac", headonly=True)[0].stats
    assert profile["channels"][0]["station"] == header.station == "CDV"
    west, south, east, north = profile["coverage"]["bbox"]
    assert (west, south) == (east, north) == (header.sac.stlo, header.sac.stla)
    assert profile["coverage"]["time_start"].startswith("1981-03-29T10:38:23")


def test_a_record_length_past_the_end_of_the_file_is_malformed(tmp_path: Path) -> None:
    body = bytearray(ANMO.read_bytes())
    assert body[_BLOCKETTE_1000 : _BLOCKETTE_1000 + 2] == b"\x03\xe8"  # blockette 1000
    body[_RECORD_LENGTH] = 12  # 4096 bytes: the file has 2048
    error = fails(ErrorCode.MALFORMED_RECORD, tmp_path, bytes(body), "lie.mseed")
    assert "4096" in error.message and "2048" in error.message
    ok = run(tmp_path, ANMO.read_bytes(), "next.mseed")  # the next job
    assert ok.profile is not None


def test_a_record_length_shorter_than_the_record_is_malformed(tmp_path: Path) -> None:
    body = bytearray(ANMO.read_bytes())
    body[_RECORD_LENGTH] = 7  # 128 bytes: the rest of each 512-byte record is no record
    error = fails(ErrorCode.MALFORMED_RECORD, tmp_path, bytes(body), "lie.mseed")
    assert "no miniSEED record" in error.message


def test_detection_of_seismic_formats() -> None:
    assert detect_format(ANMO.read_bytes(), "x.bin").kind == "mseed"
    assert detect_format((DATA / "seism.sac").read_bytes(), "x.sac").kind == "sac"
    assert detect_format((DATA / "seism.sac").read_bytes(), "x.bin").kind != "sac"
