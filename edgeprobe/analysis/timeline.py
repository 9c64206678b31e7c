"""The telemetry timeline of a bundle as columns, through the telemetry package's decoder."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

# Where the chunk decoder lives: (module, function). It takes the list of ``telemetry``
# records and returns columns (name -> list of values, one per sample).
DECODERS = (("edgeprobe.telemetry.timeline", "decode_chunks"),
            ("edgeprobe.telemetry", "decode_timeline"))

Decoder = Callable[[list[dict[str, Any]]], dict[str, list[Any]]]


def _decoder() -> Decoder | None:
    for module_name, function in DECODERS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        decoder = getattr(module, function, None)
        if callable(decoder):
            return decoder
    return None


def _plain_columns(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Chunks whose ``columns`` are plain lists need no decoder; others are left out."""
    columns: dict[str, list[Any]] = {}
    rows = 0
    for record in records:
        chunk = record.get("columns")
        if not isinstance(chunk, dict) or not chunk \
                or not all(isinstance(v, list) for v in chunk.values()):
            continue
        length = max(len(v) for v in chunk.values())
        for name in chunk:
            columns.setdefault(name, [None] * rows)
        for name, values in columns.items():
            new = chunk.get(name, [])
            values.extend(new + [None] * (length - len(new)))
        rows += length
    return columns


def telemetry_columns(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The timeline as columns; empty when the bundle has no telemetry records."""
    if not records:
        return {}
    decoder = _decoder()
    return decoder(records) if decoder is not None else _plain_columns(records)
