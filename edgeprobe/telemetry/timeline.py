"""Compact columnar telemetry chunks for the bundle, and their decoder (no numpy needed).

A chunk holds the samples taken since the previous one. Timestamps are microsecond offsets
from ``start_monotonic_s``, stored as differences (uint32); every column is a little-endian
array (``f4``, ``f8`` or ``u4``; NaN / 0xFFFFFFFF = not read) and every array is
zlib-compressed. docs/bundle-format.md specifies it for readers without edgeprobe.
"""

from __future__ import annotations

import math
import sys
import zlib
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from edgeprobe.telemetry.base import FLOAT32, FLOAT64, UINT32

ENCODING = "edgeprobe-columns-1"
_TYPECODES = {FLOAT32: "f", FLOAT64: "d", UINT32: "I"}
UINT32_MISSING = 0xFFFFFFFF


def _pack(typecode: str, values: Iterable[float | int]) -> bytes:
    packed = array(typecode, values)
    if packed.itemsize != {"f": 4, "d": 8, "I": 4}[typecode]:
        raise RuntimeError(f"array type {typecode!r} has an unexpected size on this platform")
    if sys.byteorder == "big":
        packed.byteswap()
    return zlib.compress(packed.tobytes(), 6)


def _unpack(typecode: str, data: bytes) -> array:
    unpacked = array(typecode)
    unpacked.frombytes(zlib.decompress(data))
    if sys.byteorder == "big":
        unpacked.byteswap()
    return unpacked


def encode_chunk(*, chunk: int, times: list[float], columns: Mapping[str, list[float]],
                 dtypes: Mapping[str, str], start_unix_s: float, rate_hz: float,
                 dropped_rows: int = 0) -> dict[str, Any]:
    start = times[0] if times else 0.0
    offsets = [round((t - start) * 1e6) for t in times]
    deltas = [b - a for a, b in zip([0, *offsets], offsets, strict=False)]
    encoded: dict[str, Any] = {}
    for name, values in columns.items():
        dtype = dtypes.get(name, FLOAT32)
        if dtype == UINT32:
            values = [UINT32_MISSING if math.isnan(v) else int(v) for v in values]
        encoded[name] = {"dtype": dtype, "data": _pack(_TYPECODES[dtype], values)}
    return {
        "encoding": ENCODING,
        "chunk": chunk,
        "rows": len(times),
        "rate_hz": rate_hz,
        "start_monotonic_s": start,
        "start_unix_s": start_unix_s,
        "dropped_rows": dropped_rows,
        "dt_us": _pack("I", deltas),
        "columns": encoded,
    }


@dataclass
class Timeline:
    """Decoded telemetry: one time axis and a column per metric (NaN where not read)."""

    monotonic_s: list[float] = field(default_factory=list)
    unix_s: list[float] = field(default_factory=list)
    columns: dict[str, list[float]] = field(default_factory=dict)
    dropped_rows: int = 0
    chunks: int = 0

    def __len__(self) -> int:
        return len(self.monotonic_s)

    def column(self, name: str) -> list[float]:
        return self.columns.get(name, [math.nan] * len(self))


def decode_chunk(record: Mapping[str, Any]) -> Timeline:
    if record.get("encoding") != ENCODING:
        raise ValueError(f"unknown telemetry encoding {record.get('encoding')!r}")
    rows = int(record["rows"])
    start, start_unix = float(record["start_monotonic_s"]), float(record["start_unix_s"])
    offset, monotonic = 0, []
    for delta in _unpack("I", record["dt_us"]):
        offset += delta
        monotonic.append(start + offset / 1e6)
    if len(monotonic) != rows:
        raise ValueError(f"telemetry chunk says {rows} rows but holds {len(monotonic)} times")
    columns: dict[str, list[float]] = {}
    for name, column in record["columns"].items():
        dtype = column["dtype"]
        if dtype not in _TYPECODES:
            raise ValueError(f"telemetry column {name!r} has unknown dtype {dtype!r}")
        values = _unpack(_TYPECODES[dtype], column["data"])
        if len(values) != rows:
            raise ValueError(f"telemetry column {name!r} has {len(values)} values, not {rows}")
        columns[name] = ([math.nan if v == UINT32_MISSING else float(v) for v in values]
                         if dtype == UINT32 else list(values))
    return Timeline(monotonic, [start_unix + (t - start) for t in monotonic], columns,
                    int(record.get("dropped_rows", 0)), 1)


def decode_timeline(records: Iterable[Mapping[str, Any]]) -> Timeline:
    """Join telemetry chunks (bundle records of type ``telemetry``) into one timeline.

    Columns missing from some chunks are NaN there; records of other types are skipped.
    """
    joined = Timeline()
    for record in records:
        if record.get("type", "telemetry") != "telemetry":
            continue
        part = decode_chunk(record)
        before = len(joined)
        for name in part.columns.keys() - joined.columns.keys():
            joined.columns[name] = [math.nan] * before
        for name, values in joined.columns.items():
            values.extend(part.columns.get(name, [math.nan] * len(part)))
        joined.monotonic_s.extend(part.monotonic_s)
        joined.unix_s.extend(part.unix_s)
        joined.dropped_rows += part.dropped_rows
        joined.chunks += 1
    return joined
