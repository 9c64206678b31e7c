"""deploy/ansible: the playbooks pass ansible's syntax check, and run for real against this
machine (``ansible_connection=local``) as three "hosts": install into a temporary prefix,
then a small suite through a real agent, bundles fetched per host, one compared."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edgeprobe.bundle import read_bundle
from tests.conftest import REPO, stop_run_after, write_suite
from tests.tui_helpers import agent_process

PLAYBOOKS = REPO / "deploy" / "ansible"
pytestmark = pytest.mark.skipif(shutil.which("ansible-playbook") is None and not (
    Path(sys.executable).parent / "ansible-playbook").exists(), reason="needs ansible-core")


def _playbook(tmp_path: Path, inventory: dict, playbook: str, *extra: str,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    binary = shutil.which("ansible-playbook") or str(Path(sys.executable).parent /
                                                      "ansible-playbook")
    ansible_env = {**os.environ, "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
                   "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),
                   "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
                   **(env or {})}
    return subprocess.run([binary, "-i", str(tmp_path / "inventory.json"),
                           str(PLAYBOOKS / playbook), *extra], capture_output=True, text=True,
                          env=ansible_env, timeout=900, cwd=tmp_path)


def _recap(output: str) -> dict[str, dict[str, int]]:
    recap = {}
    for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.M):
        recap[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
    return recap


def _local(hosts: list[str], **variables: object) -> dict:
    return {"all": {"hosts": {host: {} for host in hosts},
                    "vars": {"ansible_connection": "local",
                             "ansible_python_interpreter": sys.executable, **variables}}}


@pytest.mark.parametrize("playbook", ["install.yml", "run.yml"])
def test_the_playbooks_pass_the_syntax_check(tmp_path, playbook):
    binary = shutil.which("ansible-playbook") or str(Path(sys.executable).parent /
                                                      "ansible-playbook")
    done = subprocess.run([binary, "-i", str(PLAYBOOKS / "inventory.example.yml"),
                           "--syntax-check", str(PLAYBOOKS / playbook)], capture_output=True,
                          text=True, timeout=120, cwd=PLAYBOOKS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_install_really_installs_and_a_second_play_changes_nothing(tmp_path):
    """install.sh for real into a temporary prefix: an environment with torch (the CPU wheel
    this machine keeps on disk) and edgeprobe from the archived commit, checked by doctor."""
    wheels = sorted(Path("/opt/wheels").glob("torch-*+cpu-*.whl"))
    if not wheels:
        pytest.skip("no CPU torch wheel on disk to install from")
    prefix = tmp_path / "opt"
    inventory = _local(["lab"], edgeprobe_src=str(REPO), edgeprobe_prefix=str(prefix),
                       edgeprobe_become=False, edgeprobe_archive_dir=str(tmp_path / "archives"),
                       edgeprobe_install_args=["--no-service", "--torch-wheel", str(wheels[-1])])
    first = _playbook(tmp_path, inventory, "install.yml")
    assert first.returncode == 0, first.stdout + first.stderr
    assert _recap(first.stdout)["lab"]["changed"] >= 3
    installed = prefix / "venv" / "bin" / "edgeprobe"
    version = subprocess.run([str(installed), "--version"], capture_output=True, text=True,
                             timeout=120)
    assert version.returncode == 0 and version.stdout.startswith("edgeprobe ")
    # edgeprobe in the new environment is the archived commit, not this checkout.
    where = subprocess.run([str(prefix / "venv" / "bin" / "python"), "-c",
                            "import edgeprobe; print(edgeprobe.__file__)"],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path).stdout
    assert where.startswith(str(prefix / "venv")) and str(REPO) not in where
    again = _playbook(tmp_path, inventory, "install.yml")
    assert again.returncode == 0, again.stdout + again.stderr
    assert _recap(again.stdout)["lab"]["changed"] == 0
    checked = _playbook(tmp_path, inventory, "install.yml", "--check")
    assert checked.returncode == 0 and _recap(checked.stdout)["lab"]["changed"] == 0


def test_run_in_parallel_fetch_compare_and_report_the_host_that_failed(tmp_path):
    socket_path = tmp_path / "agent.sock"
    agent_env = {"EDGEPROBE_DATA_DIR": str(tmp_path / "data"),
                 "EDGEPROBE_SOCKET": str(socket_path)}
    suite = write_suite(tmp_path, models=["tiny-qwen2"], lengths=[64], decode_tokens=0,
                        prefill_variants=["lean"])
    bundles = tmp_path / "bundles"
    edgeprobe = [sys.executable, "-m", "edgeprobe"]
    inventory = _local(["lab-a", "lab-b", "broken"], edgeprobe_command=edgeprobe,
                       edgeprobe_controller_command=edgeprobe, edgeprobe_suite=str(suite),
                       edgeprobe_run_args=["--device", "cpu"],
                       edgeprobe_remote_bundles=str(tmp_path / "remote"),
                       edgeprobe_environment=agent_env, edgeprobe_bundles_dir=str(bundles),
                       edgeprobe_job_timeout_s=600)
    inventory["all"]["hosts"]["broken"] = {"edgeprobe_run_args": ["--models", "no-such-model"]}
    with agent_process(socket_path, {**os.environ, **agent_env}, "--no-telemetry"):
        first = _playbook(tmp_path, inventory, "run.yml")
        recap = _recap(first.stdout)
        assert recap["broken"]["failed"] == 1 and recap["lab-a"]["failed"] == 0
        assert "hosts that failed: broken" in first.stdout
        for host in ("lab-a", "lab-b"):
            assert (bundles / host / f"mini-{host}.epb").exists()
        comparison = (bundles / "compare.md").read_text()
        assert "mini-lab-a" in comparison and "mini-lab-b" in comparison
        # A second play measures nothing again: the bundles are complete, only fetched.
        again = _playbook(tmp_path, inventory, "run.yml", "--limit", "lab-a,localhost")
        assert again.returncode == 0, again.stdout + again.stderr
        assert _recap(again.stdout)["lab-a"]["changed"] == 0


def test_the_playbooks_are_lint_clean():
    binary = shutil.which("ansible-lint") or str(Path(sys.executable).parent / "ansible-lint")
    done = subprocess.run([binary, "--offline", "install.yml", "run.yml"], capture_output=True,
                          text=True, timeout=600, cwd=PLAYBOOKS,
                          env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 failure(s), 0 warning(s)" in done.stdout + done.stderr


def test_run_resumes_a_bundle_an_earlier_play_left_unfinished(tmp_path):
    socket_path = tmp_path / "agent.sock"
    agent_env = {"EDGEPROBE_DATA_DIR": str(tmp_path / "data"),
                 "EDGEPROBE_SOCKET": str(socket_path)}
    suite = write_suite(tmp_path, models=["tiny-qwen2", "tiny-mamba2"], lengths=[64, 128],
                        decode_tokens=0, prefill_variants=["lean"])
    remote = tmp_path / "remote"
    remote.mkdir()
    unfinished = remote / "mini-lab.epb"
    # A run stopped part-way (SIGTERM, as a reboot or a lost SSH session would stop it).
    stop_run_after(suite, unfinished, 1, signal.SIGTERM, env=agent_env)
    before = read_bundle(unfinished)
    assert before.resumable and len(before.points) < 4
    edgeprobe = [sys.executable, "-m", "edgeprobe"]
    inventory = _local(["lab"], edgeprobe_command=edgeprobe,
                       edgeprobe_controller_command=edgeprobe, edgeprobe_suite=str(suite),
                       edgeprobe_run_args=["--device", "cpu"], edgeprobe_remote_bundles=str(remote),
                       edgeprobe_environment=agent_env,
                       edgeprobe_bundles_dir=str(tmp_path / "bundles"))
    with agent_process(socket_path, {**os.environ, **agent_env}, "--no-telemetry"):
        played = _playbook(tmp_path, inventory, "run.yml")
    assert played.returncode == 0, played.stdout + played.stderr
    after = read_bundle(tmp_path / "bundles" / "lab" / "mini-lab.epb")
    assert after.sessions == 2 and after.footer["status"] == "completed"
    assert len(after.points) == 4
    kept = {p["seq"] for p in before.points}
    assert kept <= {p["seq"] for p in after.points}  # what was finished is not measured again
