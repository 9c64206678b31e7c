"""The TUI's bookkeeping without a screen: run progress and ETA from run events, live point
energy, the power history, the panels' text; and that none of it imports torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edgeprobe.tui.state import (
    PointEnergy,
    PowerHistory,
    PowerNote,
    RunProgress,
    RunTracker,
    point_energy_j,
    power_read,
    power_unread,
)
from edgeprobe.tui.widgets.header import throttle_text
from edgeprobe.tui.widgets.kernels import category_lines, top_kernels
from edgeprobe.tui.widgets.panel import duration, short_bytes, short_seconds, shorten_left
from edgeprobe.tui.widgets.power import rail_lines, total_line
from edgeprobe.tui.widgets.progress import progress_lines
from tests.tui_helpers import KERNELS_EVENT, recorded_events


def test_tracker_follows_the_recorded_run():
    tracker = RunTracker()
    tracker.apply({"job": 4, "kind": "job_started", "id": 4, "started_unix_s": 100.0})
    kinds = [tracker.apply({"job": 4, **event}) for event in recorded_events()]
    assert None not in kinds
    progress = tracker.progress
    assert progress.points_done == progress.points_total == 12
    assert progress.suite == "smoke" and progress.device == "CPU (2 threads)"
    assert tracker.kernel_paths == {"tiny-qwen2/hf": "fused", "tiny-mamba2/hf": "reference"}
    statuses = [p["status"] for p in tracker.points]
    assert statuses.count("oom") == 4 and statuses.count("skipped") == 3
    assert tracker.notices[0].message.startswith("tiny-mamba2: the study ran")
    tracker.apply({"job": 4, "kind": "job_finished", "id": 4, "state": "completed",
                   "ended_unix_s": 160.0, "points_done": 12, "points_total": 12})
    assert tracker.progress.state == "completed" and not tracker.progress.active


def test_a_newer_job_is_followed_and_late_events_of_the_old_one_are_ignored():
    tracker = RunTracker()
    tracker.apply({"job": 1, "kind": "job_started", "id": 1})
    tracker.apply({"job": 1, "kind": "point", "record": {"model": "a", "status": "ok"}})
    tracker.apply({"job": 2, "kind": "job_started", "id": 2})
    assert tracker.progress.job_id == 2 and tracker.points == []
    assert tracker.apply({"job": 1, "kind": "point", "record": {"model": "a"}}) is None
    assert tracker.points == []
    assert tracker.apply({"job": 2, "kind": "frobnicated"}) is None


def test_eta_from_the_points_done():
    run = RunProgress(job_id=1, state="running", points_done=3, points_total=12,
                      started_unix_s=1000.0)
    assert run.eta_s(1030.0) == pytest.approx(90.0)
    assert RunProgress(job_id=1, state="running", points_total=12,
                       started_unix_s=1000.0).eta_s(1030.0) is None
    assert RunProgress(job_id=1, state="completed", points_done=12, points_total=12,
                       started_unix_s=1000.0).eta_s(1030.0) is None
    lines = progress_lines(run, "fused SSM kernels missing", now_unix_s=1030.0)
    assert "3/12" in lines[0] and "ETA 1m30s" in lines[0]
    assert lines[2].endswith("! fused SSM kernels missing[/]")


def test_reference_kernel_path_is_shouted():
    run = RunProgress(job_id=1, state="running", model="mamba2-780m/hf", length_tokens=4096,
                      variant="lean", kernel_path="reference", points_total=4,
                      started_unix_s=0.0)
    assert "[b]path REFERENCE[/]" in progress_lines(run, None, 1.0)[1]
    run = RunProgress(job_id=1, state="running", model="qwen", kernel_path="fused")
    assert "path fused" in progress_lines(run, None, 1.0)[1]


def test_point_energy_prefers_the_counter_then_integrates_power():
    energy = PointEnergy()
    energy.add({"monotonic_s": 0.0, "gpu_power_w": 100.0, "gpu_energy_j": 5000.0})
    assert energy.energy_j is None  # no point under way
    energy.begin("qwen 4K")
    for t, counter in ((1.0, 5000.0), (1.5, 5060.0), (2.0, 5110.5)):
        energy.add({"monotonic_s": t, "gpu_power_w": 100.0, "gpu_energy_j": counter})
    assert energy.energy_j == pytest.approx(110.5) and energy.source == "gpu_energy_j"
    energy.begin("mamba 4K")
    energy.add({"monotonic_s": 9.5, "cpu_load_pct": 50.0})
    assert energy.energy_j is None  # no power sensor: no figure rather than 0 J
    for t, watts in ((10.0, 6.0), (10.5, 8.0), (11.5, 8.0)):
        energy.add({"monotonic_s": t, "board_power_w": watts})
    assert energy.energy_j == pytest.approx(0.5 * 7.0 + 1.0 * 8.0)
    assert energy.source == "integrated board_power_w"


def test_point_energy_of_a_finished_point():
    assert point_energy_j({"energy": {"prefill": {"energy_j": 1.5},
                                      "decode": {"energy_j": 0.25}}}) == 1.75
    assert point_energy_j({"energy": {"prefill": {"energy_j": None}}}) is None
    assert point_energy_j({}) is None


def test_power_history_keeps_a_minute_and_bridges_gaps():
    history = PowerHistory()
    history.reset(0.5)
    history.seed([None, None, 5.0, None, 6.0])
    assert list(history.values) == [5.0, 5.0, 6.0]
    for index in range(200):
        history.add({"gpu_power_w": float(index)})
    assert len(history.values) == 120 and history.values[-1] == 199.0
    history.add({"cpu_load_pct": 3.0})  # no power column: nothing added
    assert len(history.values) == 120 and history.values[-1] == 199.0


def test_panel_text_rules():
    nvml = {"gpu_power_w": 312.4, "gpu_power_avg_w": 300.0, "gpu_power_limit_w": 700.0,
            "throttle_reasons": ["gpu_idle"]}
    assert total_line(nvml) == "[b]312.4 W[/] GPU / 700 W cap"
    assert rail_lines(nvml) == ["GPU 1 s avg    300.0 W"]
    assert total_line({}) == "no power sensor readable"
    assert throttle_text(nvml) == "throttle none"
    assert throttle_text({"throttle_reasons": ["sw_power_cap", "gpu_idle"]}) == \
        "[b]THROTTLED: sw_power_cap[/]"
    assert short_seconds(0.000123) == "123 µs" and short_bytes(3 * 1024**3) == "3 GiB"
    assert duration(3725) == "1h02m" and duration(None) == "-"


def test_kernel_panel_reads_records_tolerantly():
    record = recorded_events(KERNELS_EVENT)[0]["record"]
    top = top_kernels(record, limit=2)
    assert [k["name"] for k in top] == ["aten::bmm", "torch_chunk_scan (reference)"]
    assert category_lines(record)[0] == "gemm     ████░░░░  50%"
    loose = {"table": [{"name": "k2", "total_us": 10.0}, {"name": "k1", "total_us": 30.0,
                                                           "count": 3}]}
    rows = top_kernels(loose)
    assert [k["name"] for k in rows] == ["k1", "k2"]
    assert [k["share"] for k in rows] == [0.75, 0.25]
    assert rows[0]["mean_s"] == pytest.approx(1e-5) and rows[1]["mean_s"] is None
    with_totals = {"kernels": [{"name": "a", "total_s": 3.0}, {"name": "b", "total_s": 1.0}]}
    assert [k["share"] for k in top_kernels(with_totals)] == [0.75, 0.25]
    assert category_lines({}) == ["no categories"]


def test_tui_and_feed_never_import_torch():
    code = ("import sys, edgeprobe.agent.feed, edgeprobe.tui.app, edgeprobe.commands.tui, "
            "edgeprobe.tui.screens.bundles; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False"


def test_power_unread_names_only_power_sensors_and_says_it_once():
    sources = [
        {"source": "nvml", "sensor": "nvml", "available": False,
         "detail": "libnvidia-ml.so.1 not found: no NVIDIA driver on this machine", "fix": None},
        {"source": "host", "sensor": "ram", "available": False, "detail": "/proc/meminfo"},
        {"source": "rapl", "sensor": "package_energy", "available": False,
         "detail": "no RAPL powercap domains (/sys/class/powercap/intel-rapl:*): not an "
                   "Intel/AMD CPU", "fix": "sudo modprobe intel_rapl_msr"},
        {"source": "jetson", "sensor": "rail VDD_IN", "available": True, "detail": "ina3221"},
    ]
    assert power_unread(sources) == ["nvml: libnvidia-ml.so.1 not found",
                                     "rapl: no RAPL powercap domains"]
    note = PowerNote(sources=sources)
    assert note.lines({"board_power_w": 6.1}) == []  # power is read: nothing to say
    assert note.lines({"board_power_w": float("nan")})[-1].endswith(
        "(fix: sudo modprobe intel_rapl_msr)")
    assert note.lines({"ram_used_bytes": 1.0}) == []  # once


def test_power_read_wants_a_number():
    assert power_read({"gpu_power_w": 80.5})
    assert not power_read({"gpu_power_w": float("nan")})
    assert not power_read({"ram_used_bytes": 1.0})
    history = PowerHistory()
    history.add({"gpu_power_w": float("nan")})
    assert list(history.values) == []


def test_shorten_left_keeps_the_end_of_a_path():
    assert shorten_left("/data/oom.epb", 20) == "/data/oom.epb"
    assert shorten_left("/home/user/bundles/run-smoke.epb", 16) == "…s/run-smoke.epb"
    assert len(shorten_left("/home/user/bundles/run-smoke.epb", 16)) == 16
