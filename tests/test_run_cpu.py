"""Real suite runs on the CPU with tiny models: bundle contents, OOM, max context, crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from edgeprobe.bundle import read_bundle
from tests.conftest import REPO, points_so_far, wait_for, write_suite

pytestmark = pytest.mark.slow


def test_mini_suite_writes_a_bundle_that_show_reads(cli, tmp_path):
    suite = write_suite(tmp_path, models=["tiny-qwen2", "tiny-mamba2", "tiny-zamba2"])
    out = tmp_path / "run.epb"
    result = cli("run", "--suite", str(suite), "--out", str(out), "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout and "results" in result.stdout

    bundle = read_bundle(out)
    assert bundle.complete and bundle.footer["status"] == "completed"
    header = bundle.header
    assert header["device"]["kind"] == "cpu"
    assert header["software"]["torch"] and header["software"]["transformers"]
    assert header["suite"]["name"] == "mini" and len(header["suite"]["sha256"]) == 64
    assert header["settings"]["dtype"] == "float32"
    assert header["settings"]["profile"] is False and not bundle.of_type("kernels")
    # The host's share of CPUs is provenance for host-bound decode (the run inherits ours).
    assert header["host"]["cpus_allowed"] == len(os.sched_getaffinity(0))
    assert header["host"]["load_average_1m"] >= 0
    models = {m["model"]: m for m in bundle.models}
    assert models["tiny-mamba2"]["kernel_path"]["ssm_scan"] == "reference"
    assert models["tiny-qwen2"]["kernel_path"]["attention"].startswith("sdpa")
    points = bundle.points
    assert len(points) == 3 * 2 * 2
    for point in points:
        assert point["status"] == "ok", point
        assert point["prefill"]["ttft_s"] > 0
        assert point["memory"]["peak_rss_bytes"] > 0
        assert point["kernel_path"] in ("fused", "partial", "reference")
        assert point["power_mode"] is None or isinstance(point["power_mode"], str)
        prefill = point["prefill"]
        # Both variants of a length were timed round by round, after warm-up.
        assert prefill["interleaved"] == ["published", "lean"]
        assert prefill["repeats"] == 1 and prefill["warmup_passes"] == 0
        assert prefill["ttft_q1_s"] <= prefill["ttft_s"] <= prefill["ttft_q3_s"]
        assert prefill["ttft_iqr_s"] >= 0 and prefill["path"] == "hf-forward"
        assert prefill["timer"] == "perf_counter"
        assert prefill["busy_share"] is None and prefill["launch_bound"] is None  # no GPU
        if point["variant"] == "lean":
            decode = point["decode"]
            assert decode["mode"] == "eager" and decode["status"] == "ok"
            assert decode["tokens"] == 4 and decode["warmup_tokens"] == 4
            # TPOT is the warm pass; the cold pass over new KV lengths is kept beside it.
            assert decode["tpot_s"] == decode["tpot_warm_s"] > 0 and decode["tpot_cold_s"] > 0
            assert decode["step_q1_s"] <= decode["step_median_s"] <= decode["step_q3_s"]
            assert decode["prefill_path"] == "hf-forward"
            assert point["prefill"]["logits_positions"] == 1
            assert "decode_graph" not in point
        else:
            assert "decode" not in point
            assert point["prefill"]["logits_positions"] == point["length_tokens"]
    attention = {p["model"]: p["prefill"]["attention_backend"] for p in points}
    assert attention["tiny-qwen2"] in ("cpu-flash", "math")  # observed, not assumed
    assert attention["tiny-mamba2"] is None  # no attention layers
    assert header["settings"]["decode_modes"] == ["eager"]
    assert header["settings"]["attention_backend"] == "auto"
    # The transformer's KV cache grows with the prompt; the SSM's state does not.
    cache = {(p["model"], p["length_tokens"]): p["cache_bytes"] for p in points
             if p["variant"] == "lean"}
    assert cache[("tiny-qwen2", 128)] == 2 * cache[("tiny-qwen2", 64)]
    assert cache[("tiny-mamba2", 128)] == cache[("tiny-mamba2", 64)]

    shown = cli("show", str(out), "--json")
    assert shown.returncode == 0
    document = json.loads(shown.stdout)
    assert len(document["points"]) == 12
    first = document["points"][0]
    for key in ("model", "family", "length_tokens", "variant", "status", "ttft_s", "peak_bytes"):
        assert key in first
    text = cli("show", str(out))
    assert "tiny-zamba2" in text.stdout and text.returncode == 0
    host_line = next(line for line in text.stdout.splitlines() if line.startswith("host "))
    assert f"{os.cpu_count()} CPUs" in host_line and "at start" in host_line


def test_default_bundle_folder_is_created_on_a_fresh_machine(cli, tmp_path):
    suite = write_suite(tmp_path, models=["tiny-qwen2"], lengths=[64], decode_tokens=0)
    data = tmp_path / "fresh-home" / "share" / "edgeprobe"
    result = cli("run", "--suite", str(suite), "--device", "cpu", "--quiet",
                 env={"EDGEPROBE_DATA_DIR": str(data)})
    assert result.returncode == 0, result.stderr
    (bundle,) = data.glob("mini-*.epb")
    assert read_bundle(bundle).complete


def test_out_of_memory_is_a_result_and_the_run_goes_on(cli, tmp_path):
    # 8K positions x 8192 vocab x 4 bytes = 256 MiB of logits: past a 160 MiB budget for the
    # all-position variant, while the last-position variant of the same prompt fits.
    suite = write_suite(tmp_path, models=["tiny-qwen2", "tiny-mamba2"],
                        lengths=[256, 8192, 16384], decode_tokens=0)
    out = tmp_path / "oom.epb"
    result = cli("run", "--suite", str(suite), "--out", str(out), "--device", "cpu",
                 "--memory-budget", "160MiB")
    assert result.returncode == 0, result.stderr
    bundle = read_bundle(out)
    assert bundle.header["settings"]["memory_budget_bytes"] == 160 * 1024**2
    status = {(p["model"], p["length_tokens"], p["variant"]): p["status"] for p in bundle.points}
    assert status[("tiny-qwen2", 256, "published")] == "ok"
    assert status[("tiny-qwen2", 8192, "published")] == "oom"
    assert status[("tiny-qwen2", 16384, "published")] == "skipped"
    assert status[("tiny-qwen2", 8192, "lean")] == "ok"
    # The next model still ran after the OOM.
    assert status[("tiny-mamba2", 256, "lean")] == "ok"
    oom = next(p for p in bundle.points if p["status"] == "oom")
    assert "allocate" in oom["error"]


def test_find_max_context_on_cpu(cli, tmp_path):
    suite = write_suite(tmp_path, models=["tiny-qwen2"], lengths=[1024],
                        prefill_variants=["published"], decode_tokens=0)
    out = tmp_path / "max.epb"
    result = cli("run", "--suite", str(suite), "--out", str(out), "--device", "cpu",
                 "--memory-budget", "160MiB", "--find-max-context", "--search-limit", "64K")
    assert result.returncode == 0, result.stderr
    bundle = read_bundle(out)
    (record,) = bundle.max_context
    assert record["variant"] == "published" and not record["limit_reached"]
    assert record["first_fail_tokens"] - record["max_ok_tokens"] <= 1024
    trials = {t["length_tokens"]: t["status"] for t in record["trials"]}
    assert trials[record["first_fail_tokens"]] == "oom"
    assert trials.get(record["max_ok_tokens"], "ok") == "ok"
    # The logits alone (positions x 8192 x 4 bytes) exceed the budget past 5K tokens.
    assert 1024 <= record["max_ok_tokens"] < 5 * 1024
    assert "Max context" in result.stdout
    # What stopped it, with the memory behind it.
    assert record["limit_kind"] == "memory" and record["memory_bound"] is None
    assert record["limit_budget_bytes"] == 160 * 1024**2
    shown = cli("show", str(out))
    assert "memory" in shown.stdout and "out of memory at" in shown.stdout






def _start_run(tmp_path, suite, out):
    return subprocess.Popen([sys.executable, "-m", "edgeprobe", "run", "--suite", str(suite),
                             "--out", str(out), "--device", "cpu", "--quiet"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_kill_9_keeps_every_completed_point(tmp_path):
    suite = write_suite(tmp_path, models=["tiny-mamba", "tiny-qwen2"],
                        lengths=[64, 128, 256, 512, 1024, 2048], repeats=2)
    out = tmp_path / "killed.epb"
    run = _start_run(tmp_path, suite, out)
    wait_for(lambda: len(points_so_far(out)) >= 3)
    children = psutil.Process(run.pid).children(recursive=True)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    bundle = read_bundle(out)
    assert bundle.truncated and bundle.footer is None
    assert len(bundle.points) >= 3
    for point in bundle.points:
        assert point["status"] == "ok" and point["prefill"]["ttft_s"] > 0
    # The worker does not outlive its runner.
    psutil.wait_procs(children, timeout=20)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


def test_sigterm_closes_the_bundle_as_interrupted(tmp_path):
    suite = write_suite(tmp_path, models=["tiny-mamba"], lengths=[64, 128, 256, 512, 1024, 2048])
    out = tmp_path / "term.epb"
    run = _start_run(tmp_path, suite, out)
    wait_for(lambda: len(points_so_far(out)) >= 1)
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130
    assert "Traceback" not in stderr
    bundle = read_bundle(out)
    assert bundle.footer["status"] == "interrupted"
    assert any(e["kind"] == "interrupted" and "SIGTERM" in e["message"] for e in bundle.events)


def test_a_worker_that_dies_costs_one_point(tmp_path):
    # The worker is killed from outside mid-point, as a kernel crash or the kernel's OOM
    # killer would end it: that point is recorded, the worker restarts, the suite goes on.
    suite = write_suite(tmp_path, models=["tiny-mamba", "tiny-qwen2"],
                        lengths=[64, 4096], prefill_variants=["lean"], repeats=3, warmup=1,
                        decode_tokens=0)
    out = tmp_path / "crash.epb"
    run = _start_run(tmp_path, suite, out)
    wait_for(lambda: len(points_so_far(out)) >= 1)  # 64 done: the slow 4096 point is running
    worker = wait_for(lambda: [c for c in psutil.Process(run.pid).children()
                                if "spawn_main" in " ".join(c.cmdline())])[0]
    time.sleep(0.5)
    worker.kill()
    _, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr
    bundle = read_bundle(out)
    status = {(p["model"], p["length_tokens"]): p for p in bundle.points}
    crashed = status[("tiny-mamba", 4096)]
    assert crashed["status"] == "crashed" and "SIGKILL" in crashed["error"]
    assert status[("tiny-qwen2", 64)]["status"] == "ok"
    assert status[("tiny-qwen2", 4096)]["status"] == "ok"
    assert any(e["kind"] == "worker_restart" for e in bundle.events)


def test_attention_pin_is_applied_and_observed(cli, tmp_path):
    suite = write_suite(tmp_path, models=["tiny-qwen2"], lengths=[64],
                        prefill_variants=["lean"], decode_tokens=2)
    out = tmp_path / "math.epb"
    result = cli("run", "--suite", str(suite), "--out", str(out), "--device", "cpu", "--quiet",
                 "--attention-backend", "math")
    assert result.returncode == 0, result.stderr
    bundle = read_bundle(out)
    assert bundle.header["settings"]["attention_backend"] == ["math"]
    (point,) = bundle.points
    assert point["prefill"]["attention_backend"] == "math"
    assert point["decode"]["attention_backend"] == "math"


@pytest.mark.parametrize("args, message", [
    (["--decode-mode", "graph"], "--decode-mode graph needs a CUDA GPU"),
    (["--decode-mode", "both"], "--decode-mode graph needs a CUDA GPU"),
    (["--attention-backend", "flash,flash"], "attention backend 'flash,flash'"),
])
def test_run_refuses_what_cannot_run_here_before_any_work(cli, tmp_path, args, message):
    out = tmp_path / "refused.epb"
    result = cli("run", "--suite", "smoke", "--device", "cpu", "--out", str(out), *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
