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
from edgeprobe.models.kernel_path import FIX_HINT, missing_ssm_kernels
from edgeprobe.power.guard import Verdict
from edgeprobe.power.state import current_power_state
from edgeprobe.probe.plan import ModelPlan, make_plan
from edgeprobe.probe.worker import Worker, WorkerCrashed, WorkerOptions
from edgeprobe.runner import events
from edgeprobe.runner.header import header_record, header_summary
from edgeprobe.runner.host_runs import HostRuns, device_words
from edgeprobe.runner.passes import profile_record
from edgeprobe.runner.points import crash_reply, point_spec, split_reply
from edgeprobe.runner.resume import (
    DEVICE_AND_SETTINGS_FACTS,
    POWER_FACT,
    PriorWork,
    continue_bundle,
    refuse_difference,
)
from edgeprobe.runner.settings import RunSettings
from edgeprobe.runner.sweep import ModelSweep
from edgeprobe.runner.timing import (
    COOLDOWN,
    IDLE_BASELINE,
    POWER_SWITCH,
    TELEMETRY,
    WORKER_START,
    RunTiming,
)
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
        self.reload_needed: str | None = None  # the model to load again before measuring
        self.conditions: Conditions | None = None
        self._pending_events: list[tuple[str, str, dict[str, Any]]] = []
        self.timing = RunTiming()
        self.worker.on_reply = self.timing.worker_reply
        self.host_runs: HostRuns | None = None

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


    def notice(self, kind: str, message: str, level: str = "info", **data: Any) -> None:
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
            settings.power.on_event = self.notice  # switches and restores go into the bundle
        sampler = None
        if settings.telemetry_rate_hz:
            sampler = BackgroundSampler(rate_hz=settings.telemetry_rate_hz,
                                        gpu=device.get("pci_bus_id") or device.get("index", 0))
        return Conditions(sampler, profile, settings.power, self.notice, settings.thermal_guard)

    def _drain_telemetry(self, force: bool = False) -> None:
        if self.conditions is None or self.writer is None:
            return
        for chunk in self.conditions.timeline_chunks(force):
            self.writer.append(schema.TELEMETRY, chunk)
        for message in self.conditions.notices():
            self.notice("sensor_lost", message, level="warning")

    # -- the run --------------------------------------------------------------------------
    def run(self) -> Path:
        settings = self.settings
        with self.timing.phase(WORKER_START):
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
            self._open_bundle(plans)
        except BaseException as exc:
            self.conditions.stop()
            self.worker.stop()
            if isinstance(exc, FileExistsError):
                raise EdgeprobeError(
                    f"{settings.out_path} already exists; choose another --out") from None
            raise
        assert self.writer is not None
        for kind_, message, data in self._pending_events:
            self.writer.event(kind_, message, **data)
        self.host_runs = HostRuns(device_words(self.hello["device"]), str(settings.out_path))
        self.host_runs.announce()
        self._check_host_runs()
        done = settings.resume.done_points() if settings.resume else 0
        self.listener(events.Started(
            header_summary(settings, self.hello, self.power, self.dtype, plans),
            sum(p.points for p in plans) - done, str(settings.out_path)))
        status = "completed"
        try:
            for note in notes:
                self.notice("plan", note.message)
            missing = missing_ssm_kernels({p.preset.family for p in plans}, available, kind)
            if missing:
                self.notice("kernels_missing", f"fused SSM kernels missing on this GPU "
                            f"({', '.join(missing)}): SSM and hybrid models run the slow "
                            f"reference path; {FIX_HINT}", level="warning", missing=missing)
            for mode in settings.power_modes or [None]:
                if mode is not None:
                    self._switch_mode(mode)
                for plan in plans:
                    prior = settings.resume.prior(plan, self.power.get("mode")) \
                        if settings.resume else PriorWork()
                    ModelSweep(self, plan, prior).run()
        except CriticalTemperature as hot:
            status = "critical_temperature"
            self.notice("critical_temperature", str(hot), level="error")
            raise
        except KeyboardInterrupt as stop:
            status = "interrupted"
            self.notice("interrupted", f"run stopped by {getattr(stop, 'signal_name', 'Ctrl-C')}",
                         level="warning")
            raise
        except BaseException as exc:
            status = "failed"
            why = str(exc) if isinstance(exc, EdgeprobeError) else f"{type(exc).__name__}: {exc}"
            self.notice("failed", why, level="error")
            raise
        finally:
            self._close(status)
        return settings.out_path

    def _open_bundle(self, plans: list[ModelPlan]) -> None:
        """Conditions set up, then a new bundle with its header, or the resumed one."""
        settings = self.settings
        assert self.conditions is not None
        resume = settings.resume
        now = header_record(settings, self.hello, {}, None, self.dtype, plans)
        if resume is not None:
            refuse_difference(resume, now, DEVICE_AND_SETTINGS_FACTS)
        self.conditions.start()
        self.power = current_power_state()
        if resume is not None and not settings.power_modes and not settings.power:
            refuse_difference(resume, {"power": self.power}, (POWER_FACT,))
        if not settings.power_modes:
            with self.timing.phase(IDLE_BASELINE):
                self.conditions.idle_baseline(self.power.get("mode") or "start",
                                              settings.idle_baseline_s)
        header = header_record(settings, self.hello, self.power, self.conditions, self.dtype,
                               plans)
        if resume is None:
            self.writer = BundleWriter(settings.out_path, header, self.timing.written)
            return
        self.writer = continue_bundle(resume, header, self.timing.written)
        self.seq, self.statuses = resume.last_seq, resume.statuses()
        self.kernel_paths = resume.kernel_paths()

    def _close(self, status: str) -> None:
        assert self.writer is not None and self.conditions is not None
        if self.host_runs is not None:
            self.host_runs.withdraw()
        self.worker.stop()
        self.conditions.stop()  # power settings restored before the bundle closes
        self._drain_telemetry(force=True)
        duration_s = time.monotonic() - self.timing.started_monotonic_s
        self.writer.close(status=status, duration_s=duration_s,
                          points=sum(self.statuses.values()), by_status=dict(self.statuses),
                          kernel_paths=self.kernel_paths, timing=self.timing.record())
        self.listener(events.Finished(status, str(self.settings.out_path), dict(self.statuses)))

    def _check_host_runs(self) -> int:
        return self.host_runs.watch(self.notice) if self.host_runs is not None else 0

    def _switch_mode(self, mode: str) -> None:
        assert self.conditions is not None and self.conditions.power is not None
        with self.timing.phase(POWER_SWITCH):
            self.conditions.power.switch(mode)
            self.power = current_power_state()
        with self.timing.phase(IDLE_BASELINE):
            self.conditions.idle_baseline(mode, self.settings.idle_baseline_s)

    # -- one model --------------------------------------------------------------------------
    def load(self, plan: ModelPlan) -> dict[str, Any]:
        if not self.worker.alive:
            with self.timing.phase(WORKER_START):
                self.hello = self._start_worker()
        self.timing.counts["model_loads"] += 1
        message = {"op": "load", "model": plan.preset.name, "implementation": plan.implementation,
                   "dtype": self.dtype, "seed": self.settings.suite.seed,
                   "weights": str(self.settings.weights.get(plan.preset.name) or "") or None,
                   "model_dir": plan.preset.model_dir,
                   "trust_remote_code": plan.preset.trust_remote_code,
                   "max_new_tokens": self.settings.suite.decode_tokens + 8}
        try:
            return self.worker.request(message, timeout_s=self.settings.point_timeout_s)
        except WorkerCrashed as crash:
            reply = self._crash_reply(crash)
            reply["error"] = f"worker crashed while loading: {reply['error']}"
            return reply

    def _base(self, plan: ModelPlan, length: int, variant: str) -> dict[str, Any]:
        self.seq += 1
        return {"seq": self.seq, "model": plan.preset.name, "family": plan.preset.family,
                "implementation": plan.implementation, "length_tokens": length,
                "variant": variant, **self._identity()}

    def skip(self, plan: ModelPlan, length: int, variant: str, reason: str) -> None:
        record = {**self._base(plan, length, variant), "status": schema.STATUS_SKIPPED,
                  "error": reason}
        self._emit(record)

    def _emit(self, record: dict[str, Any]) -> None:
        self.statuses[record["status"]] += 1
        self.append(schema.POINT, record)
        self.listener(events.PointDone(record))

    def append(self, record_type: str, record: dict[str, Any]) -> None:
        assert self.writer is not None
        self.writer.append(record_type, record)

    def measure(self, plan: ModelPlan, length: int, variants: list[str],
                decode_in: str | None, kernel_path: str, search: bool = False,
                retry_of: dict[str, int] | None = None) -> list[dict[str, Any]]:
        """One prompt length: every variant in ``variants`` (interleaved by the worker), and
        the decode after ``decode_in``'s prefill. Returns the point records, as emitted."""
        spec = point_spec(self.settings.suite, length, variants, decode_in, search,
                          self._energy_window_s)
        self.listener(events.PointStarted(plan.key, length, "+".join(variants), search))
        assert self.conditions is not None
        with self.timing.phase(COOLDOWN):
            cooldown = self.conditions.before_point()
        self.timing.counts["search_requests" if search else "point_requests"] += 1
        started = time.time()
        snapshot = self.conditions.snapshot()
        concurrent_runs = self._check_host_runs()
        reply = self._request({"op": "point", "spec": spec})
        outcomes, redo = split_reply(reply, variants, decode_in)
        records: list[dict[str, Any]] = []
        verdicts: list[Verdict] = []
        retry: list[dict[str, Any]] = []
        for variant in variants:
            if variant not in outcomes:
                continue
            record = {**self._base(plan, length, variant), "kernel_path": kernel_path,
                      "search": search, "started_unix_s": started, "thermal_before": snapshot,
                      "concurrent_runs": concurrent_runs}
            if cooldown:
                record["cooldown"] = cooldown
            if retry_of and variant in retry_of:
                record["retry_of"] = retry_of[variant]
            verdict = self._finish(record, outcomes[variant])
            records.append(record)
            verdicts.append(verdict)
            if record.get("retried"):
                retry.append(record)
        with self.timing.phase(TELEMETRY):
            self._drain_telemetry()
        fatal = (bool(reply.get("fatal")) or reply.get("status") in schema.WORKER_LOST
                 or not self.worker.alive)
        for verdict in verdicts:
            self.conditions.check_critical(verdict)
        if fatal:
            self._recover(plan)
        if redo and self.ensure_loaded(plan):  # variants cut short by another's fault
            records += self.measure(plan, length, redo, decode_in, kernel_path, search)
        if retry and self.ensure_loaded(plan):
            self.notice("retry_throttled", f"{plan.key} {length} was thermally throttled: "
                        "measuring it again after cooling", level="warning")
            again = self.measure(plan, length, [r["variant"] for r in retry], decode_in,
                                 kernel_path, search, {r["variant"]: r["seq"] for r in retry})
            by_variant = {r["variant"]: r for r in again}
            records = [by_variant.get(r["variant"], r) for r in records]
        return records

    def _finish(self, record: dict[str, Any], outcome: dict[str, Any]) -> Verdict:
        """A variant's outcome into its record, with energy and the thermal verdict; emitted."""
        assert self.conditions is not None
        outcome = dict(outcome)
        record.update(status=outcome.pop("status", "error"), error=outcome.pop("error", None))
        with self.timing.phase(TELEMETRY):
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

    def profile(self, plan: ModelPlan, length: int, variant: str, point_seq: int,
                kernel_path: str) -> None:
        self.listener(events.ProfileStarted(plan.key, length, variant))
        context = {**self._identity(), "device_kind": self.hello["device"]["kind"],
                   "thermal": self.conditions.snapshot() if self.conditions else None}
        record, fatal = profile_record(plan, length, variant, point_seq, kernel_path,
                                       self.settings, context, self._request)
        record["thermal_after"] = self.conditions.snapshot() if self.conditions else None
        self.append(schema.KERNELS, record)
        self.timing.counts["profiles"] += 1
        self.listener(events.KernelsDone(record))
        if fatal or not self.worker.alive:
            self._recover(plan)

    def _identity(self) -> dict[str, Any]:
        """What every record repeats about where its numbers came from."""
        return {"dtype": self.dtype, "device": self.hello["device"].get("name") or "cpu",
                "power_mode": self.power.get("mode")}

    def _crash_reply(self, crash: WorkerCrashed) -> dict[str, Any]:
        return crash_reply(str(crash), crash.timed_out, self.worker.request_log(),
                           crash.oom_killed)

    def _recover(self, plan: ModelPlan) -> None:
        """A fused kernel failed (the CUDA context is gone) or the worker died: replace it.
        The model is loaded again when the next measurement needs it, not before."""
        self.worker.kill()
        self.notice("worker_restart", f"restarting the probe worker after a failure in {plan.key}",
                    level="warning", model=plan.key)
        self.reload_needed = plan.key

    def ensure_loaded(self, plan: ModelPlan) -> bool:
        """The model in a live worker again after a failure; False (and the model marked
        dead) when it cannot be reloaded."""
        if self.reload_needed != plan.key:
            return not self.model_dead
        self.reload_needed = None
        loaded = self.load(plan)
        if not loaded.get("ok"):
            self.model_dead = f"model could not be reloaded after a failure: {loaded.get('error')}"
            self.notice("model_failed", f"{plan.key}: {self.model_dead}", level="error")
            return False
        return True

