"""What stopped a max-context result, in words: ``memory``, ``kernel``, ``timeout``,
``search limit`` or ``error``, with the memory behind it where the bundle has it.

Bundles written before searches recorded ``limit_kind`` get it from their first failure.
"""

from __future__ import annotations

from typing import Any

from edgeprobe.units import format_bytes, format_tokens

_BY_STATUS = {"oom": "memory", "kernel_error": "kernel", "timeout": "timeout"}


def limit_kind(record: dict[str, Any]) -> str:
    kind = record.get("limit_kind")
    if isinstance(kind, str):
        return kind
    if record.get("limit_reached"):
        return "search limit"
    status = record.get("fail_status")
    if status is None:
        return "search limit" if record.get("max_ok_tokens") is not None else "error"
    return _BY_STATUS.get(str(status), "error")


def limit_detail(record: dict[str, Any]) -> str | None:
    """One line on the limit: the peak against the budget for memory, the memory left at a
    device fault and the memory bound above it, or None when there is nothing to add."""
    kind = limit_kind(record)
    budget = record.get("limit_budget_bytes") or record.get("memory_budget_bytes")
    at = format_tokens(record.get("first_fail_tokens"))
    if kind == "memory":
        peak = record.get("fail_peak_bytes")
        if peak is None and budget is None:
            return None
        return (f"out of memory at {at} tokens"
                + (f", peak {format_bytes(peak)}" if peak is not None else "")
                + (f" of a {format_bytes(budget)} budget" if budget else ""))
    if kind == "kernel":
        free = record.get("fail_free_bytes")
        text = f"device fault at {at} tokens" + (
            f" with {format_bytes(free)} of {format_bytes(budget)} free" if free is not None
            else "")
        return text + _bound_text(record.get("memory_bound"))
    if kind == "timeout":
        return f"no answer within the point timeout at {at} tokens"
    if kind == "search limit":
        limit = record.get("limit_tokens")
        return f"fitted up to the search limit ({format_tokens(limit)} tokens)" if limit \
            else None
    return f"{record.get('fail_status')} at {at} tokens" if record.get("fail_status") else None


def _bound_text(bound: Any) -> str:
    if not isinstance(bound, dict):
        return ""
    no_oom = format_tokens(bound.get("no_oom_tokens"))
    if bound.get("first_oom_tokens") is not None:
        return (f"; memory: no out-of-memory up to {no_oom}, out of memory from "
                f"{format_tokens(bound.get('first_oom_tokens'))}")
    if bound.get("limit_reached"):
        return f"; memory: no out-of-memory up to the search limit ({no_oom})"
    if bound.get("stopped_by"):
        return f"; memory: no out-of-memory up to {no_oom}, then {bound['stopped_by']}"
    return ""
