"""Distinct-count estimate: a HyperLogLog sketch (p=14, 16,384 one-byte registers).

Standard error 1.04/sqrt(16384) = 0.81%; below 3 x 16,384 distinct values the linear-
counting estimate is used (error under about 1%, exact in practice for a few hundred
values). Documented bound: the estimate is within 3% of the true count with >99.7%
confidence. Values are hashed vectorised with numpy (splitmix64 for fixed-width values;
strings by 8-byte words, the first 64 bytes vectorised and longer strings by Python's
hash), after a per-batch `pyarrow.compute.unique` that makes low-cardinality columns cheap.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

P = 14
M = 1 << P
_LOW_BITS = 64 - P
_LOW_MASK = np.uint64((1 << _LOW_BITS) - 1)
_WORDS = 8  # strings: up to 8 words (64 bytes) hashed vectorised
_SEED = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


class HyperLogLog:
    def __init__(self) -> None:
        self.registers = np.zeros(M, dtype=np.uint8)

    def add_array(self, arr: pa.Array) -> None:
        arr = pc.drop_null(arr)
        if len(arr) == 0:
            return
        hashes = hash_array(arr)
        if hashes is not None:
            self.add_hashes(hashes)

    def add_hashes(self, h: np.ndarray) -> None:
        idx = (h >> np.uint64(_LOW_BITS)).astype(np.intp)
        low = (h & _LOW_MASK).astype(np.float64)  # < 2**53: exact
        bit_length = np.frexp(low)[1]
        rank = (_LOW_BITS + 1 - bit_length).astype(np.uint8)
        np.maximum.at(self.registers, idx, rank)

    def estimate(self) -> int:
        zeros = int(np.count_nonzero(self.registers == 0))
        if zeros == M:
            return 0
        if zeros:
            linear = M * math.log(M / zeros)
            if linear <= 3 * M:
                return round(linear)
        alpha = 0.7213 / (1 + 1.079 / M)
        raw = alpha * M * M / float(np.sum(np.ldexp(1.0, -self.registers.astype(np.int32))))
        return round(raw)


def hash_array(arr: pa.Array) -> np.ndarray | None:
    t = arr.type
    if pa.types.is_dictionary(t):
        return hash_array(arr.dictionary_decode())
    if pa.types.is_boolean(t):
        return _mix(np.asarray(pc.unique(arr).cast(pa.uint64())).astype(np.uint64) + _SEED)
    if pa.types.is_floating(t):
        values = np.asarray(arr.cast(pa.float64()), dtype=np.float64) + 0.0  # -0.0 -> 0.0
        return _mix(values.view(np.uint64))
    if pa.types.is_integer(t) or pa.types.is_temporal(t) or pa.types.is_decimal(t):
        try:
            ints = np.asarray(arr.cast(pa.int64()), dtype=np.int64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _hash_binary(arr.cast(pa.string()))
        return _mix(ints.view(np.uint64) ^ _SEED)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t):
        return _hash_binary(pc.unique(arr))
    if pa.types.is_large_binary(t):
        return _hash_binary(pc.unique(arr))
    return None


def _hash_binary(arr: pa.Array) -> np.ndarray:
    arr = arr.cast(pa.large_binary())
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
    base = int(offsets[0])
    end = int(offsets[-1])
    data = np.frombuffer(bufs[2], dtype=np.uint8)[base:end] if bufs[2] is not None else b""
    padded = np.zeros(end - base + 8, dtype=np.uint8)
    padded[: end - base] = data
    words = np.ndarray(shape=(end - base + 1,), dtype="<u8", buffer=padded, strides=(1,))
    starts = offsets[:-1] - base
    lengths = offsets[1:] - offsets[:-1]
    h = _mix(lengths.astype(np.uint64) ^ _SEED)
    active = np.flatnonzero(lengths > 0)
    for k in range(_WORDS):
        if active.size == 0:
            break
        rem = lengths[active] - 8 * k
        shift = (np.minimum(rem, 8) * 8).astype(np.uint64)
        mask = np.where(
            shift >= 64,
            np.uint64(0xFFFFFFFFFFFFFFFF),
            (np.uint64(1) << np.minimum(shift, np.uint64(63))) - np.uint64(1),
        )
        word = words[starts[active] + 8 * k] & mask
        h[active] = _mix(h[active] ^ word ^ np.uint64(k + 1))
        active = active[rem > 8]
    long_rows = np.flatnonzero(lengths > 8 * _WORDS)
    if long_rows.size:
        values = arr.take(pa.array(long_rows)).to_pylist()
        extra = np.array([hash(v) & 0xFFFFFFFFFFFFFFFF for v in values], dtype=np.uint64)
        h[long_rows] = _mix(h[long_rows] ^ extra)
    return h
