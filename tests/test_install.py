"""install/: platform detection against recorded machine trees, --dry-run plans for a Jetson,
an x86 GPU machine and a CPU-only one, the kernel build (with stand-ins for python, pip and
nvcc), the nvcc architecture wrapper, and shellcheck."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgeprobe.telemetry.platform import l4t_release
from tests.conftest import REPO
from tests.sudo_rules import sudo_allows, sudo_rule, unit_environment

INSTALL = REPO / "install" / "install.sh"
BUILD = REPO / "install" / "build-kernels.sh"
WRAPPER = REPO / "install" / "nvcc-local-arch"
MACHINES = REPO / "tests" / "fixtures" / "machines"
FAKE_BIN = MACHINES / "bin"
CUDA_ENV = MACHINES / "cuda-env"
SHELL_SCRIPTS = [INSTALL, BUILD, WRAPPER, REPO / "benchmarks" / "gpu_kernel_build.sh"]


def run_script(script: Path, *args: str, machine: str | None = None, env: dict | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PATH": f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}"}
    full_env.pop("SUDO_USER", None)
    full_env.pop("VIRTUAL_ENV", None)
    if machine:
        full_env["EDGEPROBE_SYSFS_ROOT"] = str(MACHINES / machine)
    full_env.update(env or {})
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=REPO)


def detect(machine: str) -> dict[str, str]:
    done = run_script(INSTALL, "--detect", machine=machine)
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines())


def plan(tmp_path: Path, machine: str, *extra: str, env: dict | None = None
         ) -> subprocess.CompletedProcess[str]:
    return run_script(INSTALL, "--dry-run", "--prefix", str(tmp_path / "opt"), "--log-dir",
                      str(tmp_path / "logs"), *extra, machine=machine,
                      env={"HOME": str(tmp_path / "home"), **(env or {})})


def commands(output: str) -> list[str]:
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]


# --- platform detection ------------------------------------------------------------------------

@pytest.mark.parametrize(("machine", "platform", "archs", "l4t", "jetpack"), [
    ("orin-nano-jp62", "jetson", "8.7", "36.4.3", "6"),
    ("agx-orin-jp512", "jetson", "8.7", "35.4.1", "5"),
    ("x86-rtx4060", "gpu", "8.9", "", ""),
    ("x86-h200", "gpu", "9.0", "", ""),
    ("x86-cpu", "cpu", "", "", ""),
])
def test_detects_the_platform(machine, platform, archs, l4t, jetpack):
    facts = detect(machine)
    assert facts["platform"] == platform
    assert facts["cuda_archs"] == archs
    assert facts["l4t"] == l4t
    assert facts["jetpack"] == jetpack


def test_detection_agrees_with_edgeprobe_on_the_jetson_release(monkeypatch):
    for machine in ("orin-nano-jp62", "agx-orin-jp512"):
        monkeypatch.setenv("EDGEPROBE_SYSFS_ROOT", str(MACHINES / machine))
        release = l4t_release()
        facts = detect(machine)
        assert facts["l4t"] == release["l4t"]
        assert release["jetpack"].startswith(facts["jetpack"] + ".")


def test_every_gpu_of_a_mixed_machine_gets_its_architecture(tmp_path):
    root = tmp_path / "two-gpus"
    (root / "recorded").mkdir(parents=True)
    (root / "recorded" / "nvidia-smi-query.csv").write_text(
        "NVIDIA GeForce RTX 3090, 8.6\n"
        "NVIDIA GeForce RTX 4090, 8.9\nNVIDIA GeForce RTX 4090, 8.9\n")
    done = run_script(INSTALL, "--detect", env={"EDGEPROBE_SYSFS_ROOT": str(root)})
    assert "cuda_archs=8.6;8.9" in done.stdout
    assert "board=NVIDIA GeForce RTX 3090+NVIDIA GeForce RTX 4090" in done.stdout


def test_an_unknown_jetson_module_asks_for_the_architecture(tmp_path):
    root = tmp_path / "board"
    shutil.copytree(MACHINES / "orin-nano-jp62", root)
    (root / "proc/device-tree/model").write_text("Prototype carrier board\0")
    done = plan(tmp_path, "", "--torch-wheel", "/tmp/torch.whl",
                env={"EDGEPROBE_SYSFS_ROOT": str(root)})
    assert done.returncode == 2
    assert "pass --cuda-arch X.Y" in done.stderr


# --- dry runs --------------------------------------------------------------------------------

def test_dry_run_on_a_jetson_without_torch_source_stops_early_with_a_clear_message(tmp_path):
    done = plan(tmp_path, "orin-nano-jp62")
    assert done.returncode == 2
    assert commands(done.stdout) == []
    message = done.stderr.strip()
    assert message.startswith("edgeprobe-install: a Jetson needs NVIDIA's torch build for "
                              "JetPack 6 (L4T 36.4.3)")
    assert "--torch-wheel" in message and len(message.splitlines()) == 1


def test_dry_run_on_a_jetson(tmp_path):
    wheel = "/srv/wheels/torch-2.8.0-cp310-cp310-linux_aarch64.whl"
    done = plan(tmp_path, "orin-nano-jp62", "--torch-wheel", wheel,
                env={"SUDO_USER": "ada", "PATH": f"{REPO / 'tests/fixtures/bin'}{os.pathsep}"
                     f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "platform: Jetson (NVIDIA Jetson Orin Nano Engineering Reference Developer Kit " \
           "Super), L4T 36.4.3, JetPack 6, GPU sm_87" in out
    steps = commands(out)
    venv = tmp_path / "opt" / "venv"
    assert f"python3 -m venv {venv}" in steps
    assert f"{venv}/bin/python -m pip install {wheel}" in steps
    assert any(s.startswith(f"{venv}/bin/python -m pip install ") and "probe,jetson" in s
               for s in steps)
    builds = [s for s in steps if " pip wheel " in s]
    assert len(builds) == 2
    for build in builds:
        assert "TORCH_CUDA_ARCH_LIST=8.7" in build and "EDGEPROBE_CUDA_ARCHS=8.7" in build
        assert f"PYTORCH_NVCC={REPO}/install/nvcc-local-arch" in build
        assert "--no-build-isolation" in build and "--no-cache-dir" in build
    assert "MAMBA_FORCE_BUILD=TRUE" in builds[1] and builds[1].endswith("mamba-ssm==2.3.2.post1")
    assert builds[0].endswith("causal-conv1d==1.7.0")
    assert "rough estimate" in out
    root_steps = [s for s in steps if s.startswith("[root] ")]
    assert any("pip install -U" in s and s.endswith("jetson-stats") for s in root_steps)
    assert "[root] usermod -aG jtop ada" in root_steps
    assert "[root] usermod -aG edgeprobe ada" in root_steps
    assert "[root] systemd-sysusers /etc/sysusers.d/edgeprobe.conf" in root_steps
    assert "[root] usermod -aG jtop edgeprobe" in root_steps  # the service user reads jtop
    assert "[root] install -d -m 0755 -o root -g root /var/lib/edgeprobe-clocks" in root_steps
    rule = sudo_rule(out)
    assert {path.rsplit("/", 1)[1] for path, _ in rule} == {"nvpmodel", "jetson_clocks"}
    assert all(path.startswith(str(REPO / "tests/fixtures/bin")) for path, _ in rule)
    assert "[root] systemctl enable edgeprobe-agent.service" in root_steps
    assert steps[-1] == f"{venv}/bin/edgeprobe doctor"


def test_dry_run_on_an_x86_gpu(tmp_path):
    done = plan(tmp_path, "x86-rtx4060")
    assert done.returncode == 0, done.stderr
    assert "platform: NVIDIA GPU (NVIDIA GeForce RTX 4060 Laptop GPU), sm_89" in done.stdout
    steps = commands(done.stdout)
    venv = tmp_path / "opt" / "venv"
    assert f"{venv}/bin/python -m pip install torch" in steps
    builds = [s for s in steps if " pip wheel " in s]
    assert len(builds) == 2 and all("EDGEPROBE_CUDA_ARCHS=8.9" in b for b in builds)
    assert not any("jetson-stats" in s or "jtop" in s or "clocks" in s for s in steps)
    assert any(s.startswith("[root] install -m 0644 <systemd/edgeprobe-agent.service with "
                            f"ExecStart={venv}/bin/edgeprobe>") for s in steps)
    assert (f"{venv}/bin/register-python-argcomplete edgeprobe > "
            "/usr/share/bash-completion/completions/edgeprobe") in steps
    assert sudo_rule(done.stdout) == [(str(FAKE_BIN / "nvidia-smi"), f"-i [0-9] -pl {watts}")
                                      for watts in ("[1-9][0-9]", "[1-9][0-9][0-9]",
                                                    "[1-9][0-9][0-9][0-9]")]
    assert steps[-1] == f"{venv}/bin/edgeprobe doctor"


def test_dry_run_on_a_cpu_only_machine(tmp_path):
    done = plan(tmp_path, "x86-cpu", "--no-service")
    assert done.returncode == 0, done.stderr
    assert "platform: CPU only" in done.stdout
    steps = commands(done.stdout)
    venv = tmp_path / "opt" / "venv"
    assert (f"{venv}/bin/python -m pip install --index-url https://download.pytorch.org/whl/cpu "
            "torch") in steps
    assert not any(" pip wheel " in s or "mamba" in s or "jetson-stats" in s for s in steps)
    assert not any(s.startswith("[root] ") and "systemctl" in s for s in steps)
    assert steps[-1] == f"{venv}/bin/edgeprobe doctor"


def test_dry_run_changes_nothing(tmp_path):
    before = sorted(p.name for p in tmp_path.iterdir())
    done = plan(tmp_path, "x86-h200", "--from", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert all("--no-index --find-links" in s for s in commands(done.stdout) if " pip wheel " in s)


def test_a_second_run_skips_what_is_in_place(tmp_path):
    """An environment that already has torch (this test's own) is reused as it is."""
    prefix = tmp_path / "opt"
    prefix.mkdir()
    venv_python = Path(sys.executable)
    (prefix / "venv").symlink_to(venv_python.parent.parent)
    done = plan(tmp_path, "x86-cpu", "--no-service")
    assert done.returncode == 0, done.stderr
    assert "environment" in done.stdout and "exists" in done.stdout
    assert "already installed" in done.stdout
    steps = commands(done.stdout)
    assert not any(s.startswith("python3 -m venv") for s in steps)
    assert not any(s.endswith(" torch") for s in steps)


def test_kernels_only_on_a_cpu_machine_says_why_not(tmp_path):
    done = run_script(INSTALL, "--kernels-only", "--dry-run", machine="x86-cpu")
    assert done.returncode == 2
    assert "no NVIDIA GPU found" in done.stderr


def test_uninstall_dry_run_removes_service_group_and_environment(tmp_path):
    done = run_script(INSTALL, "--uninstall", "--dry-run", "--prefix", str(tmp_path / "opt"))
    assert done.returncode == 0, done.stderr
    steps = commands(done.stdout)
    # The runs outlive the agent: they are ended first (SIGTERM: power restored, bundle
    # closed), then the service, its user and its group go.
    assert steps.index("[root] systemctl kill --kill-whom=all edgeprobe-agent.service") < \
        steps.index("[root] systemctl disable --now edgeprobe-agent.service") < \
        steps.index("[root] userdel edgeprobe") < steps.index("[root] groupdel edgeprobe")
    assert "[root] rm -rf /var/lib/edgeprobe-clocks" in steps
    assert ("[root] rm -f /usr/local/bin/edgeprobe "
            "/usr/share/bash-completion/completions/edgeprobe") in steps
    assert f"[root] rm -rf {tmp_path / 'opt' / 'venv'}" in steps
    assert "bundles in /var/lib/edgeprobe" in done.stdout


@pytest.mark.parametrize("args", [["--bogus"], ["--from", "/nonexistent/folder"]])
def test_bad_options_get_one_line_and_exit_2(args):
    done = run_script(INSTALL, *args, machine="x86-cpu")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("edgeprobe-install: ")


# --- the kernel build, with stand-ins for python/pip and nvcc ---------------------------------

@pytest.fixture
def cuda_env(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    env = {"FAKE_PY_STATE": str(state), "CUDA_HOME": str(CUDA_ENV / "cuda"),
           "HOME": str(tmp_path / "home")}
    args = ["--python", str(CUDA_ENV / "bin" / "python"), "--arch", "9.0",
            "--log-dir", str(tmp_path / "logs"), "--cache", str(tmp_path / "wheels")]

    def calls() -> list[dict]:
        path = state / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    return env, args, calls


def test_build_compiles_for_the_local_architecture_with_progress(tmp_path, cuda_env):
    env, args, calls = cuda_env
    done = run_script(BUILD, *args, "--jobs", "2", env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert "fused kernels for sm_90, torch 2.11.0+cu130 (CUDA 13.0)" in out
    assert "rough estimate" in out
    assert "compiling for sm_90: causal-conv1d" in out and "elapsed, about" in out
    assert "built causal-conv1d==1.7.0 for sm_90 in" in out
    assert "built mamba-ssm==2.3.2.post1 for sm_90 in" in out
    wheels = [c for c in calls() if c["op"] == "wheel"]
    assert [w["args"][-1] for w in wheels] == ["causal-conv1d==1.7.0", "mamba-ssm==2.3.2.post1"]
    for build in wheels:
        assert build["env"]["PYTORCH_NVCC"] == str(WRAPPER)
        assert build["env"]["EDGEPROBE_CUDA_ARCHS"] == "9.0"
        assert build["env"]["TORCH_CUDA_ARCH_LIST"] == "9.0"
        assert build["env"]["EDGEPROBE_NVCC_REAL"] == str(CUDA_ENV / "cuda" / "bin" / "nvcc")
        assert build["env"]["MAX_JOBS"] == "2"
        assert "--no-build-isolation" in build["args"]
    assert wheels[0]["env"]["CAUSAL_CONV1D_FORCE_BUILD"] == "TRUE"
    assert wheels[1]["env"]["MAMBA_FORCE_BUILD"] == "TRUE"
    times = (tmp_path / "logs" / "build-times.tsv").read_text().splitlines()
    assert [line.split("\t")[:3] for line in times] == [
        ["causal-conv1d", "1.7.0", "sm_90"], ["mamba-ssm", "2.3.2.post1", "sm_90"]]
    assert "[ninja 3/3]" in (tmp_path / "logs" / "mamba-ssm.log").read_text()

    again = run_script(BUILD, *args, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("nothing to do") == 2
    assert len([c for c in calls() if c["op"] == "wheel"]) == 2


def test_build_reuses_wheels_built_for_this_torch_and_architecture(tmp_path, cuda_env):
    env, args, calls = cuda_env
    assert run_script(BUILD, *args, env=env).returncode == 0
    (Path(env["FAKE_PY_STATE"]) / "installed.json").unlink()  # a fresh environment
    done = run_script(BUILD, *args, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("reusing") == 2
    assert len([c for c in calls() if c["op"] == "wheel"]) == 2


def test_build_side_by_side_when_cores_allow(tmp_path, cuda_env):
    env, args, calls = cuda_env
    done = run_script(BUILD, *args, "--jobs", "12", env=env)
    assert done.returncode == 0, done.stderr
    assert "side by side" in done.stdout
    jobs = {c["args"][-1]: c["env"]["MAX_JOBS"] for c in calls() if c["op"] == "wheel"}
    assert jobs == {"causal-conv1d==1.7.0": "4", "mamba-ssm==2.3.2.post1": "8"}


def test_a_failed_build_points_at_its_log(tmp_path, cuda_env):
    env, args, _ = cuda_env
    done = run_script(BUILD, *args, env={**env, "FAKE_BUILD_FAIL": "causal-conv1d"})
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("edgeprobe-install: building causal-conv1d==1.7.0 failed (it ran out "
                           "of memory: try --jobs 1); full log: ")
    assert last.endswith("causal-conv1d.log")


def test_build_refuses_a_cpu_torch(tmp_path):
    done = run_script(BUILD, "--python", sys.executable, "--arch", "8.7",
                      env={"HOME": str(tmp_path)})
    assert done.returncode == 1
    assert "is a CPU build" in done.stderr


@pytest.mark.parametrize("arch", ["sm_90", "9", "8.7;", "9.0+ptx"])
def test_build_rejects_a_malformed_architecture(arch):
    done = run_script(BUILD, "--python", "python3", "--arch", arch)
    assert done.returncode == 2
    assert "is not a compute capability list" in done.stderr


# --- the nvcc wrapper ----------------------------------------------------------------------------

def wrap(*args: str, archs: str, real: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDGEPROBE_NVCC_REAL": real or str(CUDA_ENV / "cuda/bin/nvcc"),
           "EDGEPROBE_CUDA_ARCHS": archs}
    return subprocess.run([str(WRAPPER), *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_wrapper_replaces_the_packages_architecture_list():
    setup_py_flags = ["-gencode", "arch=compute_75,code=sm_75", "-gencode",
                      "arch=compute_80,code=sm_80", "-gencode=arch=compute_87,code=sm_87",
                      "--threads", "4", "-c", "kernel.cu", "-o", "kernel.o"]
    seen = wrap(*setup_py_flags, archs="8.7").stdout.splitlines()
    assert seen == ["--threads", "4", "-c", "kernel.cu", "-o", "kernel.o", "-gencode",
                    "arch=compute_87,code=sm_87"]
    seen = wrap(*setup_py_flags, archs="8.6;8.9+PTX").stdout.splitlines()
    assert seen[-6:] == ["-gencode", "arch=compute_86,code=sm_86",
                         "-gencode", "arch=compute_89,code=sm_89",
                         "-gencode", "arch=compute_89,code=compute_89"]


def test_wrapper_leaves_non_compiling_calls_alone():
    assert wrap("-M", "kernel.cu", archs="9.0").stdout.splitlines() == ["-M", "kernel.cu"]


def _real_nvcc() -> str | None:
    for candidate in (shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.mark.skipif(_real_nvcc() is None, reason="no CUDA toolkit on this machine")
def test_wrapper_makes_real_nvcc_assemble_for_one_architecture_only(tmp_path):
    source = tmp_path / "k.cu"
    source.write_text("__global__ void k(float* x) { x[0] = 1.0f; }\n")
    done = wrap("--dryrun", "-gencode", "arch=compute_75,code=sm_75", "-gencode",
                "arch=compute_80,code=sm_80", "-c", str(source), "-o", str(tmp_path / "k.o"),
                archs="9.0", real=_real_nvcc())
    assert done.returncode == 0, done.stderr
    assemblies = {word.split("=", 1)[1] for line in done.stderr.splitlines() if "ptxas" in line
                  for word in line.split() if word.startswith("-arch=")}
    assert assemblies == {"sm_90"}


# --- the sudo rule ---------------------------------------------------------------------------

JETSON_PATH = {"PATH": f"{REPO / 'tests/fixtures/bin'}{os.pathsep}{FAKE_BIN}{os.pathsep}"
                       f"{os.environ['PATH']}"}


def test_the_sudo_rule_allows_the_power_commands_a_run_uses_and_nothing_else(tmp_path,
                                                                              monkeypatch):
    """A run of the (unprivileged) service switches the mode and pins the clocks, then puts
    both back: every command it runs through sudo is one the rule allows, with the clocks
    file the unit names; commands that would give root are not."""
    from edgeprobe.power.session import PowerRequest, PowerSession

    done = plan(tmp_path, "orin-nano-jp62", "--torch-wheel", "/srv/torch.whl", env=JETSON_PATH)
    rule = sudo_rule(done.stdout)
    clocks = unit_environment()["EDGEPROBE_JETSON_CLOCKS_FILE"]
    board = tmp_path / "board"
    shutil.copytree(REPO / "tests/fixtures/power/orin-nano", board)
    calls = tmp_path / "calls.jsonl"
    for key, value in {"EDGEPROBE_SYSFS_ROOT": str(board), "EDGEPROBE_FAKE_LOG": str(calls),
                       "EDGEPROBE_JETSON_CLOCKS_FILE": str(tmp_path / "clocks.conf"),
                       "PATH": f"{REPO / 'tests/fixtures/nvml/bin'}{os.pathsep}"
                               f"{JETSON_PATH['PATH']}"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(os, "geteuid", lambda: 999)  # as the service user: through sudo
    session = PowerSession(PowerRequest(mode="MAXN_SUPER", jetson_clocks=True), tmp_path / "st")
    session.preflight()
    with session:
        pass
    through_sudo = [json.loads(line)["args"] for line in calls.read_text().splitlines()
                    if json.loads(line)["prog"] == "sudo"]
    run = [[path, *(clocks if arg == str(tmp_path / "clocks.conf") else arg for arg in args)]
           for _, path, *args in through_sudo]
    assert [[Path(path).name, *args] for path, *args in run] == [
        ["nvpmodel", "-m", "2"], ["jetson_clocks", "--store", clocks], ["jetson_clocks"],
        ["jetson_clocks", "--restore", clocks], ["nvpmodel", "-m", "0"]]
    for path, *args in run:
        assert sudo_allows(rule, path, args), (path, args)
    nvpmodel, jetson_clocks = run[0][0], run[1][0]
    for path, args in ((nvpmodel, ["-f", "/tmp/mine.conf"]), (nvpmodel, ["-m", "0", "-f", "x"]),
                       (nvpmodel, ["-m", "123"]), (nvpmodel, []),
                       (jetson_clocks, ["--restore", "/tmp/mine.conf"]),
                       (jetson_clocks, ["--store", "/etc/shadow"]), (jetson_clocks, ["--fan"]),
                       ("/bin/sh", [])):
        assert not sudo_allows(rule, path, args), (path, args)


@pytest.mark.skipif(shutil.which("visudo") is None, reason="no visudo here")
@pytest.mark.parametrize("machine", ["orin-nano-jp62", "x86-rtx4060"])
def test_the_sudo_rule_is_valid_sudoers(tmp_path, machine):
    done = plan(tmp_path, machine, "--torch-wheel", "/srv/torch.whl", env=JETSON_PATH)
    lines = done.stdout.split("<the rule below>", 1)[1].splitlines()[1:]
    rule = tmp_path / "rule"
    rule.write_text("".join(line[4:] + "\n" for line in lines if line.startswith("    ")))
    checked = subprocess.run(["visudo", "-cf", str(rule)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


CLOCKS = "/var/lib/edgeprobe-clocks/jetson_clocks.conf"
# Command lines checked against sudo itself: (machine, program, arguments, allowed).
SUDO_CASES = [
    *[("orin-nano-jp62", "nvpmodel", ["-m", mode], True) for mode in ("0", "2", "12")],
    ("orin-nano-jp62", "jetson_clocks", [], True),
    ("orin-nano-jp62", "jetson_clocks", ["--store", CLOCKS], True),
    ("orin-nano-jp62", "jetson_clocks", ["--restore", CLOCKS], True),
    ("orin-nano-jp62", "nvpmodel", [], False),
    ("orin-nano-jp62", "nvpmodel", ["-f", "/tmp/mine.conf"], False),
    ("orin-nano-jp62", "nvpmodel", ["-m", "0", "-f", "/tmp/mine.conf"], False),
    ("orin-nano-jp62", "nvpmodel", ["-m", "0 -f /tmp/mine.conf"], False),
    ("orin-nano-jp62", "nvpmodel", ["-m", "123"], False),
    ("orin-nano-jp62", "jetson_clocks", ["--restore", "/tmp/mine.conf"], False),
    ("orin-nano-jp62", "jetson_clocks", ["--store", "/etc/shadow"], False),
    ("orin-nano-jp62", "jetson_clocks", ["--fan"], False),
    ("orin-nano-jp62", "/bin/sh", [], False),
    *[("x86-rtx4060", "nvidia-smi", ["-i", gpu, "-pl", watts], True)
      for gpu, watts in (("0", "300"), ("3", "60"), ("0", "1000"))],
    *[("x86-rtx4060", "nvidia-smi", args, False)
      for args in (["-i", "0", "-pl", "300", "-r"], ["-i", "0", "-pl", "3000000"], ["-r"],
                   ["-i", "0", "-pm", "1"], ["-i", "0", "-pl", "30.5"])],
]


def _sudo() -> tuple[str, dict[str, str], str] | None:
    """(sudo, environment, sudo.conf text) to check the rule with: the package unpacked in
    $EDGEPROBE_TEST_SUDO_ROOT (`apt-get download sudo && dpkg -x sudo_*.deb DIR`), else the
    system's sudo."""
    unpacked = os.environ.get("EDGEPROBE_TEST_SUDO_ROOT")
    if unpacked:
        plugins = Path(unpacked) / "usr/libexec/sudo"
        return (f"{unpacked}/usr/bin/sudo", {"LD_LIBRARY_PATH": str(plugins)},
                f"Plugin sudoers_policy {plugins}/sudoers.so\n")
    sudo = shutil.which("sudo")
    return (sudo, {}, "") if sudo else None


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None or _sudo() is None,
                    reason="needs root, unshare and a sudo")
@pytest.mark.parametrize("machine", ["orin-nano-jp62", "x86-rtx4060"])
def test_sudo_itself_allows_the_rules_commands_and_no_others(tmp_path, machine):
    """The rule in a private /etc (a mount namespace), as `sudo -l -U edgeprobe` judges it."""
    sudo, sudo_env, sudo_conf = _sudo()  # type: ignore[misc]
    etc = tmp_path / "etc"
    subprocess.run(["cp", "-a", "/etc", str(etc)], check=True)
    with open(etc / "passwd", "a") as passwd, open(etc / "group", "a") as group:
        passwd.write("edgeprobe:x:4999:4999:edgeprobe agent:/var/lib/edgeprobe:/bin/false\n")
        group.write("edgeprobe:x:4999:\n")
    done = run_script(INSTALL, "--dry-run", "--prefix", str(tmp_path / "opt"), "--torch-wheel",
                      "/srv/t.whl", "--no-kernels", machine=machine, env=JETSON_PATH)
    lines = done.stdout.split("<the rule below>", 1)[1].splitlines()[1:]
    (etc / "sudoers").write_text("".join(line[4:] + "\n" for line in lines
                                         if line.startswith("    ")))
    (etc / "sudoers").chmod(0o440)
    if sudo_conf:
        (etc / "sudo.conf").write_text(sudo_conf)
    programs = {Path(path).name: path for path, _ in sudo_rule(done.stdout)}
    programs["/bin/sh"] = "/bin/sh"
    cases = [case for case in SUDO_CASES if case[0] == machine]
    script = "".join(shlex.join([sudo, "-n", "-l", "-U", "edgeprobe", programs[program], *args])
                     + " >/dev/null 2>&1; echo $?\n" for _, program, args, _ in cases)
    judged = subprocess.run(["unshare", "-m", "bash", "-c", f"mount --bind {etc} /etc\n{script}"],
                            capture_output=True, text=True, env={**os.environ, **sudo_env},
                            timeout=120)
    allowed = [code == "0" for code in judged.stdout.split()]
    assert allowed == [case[3] for case in cases], judged.stderr


# --- shellcheck ----------------------------------------------------------------------------

def test_shell_scripts_are_shellcheck_clean():
    shellcheck = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    assert os.access(shellcheck, os.X_OK), "shellcheck missing: pip install -e '.[test]'"
    done = subprocess.run([shellcheck, "-x", *map(str, SHELL_SCRIPTS),
                           *map(str, (REPO / "install" / "lib").glob("*.sh"))],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stdout


# --- the service unit ----------------------------------------------------------------------

UNIT = REPO / "systemd" / "edgeprobe-agent.service"


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_service_unit_matches_the_agent_contract():
    from edgeprobe.agent.paths import SERVICE_SOCKET

    settings = unit_settings()
    assert settings["ExecStart"] == [f"/opt/edgeprobe/venv/bin/edgeprobe agent --socket "
                                     f"{SERVICE_SOCKET} --group edgeprobe"]
    assert "EDGEPROBE_DATA_DIR=/var/lib/edgeprobe" in settings["Environment"]
    assert settings["RuntimeDirectory"] == ["edgeprobe"] == settings["StateDirectory"]
    assert settings["RuntimeDirectoryMode"] == ["0750"]
    # Not root: the suites run as the service user, the power commands through sudo.
    assert settings["User"] == ["edgeprobe"] and settings["Group"] == ["edgeprobe"]
    assert settings["ProtectSystem"] == ["strict"] and settings["PrivateNetwork"] == ["yes"]
    # Stopping or restarting the agent leaves its runs going.
    assert settings["KillMode"] == ["process"]
    # Started once the agent says READY=1 (tests/test_agent_log.py), not once it was forked.
    assert settings["Type"] == ["notify"]
    # What stops a non-root service from gaining privileges would stop sudo too.
    for stops_sudo in ("NoNewPrivileges", "RestrictAddressFamilies", "RestrictNamespaces",
                       "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality",
                       "SystemCallArchitectures", "SystemCallFilter", "ProtectHostname",
                       "ProtectKernelLogs", "MemoryDenyWriteExecute", "DynamicUser",
                       "PrivateUsers"):
        assert stops_sudo not in settings
    for hides_the_gpu_or_sysfs in ("PrivateDevices", "DeviceAllow", "DevicePolicy",
                                   "ProtectKernelTunables", "ProtectClock"):
        assert hides_the_gpu_or_sysfs not in settings
    sysusers = (REPO / "systemd" / "edgeprobe.sysusers.conf").read_text()
    assert "g edgeprobe -" in sysusers
    assert 'u edgeprobe - "edgeprobe agent" /var/lib/edgeprobe' in sysusers


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_service_unit_verifies(tmp_path):
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/edgeprobe/venv/bin/edgeprobe", "/bin/true"))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""
