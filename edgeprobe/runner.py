"""Walks a suite: worker -> model -> points (-> max-context search), appending to a bundle.

The runner never imports torch: all device work happens in a worker process, which it
restarts when a fused kernel poisons the CUDA context. Out-of-memory is a result, not a crash.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeprobe.bundle import schema
from edgeprobe.bundle.writer import BundleWriter
from edgeprobe.errors import EdgeprobeError
from edgeprobe.models.kernel_path import FIX_HINT
from edgeprobe.power.state import current_power_state
from edgeprobe.probe.plan import ModelPlan, decode_variant, make_plan
from edgeprobe.probe.search import Trial, find_max_context
from edgeprobe.probe.worker import Worker, WorkerCrashed, WorkerOptions
from edgeprobe.profiling.spec import (
    STUDY_SCHEDULE,
    ProfileSchedule,
    ProfileSpec,
    pick_variant,
    why_not_comparable,
)
from edgeprobe.profiling.spec import trace_file as profile_trace_file
from edgeprobe.suite.suites import Suite
from edgeprobe.telemetry.platform import host_info
from edgeprobe.telemetry.snapshot import thermal_snapshot

Listener = Callable[..., None]


@dataclass
class RunSettings:
    suite: Suite
    out_path: Path
    device: str = "auto"
    dtype: str | None = None
    memory_budget_bytes: int | None = None
    find_max_context: bool = False
    search_resolution_tokens: int = 1024
    search_limit_tokens: int = 1 << 20
    weights: dict[str, Path] = field(default_factory=dict)
    point_timeout_s: float | None = 3600.0
    threads: int | None = None
    # Profiling passes run when the suite asks for them (``suite.profile``).
    profile_schedule: ProfileSchedule = STUDY_SCHEDULE
    trace_dir: Path | None = None  # Chrome traces of the profiling passes go here


class Runner:
    def __init__(self, settings: RunSettings, listener: Listener | None = None) -> None:
        self.settings = settings
        self.listener = listener or (lambda kind, **data: None)
        log_path = str(settings.out_path.with_suffix(".worker.log"))
        self.worker = Worker(WorkerOptions(settings.device, settings.memory_budget_bytes,
                                           log_path, settings.threads))
        self.writer: BundleWriter | None = None
        self.seq = 0
        self.statuses: Counter[str] = Counter()
        self.kernel_paths: dict[str, str] = {}
        self.hello: dict[str, Any] = {}
        self.power: dict[str, Any] = {}
        self.dtype = "float32"
        self.model_dead: str | None = None  # why the current model can no longer run

    # -- set-up -------------------------------------------------------------------------
    def _start_worker(self) -> dict[str, Any]:
        try:
            hello = self.worker.start()
        except WorkerCrashed as crash:
            tail = self.worker.log_tail()
            raise EdgeprobeError(f"the probe worker did not start ({crash})"
                                 + (f": {tail.splitlines()[-1]}" if tail else "")) from None
        if not hello.get("ok"):
            raise EdgeprobeError(f"the probe worker failed: {hello.get('error')}")
        return hello

    def _header(self, plans: list[ModelPlan]) -> dict[str, Any]:
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
            "thermal_at_start": thermal_snapshot(),
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
                "point_timeout_s": settings.point_timeout_s,
                "min_prefill_window_s": suite.min_prefill_window_s,
                "profile": suite.profile,
                "profile_schedule": settings.profile_schedule.as_dict(),
                "trace_dir": str(settings.trace_dir) if settings.trace_dir else None,
            },
            "plan": [{"model": p.preset.name, "family": p.preset.family,
                      "implementation": p.implementation, "lengths": list(p.lengths),
                      "variants": list(p.variants)} for p in plans],
        }

    def _notice(self, kind: str, message: str, level: str = "info", **data: Any) -> None:
        if self.writer is not None:
            self.writer.event(kind, message, level=level, **data)
        self.listener("notice", message=message, level=level)

    # -- the run --------------------------------------------------------------------------
    def run(self) -> Path:
        settings = self.settings
        started = time.time()
        self.hello = self._start_worker()
        kind = self.hello["device"]["kind"]
        self.dtype = settings.dtype or settings.suite.dtype.get(kind, "float32")
        available = self.hello["kernels_available"]
        mamba_ok = kind == "cuda" and available.get("mamba_ssm", {}).get("importable", False)
        plans, notes = make_plan(settings.suite, mamba_ok)
        self.power = current_power_state()
        try:
            self.writer = BundleWriter(settings.out_path, self._header(plans))
        except FileExistsError:
            self.worker.stop()
            raise EdgeprobeError(
                f"{settings.out_path} already exists; choose another --out") from None
        self.listener("started", header=self._header_summary(plans),
                      total=sum(p.points for p in plans), path=str(settings.out_path))
        status = "completed"
        try:
            for note in notes:
                self._notice("plan", note.message)
            self._warn_missing_kernels(plans, available, kind)
            for plan in plans:
                self._run_model(plan)
        except KeyboardInterrupt as stop:
            status = "interrupted"
            self._notice("interrupted", f"run stopped by {getattr(stop, 'signal_name', 'Ctrl-C')}",
                         level="warning")
            raise
        except BaseException as exc:
            status = "failed"
            self._notice("failed", f"{type(exc).__name__}: {exc}", level="error")
            raise
        finally:
            self.worker.stop()
            self.writer.close(status=status, duration_s=time.time() - started,
                              points=sum(self.statuses.values()),
                              by_status=dict(self.statuses), kernel_paths=self.kernel_paths)
            self.listener("finished", status=status, path=str(settings.out_path),
                          by_status=dict(self.statuses))
        return settings.out_path

    def _header_summary(self, plans: list[ModelPlan]) -> dict[str, Any]:
        device = self.hello["device"]
        return {"device": device.get("name") or f"CPU ({device.get('threads')} threads)",
                "kind": device["kind"], "dtype": self.dtype, "power_mode": self.power.get("mode"),
                "suite": self.settings.suite.name, "models": [p.key for p in plans],
                "memory_budget_bytes": self.settings.memory_budget_bytes}

    def _warn_missing_kernels(self, plans: list[ModelPlan], available: dict[str, Any],
                              kind: str) -> None:
        if kind != "cuda" or not any(p.preset.family != "transformer" for p in plans):
            return
        missing = [name for name in ("mamba_ssm", "causal_conv1d")
                   if not available.get(name, {}).get("importable")]
        if missing:
            self._notice("kernels_missing",
                         f"fused SSM kernels missing on this GPU ({', '.join(missing)}): SSM and "
                         f"hybrid models run the slow reference path; {FIX_HINT}",
                         level="warning", missing=missing)

    # -- one model --------------------------------------------------------------------------
    def _load(self, plan: ModelPlan) -> dict[str, Any]:
        if not self.worker.alive:
            self.hello = self._start_worker()
        message = {"op": "load", "model": plan.preset.name, "implementation": plan.implementation,
                   "dtype": self.dtype, "seed": self.settings.suite.seed,
                   "weights": str(self.settings.weights.get(plan.preset.name) or "") or None,
                   "max_new_tokens": self.settings.suite.decode_tokens + 8}
        try:
            return self.worker.request(message, timeout_s=self.settings.point_timeout_s)
        except WorkerCrashed as crash:
            return {"ok": False, "status": "timeout" if crash.timed_out else "crashed",
                    "error": f"worker crashed while loading: {crash}"}

    def _run_model(self, plan: ModelPlan) -> None:
        self.listener("model_loading", model=plan.key)
        loaded = self._load(plan)
        if not loaded.get("ok"):
            self._model_failed(plan, loaded)
            return
        path = loaded["kernel_path"]
        self.kernel_paths[plan.key] = path["summary"]
        loaded.pop("ok", None)
        self.writer.append(schema.MODEL, {**loaded, "status": "ok"})
        self.listener("model_loaded", model=plan.key, record=loaded)
        if self.hello["device"]["kind"] == "cuda" and plan.preset.family != "transformer" \
                and path["summary"] != "fused":
            self._notice("reference_path", f"{plan.key} runs the {path['summary']} kernel path "
                         f"(scan: {path['ssm_scan']}, conv1d: {path['conv1d']}): {FIX_HINT}",
                         level="warning", model=plan.key)
        self.model_dead = None
        blocked: dict[str, tuple[int, str]] = {}
        known: dict[str, list[Trial]] = {v: [] for v in plan.variants}
        ran: dict[int, list[tuple[str, int]]] = {}  # length -> (variant, seq) of ok points
        decode_in = decode_variant(plan.variants)
        for length in plan.lengths:
            for variant in plan.variants:
                if self.model_dead:
                    self._skip(plan, length, variant, self.model_dead)
                    continue
                if variant in blocked:
                    self._skip(plan, length, variant, f"{variant} prefill failed at "
                               f"{blocked[variant][0]} tokens ({blocked[variant][1]})")
                    continue
                decode = self.settings.suite.decode_tokens if variant == decode_in else 0
                record = self._point(plan, length, variant, decode, path["summary"])
                known[variant].append(_trial_of(record))
                if record["status"] == schema.STATUS_OK:
                    ran.setdefault(length, []).append((variant, record["seq"]))
                if record["status"] == schema.STATUS_OOM or record["status"] in schema.WORKER_LOST:
                    blocked[variant] = (length, record["status"])
        if self.settings.find_max_context and not self.model_dead:
            for variant in plan.variants:
                self._search(plan, variant, known[variant], path["summary"])
        if self.settings.suite.profile:
            self._profile_model(plan, ran, path["summary"])
        if self.worker.alive:
            self.worker.request({"op": "unload"}, timeout_s=120)

    def _model_failed(self, plan: ModelPlan, reply: dict[str, Any]) -> None:
        status = reply.get("status", "error")
        self.writer.append(schema.MODEL, {"model": plan.preset.name, "family": plan.preset.family,
                                          "implementation": plan.implementation,
                                          "status": status, "error": reply.get("error")})
        self._notice("model_failed", f"{plan.key} could not be loaded ({status}): "
                     f"{reply.get('error')}", level="error", model=plan.key)
        for length in plan.lengths:
            for variant in plan.variants:
                self._skip(plan, length, variant, f"model not loaded ({status})")

    def _base(self, plan: ModelPlan, length: int, variant: str) -> dict[str, Any]:
        self.seq += 1
        return {"seq": self.seq, "model": plan.preset.name, "family": plan.preset.family,
                "implementation": plan.implementation, "length_tokens": length,
                "variant": variant, "dtype": self.dtype,
                "device": self.hello["device"].get("name") or "cpu",
                "power_mode": self.power.get("mode")}

    def _skip(self, plan: ModelPlan, length: int, variant: str, reason: str) -> None:
        record = {**self._base(plan, length, variant), "status": schema.STATUS_SKIPPED,
                  "error": reason}
        self._emit(record)

    def _emit(self, record: dict[str, Any]) -> None:
        self.statuses[record["status"]] += 1
        self.writer.append(schema.POINT, record)
        self.listener("point", record=record)

    def _point(self, plan: ModelPlan, length: int, variant: str, decode_tokens: int,
               kernel_path: str, search: bool = False) -> dict[str, Any]:
        suite = self.settings.suite
        spec = {"length_tokens": length, "variant": variant, "seed": suite.seed,
                "warmup": 0 if search else suite.warmup, "repeats": 1 if search else suite.repeats,
                "decode_tokens": decode_tokens,
                "min_window_s": 0.0 if search else suite.min_prefill_window_s}
        self.listener("point_started", model=plan.key, length=length, variant=variant,
                      search=search)
        record = self._base(plan, length, variant)
        record.update(kernel_path=kernel_path, search=search, started_unix_s=time.time(),
                      thermal_before=thermal_snapshot())
        try:
            reply = self.worker.request({"op": "point", "spec": spec},
                                        timeout_s=self.settings.point_timeout_s)
        except WorkerCrashed as crash:
            tail = self.worker.log_tail(3).replace("\n", " | ")
            reply = {"ok": False, "status": "timeout" if crash.timed_out else "crashed",
                     "error": f"{crash}" + (f": {tail}" if tail else "")}
        record.update(status=reply.pop("status", "error"), error=reply.pop("error", None))
        fatal = reply.pop("fatal", False) or record["status"] in schema.WORKER_LOST
        reply.pop("ok", None)
        record.update(reply, wall_s=time.time() - record["started_unix_s"],
                      thermal_after=thermal_snapshot())
        self._emit(record)
        if fatal:
            self._recover(plan)
        return record

    def _recover(self, plan: ModelPlan) -> None:
        """A fused kernel failed: the CUDA context is gone. Start a fresh worker and reload."""
        self.worker.kill()
        self._notice("worker_restart", f"restarting the probe worker after a failure in {plan.key}",
                     level="warning", model=plan.key)
        loaded = self._load(plan)
        if not loaded.get("ok"):
            self.model_dead = f"model could not be reloaded after a failure: {loaded.get('error')}"
            self._notice("model_failed", f"{plan.key}: {self.model_dead}", level="error")

    # -- profiling passes, after every timed pass of the model ---------------------------------
    def _profile_model(self, plan: ModelPlan, ran: dict[int, list[tuple[str, int]]],
                       kernel_path: str) -> None:
        for length, points in ran.items():
            if self.model_dead:
                return
            variant = pick_variant([v for v, _ in points])
            if variant is not None:
                self._profile(plan, length, variant, dict(points)[variant], kernel_path)

    def _profile(self, plan: ModelPlan, length: int, variant: str, point_seq: int,
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
                  "started_unix_s": time.time(), "thermal_before": thermal_snapshot()}
        try:
            reply = self.worker.request({"op": "profile", "spec": spec.as_message()},
                                        timeout_s=settings.point_timeout_s)
        except WorkerCrashed as crash:
            reply = {"ok": False, "status": "timeout" if crash.timed_out else "crashed",
                     "error": str(crash)}
        record.update(status=reply.pop("status", "error"), error=reply.pop("error", None))
        fatal = reply.pop("fatal", False) or record["status"] in schema.WORKER_LOST
        reply.pop("ok", None)
        reply.pop("memory", None)
        record.update(reply, wall_s=time.time() - record["started_unix_s"],
                      thermal_after=thermal_snapshot())
        self.writer.append(schema.KERNELS, record)
        self.listener("kernels", record=record)
        if fatal:
            self._recover(plan)

    def _search(self, plan: ModelPlan, variant: str, known: list[Trial], kernel_path: str) -> None:
        settings = self.settings
        self.listener("search_started", model=plan.key, variant=variant)

        def try_length(length: int) -> Trial:
            if self.model_dead:
                return Trial(length, schema.STATUS_SKIPPED, None, self.model_dead)
            return _trial_of(self._point(plan, length, variant, 0, kernel_path, search=True))

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


def _trial_of(record: dict[str, Any]) -> Trial:
    memory = record.get("memory") or {}
    peak = memory.get("peak_reserved_bytes") or memory.get("peak_rss_bytes")
    return Trial(record["length_tokens"], record["status"], peak, record.get("error"))

