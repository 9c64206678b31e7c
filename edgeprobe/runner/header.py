"""The bundle header of a run: device, software, suite, power, settings and plan."""

from __future__ import annotations

import sys
import uuid
from typing import TYPE_CHECKING, Any

from edgeprobe.probe.plan import ModelPlan
from edgeprobe.telemetry.platform import host_info

if TYPE_CHECKING:
    from edgeprobe.runner.core import Runner


class HeaderMixin:
    def _header(self: Runner, plans: list[ModelPlan]) -> dict[str, Any]:
        suite, settings = self.settings.suite, self.settings
        return {
            "run_id": uuid.uuid4().hex,
            "command": sys.argv,
            "host": host_info(),
            "device": self.hello["device"],
            "software": self.hello["software"],
            "kernels_available": self.hello["kernels_available"],
            "suite": {"name": suite.name, "version": suite.version,
                      "description": suite.description, "sha256": suite.content_hash(),
                      "overrides": list(suite.overrides), "definition": suite.definition()},
            "power": self.power,
            "thermal_at_start": self.conditions.snapshot() if self.conditions else None,
            "conditions": self.conditions.describe() if self.conditions else None,
            "idle_baseline": (self.conditions.baselines if self.conditions else {}),
            "settings": {
                "device": settings.device, "dtype": self.dtype,
                "memory_budget_bytes": settings.memory_budget_bytes,
                "memory_budget": self.hello.get("memory_budget"),
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

    def _header_summary(self: Runner, plans: list[ModelPlan]) -> dict[str, Any]:
        device = self.hello["device"]
        return {"device": device.get("name") or f"CPU ({device.get('threads')} threads)",
                "kind": device["kind"], "dtype": self.dtype, "power_mode": self.power.get("mode"),
                "suite": self.settings.suite.name, "models": [p.key for p in plans],
                "memory_budget_bytes": self.settings.memory_budget_bytes}
