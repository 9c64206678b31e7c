"""The NVML power limit against a stand-in libnvidia-ml: applied for a run, restored after it
(also after SIGTERM), and refused in one line when out of range or not permitted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeprobe.bundle import read_bundle
from edgeprobe.telemetry import decode_timeline
from tests.conftest import REPO, write_suite
from tests.sudo_rules import dry_run_rule, sudo_allows

pytestmark = pytest.mark.slow


@pytest.fixture
def gpu(tmp_path, fake_nvml):
    limit = tmp_path / "limit_mw"
    limit.write_text("700000\n")
    env = {**os.environ, "LD_LIBRARY_PATH": str(fake_nvml), "FAKE_NVML_LIMIT_FILE": str(limit),
           "XDG_STATE_HOME": str(tmp_path / "state"), "EDGEPROBE_SOCKET": str(tmp_path / "x"),
           "PYTHONUNBUFFERED": "1"}
    return limit, env


def _limit_w(path: Path) -> float:
    return int(path.read_text()) / 1000.0


def _run(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "edgeprobe", "run", *args], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_limit_applied_for_the_run_and_restored(gpu, tmp_path):
    limit, env = gpu
    suite = write_suite(tmp_path, models=["tiny-qwen2"], lengths=[64, 128])
    out = tmp_path / "limited.epb"
    run = _run(env, "--suite", str(suite), "--out", str(out), "--device", "cpu", "--quiet",
               "--power-limit", "300")
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    assert _limit_w(limit) == 700.0
    bundle = read_bundle(out)
    kinds = [e["kind"] for e in bundle.events]
    assert kinds.index("power_limit") < kinds.index("power_limit_restored")
    assert bundle.header["conditions"]["power_session"]["power_limit_w"] == 300.0
    # The telemetry sampled while the points ran saw the lowered limit.
    timeline = decode_timeline(bundle.of_type("telemetry"))
    assert min(timeline.column("gpu_power_limit_w")) == 300.0


def test_limit_restored_after_sigterm(gpu, tmp_path):
    limit, env = gpu
    suite = write_suite(tmp_path, models=["tiny-mamba"], lengths=[64, 256, 1024, 2048, 4096])
    out = tmp_path / "term.epb"
    run = _run(env, "--suite", str(suite), "--out", str(out), "--device", "cpu", "--quiet",
               "--power-limit", "250")
    deadline = time.monotonic() + 180
    while _limit_w(limit) != 250.0 or not out.exists():
        assert run.poll() is None, run.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1.0)
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    assert _limit_w(limit) == 700.0
    assert read_bundle(out).footer["status"] == "interrupted"


@pytest.mark.parametrize(("extra_env", "watts", "message"), [
    ({"FAKE_NVML_DENY_SET": "1"}, "300",
     "edgeprobe: setting the GPU power limit needs root: run edgeprobe with sudo"),
    ({}, "99999", "edgeprobe: power limit 99999 W is outside what this GPU accepts (200-700 W)"),
])
def test_refused_before_any_work(gpu, tmp_path, extra_env, watts, message):
    limit, env = gpu
    out = tmp_path / "never.epb"
    run = _run({**env, **extra_env}, "--out", str(out), "--power-limit", watts)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 3
    assert stderr.strip() == message
    assert not out.exists() and _limit_w(limit) == 700.0


def test_without_root_the_limit_goes_through_the_one_command_sudo_allows(gpu, tmp_path):
    """NVML lets only root set the limit; the agent's unprivileged service sets and restores
    it with `sudo -n nvidia-smi -i N -pl WATTS`, the command its sudo rule names."""
    limit, env = gpu
    calls = tmp_path / "calls.jsonl"
    env = {**env, "FAKE_NVML_DENY_SET": "1", "EDGEPROBE_FAKE_LOG": str(calls),
           "PATH": f"{REPO / 'tests' / 'fixtures' / 'nvml' / 'bin'}{os.pathsep}{env['PATH']}"}
    code = ("import sys\n"
            "from pathlib import Path\n"
            "from edgeprobe.power.session import PowerRequest, PowerSession\n"
            "session = PowerSession(PowerRequest(power_limit_w=300), Path(sys.argv[1]))\n"
            "session.preflight()\n"
            "with session:\n"
            "    print(session._nvml.read().current_w)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "state")], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["300.0"]
    assert _limit_w(limit) == 700.0
    logged = [json.loads(line) for line in calls.read_text().splitlines()]
    # The permission check sets the limit in force, then the run's limit, then the restore.
    assert [c["args"] for c in logged if c["prog"] == "nvidia-smi"] == \
        [["-i", "0", "-pl", "700"], ["-i", "0", "-pl", "300"], ["-i", "0", "-pl", "700"]]
    through_sudo = [c["args"][0] for c in logged if c["prog"] == "sudo"]
    assert through_sudo == ([] if os.geteuid() == 0 else ["-n"] * 3)
    # Each is a command the sudo rule install.sh writes on a GPU machine allows.
    rule = dry_run_rule(tmp_path, "x86-rtx4060")
    for call in logged:
        if call["prog"] == "nvidia-smi":
            assert sudo_allows(rule, rule[0][0], call["args"]), call
