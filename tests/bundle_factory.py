"""Bundles written with edgeprobe's own writer from figures a test chooses (known answers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeprobe.bundle import BundleWriter, schema

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bundles"
DEVICE_RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


def header(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "run_id": "test",
        "device": {"kind": "cuda", "name": "Test GPU"},
        "host": {"cpu": "test cpu"},
        "software": {"torch": "2.11.0", "cuda": "13.0", "transformers": "5.17.0",
                     "mamba_ssm": "2.3.2", "causal_conv1d": "1.7.0"},
        "suite": {"name": "t", "version": 1, "sha256": "a" * 64},
        "power": {"mode": "MAXN", "source": "nvpmodel"},
        "settings": {"dtype": "float16", "memory_budget_bytes": None},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


def point(model: str, length: int, ttft_s: float | None, *, family: str = "transformer",
          variant: str = "lean", status: str = "ok", implementation: str = "hf",
          tpot_s: float | None = None, peak_bytes: int | None = None, search: bool = False,
          kernel_path: str = "fused", **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "model": model, "family": family, "implementation": implementation,
        "length_tokens": length, "variant": variant, "status": status, "search": search,
        "kernel_path": kernel_path, "device": "Test GPU", "power_mode": "MAXN",
        "error": None if status == "ok" else f"{status} at {length}",
    }
    if status == "ok":
        record["prefill"] = {"ttft_s": ttft_s, "repeats": 1}
        record["memory"] = {"peak_reserved_bytes": peak_bytes or 1000 * length}
        if tpot_s is not None:
            record["decode"] = {"tokens": 16, "tpot_s": tpot_s,
                                "throughput_tokens_per_s": (length + 16) / (ttft_s + 16 * tpot_s)}
    record.update(extra)
    return record


def write_bundle(path: Path, points: list[dict[str, Any]], *, complete: bool = True,
                 max_context: list[dict[str, Any]] | None = None,
                 kernels: list[dict[str, Any]] | None = None,
                 telemetry: list[dict[str, Any]] | None = None,
                 **header_overrides: Any) -> Path:
    writer = BundleWriter(path, header(**header_overrides))
    for seq, record in enumerate(points, 1):
        writer.append(schema.POINT, {"seq": seq, **record})
    for record in max_context or []:
        writer.append(schema.MAX_CONTEXT, record)
    for record in kernels or []:
        writer.append(schema.KERNELS, record)
    for record in telemetry or []:
        writer.append(schema.TELEMETRY, record)
    if complete:
        writer.close()
    else:
        writer.abandon()
    return path
