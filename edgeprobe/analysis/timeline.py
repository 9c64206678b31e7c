"""The telemetry timeline of a bundle as plain columns (name -> one value per sample)."""

from __future__ import annotations

from typing import Any

from edgeprobe.telemetry.timeline import decode_timeline


def telemetry_columns(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """``monotonic_s``, ``unix_s`` and every recorded metric; empty without telemetry.

    A chunk that cannot be decoded (damaged, or an encoding this version does not know)
    ends the timeline there: the samples before it are kept.
    """
    decodable = []
    for record in records:
        try:
            decode_timeline([record])
        except (KeyError, TypeError, ValueError):
            break
        decodable.append(record)
    if not decodable:
        return {}
    timeline = decode_timeline(decodable)
    return {"monotonic_s": timeline.monotonic_s, "unix_s": timeline.unix_s, **timeline.columns}
