"""Passes after a model's sweep: the max-context search and the profiling passes."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from edgeprobe.bundle import schema
from edgeprobe.probe.plan import ModelPlan
from edgeprobe.probe.search import Trial, find_max_context
from edgeprobe.probe.worker import WorkerCrashed
from edgeprobe.profiling.spec import ProfileSpec, pick_variant, why_not_comparable
from edgeprobe.profiling.spec import trace_file as profile_trace_file

if TYPE_CHECKING:
    from edgeprobe.runner.core import Runner


class PassesMixin:
    def _profile_model(self: Runner, plan: ModelPlan, ran: dict[int, list[tuple[str, int]]],
                       kernel_path: str) -> None:
        for length, points in ran.items():
            if self.model_dead:
                return
            variant = pick_variant([v for v, _ in points])
            if variant is not None:
                self._profile(plan, length, variant, dict(points)[variant], kernel_path)

    def _profile(self: Runner, plan: ModelPlan, length: int, variant: str, point_seq: int,
                 kernel_path: str) -> None:
        settings = self.settings
        trace = (profile_trace_file(settings.trace_dir, settings.out_path.stem, plan.preset.name,
                                    plan.implementation, length, variant)
                 if settings.trace_dir else None)
        spec = ProfileSpec(length, variant, settings.suite.seed, settings.profile_schedule,
                           str(trace) if trace else None)
        self.listener("profile_started", model=plan.key, length=length, variant=variant)
        not_comparable = why_not_comparable(self.hello["device"]["kind"], kernel_path)
        record = {"model": plan.preset.name, "family": plan.preset.family,
                  "implementation": plan.implementation, "length_tokens": length,
                  "variant": variant, "point_seq": point_seq, "kernel_path": kernel_path,
                  "dtype": self.dtype, "device": self.hello["device"].get("name") or "cpu",
                  "power_mode": self.power.get("mode"), "phase": "prefill",
                  "schedule": settings.profile_schedule.as_dict(),
                  "comparable_to_study": not_comparable is None,
                  "comparability_note": not_comparable,
                  "started_unix_s": time.time(),
                  "thermal_before": self.conditions.snapshot() if self.conditions else None}
        try:
            reply = self.worker.request({"op": "profile", "spec": spec.as_message()},
                                        timeout_s=settings.point_timeout_s)
        except WorkerCrashed as crash:
            reply = self._crash_reply(crash)
        record.update(status=reply.pop("status", "error"), error=reply.pop("error", None))
        fatal = reply.pop("fatal", False) or record["status"] in schema.WORKER_LOST
        reply.pop("ok", None)
        reply.pop("memory", None)
        record.update(reply, wall_s=time.time() - record["started_unix_s"],
                      thermal_after=self.conditions.snapshot() if self.conditions else None)
        self.writer.append(schema.KERNELS, record)
        self.listener("kernels", record=record)
        if fatal:
            self._recover(plan)

    def _search(self: Runner, plan: ModelPlan, variant: str, known: list[Trial],
                kernel_path: str) -> None:
        settings = self.settings
        self.listener("search_started", model=plan.key, variant=variant)

        def try_length(length: int) -> Trial:
            if self.model_dead:
                return Trial(length, schema.STATUS_SKIPPED, None, self.model_dead)
            (record,) = self._measure(plan, length, [variant], None, kernel_path, search=True)
            return trial_of(record)

        budget = settings.memory_budget_bytes or self.hello["device"].get("total_memory_bytes")
        start = max((t.length_tokens for t in known if t.fits), default=1024)
        result = find_max_context(try_length, start_tokens=start,
                                  limit_tokens=settings.search_limit_tokens,
                                  resolution_tokens=settings.search_resolution_tokens,
                                  budget_bytes=budget if self.hello["device"]["kind"] == "cuda"
                                  else None, known=known)
        record = {"model": plan.preset.name, "family": plan.preset.family,
                  "implementation": plan.implementation, "variant": variant,
                  "kernel_path": kernel_path, "memory_budget_bytes": settings.memory_budget_bytes,
                  "device": self.hello["device"].get("name") or "cpu", **result.as_dict()}
        self.writer.append(schema.MAX_CONTEXT, record)
        self.listener("max_context", record=record)


def trial_of(record: dict[str, Any]) -> Trial:
    memory = record.get("memory") or {}
    peak = memory.get("peak_reserved_bytes") or memory.get("peak_rss_bytes")
    return Trial(record["length_tokens"], record["status"], peak, record.get("error"))
