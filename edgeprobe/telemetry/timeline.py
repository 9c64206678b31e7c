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
_ITEM_BYTES = {"f": 4, "d": 8, "I": 4}
UINT32_MISSING = 0xFFFFFFFF
# Limits on decoding, so a damaged or hostile chunk cannot make a reader inflate gigabytes:
# every array must inflate to exactly its declared size, and all the chunks of a timeline
# together to at most max(INFLATE_FLOOR_BYTES, INFLATE_RATIO x their stored bytes).
MAX_CHUNK_ROWS = 1 << 22
MAX_CHUNK_COLUMNS = 4096
INFLATE_FLOOR_BYTES = 32 * 1024 * 1024
INFLATE_RATIO = 16


class TelemetryError(ValueError):
    """A telemetry chunk that cannot be decoded within the limits above."""


def _pack(typecode: str, values: Iterable[float | int]) -> bytes:
    packed = array(typecode, values)
    if packed.itemsize != {"f": 4, "d": 8, "I": 4}[typecode]:
        raise RuntimeError(f"array type {typecode!r} has an unexpected size on this platform")
    if sys.byteorder == "big":
        packed.byteswap()
    return zlib.compress(packed.tobytes(), 6)


def _inflate(data: bytes, expected_bytes: int) -> bytes:
    """Inflate ``data``, which must hold exactly ``expected_bytes``; never more is inflated."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, expected_bytes + 1)
    except zlib.error:
        raise TelemetryError("a telemetry array is not zlib data") from None
    if len(out) != expected_bytes or inflater.unconsumed_tail:
        raise TelemetryError(f"a telemetry array does not inflate to its declared "
                             f"{expected_bytes} bytes")
    return out


def _unpack(typecode: str, data: bytes, count: int) -> array:
    unpacked = array(typecode)
    unpacked.frombytes(_inflate(data, count * _ITEM_BYTES[typecode]))
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


def inflated_bytes(record: Mapping[str, Any]) -> int:
    """Bytes the chunk's arrays inflate to, from its declared rows and dtypes (checked)."""
    if record.get("encoding") != ENCODING:
        raise TelemetryError(f"unknown telemetry encoding {str(record.get('encoding'))[:40]!r}")
    rows, columns = record.get("rows"), record.get("columns")
    if not isinstance(rows, int) or not 0 <= rows <= MAX_CHUNK_ROWS:
        raise TelemetryError(f"a telemetry chunk declares {str(rows)[:20]} rows "
                             f"(at most {MAX_CHUNK_ROWS})")
    if not isinstance(columns, Mapping) or len(columns) > MAX_CHUNK_COLUMNS:
        raise TelemetryError("a telemetry chunk has no column map, or too many columns")
    row_bytes = 4
    for name, column in columns.items():
        dtype = column.get("dtype") if isinstance(column, Mapping) else None
        if dtype not in _TYPECODES or not isinstance(column.get("data"), bytes):
            raise TelemetryError(f"telemetry column {str(name)[:60]!r} has no data of a "
                                 f"known dtype")
        row_bytes += _ITEM_BYTES[_TYPECODES[dtype]]
    return rows * row_bytes


def stored_bytes(record: Mapping[str, Any]) -> int:
    columns = record.get("columns")
    data = [c.get("data") for c in columns.values() if isinstance(c, Mapping)] \
        if isinstance(columns, Mapping) else []
    return sum(len(d) for d in [record.get("dt_us"), *data] if isinstance(d, bytes))


def decode_chunk(record: Mapping[str, Any]) -> Timeline:
    inflated_bytes(record)  # shape and limits, before anything is inflated
    rows = int(record["rows"])
    start, start_unix = float(record["start_monotonic_s"]), float(record["start_unix_s"])
    offset, monotonic = 0, []
    for delta in _unpack("I", record["dt_us"], rows):
        offset += delta
        monotonic.append(start + offset / 1e6)
    columns: dict[str, list[float]] = {}
    for name, column in record["columns"].items():
        dtype = column["dtype"]
        values = _unpack(_TYPECODES[dtype], column["data"], rows)
        columns[name] = ([math.nan if v == UINT32_MISSING else float(v) for v in values]
                         if dtype == UINT32 else list(values))
    return Timeline(monotonic, [start_unix + (t - start) for t in monotonic], columns,
                    int(record.get("dropped_rows", 0)), 1)


def inflate_budget(records: Iterable[Mapping[str, Any]]) -> int:
    """The most bytes the chunks may inflate to together (see INFLATE_RATIO)."""
    return max(INFLATE_FLOOR_BYTES, INFLATE_RATIO * sum(stored_bytes(r) for r in records))


def decode_prefix(records: Iterable[Mapping[str, Any]],
                  max_bytes: int | None = None) -> tuple[Timeline, str | None]:
    """Join telemetry chunks (bundle records of type ``telemetry``) into one timeline, up to
    the first chunk that cannot be decoded or would take the timeline past ``max_bytes``
    (default: ``inflate_budget``). Returns the timeline and why it stopped early (or None).

    Columns missing from some chunks are NaN there; records of other types are skipped.
    """
    chunks = [r for r in records if r.get("type", "telemetry") == "telemetry"]
    budget = inflate_budget(chunks) if max_bytes is None else max_bytes
    joined = Timeline()
    inflated = 0
    for record in chunks:
        try:
            inflated += inflated_bytes(record)
            # Joined, every column spans every row (NaN where a chunk lacks it).
            names = joined.columns.keys() | record["columns"].keys()
            cells = (len(joined) + record["rows"]) * (len(names) + 2)
            if max(inflated, 4 * cells) > budget:
                raise TelemetryError(f"the telemetry would take more than {budget >> 20} MiB "
                                     f"to decode (its size limit)")
            part = decode_chunk(record)
        except (KeyError, TypeError, ValueError) as exc:
            why = str(exc) if isinstance(exc, TelemetryError) else "a damaged telemetry chunk"
            return joined, f"telemetry chunk {joined.chunks + 1}: {why}"
        _join(joined, part)
    return joined, None


def _join(joined: Timeline, part: Timeline) -> None:
    before = len(joined)
    for name in part.columns.keys() - joined.columns.keys():
        joined.columns[name] = [math.nan] * before
    for name, values in joined.columns.items():
        values.extend(part.columns.get(name, [math.nan] * len(part)))
    joined.monotonic_s.extend(part.monotonic_s)
    joined.unix_s.extend(part.unix_s)
    joined.dropped_rows += part.dropped_rows
    joined.chunks += 1


def decode_timeline(records: Iterable[Mapping[str, Any]],
                    max_bytes: int | None = None) -> Timeline:
    """``decode_prefix`` that raises TelemetryError (a ValueError) where it would stop."""
    timeline, why = decode_prefix(records, max_bytes)
    if why is not None:
        raise TelemetryError(why)
    return timeline
