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


def _ok(decode: Any) -> dict[str, Any]:
    """A decode section that ran (bundles before 0.2 carry no status: they ran)."""
    if isinstance(decode, dict) and decode.get("status", "ok") == "ok" and decode.get("tpot_s"):
        return decode
    return {}


def decode_sections(point: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(eager decode, graph-captured decode) of a point; empty where not measured."""
    return _ok(point.get("decode")), _ok(point.get("decode_graph"))


def figures(point: dict[str, Any]) -> dict[str, Any]:
    """Headline figures. ``tpot_s`` is the warm eager pass where one ran, else the graph
    decode's; ``tpot_cold_s`` the cold pass of the same mode. Bundles written before cold and
    warm passes existed timed one cold pass: their ``tpot_s`` is that pass and
    ``tpot_method`` says ``single-pass``."""
    prefill = point.get("prefill") or {}
    eager, graph = decode_sections(point)
    primary = eager or graph
    return {
        "ttft_s": prefill.get("ttft_s"),
        "ttft_iqr_s": prefill.get("ttft_iqr_s"),
        "ttft_stdev_s": prefill.get("ttft_stdev_s"),
        "prefill_tokens_per_s": prefill.get("prefill_tokens_per_s"),
        "prefill_launch_bound": prefill.get("launch_bound"),
        "prefill_busy_share": prefill.get("busy_share"),
        "warmup_passes": prefill.get("warmup_passes"),
        "prefill_path": prefill.get("path"),
        "attention_backend": prefill.get("attention_backend"),
        "tpot_s": primary.get("tpot_s"),
        "tpot_iqr_s": primary.get("tpot_iqr_s"),
        "tpot_cold_s": primary.get("tpot_cold_s"),
        "tpot_method": (primary.get("mode") or "single-pass") if primary else None,
        "tpot_graph_s": graph.get("tpot_s"),
        "tpot_graph_cold_s": graph.get("tpot_cold_s"),
        "decode_launch_bound": eager.get("launch_bound"),
        "decode_attention_backend": eager.get("attention_backend"),
        "throughput_tokens_per_s": primary.get("throughput_tokens_per_s"),
        "peak_bytes": peak_bytes(point),
        "peak_allocated_bytes": peak_allocated_bytes(point),
        "cache_bytes": point.get("cache_bytes"),
        "logits_bytes": prefill.get("logits_bytes"),
        **energy_figures(point),
        "throttled": bool(point.get("throttled")),
        "concurrent_runs": point.get("concurrent_runs"),
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
