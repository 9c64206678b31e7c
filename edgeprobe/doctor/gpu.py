"""torch, the GPU and the fused kernels, seen from a probe worker process.

The worker imports torch and runs two tiny SSM models (Mamba: selective scan + causal conv1d;
Mamba2: the Triton SSD kernels + causal conv1d) with kernel-path detection. A kernel build
that crashes the process, or hangs it, costs this check only.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

from edgeprobe.doctor.machine import CPU, Machine
from edgeprobe.doctor.result import FAIL, OK, SKIP, Check
from edgeprobe.models.kernel_path import FIX_HINT
from edgeprobe.probe.worker import Worker, WorkerCrashed, WorkerOptions

KERNEL_MODELS = ("tiny-mamba", "tiny-mamba2")
REQUIRED_PACKAGES = ("mamba_ssm", "causal_conv1d")
INSTALL_TORCH_FIX = ("install torch into edgeprobe's environment: `install/install.sh` picks the "
                     "build for this machine (on a Jetson, pass NVIDIA's wheel with --torch-wheel)")


@dataclass
class WorkerFindings:
    """What the worker said: its hello, one reply per tiny model, or why it could not say."""

    hello: dict[str, Any] | None = None
    loads: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    log_tail: str = ""


def _load(worker: Worker, model: str, timeout_s: float) -> dict[str, Any]:
    try:
        return worker.request({"op": "load", "model": model, "implementation": "hf",
                               "dtype": "float16", "seed": 0, "max_new_tokens": 8},
                              timeout_s=timeout_s)
    except WorkerCrashed as exc:
        return {"ok": False, "status": "crashed", "error": str(exc),
                "log_tail": worker.log_tail(8)}


def probe_worker(run_models: bool = True, start_timeout_s: float = 180.0,
                 load_timeout_s: float = 600.0) -> WorkerFindings:
    """Start a worker on the best device, then (on CUDA) load each tiny SSM model."""
    findings = WorkerFindings()
    with tempfile.TemporaryDirectory(prefix="edgeprobe-doctor-") as folder:
        worker = Worker(WorkerOptions(device="auto", log_path=os.path.join(folder, "worker.log")))
        try:
            hello = worker.start(timeout_s=start_timeout_s)
        except WorkerCrashed as exc:
            findings.error = str(exc)
            findings.log_tail = worker.log_tail(8)
            worker.kill()
            return findings
        if not hello.get("ok"):
            findings.error = str(hello.get("error") or "the worker did not start")
            findings.log_tail = worker.log_tail(8)
            worker.kill()
            return findings
        findings.hello = hello
        try:
            if run_models and hello.get("device", {}).get("kind") == "cuda":
                for model in KERNEL_MODELS:
                    reply = _load(worker, model, load_timeout_s)
                    findings.loads[model] = reply
                    if reply.get("status") == "crashed" or reply.get("fatal"):
                        worker.kill()
                        worker.start(timeout_s=start_timeout_s)
        except WorkerCrashed as exc:  # the restart after a crash failed
            findings.error = f"worker restart failed: {exc}"
        finally:
            worker.stop()
    return findings


def check_torch(findings: WorkerFindings) -> Check:
    if findings.hello is None:
        detail = f"torch does not start in a worker: {findings.error}"
        if findings.log_tail:
            detail += f" | {findings.log_tail.splitlines()[-1]}"
        return Check("torch", "torch importable", FAIL, detail, INSTALL_TORCH_FIX)
    software = findings.hello.get("software", {})
    cuda = software.get("cuda")
    return Check("torch", "torch importable", OK,
                 f"torch {software.get('torch')} ({f'CUDA {cuda}' if cuda else 'CPU build'}), "
                 f"transformers {software.get('transformers') or 'missing'}",
                 data={"software": software})


def check_gpu(machine: Machine, findings: WorkerFindings) -> Check:
    title = "GPU visible to torch"
    if findings.hello is None:
        return Check("gpu", title, SKIP if machine.kind == CPU else FAIL,
                     "torch does not start", None if machine.kind == CPU else INSTALL_TORCH_FIX)
    device = findings.hello.get("device", {})
    if device.get("kind") == "cuda":
        memory_gib = (device.get("total_memory_bytes") or 0) / 2**30
        return Check("gpu", title, OK,
                     f"{device.get('name')} (compute capability {device.get('compute_capability')},"
                     f" {memory_gib:.1f} GiB)", data={"device": device})
    if machine.kind == CPU:
        return Check("gpu", title, SKIP,
                     "no NVIDIA GPU here: tiny models run on the CPU, which is enough to check "
                     "an install and read bundles")
    software = findings.hello.get("software", {})
    if not software.get("cuda"):
        detail = (f"this machine has an NVIDIA GPU ({machine.description}) but torch "
                  f"{software.get('torch')} is a CPU build")
        fix = ("replace it with a CUDA build: `install/install.sh` does (on a Jetson with "
               "--torch-wheel NVIDIA's wheel for your JetPack)")
    else:
        detail = (f"torch {software.get('torch')} is built for CUDA {software.get('cuda')} but "
                  f"sees no GPU ({machine.description})")
        fix = ("check that `nvidia-smi` (or `tegrastats` on a Jetson) works, that the driver "
               "supports this CUDA version, and that CUDA_VISIBLE_DEVICES is not hiding the GPU")
    return Check("gpu", title, FAIL, detail, fix, data={"software": software})


def _model_verdict(model: str, reply: dict[str, Any]) -> tuple[bool, str]:
    if not reply.get("ok"):
        tail = reply.get("log_tail") or ""
        detail = f"{model}: {reply.get('status')}: {reply.get('error')}"
        if tail:
            detail += f" | {tail.splitlines()[-1]}"
        return False, detail
    path = reply.get("kernel_path") or {}
    fused = path.get("ssm_scan") == "fused" and path.get("conv1d") == "fused"
    evidence = ", ".join(path.get("evidence", [])[:3])
    return fused, (f"{model}: scan {path.get('ssm_scan')}, conv1d {path.get('conv1d')}"
                   + (f" ({evidence})" if evidence else ""))


def check_kernels(machine: Machine, findings: WorkerFindings) -> Check:
    title = "fused SSM kernels in use"
    device = (findings.hello or {}).get("device", {})
    if device.get("kind") != "cuda":
        if machine.kind == CPU:
            return Check("kernels", title, SKIP, "CPU only: SSM models run the reference path "
                         "(correct, slow), as expected without a GPU")
        return Check("kernels", title, SKIP, "needs torch to see the GPU first")
    available = findings.hello.get("kernels_available", {}) if findings.hello else {}
    missing = {name: info.get("error") for name, info in available.items()
               if name in REQUIRED_PACKAGES and not info.get("importable")}
    data: dict[str, Any] = {"available": available, "models": {}}
    if missing:
        detail = "; ".join(f"{name}: {error}" for name, error in missing.items())
        return Check("kernels", title, FAIL, f"do not import: {detail}", FIX_HINT, data=data)
    if not findings.loads:
        return Check("kernels", title, SKIP, "import fine; tiny models not run (--quick)",
                     data=data)
    verdicts = {model: _model_verdict(model, reply) for model, reply in findings.loads.items()}
    data["models"] = {model: findings.loads[model].get("kernel_path") for model in verdicts}
    detail = "; ".join(text for _, text in verdicts.values())
    if all(fused for fused, _ in verdicts.values()):
        versions = ", ".join(f"{n} {available.get(n, {}).get('version')}"
                             for n in REQUIRED_PACKAGES)
        return Check("kernels", title, OK, f"{versions}; {detail}", data=data)
    fix = ("the kernels import but a tiny model did not use them or failed; rebuild them for "
           "this GPU: `install/install.sh --kernels-only --force-kernels`")
    return Check("kernels", title, FAIL, detail, fix, data=data)
