"""The headline figures of a point record, flat and with units in their names."""

from __future__ import annotations

from typing import Any

from edgeprobe.analysis.energy import energy_figures


def peak_bytes(point: dict[str, Any]) -> int | None:
    """Peak device memory of the prefill: CUDA reserved (what a smaller card must hold), or
    peak RSS on the CPU."""
    memory = point.get("memory") or {}
    return memory.get("peak_reserved_bytes") or memory.get("peak_rss_bytes")


def peak_allocated_bytes(point: dict[str, Any]) -> int | None:
    return (point.get("memory") or {}).get("peak_allocated_bytes")


def figures(point: dict[str, Any]) -> dict[str, Any]:
    prefill = point.get("prefill") or {}
    decode = point.get("decode") or {}
    return {
        "ttft_s": prefill.get("ttft_s"),
        "ttft_stdev_s": prefill.get("ttft_stdev_s"),
        "prefill_tokens_per_s": prefill.get("prefill_tokens_per_s"),
        "tpot_s": decode.get("tpot_s"),
        "throughput_tokens_per_s": decode.get("throughput_tokens_per_s"),
        "peak_bytes": peak_bytes(point),
        "peak_allocated_bytes": peak_allocated_bytes(point),
        "cache_bytes": point.get("cache_bytes"),
        "logits_bytes": prefill.get("logits_bytes"),
        **energy_figures(point),
        "throttled": bool(point.get("throttled")),
    }


def flat_point(point: dict[str, Any]) -> dict[str, Any]:
    """One point as a flat mapping: identity, provenance, status and figures."""
    return {
        "seq": point.get("seq"),
        "model": point.get("model"),
        "family": point.get("family"),
        "implementation": point.get("implementation"),
        "length_tokens": point.get("length_tokens"),
        "variant": point.get("variant"),
        "search": bool(point.get("search")),
        "status": point.get("status"),
        "error": point.get("error"),
        "kernel_path": point.get("kernel_path"),
        "dtype": point.get("dtype"),
        "device": point.get("device"),
        "power_mode": point.get("power_mode"),
        **figures(point),
    }
