"""Real runs with --power-mode against fake nvpmodel / jetson_clocks: the original settings
come back after success, each terminating signal, and an error; bad requests stop early."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgeprobe.bundle import read_bundle
from tests.conftest import REPO, write_suite

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parent / "fixtures"


def _board(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "board"
    shutil.copytree(FIXTURES / "power" / "orin-nano", root)
    env = {**os.environ, "EDGEPROBE_SYSFS_ROOT": str(root),
           "PATH": f"{FIXTURES / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "XDG_STATE_HOME": str(tmp_path / "state"), "EDGEPROBE_SOCKET": str(tmp_path / "none"),
           "EDGEPROBE_FAKE_LOG": str(tmp_path / "calls.jsonl"), "PYTHONUNBUFFERED": "1"}
    return root, env


def _mode(root: Path) -> int:
    return int((root / "var/lib/nvpmodel/status").read_text().split(":")[1][:4])


def _clocks(root: Path) -> str:
    path = root / "var/lib/jetson_clocks_state"
    return path.read_text().strip() if path.exists() else "off"


def _run(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "edgeprobe", "run", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _points(path: Path) -> int:
    try:
        return len(read_bundle(path).points)
    except Exception:
        return 0


def test_mode_switched_for_the_run_and_restored_after(tmp_path):
    root, env = _board(tmp_path)
    suite = write_suite(tmp_path, models=["tiny-qwen2"], lengths=[64])
    out = tmp_path / "ok.epb"
    done = _run(["--suite", str(suite), "--out", str(out), "--device", "cpu",
                 "--power-mode", "MAXN_SUPER", "--jetson-clocks"], env)
    _, stderr = done.communicate(timeout=300)
    assert done.returncode == 0, stderr
    assert _mode(root) == 0 and _clocks(root) == "off"
    bundle = read_bundle(out)
    assert bundle.header["power"]["mode"] == "MAXN_SUPER"
    assert {p["power_mode"] for p in bundle.points} == {"MAXN_SUPER"}
    kinds = [e["kind"] for e in bundle.events]
    assert kinds.index("power_mode") < kinds.index("power_mode_restored")
    assert "jetson_clocks_restored" in kinds
    shown = subprocess.run([sys.executable, "-m", "edgeprobe", "show", str(out)], cwd=REPO,
                           env={**env, "COLUMNS": "200"}, capture_output=True, text=True)
    assert "power_mode: power mode 15W -> MAXN_SUPER (via nvpmodel, verified)" in shown.stdout
    assert "power_mode_restored: power mode restored to 15W" in shown.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_restored_after_each_signal(tmp_path, sig):
    root, env = _board(tmp_path)
    suite = write_suite(tmp_path, models=["tiny-mamba"], lengths=[64, 128, 256, 512, 1024, 2048],
                        repeats=2)
    out = tmp_path / f"{sig.name}.epb"
    run = _run(["--suite", str(suite), "--out", str(out), "--device", "cpu", "--quiet",
                "--power-mode", "25W", "--jetson-clocks"], env)
    deadline = time.monotonic() + 180
    while _points(out) < 1:
        assert run.poll() is None, run.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert _mode(root) == 1 and _clocks(root) == "on"
    run.send_signal(sig)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert _mode(root) == 0 and _clocks(root) == "off"
    bundle = read_bundle(out)
    assert bundle.footer["status"] == "interrupted"
    assert "power_mode_restored" in [e["kind"] for e in bundle.events]
    assert not (tmp_path / "state" / "edgeprobe" / "power-restore.json").exists()


def test_restored_when_the_run_stops_on_an_error(tmp_path):
    root, env = _board(tmp_path)
    zone = root / "sys/class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "type").write_text("cpu-thermal\n")
    (zone / "temp").write_text("101000\n")  # past the CPU profile's critical 100 °C
    suite = write_suite(tmp_path, models=["tiny-qwen2"], lengths=[64, 128])
    out = tmp_path / "hot.epb"
    run = _run(["--suite", str(suite), "--out", str(out), "--device", "cpu", "--quiet",
                "--power-mode", "MAXN_SUPER", "--no-thermal-guard"], env)
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 4
    assert "critical" in stderr and "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert _mode(root) == 0
    bundle = read_bundle(out)
    assert bundle.footer["status"] == "critical_temperature"
    # The run stops after the first prompt length: its prefill variants, measured together,
    # are all recorded, each with the critical verdict; the next length never starts.
    assert {p["length_tokens"] for p in bundle.points} == {64}
    assert all(p["thermal"]["verdict"] == "critical" for p in bundle.points)


@pytest.mark.parametrize(("typed", "hint"), [
    ("TURBO", ""),
    ("MAXN", "did you mean MAXN_SUPER? "),  # the Orin Nano's MAXN after JetPack 6.2
    ("25", "did you mean 25W? "),
])
def test_unknown_mode_refused_before_any_work(tmp_path, typed, hint):
    root, env = _board(tmp_path)
    out = tmp_path / "never.epb"
    run = _run(["--suite", "smoke", "--out", str(out), "--power-mode", typed], env)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 3
    assert stderr.strip() == (f"edgeprobe: unknown power mode '{typed}': {hint}(this board "
                              "has 15W, 25W, MAXN_SUPER, 7W)")
    assert not out.exists() and _mode(root) == 0


def test_power_mode_sweep_in_one_bundle(tmp_path):
    root, env = _board(tmp_path)
    suite = write_suite(tmp_path, models=["tiny-qwen2"], lengths=[64], decode_tokens=0)
    out = tmp_path / "sweep.epb"
    run = _run(["--suite", str(suite), "--out", str(out), "--device", "cpu", "--quiet",
                "--power-modes", "25W,MAXN_SUPER"], env)
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    bundle = read_bundle(out)
    assert [p["power_mode"] for p in bundle.points] == ["25W", "25W", "MAXN_SUPER", "MAXN_SUPER"]
    assert _mode(root) == 0


def test_later_signals_are_acknowledged_until_the_footer_and_restore_are_done(tmp_path):
    """SIGTERM stops the run; while it restores the power mode (a slow nvpmodel, held by
    this test), SIGTERM, Ctrl-C and SIGHUP each get one line and change nothing: the mode
    comes back and the footer is written."""
    root, env = _board(tmp_path)
    env["FAKE_NVPMODEL_HOLD"] = f"0:{tmp_path}"  # switching back to 15W waits for us
    suite = write_suite(tmp_path, models=["tiny-mamba"], lengths=[64, 128, 256, 512, 1024],
                        repeats=2)
    out = tmp_path / "twice.epb"
    run = _run(["--suite", str(suite), "--out", str(out), "--device", "cpu", "--quiet",
                "--power-mode", "25W"], env)
    deadline = time.monotonic() + 180
    while _points(out) < 1:
        assert run.poll() is None, run.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.2)
    run.send_signal(signal.SIGTERM)
    while not (tmp_path / "switching").exists():
        assert run.poll() is None, run.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        run.send_signal(sig)
        time.sleep(0.2)
    (tmp_path / "release").touch()
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    assert "Traceback" not in stderr
    acknowledged = [line for line in stderr.splitlines() if "already stopping" in line]
    assert [line.split()[1] for line in acknowledged] == ["SIGTERM:", "Ctrl-C:", "SIGHUP:"]
    assert _mode(root) == 0
    bundle = read_bundle(out)
    assert bundle.footer["status"] == "interrupted" and not bundle.damaged
    assert "power_mode_restored" in [e["kind"] for e in bundle.events]
