from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m edgeprobe`` as a user would, in a fresh process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "edgeprobe", *args], capture_output=True,
                          text=True, timeout=timeout, env=full_env, cwd=cwd or REPO)


def write_suite(folder: Path, name: str = "mini", **fields: object) -> Path:
    """A suite TOML in a temporary folder; ``fields`` override the defaults below."""
    values: dict[str, object] = {
        "name": name,
        "version": 1,
        "models": ["tiny-qwen2", "tiny-mamba2"],
        "lengths": [64, 128],
        "prefill_variants": ["published", "lean"],
        "decode_tokens": 4,
        "warmup": 0,
        "repeats": 1,
    }
    values.update(fields)
    lines = []
    for key, value in values.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {str(value).lower()}")
        elif isinstance(value, str):
            lines.append(f'{key} = "{value}"')
        elif isinstance(value, list):
            inner = ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in value)
            lines.append(f"{key} = [{inner}]")
        else:
            lines.append(f"{key} = {value}")
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent("\n".join(lines)) + "\n")
    return path


def wait_for(predicate, timeout_s: float = 120.0):
    """``predicate()``'s first true value, polled until ``timeout_s`` runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def points_so_far(path) -> list:
    """The points a bundle being written holds now (none while it cannot be read yet)."""
    from edgeprobe.bundle import read_bundle

    try:
        return read_bundle(path).points
    except Exception:
        return []


def stop_run_after(suite: Path, out: Path, points: int, sig: int,
                   env: dict[str, str] | None = None) -> None:
    """``edgeprobe run`` of ``suite`` into ``out`` on the CPU, stopped by ``sig`` once the
    bundle holds ``points`` points (SIGKILL: a crash; SIGTERM: an orderly stop)."""
    run = subprocess.Popen([sys.executable, "-m", "edgeprobe", "run", "--suite", str(suite),
                            "--out", str(out), "--device", "cpu", "--quiet", "--local"],
                           cwd=REPO, env={**os.environ, **(env or {})},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(points_so_far(out)) >= points)
    finally:
        run.send_signal(sig)
        run.wait(timeout=60)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(autouse=True)
def own_runs_folder(tmp_path_factory, monkeypatch) -> Path:
    """Each test's runs announce themselves in a folder of its own (runner/host_runs.py): runs
    of one test see each other, as on one host, and no other test's."""
    folder = tmp_path_factory.mktemp("runs")
    monkeypatch.setenv("EDGEPROBE_RUNS_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def fake_nvml(tmp_path_factory) -> Path:
    """A folder holding a stand-in ``libnvidia-ml.so.1`` (tests/fixtures/nvml/fake_nvml.c):
    point ``LD_LIBRARY_PATH`` at it and the real NVML bindings talk to a fake GPU."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the stand-in NVML library")
    folder = tmp_path_factory.mktemp("nvml")
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(folder / "libnvidia-ml.so.1"),
                    str(REPO / "tests" / "fixtures" / "nvml" / "fake_nvml.c")], check=True,
                   capture_output=True)
    return folder
