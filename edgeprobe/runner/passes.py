"""Passes after a model's sweep: the max-context search and the profiling passes.

Functions of their inputs: the runner hands them the model's plan, what its sweep found and a
way to run one point or one worker request; they return the records to write.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from edgeprobe.bundle import schema
from edgeprobe.probe.plan import ModelPlan
from edgeprobe.probe.search import Trial, find_max_context
from edgeprobe.profiling.spec import ProfileSpec, pick_variant, why_not_comparable
from edgeprobe.profiling.spec import trace_file as profile_trace_file
from edgeprobe.runner.settings import RunSettings

Request = Callable[[dict[str, Any]], dict[str, Any]]


def trial_of(record: dict[str, Any]) -> Trial:
    memory = record.get("memory") or {}
    peak = memory.get("peak_reserved_bytes") or memory.get("peak_rss_bytes")
    return Trial(record["length_tokens"], record["status"], peak, record.get("error"))


def says_what_fits(record: dict[str, Any]) -> bool:
    """Whether a sweep point tells the max-context search what fits. An out-of-memory in a
    later pass (warm-up, timed rounds with the other variant's blocks still cached, the
    profiled pass) does not: a search trial runs one pass on an emptied allocator, and the
    same prompt may fit there. Such lengths are tried by the search itself."""
    return record.get("status") != "oom" or record.get("failed_in") in (None, "memory_pass")


def profile_targets(ran: dict[int, list[tuple[str, int]]]) -> list[tuple[int, str, int]]:
    """(length, variant, point seq) to profile: one per length whose timed point ran."""
    targets = []
    for length, points in ran.items():
        variant = pick_variant([v for v, _ in points])
        if variant is not None:
            targets.append((length, variant, dict(points)[variant]))
    return targets


def profile_record(plan: ModelPlan, length: int, variant: str, point_seq: int,
                   kernel_path: str, settings: RunSettings, context: dict[str, Any],
                   request: Request) -> tuple[dict[str, Any], bool]:
    """One profiling pass through ``request`` (the worker): the ``kernels`` record, and
    whether the worker was lost. ``context`` holds the point identity every record repeats
    (device, dtype, power mode) and the device kind."""
    trace = (profile_trace_file(settings.trace_dir, settings.out_path.stem, plan.preset.name,
                                plan.implementation, length, variant)
             if settings.trace_dir else None)
    spec = ProfileSpec(length, variant, settings.suite.seed, settings.profile_schedule,
                       str(trace) if trace else None)
    not_comparable = why_not_comparable(context["device_kind"], kernel_path)
    record = {"model": plan.preset.name, "family": plan.preset.family,
              "implementation": plan.implementation, "length_tokens": length,
              "variant": variant, "point_seq": point_seq, "kernel_path": kernel_path,
              "dtype": context["dtype"], "device": context["device"],
              "power_mode": context["power_mode"], "phase": "prefill",
              "schedule": settings.profile_schedule.as_dict(),
              "comparable_to_study": not_comparable is None,
              "comparability_note": not_comparable,
              "started_unix_s": time.time(), "thermal_before": context.get("thermal")}
    reply = request({"op": "profile", "spec": spec.as_message()})
    record.update(status=reply.pop("status", "error"), error=reply.pop("error", None))
    fatal = reply.pop("fatal", False) or record["status"] in schema.WORKER_LOST
    reply.pop("ok", None)
    reply.pop("memory", None)
    record.update(reply, wall_s=time.time() - record["started_unix_s"])
    return record, fatal


def max_context_record(plan: ModelPlan, variant: str, known: list[Trial], kernel_path: str,
                       settings: RunSettings, device: dict[str, Any],
                       try_length: Callable[[int], Trial],
                       earlier: list[Trial] | None = None) -> dict[str, Any]:
    """The largest prompt of ``variant`` that fits, searched with ``try_length`` from what the
    sweep already ``known`` (and the ``earlier`` trials of a search that was cut off, which
    ``known`` includes); the ``max_context`` record, with what stopped it."""
    budget = settings.memory_budget_bytes or device.get("total_memory_bytes")
    start = max((t.length_tokens for t in known if t.fits), default=1024)
    result = find_max_context(try_length, start_tokens=start,
                              limit_tokens=settings.search_limit_tokens,
                              resolution_tokens=settings.search_resolution_tokens,
                              budget_bytes=budget if device["kind"] == "cuda" else None,
                              known=known)
    result.trials[:0] = earlier or []
    record = {"model": plan.preset.name, "family": plan.preset.family,
              "implementation": plan.implementation, "variant": variant,
              "kernel_path": kernel_path, "memory_budget_bytes": settings.memory_budget_bytes,
              "device": device.get("name") or "cpu", **result.as_dict()}
    record.update(limit_figures(result.trials, result.first_fail_tokens, budget))
    return record


def limit_figures(trials: list[Trial], fail_tokens: int | None,
                  budget: int | None) -> dict[str, Any]:
    """The memory behind the first failure: its peak, the budget, and what was left."""
    fail = next((t for t in trials if t.length_tokens == fail_tokens and not t.fits), None)
    peak = fail.peak_bytes if fail else None
    free = budget - peak if budget is not None and peak is not None else None
    return {"limit_budget_bytes": budget, "fail_peak_bytes": peak, "fail_free_bytes": free}
