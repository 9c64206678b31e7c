"""Where a run's time goes: phase clocks that add up, and ``show --timing``."""

from __future__ import annotations

import time

from edgeprobe.analysis.timing import timing_lines
from edgeprobe.bundle import BundleWriter, read_bundle, schema
from edgeprobe.probe.clock import PhaseClock
from edgeprobe.runner.timing import RunTiming
from tests.bundle_factory import header


def test_nested_phases_count_once():
    clock = PhaseClock()
    with clock.phase("outer"):
        time.sleep(0.02)
        with clock.phase("inner"):
            time.sleep(0.03)
        time.sleep(0.01)
    totals = clock.take()
    assert 0.03 <= totals["inner"] < 0.06
    assert 0.03 <= totals["outer"] < 0.06  # the inner phase's time is not counted again
    assert clock.take() == {}


def test_worker_time_inside_a_runner_phase_counts_for_that_phase():
    timing = RunTiming()
    timing.worker_reply({"warmup": 0.2, "timed_prefill": 0.5}, 1.0)
    with timing.phase("max_context_trials"):
        time.sleep(0.01)
        timing.worker_reply({"memory_pass": 5.0}, 5.0)  # already inside the trial's phase
    timing.worker_reply(None, 0.3)
    record = timing.record()
    phases = record["phases_s"]
    assert phases["warmup"] == 0.2 and phases["timed_prefill"] == 0.5
    assert abs(phases["worker_other"] - 0.3) < 1e-9 and phases["failed_requests"] == 0.3
    assert "memory_pass" not in phases and phases["max_context_trials"] >= 0.01
    assert record["timed_work_s"] == 0.5 and phases["other"] >= 0


def test_show_timing_sums_the_sessions_and_fits_80_columns(tmp_path):
    path = tmp_path / "run.epb"
    first = {"clock": "monotonic", "wall_s": 600.0, "timed_work_s": 400.0,
             "phases_s": {"timed_prefill": 300.0, "decode": 100.0, "model_build": 150.0,
                          "other": 50.0}, "counts": {"model_loads": 3}}
    writer = BundleWriter(path, header())
    writer.close(status="interrupted", timing=first)
    writer, tail = BundleWriter.reopen(path)
    writer.event(schema.EVENT_RESUMED, "resumed", previous_footer=tail.footer)
    second = {**first, "wall_s": 300.0, "phases_s": {"timed_prefill": 200.0, "other": 100.0}}
    writer.close(status="completed", timing=second)
    lines = timing_lines(read_bundle(path))
    assert lines[0] == "Where the time went: 15m 00s of wall time (monotonic clock)"
    assert any(line.split()[:3] == ["timed", "prefill", "passes"] and "8m 20s" in line
               and "55.6%" in line for line in lines)
    assert "timed work (timed prefill passes and decode): 66.7% of the wall time" in \
        "\n".join(lines)
    assert "2 sessions: 1: 10m 00s (interrupted); 2: 5m 00s (completed)" in "\n".join(lines)
    assert max(len(line) for line in lines) <= 80
