"""Every limit explained: what a dying worker's end, its log and a search's failures say."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from edgeprobe.analysis.limits import limit_detail, limit_kind
from edgeprobe.bundle import read_bundle
from edgeprobe.probe import oomkill
from edgeprobe.probe.search import Trial, find_max_context
from edgeprobe.runner.points import crash_reply
from tests.conftest import REPO, points_so_far, wait_for, write_suite

GIB = 1024**3
# What a CUDA fault prints before the process dies: the error, then a C++ stack trace.
STACK = "\n".join(f"frame #{i}: 0x7f00{i:04x} in /usr/lib/libtorch_cuda.so" for i in range(400))


def test_a_fault_far_up_the_log_is_a_kernel_error():
    log = ("loading\nterminate called after throwing an instance of 'c10::AcceleratorError'\n"
           "  what():  CUDA error: an illegal memory access was encountered\n" + STACK)
    reply = crash_reply("worker exited (killed by SIGABRT)", False, log)
    assert reply["status"] == "kernel_error"
    assert "illegal memory access" in reply["error"]


def test_cublas_alloc_failure_is_out_of_memory():
    log = ("RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling "
           "`cublasCreate(handle)`\n" + STACK)
    assert crash_reply("worker exited (exit code 1)", False, log)["status"] == "oom"
    torch = pytest.importorskip("torch")
    from edgeprobe.probe.memory import is_fatal_device_error, is_oom

    error = RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling "
                         "`cublasCreate(handle)`")
    assert is_oom(error) and not is_fatal_device_error(error)
    assert is_fatal_device_error(RuntimeError("CUDA error: misaligned address"))
    assert torch is not None


def test_a_silent_death_stays_a_crash_and_a_hang_a_timeout():
    assert crash_reply("worker exited (killed by SIGSEGV)", False, "ok\n")["status"] == "crashed"
    assert crash_reply("no answer within 60 s", True, STACK)["status"] == "timeout"


def _cgroup_tree(root, count: int, version: int = 2) -> None:
    (root / "proc" / "self").mkdir(parents=True, exist_ok=True)
    if version == 2:
        (root / "proc" / "self" / "cgroup").write_text("0::/user.slice/run.scope\n")
        folder = root / "sys" / "fs" / "cgroup" / "user.slice" / "run.scope"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "memory.events").write_text(
            f"low 0\nhigh 0\nmax 3\noom 1\noom_kill {count}\noom_group_kill 0\n")
    else:
        (root / "proc" / "self" / "cgroup").write_text(
            "12:cpu,cpuacct:/run\n9:memory:/user.slice/run\n")
        folder = root / "sys" / "fs" / "cgroup" / "memory" / "user.slice" / "run"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "memory.oom_control").write_text(
            f"oom_kill_disable 0\nunder_oom 0\noom_kill {count}\n")


@pytest.mark.parametrize("version", [1, 2])
def test_oom_killer_seen_in_a_recorded_cgroup(tmp_path, monkeypatch, version):
    monkeypatch.setenv("EDGEPROBE_SYSFS_ROOT", str(tmp_path))
    _cgroup_tree(tmp_path, 0, version)
    before = oomkill.read_counters()
    assert oomkill.killed_by_oom(4242, before) is None  # nothing grew: not the OOM killer
    _cgroup_tree(tmp_path, 1, version)
    evidence = oomkill.killed_by_oom(4242, before)
    assert evidence is not None and "oom_kill 0 -> 1" in evidence
    reply = crash_reply("worker exited (killed by SIGKILL)", False, "", evidence)
    assert reply["status"] == "oom" and "OOM killer" in reply["error"]


def test_oom_killer_named_by_the_kernel_log(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEPROBE_SYSFS_ROOT", str(tmp_path))
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "kmsg").write_text(
        "6,901,5123,-;python3 invoked oom-killer: gfp_mask=0x140cca, order=0\n"
        "3,902,5124,-;Out of memory: Killed process 4242 (python3) total-vm:9123456kB, "
        "anon-rss:7012345kB\n")
    assert "Killed process 4242" in oomkill.killed_by_oom(4242, None)
    assert oomkill.killed_by_oom(4243, None) is None  # another process


def _trials(fault_at: int | None, oom_at: int, hang_at: int | None = None):
    tried: list[int] = []

    def try_length(length: int) -> Trial:
        tried.append(length)
        if hang_at is not None and length >= hang_at:
            return Trial(length, "timeout", None, "no answer")
        if length >= oom_at:
            return Trial(length, "oom", int(24 * GIB), "out of memory")
        if fault_at is not None and length >= fault_at:
            return Trial(length, "kernel_error", int(18.3 * GIB), "illegal memory access")
        return Trial(length, "ok", length * 50_000)

    return try_length, tried


def test_a_kernel_fault_is_not_a_memory_limit_and_the_search_goes_on_above_it():
    try_length, _ = _trials(fault_at=333_824, oom_at=420_000)
    result = find_max_context(try_length, 65536, 1 << 20, 1024, 24 * GIB)
    assert result.limit_kind == "kernel"
    assert result.first_fail_tokens - result.max_ok_tokens <= 1024
    assert result.max_ok_tokens < 333_824 <= result.first_fail_tokens
    bound = result.memory_bound
    assert bound.first_oom_tokens - bound.no_oom_tokens <= 1024
    assert bound.no_oom_tokens < 420_000 <= bound.first_oom_tokens


@pytest.mark.parametrize(("fault_at", "oom_at", "hang_at", "kind"), [
    (None, 75_000, None, "memory"),
    (None, 1 << 30, 100_000, "timeout"),
    (None, 1 << 30, None, "search limit"),
])
def test_every_search_says_what_stopped_it(fault_at, oom_at, hang_at, kind):
    try_length, _ = _trials(fault_at, oom_at, hang_at)
    result = find_max_context(try_length, 1024, 1 << 18, 1024, 24 * GIB)
    assert result.limit_kind == kind and result.memory_bound is None


def test_limit_details_read_well():
    memory = {"limit_kind": "memory", "first_fail_tokens": 76800, "fail_peak_bytes": 24 * GIB,
              "limit_budget_bytes": 24 * GIB}
    assert limit_detail(memory) == "out of memory at 75K tokens, peak 24.00 GiB of a " \
                                   "24.00 GiB budget"
    kernel = {"limit_kind": "kernel", "first_fail_tokens": 333_824,
              "fail_free_bytes": int(5.7 * GIB), "limit_budget_bytes": 24 * GIB,
              "memory_bound": {"no_oom_tokens": 419_840, "first_oom_tokens": 420_864}}
    text = limit_detail(kernel)
    assert text.startswith("device fault at 326K tokens with 5.70 GiB of 24.00 GiB free")
    assert "out of memory from 411K" in text
    # Records written before limits were recorded: the kind comes from the first failure.
    assert limit_kind({"fail_status": "kernel_error", "first_fail_tokens": 4096}) == "kernel"
    assert limit_kind({"limit_reached": True, "max_ok_tokens": 4096}) == "search limit"






@pytest.mark.slow
def test_a_dying_worker_is_told_apart(tmp_path):
    """A real worker killed with SIGKILL twice: once while the recorded cgroup counts an OOM
    kill (out of memory), once after it logged a CUDA fault far above its last line (a device
    fault). The run records both for what they are and goes on."""
    root = tmp_path / "machine"
    _cgroup_tree(root, 0)
    # 16K tokens on the reference SSM path take many seconds: each is killed long before.
    suite = write_suite(tmp_path, models=["tiny-mamba", "tiny-mamba2"], lengths=[64, 16384],
                        prefill_variants=["lean"], repeats=3, warmup=1, decode_tokens=0)
    out = tmp_path / "deaths.epb"
    run = subprocess.Popen([sys.executable, "-m", "edgeprobe", "run", "--suite", str(suite),
                            "--out", str(out), "--device", "cpu", "--quiet", "--local"],
                           cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "EDGEPROBE_SYSFS_ROOT": str(root)})

    def worker():
        return [c for c in psutil.Process(run.pid).children()
                if "spawn_main" in " ".join(c.cmdline())]

    wait_for(lambda: len(points_so_far(out)) >= 1)  # 64 done: the slow 16K point is running
    time.sleep(0.3)
    _cgroup_tree(root, 1)  # the kernel's OOM killer picks the worker
    wait_for(worker)[0].kill()
    wait_for(lambda: len(points_so_far(out)) >= 3)  # tiny-mamba2 64 done after the restart
    time.sleep(0.3)
    with open(out.with_suffix(".worker.log"), "a") as log:
        log.write("terminate called after throwing an instance of 'c10::AcceleratorError'\n"
                  "  what():  CUDA error: an illegal memory access was encountered\n"
                  + STACK + "\n")
    wait_for(worker)[0].kill()
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    status = {(p["model"], p["length_tokens"]): p for p in read_bundle(out).points}
    assert status[("tiny-mamba", 16384)]["status"] == "oom"
    assert "OOM killer" in status[("tiny-mamba", 16384)]["error"]
    assert status[("tiny-mamba2", 16384)]["status"] == "kernel_error"
    assert "illegal memory access" in status[("tiny-mamba2", 16384)]["error"]


def test_only_a_first_pass_out_of_memory_bounds_the_search():
    from edgeprobe.runner.passes import says_what_fits

    assert says_what_fits({"status": "oom", "failed_in": "memory_pass"})
    assert says_what_fits({"status": "oom"})  # the whole request failed: as before
    assert not says_what_fits({"status": "oom", "failed_in": "timed_prefill"})
    assert says_what_fits({"status": "ok"})
