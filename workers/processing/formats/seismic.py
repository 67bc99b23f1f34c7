"""Seismic waveforms: miniSEED (2 and 3) and SAC, read by ObsPy (libmseed, native code) in
the sandbox's child process. Headers only (`headonly=True`): samples are never decoded.

The profile:

    {"kind": "seismic", "format": "MSEED" | "SAC",
     "channels": [{"id": "NET.STA.LOC.CHA", "network", "station", "location", "channel",
                   "start", "end" (ISO 8601, UTC), "sampling_rates": [Hz, ...],
                   "samples", "segments"}]   (the first `_MAX_CHANNELS`; `channel_count` all),
     "channel_count", "traces" (contiguous segments), "sampling_rates": [Hz, ...],
     "gaps": int, "overlaps": int,
     "gap_list": [{"id", "start", "end", "seconds", "samples"}] (the first `_MAX_GAPS`,
                   gaps and overlaps; an overlap's seconds are negative),
     "records": {"record_length", "encoding", "byte_order"} | None (miniSEED),
     "search_text": the channel ids and station codes, for the datasets' search,
     "coverage": {"bbox": None, "time_start": first sample, "time_end": last sample}}

miniSEED carries no station coordinates: its bbox is null. A SAC header may (STLA/STLO):
then the bbox is that point. A record whose declared length runs past the end of the file,
out of libmseed's range, or which leaves bytes that are no record (a record length that
lies) is MALFORMED_RECORD.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..model import ErrorCode, ProcessingError
from . import coverage as cov

_MAX_CHANNELS = 2000
_MAX_GAPS = 200
_MAX_TRACES = 1_000_000  # contiguous segments held as headers: beyond, TOO_COMPLEX
_SAC_UNSET = -12345.0


def extract(path: str, workdir: str, options: dict[str, Any]) -> dict[str, Any]:
    import obspy

    kind = options["kind"]
    records = _check_mseed(path) if kind == "mseed" else None
    fmt = "MSEED" if kind == "mseed" else "SAC"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stream = obspy.read(path, format=fmt, headonly=True)
    except ProcessingError:
        raise
    except Exception as error:  # noqa: BLE001 - libmseed's InternalMSEEDError, ObsPy's own
        message = str(error).replace("\n", " ")[:300]
        if "record length" in message.lower() or "out of range" in message.lower():
            raise ProcessingError(ErrorCode.MALFORMED_RECORD, message) from error
        raise ProcessingError(ErrorCode.UNREADABLE, f"not readable as {fmt}: {message}") from error
    _refuse_skipped(caught)
    for w in caught:  # what remains is the reader's to say: the sandbox reports it
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if len(stream) == 0:
        raise ProcessingError(ErrorCode.UNREADABLE, f"no {fmt} records")
    if len(stream) > _MAX_TRACES:
        raise ProcessingError(ErrorCode.TOO_COMPLEX, f"{len(stream)} segments")
    profile = _describe(stream, fmt)
    profile["records"] = records
    # found by search (migration 0013): the channel ids and the station codes alone
    names = [c["id"] for c in profile["channels"]] + [c["station"] for c in profile["channels"]]
    profile["search_text"] = " ".join(dict.fromkeys(names))[:8192]
    profile["warnings"] = []
    return {"profile": profile, "warnings": []}


def _check_mseed(path: str) -> dict[str, Any] | None:
    """The first record's header, checked against the file (libmseed would otherwise not
    recognise a file whose first record claims more bytes than there are)."""
    from obspy.io.mseed.util import get_record_information

    size = Path(path).stat().st_size
    try:
        info = get_record_information(path)
    except Exception as error:  # noqa: BLE001 - a header libmseed cannot parse
        message = str(error).replace("\n", " ")[:300]
        raise ProcessingError(ErrorCode.MALFORMED_RECORD, f"first record: {message}") from error
    length = info.get("record_length")
    if length is not None and length > size:
        raise ProcessingError(
            ErrorCode.MALFORMED_RECORD,
            f"the first record declares a length of {length} bytes; the file has {size}",
        )
    return {
        "record_length": length,
        "encoding": info.get("encoding"),
        "byte_order": info.get("byteorder"),
    }


def _refuse_skipped(caught: list[warnings.WarningMessage]) -> None:
    """libmseed skips bytes that are no record: in a file of records, the lengths lied."""
    skipped = [str(w.message) for w in caught if "Not a SEED record" in str(w.message)]
    if skipped:
        first = skipped[0].split("Will skip", 1)[-1].strip().rstrip(".")
        raise ProcessingError(
            ErrorCode.MALFORMED_RECORD,
            f"{len(skipped)} stretches of the file are no miniSEED record (first: {first}): "
            "a record's declared length does not match the data",
        )


def _describe(stream: Any, fmt: str) -> dict[str, Any]:
    by_id: dict[str, list[Any]] = defaultdict(list)
    for trace in stream:
        by_id[trace.id].append(trace.stats)
    channels = [_channel(tid, stats) for tid, stats in sorted(by_id.items())]
    rates = sorted({float(t.stats.sampling_rate) for t in stream})
    gaps = stream.get_gaps()
    gap_list = [
        {
            "id": ".".join(g[:4]),
            "start": cov.iso(g[4].datetime),
            "end": cov.iso(g[5].datetime),
            "seconds": float(g[6]),
            "samples": int(g[7]),
        }
        for g in gaps[:_MAX_GAPS]
    ]
    found = cov.empty()
    found["time_start"] = min(c["start"] for c in channels)
    found["time_end"] = max(c["end"] for c in channels)
    if fmt == "SAC":
        found["bbox"] = _sac_point(stream)
    return {
        "kind": "seismic",
        "format": fmt,
        "channels": channels[:_MAX_CHANNELS],
        "channel_count": len(channels),
        "traces": len(stream),
        "sampling_rates": rates,
        "gaps": sum(1 for g in gaps if g[6] > 0),
        "overlaps": sum(1 for g in gaps if g[6] < 0),
        "gap_list": gap_list,
        "coverage": found,
    }


def _channel(tid: str, segments: list[Any]) -> dict[str, Any]:
    first = segments[0]
    return {
        "id": tid,
        "network": first.network,
        "station": first.station,
        "location": first.location,
        "channel": first.channel,
        "start": cov.iso(min(s.starttime for s in segments).datetime),
        "end": cov.iso(max(s.endtime for s in segments).datetime),
        "sampling_rates": sorted({float(s.sampling_rate) for s in segments}),
        "samples": sum(int(s.npts) for s in segments),
        "segments": len(segments),
    }


def _sac_point(stream: Any) -> list[float] | None:
    """The stations' coordinates of SAC headers (STLA, STLO) as a box, or None."""
    lats: list[float] = []
    lons: list[float] = []
    for trace in stream:
        sac = trace.stats.get("sac", {})
        lat, lon = sac.get("stla", _SAC_UNSET), sac.get("stlo", _SAC_UNSET)
        if lat != _SAC_UNSET and lon != _SAC_UNSET and -90 <= lat <= 90:
            lats.append(float(lat))
            lons.append(float(lon))
    if not lats:
        return None
    return cov.bbox((min(lats), max(lats)), (min(lons), max(lons)))
