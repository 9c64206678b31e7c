"""Reading ``kernels`` records: category shares, top kernels, readable kernel names. No torch."""

from __future__ import annotations

import re
from typing import Any

from edgeprobe.bundle import schema
from edgeprobe.bundle.reader import Bundle
from edgeprobe.profiling.categories import CATEGORIES

SHORT_LABELS = {"SSM_Scan": "SSM", "GEMM": "GEMM", "attention": "attn",
                "normalization": "norm", "activation": "act", "arithmetic": "arith",
                "memory": "mem", "embedding": "embed", "logits": "logit", "other": "other"}
TIME_BASIS_LABELS = {"cuda_kernel_time": "GPU kernel time",
                     "cpu_op_self_time": "CPU op self time (no device kernels on the CPU)"}


def kernel_records(bundle: Bundle) -> list[dict[str, Any]]:
    return bundle.of_type(schema.KERNELS)


def category_shares(record: dict[str, Any]) -> dict[str, float]:
    """Category -> share of the record's summed kernel (or op) time, in CATEGORIES order."""
    stored = record.get("categories") or {}
    return {c: float((stored.get(c) or {}).get("share", 0.0)) for c in CATEGORIES}


def shown_categories(records: list[dict[str, Any]]) -> list[str]:
    """Categories that hold any time in any of ``records`` (all of them when none do)."""
    used = [c for c in CATEGORIES
            if any(category_shares(r)[c] > 0 for r in records if r.get("status") == "ok")]
    return used or list(CATEGORIES)


def top_rows(record: dict[str, Any], count: int) -> list[dict[str, Any]]:
    rows = sorted(record.get("rows") or [], key=lambda r: -float(r.get("total_s") or 0.0))
    return rows[:max(count, 0)]


def device_busy_share(record: dict[str, Any]) -> float | None:
    """GPU kernel time / wall time of the profiled prefills: how much of the latency the
    kernels fill (the rest is launch overhead and host work). None on the CPU."""
    wall = record.get("active_wall_s")
    if record.get("time_basis") != "cuda_kernel_time" or not wall:
        return None
    return float(record.get("device_time_s") or 0.0) / float(wall)


def _collapse_templates(name: str) -> str:
    out: list[str] = []
    depth = 0
    for char in name:
        if char == "<":
            if depth == 0:
                out.append("<…>")
            depth += 1
        elif char == ">" and depth:
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _drop_arguments(name: str) -> str:
    """Remove a trailing ``(...)`` argument list, balanced, when something precedes it."""
    if not name.endswith(")"):
        return name
    depth = 0
    for index in range(len(name) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(name[index], 0)
        if depth == 0:
            return name[:index].rstrip() or name
    return name


def short_kernel_name(name: str, width: int = 64) -> str:
    """``void selective_scan_fwd_kernel<...>(SSMParamsBase)`` -> ``selective_scan_fwd_kernel<…>``
    (template arguments and the argument list dropped, cut to ``width``)."""
    text = re.sub(r"^void\s+", "", name.strip()).replace("(anonymous namespace)::", "")
    if not text.startswith(("Memcpy", "Memset")):
        text = _drop_arguments(_collapse_templates(text))
    return text if len(text) <= width else text[:width - 1] + "…"
