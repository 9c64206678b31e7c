"""``check_fidelity``: edgeprobe's timings against a plain loop's, for chosen models and
lengths, in one worker process. No torch here: the worker does the device work."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from edgeprobe.analysis.fidelity import FidelityReport, result_entry
from edgeprobe.errors import EdgeprobeError
from edgeprobe.probe.plan import implementations_for
from edgeprobe.probe.worker import Worker, WorkerCrashed, WorkerOptions
from edgeprobe.suite.presets import load_preset

DEFAULT_DTYPE = {"cuda": "float16", "cpu": "float32"}


@dataclass
class FidelityRequest:
    models: list[str]
    lengths: list[int]
    implementation: str = "study"  # study | both | hf | mamba_ssm, as for runs
    device: str = "auto"
    dtype: str | None = None  # default: float16 on a GPU, float32 on the CPU
    rounds: int = 5
    decode_rounds: int = 10
    decode_tokens: int = 32
    warmup: int = 2
    attention_backend: tuple[str, ...] = ()
    threads: int | None = None
    seed: int = 0
    timeout_s: float = 3600.0
    command: list[str] = field(default_factory=lambda: list(sys.argv))

    def spec(self, length: int) -> dict[str, Any]:
        return {"length_tokens": length, "rounds": self.rounds,
                "decode_rounds": self.decode_rounds, "decode_tokens": self.decode_tokens,
                "warmup": self.warmup, "seed": self.seed}


def _failed(reply: dict[str, Any]) -> dict[str, Any]:
    return {"status": reply.get("status", "error"), "error": reply.get("error")}


def check_fidelity(request: FidelityRequest,
                   progress: Callable[[str], None] | None = None,
                   on_result: Callable[[FidelityReport], None] | None = None) -> FidelityReport:
    """Time every model, implementation and length both ways; the report holds every
    sample, with medians, spreads and ratios. ``on_result`` sees the report after every
    result, so a long check that is cut off keeps what it measured."""
    say = progress or (lambda message: None)
    for name in request.models:
        load_preset(name)  # unknown names fail here, with a suggestion
    handle, log_path = tempfile.mkstemp(prefix="edgeprobe-fidelity-", suffix=".log")
    os.close(handle)
    worker = Worker(WorkerOptions(request.device, None, log_path, request.threads,
                                  request.attention_backend))
    try:
        hello = worker.start()
    except WorkerCrashed as crash:
        tail = worker.log_tail(1)
        raise EdgeprobeError(f"the probe worker did not start ({crash})"
                             + (f": {tail}" if tail else "") + f"; log: {log_path}") from None
    if not hello.get("ok"):
        raise EdgeprobeError(f"the probe worker failed: {hello.get('error')}")
    try:
        kind = hello["device"]["kind"]
        dtype = request.dtype or DEFAULT_DTYPE.get(kind, "float32")
        settings = {**asdict(request), "dtype": dtype, "attention_backend":
                    list(request.attention_backend) or "auto"}
        settings.pop("command")
        report = FidelityReport(request.command, hello["device"], hello["software"], settings)
        mamba_ok = kind == "cuda" and hello["kernels_available"].get(
            "mamba_ssm", {}).get("importable", False)
        for name in request.models:
            impls, note = implementations_for(load_preset(name), request.implementation,
                                              mamba_ok)
            if note:
                say(note)
            for impl in impls:
                _one_model(worker, request, name, impl, dtype, report, say,
                           on_result or (lambda _: None))
    finally:
        worker.stop()
    os.unlink(log_path)
    return report


def _one_model(worker: Worker, request: FidelityRequest, name: str, impl: str, dtype: str,
               report: FidelityReport, say: Callable[[str], None],
               on_result: Callable[[FidelityReport], None]) -> None:
    say(f"loading {name}/{impl}")
    identity = {"model": name, "implementation": impl}
    try:
        loaded = worker.request({"op": "load", "model": name, "implementation": impl,
                                 "dtype": dtype, "seed": request.seed,
                                 "max_new_tokens": request.decode_tokens + 16},
                                timeout_s=request.timeout_s)
    except WorkerCrashed as crash:
        loaded = {"ok": False, "status": "crashed", "error": str(crash)}
    if not loaded.get("ok"):
        for length in request.lengths:
            report.results.append({**identity, "length_tokens": length, **_failed(loaded)})
        on_result(report)
        if not worker.alive:
            worker.start()
        return
    identity["kernel_path"] = loaded.get("kernel_path")
    for length in request.lengths:
        say(f"timing {name}/{impl} at {length} tokens")
        try:
            reply = worker.request({"op": "fidelity", "spec": request.spec(length)},
                                   timeout_s=request.timeout_s)
        except WorkerCrashed as crash:
            reply = {"ok": False, "status": "crashed", "error": str(crash)}
        report.results.append(result_entry({**identity, "length_tokens": length}, reply))
        on_result(report)
        if reply.get("fatal") or not worker.alive:  # the next model gets a fresh worker
            worker.kill()
            worker.start()
            return
    worker.request({"op": "unload"}, timeout_s=120)
