"""A structural check of NetCDF classic files (CDF-1, CDF-2, CDF-5) before libnetcdf opens
them: libnetcdf reads a file whose header or data is cut short without an error, answering
a partial header and zeros or fill values for the missing data (measured with netCDF4
1.7.5 on a truncated copy of xarray's example_1.nc), which would put wrong coordinates
and coverage into a profile.

The walk follows the header grammar of the NetCDF classic format specification, skipping
attribute values with seeks, and checks: every count within `limit` (dimensions,
attributes, variables: TOO_COMPLEX beyond, before anything is built from them), the header
complete, and every variable's data inside the file (from its `begin`, shape and type, a
lower bound, and for record variables the number of records): UNREADABLE otherwise.
It reads no data; libnetcdf still does all the reading.
"""

from __future__ import annotations

import os
import struct
from typing import BinaryIO

from ..model import ErrorCode, ProcessingError

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}
_DIMENSION, _VARIABLE, _ATTRIBUTE = 0x0A, 0x0B, 0x0C
_STREAMING = 0xFFFFFFFF
_MAX_NAME = 256 * 1024


class _Header:
    def __init__(self, fh: BinaryIO, size: int, version: int, limit: int) -> None:
        self.fh, self.size, self.limit = fh, size, limit
        self.wide = version == 5  # CDF-5: 8-byte counts and lengths
        self.offset_bytes = 4 if version == 1 else 8

    def read(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) < n:
            raise ProcessingError(ErrorCode.UNREADABLE, "truncated NetCDF header")
        return data

    def u32(self) -> int:
        return int(struct.unpack(">I", self.read(4))[0])

    def count(self) -> int:
        return int(struct.unpack(">Q", self.read(8))[0]) if self.wide else self.u32()

    def offset(self) -> int:
        wide = self.offset_bytes == 8
        return int(struct.unpack(">Q" if wide else ">I", self.read(self.offset_bytes))[0])

    def skip(self, n: int) -> None:
        if self.fh.tell() + n > self.size:
            raise ProcessingError(ErrorCode.UNREADABLE, "truncated NetCDF header")
        self.fh.seek(n, os.SEEK_CUR)

    def name(self) -> None:
        length = self.count()
        if length > _MAX_NAME:
            raise ProcessingError(ErrorCode.UNREADABLE, f"a name of {length} bytes")
        self.skip(_padded(length))

    def listed(self, tag: int, what: str) -> int:
        found, n = self.u32(), self.count()
        if found == 0 and n == 0:
            return 0
        if found != tag:
            raise ProcessingError(ErrorCode.UNREADABLE, f"bad NetCDF header: no {what} list")
        if n > self.limit:
            raise ProcessingError(
                ErrorCode.TOO_COMPLEX, f"the header declares {n} {what} (limit {self.limit})"
            )
        return n

    def attributes(self) -> None:
        for _ in range(self.listed(_ATTRIBUTE, "attributes")):
            self.name()
            kind = self.u32()
            if kind not in _TYPE_SIZES:
                raise ProcessingError(ErrorCode.UNREADABLE, f"bad NetCDF attribute type {kind}")
            self.skip(_padded(self.count() * _TYPE_SIZES[kind]))


def check_classic(path: str, limit: int) -> None:
    """Raise UNREADABLE or TOO_COMPLEX for a classic file that libnetcdf would misread."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        magic = fh.read(4)
        if len(magic) < 4 or not magic.startswith(b"CDF") or magic[3] not in (1, 2, 5):
            return
        header = _Header(fh, size, magic[3], limit)
        records = header.count()
        lengths = []
        for _ in range(header.listed(_DIMENSION, "dimensions")):
            header.name()
            lengths.append(header.count())
        header.attributes()
        variables = []
        for _ in range(header.listed(_VARIABLE, "variables")):
            header.name()
            rank = header.count()
            if rank > header.limit:
                raise ProcessingError(ErrorCode.TOO_COMPLEX, f"a variable of {rank} dimensions")
            dims = [header.count() for _ in range(rank)]
            if any(d >= len(lengths) for d in dims):
                raise ProcessingError(ErrorCode.UNREADABLE, "a variable of an unknown dimension")
            header.attributes()
            kind = header.u32()
            header.count()  # vsize: recomputed below (it overflows for large variables)
            begin = header.offset()
            variables.append((dims, _TYPE_SIZES.get(kind, 1), begin))
    _check_data(variables, lengths, records, size)


def _check_data(
    variables: list[tuple[list[int], int, int]], lengths: list[int], records: int, size: int
) -> None:
    record_sizes = []
    ends = []
    for dims, item, begin in variables:
        shape = [lengths[d] for d in dims]
        is_record = bool(dims) and shape[0] == 0
        per_record = item
        for n in shape[1:] if is_record else shape:
            per_record *= n
        if is_record:
            record_sizes.append(per_record)
        ends.append((begin, per_record, is_record))
    record_size = (
        sum(_padded(r) for r in record_sizes) if len(record_sizes) > 1 else sum(record_sizes)
    )
    if records == _STREAMING:
        records = 0
    for begin, per_record, is_record in ends:
        end = begin + (records - 1) * record_size + per_record if is_record else begin + per_record
        if (not is_record or records > 0) and end > size:
            raise ProcessingError(
                ErrorCode.UNREADABLE,
                f"truncated NetCDF file: its data ends at byte {end}, the file has {size}",
            )


def _padded(n: int) -> int:
    return (n + 3) // 4 * 4
