"""The bundle header of a run: device, software, suite, power, settings and plan."""

from __future__ import annotations

import sys
import uuid
from typing import Any

from edgeprobe.analysis.estimate import device_label
from edgeprobe.conditions import Conditions
from edgeprobe.probe.plan import ModelPlan
from edgeprobe.runner.settings import RunSettings
from edgeprobe.telemetry.platform import host_info


def header_record(settings: RunSettings, hello: dict[str, Any], power: dict[str, Any],
                  conditions: Conditions | None, dtype: str,
                  plans: list[ModelPlan]) -> dict[str, Any]:
    suite = settings.suite
    return {
        "run_id": uuid.uuid4().hex,
        "command": sys.argv,
        "run_argv": settings.argv,
        "host": host_info(),
        "device": hello["device"],
        "software": hello["software"],
        "kernels_available": hello["kernels_available"],
        "suite": {"name": suite.name, "version": suite.version,
                  "description": suite.description, "sha256": suite.content_hash(),
                  "overrides": list(suite.overrides), "definition": suite.definition()},
        "power": power,
        "thermal_at_start": conditions.snapshot() if conditions else None,
        "conditions": conditions.describe() if conditions else None,
        "idle_baseline": conditions.baselines if conditions else {},
        "settings": {
            "device": settings.device, "dtype": dtype,
            "memory_budget_bytes": settings.memory_budget_bytes,
            "memory_budget": hello.get("memory_budget"),
            "find_max_context": settings.find_max_context,
            "search_resolution_tokens": settings.search_resolution_tokens,
            "search_limit_tokens": settings.search_limit_tokens,
            "weights": {k: str(v) for k, v in settings.weights.items()},
            "variants": list(suite.variants), "decode_tokens": suite.decode_tokens,
            "warmup": suite.warmup, "repeats": suite.repeats,
            "implementation": suite.implementation, "seed": suite.seed,
            "decode_modes": list(suite.decode_modes),
            "attention_backend": list(suite.attention_backend) or "auto",
            "point_timeout_s": settings.point_timeout_s,
            "min_prefill_window_s": suite.min_prefill_window_s,
            "power_modes": settings.power_modes, "retry_throttled": settings.retry_throttled,
            "thermal_guard": settings.thermal_guard,
            "telemetry_rate_hz": settings.telemetry_rate_hz,
            "profile": suite.profile,
            "profile_schedule": settings.profile_schedule.as_dict(),
            "trace_dir": str(settings.trace_dir) if settings.trace_dir else None,
        },
        "plan": [{"model": p.preset.name, "family": p.preset.family,
                  "implementation": p.implementation, "lengths": list(p.lengths),
                  "variants": list(p.variants)} for p in plans],
    }


def header_summary(settings: RunSettings, hello: dict[str, Any], power: dict[str, Any],
                   dtype: str, plans: list[ModelPlan]) -> dict[str, Any]:
    """What a listener shows at the start: device, dtype, power mode, suite, models."""
    device = hello["device"]
    return {"device": device_label(device),
            "kind": device["kind"], "dtype": dtype, "power_mode": power.get("mode"),
            "suite": settings.suite.name, "models": [p.key for p in plans],
            "memory_budget_bytes": settings.memory_budget_bytes}
