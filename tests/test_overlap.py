"""Bundles measured on one host at the same time are named when compared."""

from __future__ import annotations

from edgeprobe.analysis.compare import compare_files
from tests.bundle_factory import point, write_bundle

HOST = {"hostname": "bench", "os": "Linux-6.8", "cpu": "Xeon", "ram_total_bytes": 1 << 36}


def _run(path, start_s: float, count: int, wall_s: float = 10.0, host=HOST):
    points = [point("qwen2.5-0.5b", 1024 * (i + 1), 0.01, started_unix_s=start_s + i * wall_s,
                    wall_s=wall_s) for i in range(count)]
    return write_bundle(path, points, host=host)


def test_runs_that_overlapped_on_one_host_are_named_with_their_points(tmp_path):
    first = _run(tmp_path / "first.epb", 1000.0, 6)  # 1000-1060
    # Starts at 1040, so its first two points (1040-1060) overlap the first run.
    second = _run(tmp_path / "second.epb", 1040.0, 6,
                  host={**HOST, "ram_total_bytes": 1 << 37})  # a larger machine of the kind
    warnings = [w for w in compare_files([first, second]).warnings if "same time" in w]
    assert warnings == [
        "first and second were measured on one host (bench) at the same time: 2 of the 6 "
        "measured points of first and 2 of the 6 of second ran while the other run was "
        "going, which slows launch-bound decode"]


def test_runs_apart_in_time_or_on_other_hosts_are_not(tmp_path):
    first = _run(tmp_path / "first.epb", 1000.0, 6)
    # After the first run and a pause longer than a model load: not at the same time.
    later = _run(tmp_path / "later.epb", 1000.0 + 60 + 500, 6)
    elsewhere = _run(tmp_path / "elsewhere.epb", 1000.0, 6, host={**HOST, "hostname": "other"})
    warnings = compare_files([first, later, elsewhere]).warnings
    assert not [w for w in warnings if "same time" in w]


def test_a_run_resumed_later_is_running_only_in_its_sessions(tmp_path):
    # Two stretches of one run (a resume 2000 s later); the other run falls in the pause.
    stretches = [point("qwen2.5-0.5b", 1024, 0.01, started_unix_s=1000.0, wall_s=10.0),
                 point("qwen2.5-0.5b", 2048, 0.01, started_unix_s=3000.0, wall_s=10.0)]
    resumed = write_bundle(tmp_path / "resumed.epb", stretches, host=HOST)
    between = _run(tmp_path / "between.epb", 1500.0, 3)
    assert not [w for w in compare_files([resumed, between]).warnings if "same time" in w]
