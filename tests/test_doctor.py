"""``edgeprobe doctor`` against healthy and broken setups: recorded machine trees, a real agent,
a torch that does not load, stand-in sudo, and worker replies fed to the verdict functions."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from edgeprobe.doctor.agent import AgentState
from edgeprobe.doctor.gpu import WorkerFindings, check_gpu, check_kernels, check_torch
from edgeprobe.doctor.jetson import check_jtop, check_power_readings
from edgeprobe.doctor.machine import CPU, GPU, Machine, detect_machine
from edgeprobe.doctor.power import SUDOERS_FIX, check_power
from edgeprobe.doctor.result import FAIL, OK, SKIP, WARN
from edgeprobe.doctor.storage import check_disk
from edgeprobe.models.kernel_path import FIX_HINT
from tests.conftest import REPO, run_cli
from tests.tui_helpers import agent_process

MACHINES = REPO / "tests" / "fixtures" / "machines"
POWER_BIN = REPO / "tests" / "fixtures" / "bin"
SUDO_BIN = MACHINES / "sudo-bin"


def statuses(document: dict) -> dict[str, str]:
    return {check["id"]: check["status"] for check in document["checks"]}


@pytest.fixture
def agent_socket(tmp_path):
    """A real agent on a socket in tmp_path."""
    path = tmp_path / "agent.sock"
    with agent_process(path, {"EDGEPROBE_DATA_DIR": str(tmp_path / "agent-data")},
                       "--no-telemetry"):
        yield path


@pytest.fixture
def jetson(tmp_path, monkeypatch):
    """A writable copy of the Orin Nano tree as the sensor root."""
    root = tmp_path / "orin"
    shutil.copytree(MACHINES / "orin-nano-jp62", root)
    monkeypatch.setenv("EDGEPROBE_SYSFS_ROOT", str(root))
    return root


# --- the whole command ---------------------------------------------------------------------

def test_healthy_cpu_machine_is_ready(tmp_path, agent_socket):
    done = run_cli("doctor", "--json", env={
        "EDGEPROBE_SYSFS_ROOT": str(MACHINES / "x86-cpu"), "EDGEPROBE_SOCKET": str(agent_socket),
        "EDGEPROBE_DATA_DIR": str(tmp_path / "bundles")})
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["ready"] is True
    assert document["machine"]["kind"] == "cpu"
    assert statuses(document) == {"torch": OK, "gpu": SKIP, "kernels": SKIP, "nvml": SKIP,
                                  "jtop": SKIP, "power": SKIP, "disk": OK, "agent": OK}
    checks = {c["id"]: c for c in document["checks"]}
    assert "CPU build" in checks["torch"]["detail"]
    assert str(agent_socket) in checks["agent"]["detail"]
    assert checks["disk"]["data"]["folder"] == str(tmp_path / "bundles")
    assert all(c["fix"] is None for c in document["checks"] if c["status"] == OK)


def test_gpu_machine_with_a_cpu_torch_and_no_room_is_not_ready(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {"EDGEPROBE_SYSFS_ROOT": str(MACHINES / "x86-h200"),
           "EDGEPROBE_SOCKET": str(tmp_path / "nobody.sock"),
           "EDGEPROBE_DATA_DIR": str(blocker / "bundles")}
    done = run_cli("doctor", "--json", env=env)
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["ready"] is False
    assert document["machine"] == {**document["machine"], "kind": "gpu",
                                   "nvidia_driver": "580.95.05"}
    checks = {c["id"]: c for c in document["checks"]}
    assert checks["gpu"]["status"] == FAIL
    assert "is a CPU build" in checks["gpu"]["detail"]
    assert "CUDA build" in checks["gpu"]["fix"]
    assert checks["kernels"]["status"] == SKIP
    assert checks["disk"]["status"] == FAIL
    assert "is not a folder" in checks["disk"]["detail"]
    assert checks["agent"]["status"] == WARN
    assert "systemctl enable --now edgeprobe-agent" in checks["agent"]["fix"]

    text = run_cli("doctor", "--quick", env=env)
    assert text.returncode == 1
    assert "FAIL" in text.stdout and "fix:" in text.stdout
    assert "not ready: GPU visible to torch, disk space for bundles" in text.stdout


def test_a_torch_that_does_not_load_fails_without_crashing_doctor(tmp_path):
    broken = tmp_path / "site" / "torch"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(
        "raise OSError('libcudart.so.13: cannot open shared object file: No such file or "
        "directory')\n")
    done = run_cli("doctor", "--json", env={
        "PYTHONPATH": str(tmp_path / "site"), "EDGEPROBE_SYSFS_ROOT": str(MACHINES / "x86-cpu"),
        "EDGEPROBE_SOCKET": str(tmp_path / "nobody.sock"),
        "EDGEPROBE_DATA_DIR": str(tmp_path / "bundles")})
    assert done.returncode == 1, done.stderr
    checks = {c["id"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["torch"]["status"] == FAIL
    assert "libcudart.so.13" in checks["torch"]["detail"]
    assert "install/install.sh" in checks["torch"]["fix"]
    assert checks["gpu"]["status"] == SKIP


def test_bad_flag_is_one_line():
    done = run_cli("doctor", "--timeout", "soon")
    assert done.returncode == 2
    assert done.stderr.startswith("edgeprobe: ") and len(done.stderr.strip().splitlines()) == 1


def test_doctor_never_imports_torch_itself(tmp_path):
    code = ("import sys\n"
            "from edgeprobe.commands import doctor\n"
            "from edgeprobe.doctor import agent, jetson, machine, power, storage\n"
            "m = machine.detect_machine()\n"
            "state = agent.agent_state()\n"
            "for check in (jetson.check_jtop(m), jetson.check_power_readings(m),\n"
            "              power.check_power(m, state), storage.check_disk(),\n"
            "              agent.check_agent(state)):\n"
            "    assert check.status\n"
            "print('torch' in sys.modules)\n")
    env = {**os.environ, "EDGEPROBE_SYSFS_ROOT": str(MACHINES / "orin-nano-jp62"),
           "EDGEPROBE_SOCKET": str(tmp_path / "none.sock")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# --- machine kinds -------------------------------------------------------------------------

@pytest.mark.parametrize(("tree", "kind"), [("orin-nano-jp62", "jetson"), ("x86-h200", "gpu"),
                                             ("x86-rtx4060", "gpu"), ("x86-cpu", "cpu")])
def test_machine_kind_from_the_sensor_root(monkeypatch, tree, kind):
    monkeypatch.setenv("EDGEPROBE_SYSFS_ROOT", str(MACHINES / tree))
    assert detect_machine().kind == kind


# --- Jetson: jtop, power readings, power-mode permission ---------------------------------------

def test_jtop_healthy(jetson, tmp_path, monkeypatch):
    library = tmp_path / "lib" / "jtop"  # jetson-stats' client package, as installed
    library.mkdir(parents=True)
    (library / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    (jetson / "run").mkdir()
    with socket.socket(socket.AF_UNIX) as service:
        service.bind(str(jetson / "run" / "jtop.sock"))
        service.listen(1)
        check = check_jtop(detect_machine(), user="ada")
    assert check.status == OK, check.detail
    assert check.fix is None


def test_jtop_stale_socket_and_missing_group(jetson):
    (jetson / "run").mkdir()
    with socket.socket(socket.AF_UNIX) as gone:
        gone.bind(str(jetson / "run" / "jtop.sock"))  # left behind by a service that died
    check = check_jtop(detect_machine(), user="bob")
    assert check.status == WARN
    assert "jtop service not reachable: /run/jtop.sock: Connection refused" in check.detail
    assert "bob is not in group jtop" in check.detail
    assert "sudo usermod -aG jtop bob" in check.fix
    assert "systemctl enable --now jtop.service" in check.fix
    assert "falls back to sysfs" in check.detail


def test_jtop_group_that_does_not_exist(jetson):
    group = jetson / "etc" / "group"
    group.write_text("\n".join(line for line in group.read_text().splitlines()
                               if not line.startswith("jtop:")))
    check = check_jtop(detect_machine(), user="ada")
    assert "group jtop does not exist" in check.detail


def test_power_readings_come_from_the_rails_on_tegra(jetson):
    check = check_power_readings(detect_machine())
    assert check.status == OK
    assert "INA3221 rails" in check.detail
    assert len(check.data["rails"]) == 3


def test_power_readings_without_rails_or_jtop(jetson):
    shutil.rmtree(jetson / "sys")
    check = check_power_readings(detect_machine())
    assert check.status == WARN
    assert "cannot report power" in check.detail and "ina3221" in check.fix


@pytest.fixture
def power_programs(monkeypatch):
    monkeypatch.setenv("PATH", os.pathsep.join([str(SUDO_BIN), str(POWER_BIN),
                                                os.environ["PATH"]]))


def test_power_modes_need_a_sudo_rule_for_a_user(jetson, power_programs, monkeypatch, tmp_path):
    no_agent = AgentState(tmp_path / "none.sock", answers=False)
    machine = detect_machine()
    monkeypatch.setenv("FAKE_SUDO_ALLOW", "")
    refused = check_power(machine, no_agent, euid=1000)
    assert refused.status == WARN
    assert "nvpmodel, jetson_clocks need root" in refused.detail
    assert refused.fix == SUDOERS_FIX
    monkeypatch.setenv("FAKE_SUDO_ALLOW", "nvpmodel jetson_clocks")
    assert check_power(machine, no_agent, euid=1000).status == OK
    monkeypatch.setenv("FAKE_SUDO_ALLOW", "nvpmodel")
    assert "jetson_clocks need root" in check_power(machine, no_agent, euid=1000).detail


def test_power_modes_through_root_or_a_root_agent(jetson, power_programs, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_SUDO_ALLOW", "")
    machine = detect_machine()
    assert check_power(machine, AgentState(tmp_path / "x", False), euid=0).status == OK
    root_agent = AgentState(tmp_path / "agent.sock", answers=True, as_root=True, version="0.1.0")
    check = check_power(machine, root_agent, euid=1000)
    assert check.status == OK and "agent runs as root" in check.detail


def test_power_modes_without_nvpmodel(jetson, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    check = check_power(detect_machine(), AgentState(tmp_path / "x", False), euid=1000)
    assert check.status == WARN and "nvpmodel is not on PATH" in check.detail


# --- disk --------------------------------------------------------------------------------------

def test_disk_space_for_a_new_bundle_folder(tmp_path):
    check = check_disk(tmp_path / "not" / "yet" / "made")
    assert check.status == OK and check.data["free_bytes"] > 0
    assert not (tmp_path / "not").exists()


# --- verdicts from what the worker said ------------------------------------------------------

H200 = Machine(GPU, "NVIDIA driver 580.95.05", nvidia_driver="580.95.05")
LAPTOP = Machine(CPU, "no NVIDIA GPU")


def cuda_hello(**kernels: dict) -> dict:
    available = {"mamba_ssm": {"importable": True, "version": "2.3.2.post1"},
                 "causal_conv1d": {"importable": True, "version": "1.7.0"},
                 "flash_attn": {"importable": False, "error": "not installed"}, **kernels}
    return {"ok": True, "device": {"kind": "cuda", "name": "NVIDIA H200",
                                   "compute_capability": "9.0",
                                   "total_memory_bytes": 150_000_000_000},
            "software": {"torch": "2.11.0+cu130", "cuda": "13.0", "transformers": "5.17.0"},
            "kernels_available": available}


def loaded(scan: str, conv1d: str, evidence: tuple[str, ...] = ()) -> dict:
    return {"ok": True, "kernel_path": {"ssm_scan": scan, "conv1d": conv1d, "attention": "n/a",
                                        "summary": scan, "evidence": list(evidence)}}


def test_fused_path_in_use():
    findings = WorkerFindings(hello=cuda_hello(), loads={
        "tiny-mamba": loaded("fused", "fused", ("selective_scan_cuda::fwd", "causal_conv1d_fwd")),
        "tiny-mamba2": loaded("fused", "fused", ("_chunk_scan_fwd_kernel",))})
    assert check_torch(findings).status == OK
    gpu = check_gpu(H200, findings)
    assert gpu.status == OK and "NVIDIA H200 (compute capability 9.0, 139.7 GiB)" in gpu.detail
    kernels = check_kernels(H200, findings)
    assert kernels.status == OK
    assert "mamba_ssm 2.3.2.post1, causal_conv1d 1.7.0" in kernels.detail
    assert kernels.data["models"]["tiny-mamba2"]["ssm_scan"] == "fused"


def test_kernels_that_do_not_import():
    findings = WorkerFindings(hello=cuda_hello(causal_conv1d={
        "importable": False, "error": "ImportError: undefined symbol: _ZN3c104cuda9SetDevice"}))
    check = check_kernels(H200, findings)
    assert check.status == FAIL
    assert "causal_conv1d: ImportError: undefined symbol" in check.detail
    assert check.fix == FIX_HINT and "install/install.sh --kernels-only" in check.fix


def test_kernels_that_import_but_are_not_used():
    findings = WorkerFindings(hello=cuda_hello(), loads={
        "tiny-mamba": loaded("fused", "fused"), "tiny-mamba2": loaded("reference", "fused")})
    check = check_kernels(H200, findings)
    assert check.status == FAIL
    assert "tiny-mamba2: scan reference, conv1d fused" in check.detail
    assert "--force-kernels" in check.fix


def test_a_kernel_that_crashes_the_worker():
    findings = WorkerFindings(hello=cuda_hello(), loads={
        "tiny-mamba": {"ok": False, "status": "crashed", "error": "worker exited (killed by "
                       "SIGSEGV)", "log_tail": "CUDA error: no kernel image is available"},
        "tiny-mamba2": loaded("fused", "fused")})
    check = check_kernels(H200, findings)
    assert check.status == FAIL
    assert "tiny-mamba: crashed: worker exited (killed by SIGSEGV) | CUDA error: no kernel " \
           "image is available" in check.detail


def test_quick_run_checks_imports_only():
    check = check_kernels(H200, WorkerFindings(hello=cuda_hello()))
    assert check.status == SKIP and "--quick" in check.detail


def test_torch_with_cuda_that_sees_no_gpu():
    hello = {"ok": True, "device": {"kind": "cpu"},
             "software": {"torch": "2.11.0+cu130", "cuda": "13.0"}}
    check = check_gpu(H200, WorkerFindings(hello=hello))
    assert check.status == FAIL
    assert "built for CUDA 13.0 but sees no GPU" in check.detail
    assert "nvidia-smi" in check.fix
    assert check_kernels(H200, WorkerFindings(hello=hello)).detail == \
        "needs torch to see the GPU first"
    assert check_gpu(LAPTOP, WorkerFindings(hello=hello)).status == SKIP


def test_report_json_round_trip():
    from edgeprobe.doctor.result import Check, Report

    report = Report(machine=H200.as_dict(), checks=[
        Check("disk", "disk", OK, "plenty"), Check("agent", "agent", WARN, "none", "start it")])
    document = json.loads(json.dumps(report.as_dict()))
    assert document["ready"] is True
    report.checks.append(Check("gpu", "gpu", FAIL, "none", "fix it"))
    assert report.ready is False and report.by_id("gpu").fix == "fix it"
    with pytest.raises(ValueError):
        Check("x", "x", "maybe", "?")
