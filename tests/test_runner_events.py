"""Run events: typed on the runner's side, JSON on the wire, typed again on the reader's; the
runner itself never loads torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edgeprobe.runner import events
from tests.conftest import REPO, write_suite

EXAMPLES = [
    events.Started({"device": "cpu", "suite": "smoke"}, 12, "/tmp/x.epb"),
    events.Notice("fused kernels missing", "warning"),
    events.ModelLoading("tiny-qwen2/hf"),
    events.ModelLoaded("tiny-qwen2/hf", {"params": 1}),
    events.PointStarted("tiny-qwen2/hf", 1024, "published+lean", False),
    events.PointDone({"seq": 1, "status": "ok"}),
    events.ProfileStarted("tiny-qwen2/hf", 1024, "lean"),
    events.KernelsDone({"status": "ok"}),
    events.SearchStarted("tiny-qwen2/hf", "lean"),
    events.MaxContextDone({"max_ok_tokens": 4096}),
    events.Finished("completed", "/tmp/x.epb", {"ok": 12}),
]


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.kind)
def test_every_event_survives_the_wire(event):
    line = json.dumps(event.as_message())
    message = json.loads(line)
    assert message["kind"] == event.kind
    assert events.from_message(message) == event


def test_messages_that_are_no_run_event_are_left_alone():
    assert events.from_message({"kind": "job_finished", "state": "completed"}) is None
    assert events.from_message({"kind": "point"}) is None  # no record
    assert events.from_message({}) is None
    assert events.Notice("x").as_message() == {"kind": "notice", "message": "x",
                                               "level": "info"}


@pytest.mark.slow
def test_a_whole_run_never_loads_torch_in_the_runner(tmp_path):
    suite = write_suite(tmp_path, models=["tiny-qwen2"], lengths=[64], decode_tokens=2)
    code = ("import sys\n"
            "from pathlib import Path\n"
            "from edgeprobe.runner import Runner, RunSettings\n"
            "from edgeprobe.suite import load_suite\n"
            "seen = []\n"
            f"settings = RunSettings(load_suite({str(suite)!r}), Path({str(tmp_path / 'r.epb')!r}),"
            " device='cpu', telemetry_rate_hz=None, idle_baseline_s=0)\n"
            "Runner(settings, lambda event: seen.append(event.kind)).run()\n"
            "print(seen[0], seen[-1], 'point' in seen, 'torch' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["started", "finished", "True", "False"]
