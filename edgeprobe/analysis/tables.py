"""A bundle's contents as plain tables (lists of flat rows), the common ground of the
pandas frames and the csv/json/parquet export."""

from __future__ import annotations

from typing import Any

from edgeprobe.analysis.kernel_records import category_shares, identity, kernel_table
from edgeprobe.analysis.maxctx import max_contexts
from edgeprobe.analysis.rows import point_row
from edgeprobe.bundle import schema
from edgeprobe.bundle.reader import Bundle

TABLES = ("points", "models", "max_context", "kernels", "categories")


def _context(label: str, bundle: Bundle) -> dict[str, Any]:
    return {"bundle": label, "run_id": bundle.header.get("run_id")}


def point_rows(label: str, bundle: Bundle) -> list[dict[str, Any]]:
    """Every point (max-context search trials included, with ``search`` True)."""
    context = _context(label, bundle)
    return [{**context, **point_row(p)} for p in bundle.points]


def point_columns() -> list[str]:
    return ["bundle", "run_id", *point_row({})]


def model_rows(label: str, bundle: Bundle) -> list[dict[str, Any]]:
    context = _context(label, bundle)
    rows = []
    for record in bundle.models:
        path = record.get("kernel_path")
        path = path if isinstance(path, dict) else {}
        rows.append({**context, "model": record.get("model"), "family": record.get("family"),
                     "implementation": record.get("implementation") or "hf",
                     "status": record.get("status"), "error": record.get("error"),
                     "params": record.get("params"), "weight_bytes": record.get("weight_bytes"),
                     "dtype": record.get("dtype"), "load_s": record.get("load_s"),
                     "kernel_path": path.get("summary"), "ssm_scan": path.get("ssm_scan"),
                     "conv1d": path.get("conv1d"), "attention": path.get("attention")})
    return rows


def max_context_rows(label: str, bundle: Bundle) -> list[dict[str, Any]]:
    return [m.as_dict() for m in max_contexts(label, bundle)]


def kernel_rows(label: str, bundle: Bundle) -> list[dict[str, Any]]:
    """One row per kernel of every profiled point, with the point's identity."""
    context = _context(label, bundle)
    return [{**context, **identity(record), **kernel}
            for record in bundle.of_type(schema.KERNELS) for kernel in kernel_table(record)]


def category_rows(label: str, bundle: Bundle) -> list[dict[str, Any]]:
    """One row per profiled point and category: ``share`` of device time (0..1)."""
    context = _context(label, bundle)
    return [{**context, **identity(record), "category": category, "share": share}
            for record in bundle.of_type(schema.KERNELS)
            for category, share in category_shares(record).items()]


def all_tables(label: str, bundle: Bundle) -> dict[str, list[dict[str, Any]]]:
    return {"points": point_rows(label, bundle), "models": model_rows(label, bundle),
            "max_context": max_context_rows(label, bundle),
            "kernels": kernel_rows(label, bundle), "categories": category_rows(label, bundle)}
