"""``edgeprobe status``: one snapshot of a recorded Jetson, from the agent or sampled here;
``tui`` into a pipe points to it instead of writing escape codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, points_so_far, wait_for, write_suite
from tests.tui_helpers import agent_process

BOARD = REPO / "tests" / "fixtures" / "sysfs" / "orin-nano-jp6"
ENV = {"EDGEPROBE_SYSFS_ROOT": str(BOARD),
       "PATH": f"{REPO / 'tests' / 'fixtures' / 'bin'}{os.pathsep}{os.environ['PATH']}"}


def test_a_snapshot_of_a_recorded_orin_nano(cli):
    result = cli("status", "--local", "--json", env=ENV)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["source"] == "sampled here" and document["job"] is None
    assert document["power_state"]["mode"] == "MAXN_SUPER"
    readings = document["readings"]
    # The recorded INA3221 channel 1 (VDD_IN): 5064 mV x 1208 mA.
    assert readings["power"]["rail_vdd_in_power_w"] == pytest.approx(5.064 * 1.208)
    assert 40 < readings["temperature"]["zone_tj_thermal_temp_c"] < 60
    assert readings["memory"]["ram_total_bytes"] > readings["memory"]["ram_used_bytes"] > 0

    text = cli("status", "--local", env={**ENV, "COLUMNS": "80"})
    lines = text.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert "power mode  MAXN_SUPER (nvpmodel)" in lines
    rails = " ".join(line for line in lines if line.startswith(("power ", "       ")))
    assert f"rail vdd in {readings['power']['rail_vdd_in_power_w']:.4g} W" in rails
    assert lines[-2:] == ["job         none running", "runs        none measuring on this host"]


def test_from_the_agent_when_one_runs(cli, tmp_path):
    socket_path = tmp_path / "agent.sock"
    env = {"EDGEPROBE_DATA_DIR": str(tmp_path / "data"), "EDGEPROBE_SOCKET": str(socket_path)}
    with agent_process(socket_path, {**os.environ, **env}, "--no-telemetry"):
        result = cli("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["source"] == "agent" and document["job"] is None
    assert document["queued"] == []


def test_the_tui_into_a_pipe_points_to_status(cli):
    result = cli("tui")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == ("edgeprobe: the TUI needs a terminal; for one snapshot into "
                                     "a pipe or a file use `edgeprobe status` (or `edgeprobe "
                                     "status --json`)")


def test_the_runs_measuring_on_this_host(cli, tmp_path):
    suite = write_suite(tmp_path, name="long", models=["tiny-qwen2"],
                        lengths=list(range(32, 32 * 61, 32)), repeats=2)
    out = tmp_path / "long.epb"
    run = subprocess.Popen([sys.executable, "-m", "edgeprobe", "run", "--suite", str(suite),
                            "--out", str(out), "--device", "cpu", "--quiet", "--local"],
                           cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(points_so_far(out)) >= 1)
        document = json.loads(cli("status", "--local", "--json", env=ENV).stdout)
        text = cli("status", "--local", env={**ENV, "COLUMNS": "200"}).stdout
    finally:
        run.terminate()
        run.wait(timeout=60)
    assert document["runs"] == [{"pid": run.pid, "device": "cpu", "bundle": str(out)}]
    assert f"runs        pid {run.pid} on cpu ({out})" in text.splitlines()
    after = json.loads(cli("status", "--local", "--json", env=ENV).stdout)
    assert after["runs"] == []


def test_each_run_has_a_line_of_its_own():
    from edgeprobe.commands.status import text

    runs = [{"pid": 11, "device": "NVIDIA H200 (cuda:0)", "bundle": "/data/edge.epb"},
            {"pid": 12, "device": "NVIDIA H200 (cuda:1)", "bundle": "/data/desktop.epb"}]
    document = {"time_unix_s": 0.0, "source": "sampled here", "power_state": {}, "readings": {},
                "job": None, "queued": [], "runs": runs}
    assert text(document)[-2:] == [
        "runs        pid 11 on NVIDIA H200 (cuda:0) (/data/edge.epb)",
        "            pid 12 on NVIDIA H200 (cuda:1) (/data/desktop.epb)"]
