"""One model in a run: its prompt lengths, then its max-context searches and profiling passes.

The model is loaded when the first measurement needs it. In a resumed run, lengths, searches
and profiles that an earlier session finished are taken from the bundle instead of measured:
they feed the same bookkeeping (which prefill variant ran out of memory at which length, what
the search already knows, which points to profile), so what follows them is what an
uninterrupted run would have done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edgeprobe.bundle import schema
from edgeprobe.models.kernel_path import FIX_HINT
from edgeprobe.probe.plan import ModelPlan, decode_variant
from edgeprobe.probe.search import Trial
from edgeprobe.runner import events
from edgeprobe.runner.passes import (
    max_context_record,
    profile_targets,
    says_what_fits,
    trial_of,
)
from edgeprobe.runner.resume import PriorWork
from edgeprobe.runner.timing import MAX_CONTEXT_TRIALS

if TYPE_CHECKING:
    from edgeprobe.runner.core import Runner


class ModelSweep:
    def __init__(self, runner: Runner, plan: ModelPlan, prior: PriorWork) -> None:
        self.runner = runner
        self.plan = plan
        self.prior = prior
        self.kernel_path: str | None = None  # the observed summary, once loaded
        self.blocked: dict[str, tuple[int, str]] = {}  # variant -> (length, status)
        self.known: dict[str, list[Trial]] = {v: [] for v in plan.variants}
        self.ran: dict[int, list[tuple[str, int]]] = {}  # length -> (variant, seq) of ok points

    # -- the model ----------------------------------------------------------------------------
    def _ensure_loaded(self) -> bool:
        """Load the model if it is not yet (or again, after a failure); False when it cannot
        be (recorded)."""
        if self.kernel_path is not None:
            return self.runner.ensure_loaded(self.plan)
        runner, plan = self.runner, self.plan
        runner.listener(events.ModelLoading(plan.key))
        loaded = runner.load(plan)
        if not loaded.get("ok"):
            self._model_failed(loaded)
            return False
        path = loaded["kernel_path"]
        self.kernel_path = path["summary"]
        runner.kernel_paths[plan.key] = path["summary"]
        loaded.pop("ok", None)
        runner.append(schema.MODEL, {**loaded, "status": "ok"})
        runner.listener(events.ModelLoaded(plan.key, loaded))
        if runner.hello["device"]["kind"] == "cuda" and plan.preset.family != "transformer" \
                and path["summary"] != "fused":
            runner.notice("reference_path", f"{plan.key} runs the {path['summary']} kernel "
                          f"path (scan: {path['ssm_scan']}, conv1d: {path['conv1d']}): "
                          f"{FIX_HINT}", level="warning", model=plan.key)
        runner.model_dead = None
        return True

    def _model_failed(self, reply: dict[str, Any]) -> None:
        runner, plan = self.runner, self.plan
        status = reply.get("status", "error")
        runner.append(schema.MODEL, {"model": plan.preset.name, "family": plan.preset.family,
                                     "implementation": plan.implementation,
                                     "status": status, "error": reply.get("error")})
        runner.notice("model_failed", f"{plan.key} could not be loaded ({status}): "
                      f"{reply.get('error')}", level="error", model=plan.key)
        runner.model_dead = f"model not loaded ({status})"

    # -- the run ------------------------------------------------------------------------------
    def run(self) -> None:
        self.runner.model_dead = None
        self.runner.reload_needed = None
        decode_in = decode_variant(self.plan.variants)
        for length in self.plan.lengths:
            if length in self.prior.units:
                self._absorb(length, self.prior.units[length])
            else:
                self._length(length, decode_in)
        if self.runner.settings.find_max_context and not self.runner.model_dead:
            for variant in self.plan.variants:
                self._search(variant)
        if self.runner.settings.suite.profile:
            for length, variant, seq in profile_targets(self.ran):
                if length in self.prior.profiled:
                    continue
                if self.runner.model_dead or not self._ensure_loaded():
                    break
                self.runner.profile(self.plan, length, variant, seq, str(self.kernel_path))
        if self.kernel_path is not None and self.runner.worker.alive:
            self.runner.worker.request({"op": "unload"}, timeout_s=120)

    def _length(self, length: int, decode_in: str) -> None:
        todo = []
        for variant in self.plan.variants:
            if not self.runner.model_dead and variant not in self.blocked:
                todo.append(variant)
        if todo and not self._ensure_loaded():
            todo = []
        for variant in self.plan.variants:
            if variant not in todo:
                self.runner.skip(self.plan, length, variant, self._why_skipped(variant))
        if todo:
            records = self.runner.measure(self.plan, length, todo, decode_in,
                                          str(self.kernel_path))
            self._absorb(length, records)

    def _why_skipped(self, variant: str) -> str:
        if self.runner.model_dead:
            return self.runner.model_dead
        length, status = self.blocked[variant]
        return f"{variant} prefill failed at {length} tokens ({status})"

    def _absorb(self, length: int, records: list[dict[str, Any]]) -> None:
        """What one length's records (measured now or earlier) tell the lengths after it."""
        for record in records:
            variant = record.get("variant")
            if record.get("status") == schema.STATUS_SKIPPED or variant not in self.known:
                continue
            if says_what_fits(record):
                self.known[variant].append(trial_of(record))
            if record["status"] == schema.STATUS_OK:
                self.ran.setdefault(length, []).append((variant, record["seq"]))
            if record["status"] == schema.STATUS_OOM or record["status"] in schema.WORKER_LOST:
                self.blocked[variant] = (length, record["status"])

    # -- max context --------------------------------------------------------------------------
    def _search(self, variant: str) -> None:
        if variant in self.prior.searches or not self._ensure_loaded():
            return
        runner, plan = self.runner, self.plan
        earlier = [trial_of(p) for p in self.prior.search_trials.get(variant, [])]
        runner.listener(events.SearchStarted(plan.key, variant))

        def try_length(length: int) -> Trial:
            if not self._ensure_loaded():
                return Trial(length, schema.STATUS_SKIPPED, None, runner.model_dead)
            with runner.timing.phase(MAX_CONTEXT_TRIALS):
                (record,) = runner.measure(plan, length, [variant], None,
                                           str(self.kernel_path), search=True)
            runner.timing.counts["max_context_trials"] += 1
            return trial_of(record)

        record = max_context_record(plan, variant, [*self.known[variant], *earlier],
                                    str(self.kernel_path), runner.settings,
                                    runner.hello["device"], try_length, earlier)
        record["power_mode"] = runner.power.get("mode")
        runner.append(schema.MAX_CONTEXT, record)
        runner.listener(events.MaxContextDone(record))
