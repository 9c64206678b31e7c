"""The telemetry timeline of a bundle as plain columns (name -> one value per sample)."""

from __future__ import annotations

from typing import Any

from edgeprobe.telemetry.timeline import decode_prefix


def read_telemetry(records: list[dict[str, Any]]) -> tuple[dict[str, list[Any]], str | None]:
    """``monotonic_s``, ``unix_s`` and every recorded metric (empty without telemetry), and
    why the timeline stops early, or None.

    A chunk that cannot be decoded (damaged, an encoding this version does not know, or past
    the size limit on decoding) ends the timeline there: the samples before it are kept.
    """
    timeline, why = decode_prefix(records)
    if not timeline.chunks:
        return {}, why
    return ({"monotonic_s": timeline.monotonic_s, "unix_s": timeline.unix_s,
             **timeline.columns}, why)


def telemetry_columns(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The columns of ``read_telemetry``, without the note."""
    return read_telemetry(records)[0]
