"""Runs on one host know of each other: each point records how many other edgeprobe runs
were measuring when it started, and the bundle says when one came and went."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from edgeprobe.bundle import read_bundle
from edgeprobe.runner.host_runs import HostRuns
from tests.conftest import REPO, points_so_far, wait_for, write_suite

ANNOUNCE = """
import sys, time
from pathlib import Path
from edgeprobe.runner.host_runs import HostRuns
HostRuns("NVIDIA H200 (cuda:1)", "other.epb", Path(sys.argv[1])).announce()
print("announced", flush=True)
time.sleep(120)
"""


def test_a_live_run_is_seen_and_a_dead_one_forgotten(tmp_path):
    folder = tmp_path / "runs"
    other = subprocess.Popen([sys.executable, "-c", ANNOUNCE, str(folder)], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "announced"
        me = HostRuns("cpu", "me.epb", folder)
        me.announce()
        live, arrived, left = me.check()
        assert [(r.pid, r.device, r.bundle) for r in live] == [
            (other.pid, "NVIDIA H200 (cuda:1)", "other.epb")]
        assert arrived == live and left == []
        assert me.check()[1:] == ([], [])  # nothing new the second time
    finally:
        other.kill()
        other.wait()
    live, arrived, left = me.check()
    assert live == [] and [r.pid for r in left] == [other.pid]
    assert not (folder / f"{other.pid}.json").exists()  # the dead run's entry is removed
    me.withdraw()
    assert list(folder.glob("*.json")) == []


def test_reused_pids_and_unreadable_entries_do_not_count(tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    # A live process (the test's parent) under an entry written by an earlier process that
    # had its pid: the start times differ, so that run is gone.
    (folder / f"{os.getppid()}.json").write_text(json.dumps(
        {"pid": os.getppid(), "device": "cpu", "bundle": "old.epb", "process_started": 1.0}))
    (folder / "123.json").write_text("{not json")
    me = HostRuns("cpu", "me.epb", folder)
    assert me.others() == []
    assert not (folder / f"{os.getppid()}.json").exists()


def test_a_folder_that_cannot_be_written_costs_only_the_check(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    me = HostRuns("cpu", "me.epb", blocked / "runs")
    me.announce()
    assert not me.announced and me.others() == [] and me.check() == ([], [], [])
    me.withdraw()


def test_two_runs_at_once_mark_each_others_points(cli, tmp_path, own_runs_folder):
    # Far longer than the short run: it is stopped once the short one has ended.
    long_suite = write_suite(tmp_path, name="long", models=["tiny-qwen2", "tiny-mamba2"],
                             lengths=list(range(32, 32 * 61, 32)), repeats=2, decode_tokens=16)
    short_suite = write_suite(tmp_path, name="short", models=["tiny-qwen2"], lengths=[32, 64])
    long_out, short_out = tmp_path / "long.epb", tmp_path / "short.epb"
    first = subprocess.Popen([sys.executable, "-m", "edgeprobe", "run", "--suite",
                              str(long_suite), "--out", str(long_out), "--device", "cpu",
                              "--quiet", "--local"], cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(points_so_far(long_out)) >= 1)
        assert (own_runs_folder / f"{first.pid}.json").exists()
        second = cli("run", "--suite", str(short_suite), "--out", str(short_out),
                     "--device", "cpu", "--quiet", "--local")
        assert second.returncode == 0, second.stderr
        still_running = first.poll() is None
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
    assert still_running, "the long run ended before the short one: make it longer"
    short = read_bundle(short_out)
    assert {p["concurrent_runs"] for p in short.points} == {1}
    shared = [e for e in short.events if e.get("kind") == "shared_host"]
    assert shared and shared[0]["data"]["pid"] == first.pid
    assert shared[0]["data"]["bundle"] == str(long_out) and shared[0]["data"]["device"] == "cpu"
    shown = cli("show", str(short_out))
    assert "shared host" in shown.stdout and "another edgeprobe run" in shown.stdout
    # The long run saw the short one come and go, and both entries are gone.
    long = read_bundle(long_out)
    kinds = [(e["data"].get("level"), e["data"].get("pid")) for e in long.events
             if e.get("kind") == "shared_host"]
    assert kinds and kinds[0][1] != first.pid
    assert any((p.get("concurrent_runs") or 0) == 0 for p in long.points)
    time.sleep(0.1)
    assert list(own_runs_folder.glob("*.json")) == []
