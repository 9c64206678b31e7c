"""The run loop: worker -> model -> points, appending to a bundle.

The runner never imports torch: all device work happens in a worker process, which it
restarts when a fused kernel poisons the CUDA context. Out-of-memory is a result, not a crash.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from edgeprobe.bundle import schema
from edgeprobe.bundle.writer import BundleWriter
from edgeprobe.conditions import Conditions, CriticalTemperature
from edgeprobe.errors import EdgeprobeError, UsageError
from edgeprobe.models.kernel_path import FIX_HINT
from edgeprobe.power.guard import Verdict
from edgeprobe.power.state import current_power_state
from edgeprobe.probe.plan import ModelPlan, decode_variant, make_plan
from edgeprobe.probe.search import Trial
from edgeprobe.probe.worker import Worker, WorkerCrashed, WorkerOptions
from edgeprobe.runner import events
from edgeprobe.runner.header import header_record, header_summary
from edgeprobe.runner.passes import max_context_record, profile_record, profile_targets, trial_of
from edgeprobe.runner.points import crash_reply, point_spec, split_reply
from edgeprobe.runner.settings import RunSettings
from edgeprobe.suite.devices import detect_device_profile
from edgeprobe.telemetry import BackgroundSampler
from edgeprobe.telemetry.platform import jetson_model


class Runner:
    def __init__(self, settings: RunSettings,
                 listener: events.Listener | None = None) -> None:
        self.settings = settings
        self.listener: events.Listener = listener or events.ignore
        log_path = str(settings.out_path.with_suffix(".worker.log"))
        self.worker = Worker(WorkerOptions(settings.device, settings.memory_budget_bytes,
                                           log_path, settings.threads,
                                           settings.suite.attention_backend))
        self.writer: BundleWriter | None = None
        self.seq = 0
        self.statuses: Counter[str] = Counter()
        self.kernel_paths: dict[str, str] = {}
        self.hello: dict[str, Any] = {}
        self.power: dict[str, Any] = {}
        self.dtype = "float32"
        self.model_dead: str | None = None  # why the current model can no longer run
        self.conditions: Conditions | None = None
        self._pending_events: list[tuple[str, str, dict[str, Any]]] = []

    # -- set-up -------------------------------------------------------------------------
    def _start_worker(self) -> dict[str, Any]:
        # The worker's log lives beside the bundle: the folder must exist before the worker.
        try:
            self.settings.out_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EdgeprobeError(f"cannot create {self.settings.out_path.parent}: "
                                 f"{exc.strerror or exc}") from None
        try:
            hello = self.worker.start()
        except WorkerCrashed as crash:
            tail = self.worker.log_tail()
            raise EdgeprobeError(f"the probe worker did not start ({crash})"
                                 + (f": {tail.splitlines()[-1]}" if tail else "")) from None
        if not hello.get("ok"):
            raise EdgeprobeError(f"the probe worker failed: {hello.get('error')}")
        return hello


    def _notice(self, kind: str, message: str, level: str = "info", **data: Any) -> None:
        if self.writer is not None:
            self.writer.event(kind, message, level=level, **data)
        else:  # before the header: written as soon as the bundle exists
            self._pending_events.append((kind, message, {"level": level, **data}))
        self.listener(events.Notice(message, level))

    def _make_conditions(self) -> Conditions:
        settings = self.settings
        device = self.hello["device"]
        profile = settings.device_profile or detect_device_profile(
            [jetson_model(), device.get("name")])
        if settings.power is not None:
            settings.power.on_event = self._notice  # switches and restores go into the bundle
        sampler = None
        if settings.telemetry_rate_hz:
            sampler = BackgroundSampler(rate_hz=settings.telemetry_rate_hz,
                                        gpu=device.get("index", 0))
        return Conditions(sampler, profile, settings.power, self._notice, settings.thermal_guard)

    def _drain_telemetry(self, force: bool = False) -> None:
        if self.conditions is None or self.writer is None:
            return
        for chunk in self.conditions.timeline_chunks(force):
            self.writer.append(schema.TELEMETRY, chunk)
        for message in self.conditions.notices():
            self._notice("sensor_lost", message, level="warning")

    # -- the run --------------------------------------------------------------------------
    def run(self) -> Path:
        settings = self.settings
        started = time.time()
        self.hello = self._start_worker()
        kind = self.hello["device"]["kind"]
        if "graph" in settings.suite.decode_modes and kind != "cuda":
            self.worker.stop()
            raise UsageError("--decode-mode graph needs a CUDA GPU (CUDA graphs); this run "
                             "would be on the CPU: use --decode-mode eager")
        self.dtype = settings.dtype or settings.suite.dtype.get(kind, "float32")
        available = self.hello["kernels_available"]
        mamba_ok = kind == "cuda" and available.get("mamba_ssm", {}).get("importable", False)
        plans, notes = make_plan(settings.suite, mamba_ok)
        self.conditions = self._make_conditions()
        try:
            self.conditions.start()
            self.power = current_power_state()
            if not settings.power_modes:
                self.conditions.idle_baseline(self.power.get("mode") or "start",
                                              settings.idle_baseline_s)
            self.writer = BundleWriter(settings.out_path, header_record(
                settings, self.hello, self.power, self.conditions, self.dtype, plans))
        except BaseException as exc:
            self.conditions.stop()
            self.worker.stop()
            if isinstance(exc, FileExistsError):
                raise EdgeprobeError(
                    f"{settings.out_path} already exists; choose another --out") from None
            raise
        for kind_, message, data in self._pending_events:
            self.writer.event(kind_, message, **data)
        self.listener(events.Started(
            header_summary(settings, self.hello, self.power, self.dtype, plans),
            sum(p.points for p in plans), str(settings.out_path)))
        status = "completed"
        try:
            for note in notes:
                self._notice("plan", note.message)
            self._warn_missing_kernels(plans, available, kind)
            for mode in settings.power_modes or [None]:
                if mode is not None:
                    self._switch_mode(mode)
                for plan in plans:
                    self._run_model(plan)
        except CriticalTemperature as hot:
            status = "critical_temperature"
            self._notice("critical_temperature", str(hot), level="error")
            raise
        except KeyboardInterrupt as stop:
            status = "interrupted"
            self._notice("interrupted", f"run stopped by {getattr(stop, 'signal_name', 'Ctrl-C')}",
                         level="warning")
            raise
        except BaseException as exc:
            status = "failed"
            why = str(exc) if isinstance(exc, EdgeprobeError) else f"{type(exc).__name__}: {exc}"
            self._notice("failed", why, level="error")
            raise
        finally:
            self.worker.stop()
            self.conditions.stop()  # power settings restored before the bundle closes
            self._drain_telemetry(force=True)
            self.writer.close(status=status, duration_s=time.time() - started,
                              points=sum(self.statuses.values()),
                              by_status=dict(self.statuses), kernel_paths=self.kernel_paths)
            self.listener(events.Finished(status, str(settings.out_path), dict(self.statuses)))
        return settings.out_path

    def _switch_mode(self, mode: str) -> None:
        assert self.conditions is not None and self.conditions.power is not None
        self.conditions.power.switch(mode)
        self.power = current_power_state()
        self.conditions.idle_baseline(mode, self.settings.idle_baseline_s)


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
        self.listener(events.ModelLoading(plan.key))
        loaded = self._load(plan)
        if not loaded.get("ok"):
            self._model_failed(plan, loaded)
            return
        path = loaded["kernel_path"]
        self.kernel_paths[plan.key] = path["summary"]
        loaded.pop("ok", None)
        self.writer.append(schema.MODEL, {**loaded, "status": "ok"})
        self.listener(events.ModelLoaded(plan.key, loaded))
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
            todo = []
            for variant in plan.variants:
                if self.model_dead:
                    self._skip(plan, length, variant, self.model_dead)
                elif variant in blocked:
                    self._skip(plan, length, variant, f"{variant} prefill failed at "
                               f"{blocked[variant][0]} tokens ({blocked[variant][1]})")
                else:
                    todo.append(variant)
            if not todo:
                continue
            for record in self._measure(plan, length, todo, decode_in, path["summary"]):
                variant = record["variant"]
                known[variant].append(trial_of(record))
                if record["status"] == schema.STATUS_OK:
                    ran.setdefault(length, []).append((variant, record["seq"]))
                if record["status"] == schema.STATUS_OOM or record["status"] in schema.WORKER_LOST:
                    blocked[variant] = (length, record["status"])
        if self.settings.find_max_context and not self.model_dead:
            for variant in plan.variants:
                self._search(plan, variant, known[variant], path["summary"])
        if self.settings.suite.profile:
            for length, variant, seq in profile_targets(ran):
                if self.model_dead:
                    break
                self._profile(plan, length, variant, seq, path["summary"])
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
                "variant": variant, **self._identity()}

    def _skip(self, plan: ModelPlan, length: int, variant: str, reason: str) -> None:
        record = {**self._base(plan, length, variant), "status": schema.STATUS_SKIPPED,
                  "error": reason}
        self._emit(record)

    def _emit(self, record: dict[str, Any]) -> None:
        self.statuses[record["status"]] += 1
        self.writer.append(schema.POINT, record)
        self.listener(events.PointDone(record))

    def _measure(self, plan: ModelPlan, length: int, variants: list[str],
                 decode_in: str | None, kernel_path: str, search: bool = False,
                 retry_of: dict[str, int] | None = None) -> list[dict[str, Any]]:
        """One prompt length: every variant in ``variants`` (interleaved by the worker), and
        the decode after ``decode_in``'s prefill. Returns the point records, as emitted."""
        spec = point_spec(self.settings.suite, length, variants, decode_in, search,
                          self._energy_window_s)
        self.listener(events.PointStarted(plan.key, length, "+".join(variants), search))
        assert self.conditions is not None
        cooldown = self.conditions.before_point()
        started = time.time()
        snapshot = self.conditions.snapshot()
        reply = self._request({"op": "point", "spec": spec})
        outcomes, redo = split_reply(reply, variants, decode_in)
        records: list[dict[str, Any]] = []
        verdicts: list[Verdict] = []
        retry: list[dict[str, Any]] = []
        for variant in variants:
            if variant not in outcomes:
                continue
            record = {**self._base(plan, length, variant), "kernel_path": kernel_path,
                      "search": search, "started_unix_s": started, "thermal_before": snapshot}
            if cooldown:
                record["cooldown"] = cooldown
            if retry_of and variant in retry_of:
                record["retry_of"] = retry_of[variant]
            verdict = self._finish(record, outcomes[variant])
            records.append(record)
            verdicts.append(verdict)
            if record.get("retried"):
                retry.append(record)
        fatal = bool(reply.get("fatal")) or reply.get("status") in schema.WORKER_LOST
        self._drain_telemetry()
        for verdict in verdicts:
            self.conditions.check_critical(verdict)
        if fatal:
            self._recover(plan)
        if redo and not self.model_dead:  # variants cut short by another variant's fault
            records += self._measure(plan, length, redo, decode_in, kernel_path, search)
        if retry:
            self._notice("retry_throttled", f"{plan.key} {length} was thermally throttled: "
                         "measuring it again after cooling", level="warning")
            again = self._measure(plan, length, [r["variant"] for r in retry], decode_in,
                                  kernel_path, search, {r["variant"]: r["seq"] for r in retry})
            by_variant = {r["variant"]: r for r in again}
            records = [by_variant.get(r["variant"], r) for r in records]
        return records

    def _finish(self, record: dict[str, Any], outcome: dict[str, Any]) -> Verdict:
        """A variant's outcome into its record, with energy and the thermal verdict; emitted."""
        assert self.conditions is not None
        outcome = dict(outcome)
        record.update(status=outcome.pop("status", "error"), error=outcome.pop("error", None))
        measured = self.conditions.after_point(outcome.get("phases") or {})
        record.update(outcome, wall_s=time.time() - record["started_unix_s"],
                      thermal_after=self.conditions.snapshot(), thermal=measured.thermal,
                      throttled=measured.verdict.status != "ok")
        if measured.energy:
            record["energy"] = measured.energy
        if (self.settings.retry_throttled and measured.verdict.thermal and not record["search"]
                and record["status"] == schema.STATUS_OK and "retry_of" not in record):
            record["retried"] = True
        self._emit(record)
        return measured.verdict

    @property
    def _energy_window_s(self) -> float:
        """Prefill energy windows only where a power sensor reads: elsewhere they cost time
        and measure nothing."""
        if self.conditions is None or self.conditions.sampler is None \
                or not self.conditions.has_power_sensor():
            return 0.0
        return self.settings.suite.min_prefill_window_s

    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        """One worker request; a worker that dies or hangs answers as a failed request."""
        try:
            return self.worker.request(message, timeout_s=self.settings.point_timeout_s)
        except WorkerCrashed as crash:
            return self._crash_reply(crash)

    def _search(self, plan: ModelPlan, variant: str, known: list[Trial],
                kernel_path: str) -> None:
        self.listener(events.SearchStarted(plan.key, variant))

        def try_length(length: int) -> Trial:
            if self.model_dead:
                return Trial(length, schema.STATUS_SKIPPED, None, self.model_dead)
            (record,) = self._measure(plan, length, [variant], None, kernel_path, search=True)
            return trial_of(record)

        record = max_context_record(plan, variant, known, kernel_path, self.settings,
                                    self.hello["device"], try_length)
        self.writer.append(schema.MAX_CONTEXT, record)
        self.listener(events.MaxContextDone(record))

    def _profile(self, plan: ModelPlan, length: int, variant: str, point_seq: int,
                 kernel_path: str) -> None:
        self.listener(events.ProfileStarted(plan.key, length, variant))
        context = {**self._identity(), "device_kind": self.hello["device"]["kind"],
                   "thermal": self.conditions.snapshot() if self.conditions else None}
        record, fatal = profile_record(plan, length, variant, point_seq, kernel_path,
                                       self.settings, context, self._request)
        record["thermal_after"] = self.conditions.snapshot() if self.conditions else None
        self.writer.append(schema.KERNELS, record)
        self.listener(events.KernelsDone(record))
        if fatal:
            self._recover(plan)

    def _identity(self) -> dict[str, Any]:
        """What every record repeats about where its numbers came from."""
        return {"dtype": self.dtype, "device": self.hello["device"].get("name") or "cpu",
                "power_mode": self.power.get("mode")}

    def _crash_reply(self, crash: WorkerCrashed) -> dict[str, Any]:
        return crash_reply(str(crash), crash.timed_out, self.worker.log_tail(12))

    def _recover(self, plan: ModelPlan) -> None:
        """A fused kernel failed: the CUDA context is gone. Start a fresh worker and reload."""
        self.worker.kill()
        self._notice("worker_restart", f"restarting the probe worker after a failure in {plan.key}",
                     level="warning", model=plan.key)
        loaded = self._load(plan)
        if not loaded.get("ok"):
            self.model_dead = f"model could not be reloaded after a failure: {loaded.get('error')}"
            self._notice("model_failed", f"{plan.key}: {self.model_dead}", level="error")

