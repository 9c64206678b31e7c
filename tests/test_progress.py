"""A run's progress for a person: the time left, and a heartbeat into pipes and files."""

from __future__ import annotations

import io
import json
import time

from rich.console import Console

from edgeprobe.bundle import read_bundle
from edgeprobe.commands.progress import Heartbeat, ProgressView, _Watched
from edgeprobe.runner import events
from edgeprobe.units import format_duration
from tests.conftest import write_suite

HEADER = {"suite": "smoke", "device": "CPU", "kind": "cpu", "dtype": "float32"}


def _piped() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, force_terminal=False), buffer


def _skipped_point(length: int) -> events.PointDone:
    return events.PointDone({"model": "tiny-qwen2", "implementation": "hf", "status": "skipped",
                             "length_tokens": length, "variant": "lean"})


def test_the_heartbeat_speaks_only_into_silence():
    console, buffer = _piped()
    watched = _Watched(console)
    beats = Heartbeat(watched, lambda: "still here", every_s=0.2)
    beats.start()
    try:
        deadline = time.monotonic() + 30
        while "still here" not in buffer.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "still here" in buffer.getvalue()
        # While something else prints more often than the heartbeat's period, it stays quiet.
        before = buffer.getvalue().count("still here")
        for _ in range(10):
            watched.print("a point")
            time.sleep(0.02)
        assert buffer.getvalue().count("still here") == before
    finally:
        beats.stop()


def test_the_heartbeat_line_says_what_runs_and_how_long_is_left():
    console, buffer = _piped()
    view = ProgressView(console)
    assert view._heartbeat is not None  # not a terminal: the bar is not drawn, lines are
    view(events.Started(HEADER, total=4, path="run.epb"))
    try:
        view(events.PointStarted("tiny-qwen2/hf", 128, "lean", search=False))
        view(_skipped_point(128))
        view(events.PointStarted("tiny-qwen2/hf", 512, "lean", search=False))
        line = view.heartbeat_line()
        assert line.startswith("... probing tiny-qwen2/hf 512 lean: 1 of 4 points, ")
        assert line.endswith(" left") and "about" in line
    finally:
        view(events.Finished("completed", "run.epb", {"skipped": 1}))
    assert "bundle: run.epb" in buffer.getvalue()


def test_no_heartbeat_on_a_terminal_or_when_quiet():
    terminal = Console(file=io.StringIO(), force_terminal=True)
    assert ProgressView(terminal)._heartbeat is None
    assert ProgressView(_piped()[0], quiet=True)._heartbeat is None


def test_a_second_run_is_estimated_from_the_first_and_json_goes_to_stdout(cli, tmp_path):
    suite = write_suite(tmp_path, models=["tiny-qwen2"], lengths=[64], decode_tokens=2,
                        prefill_variants=["lean"])
    env = {"EDGEPROBE_DATA_DIR": str(tmp_path / "data")}
    args = ("run", "--suite", str(suite), "--device", "cpu", "--local")
    first = cli(*args, "--out", str(tmp_path / "a.epb"), env=env)
    assert first.returncode == 0, first.stderr
    assert "plan: 1 point (no earlier run of mini on this device" in first.stdout
    second = cli(*args, "--out", str(tmp_path / "b.epb"), "--json", env=env)
    assert second.returncode == 0, second.stderr
    took_s = read_bundle(tmp_path / "a.epb").footer["duration_s"]
    assert (f"plan: 1 point, about {format_duration(took_s)} (from 1 earlier run of mini on "
            "this device)") in second.stderr
    document = json.loads(second.stdout)  # stdout is the document alone
    assert document["bundle"] == str(tmp_path / "b.epb") and document["status"] == "completed"
    assert [p["status"] for p in document["points"]] == ["ok"]
    assert document["points"][0]["ttft_s"] > 0
