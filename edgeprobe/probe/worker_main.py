"""The probe worker process itself: owns torch, the device and one model at a time."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import traceback
import warnings
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from edgeprobe.probe import clock
from edgeprobe.probe.worker import WorkerOptions

FATAL_EXIT_CODE = 3


def _die_with_parent() -> None:
    """Linux: end this worker when the runner dies, even by kill -9."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _redirect_output(log_path: str | None) -> None:
    if not log_path:
        return
    handle = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(handle, 1)
    os.dup2(handle, 2)
    os.close(handle)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)


class WorkerState:
    def __init__(self, options: WorkerOptions) -> None:
        import torch

        self.options = options
        self.torch = torch
        self.device = self._resolve_device(options.device)
        self.model: Any = None
        self.budget: dict[str, Any] | None = None
        self._profiler_warm = False

    def _resolve_device(self, name: str) -> Any:
        torch = self.torch
        if name == "auto":
            name = "cuda" if torch.cuda.is_available() else "cpu"
        device = torch.device(name)
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise RuntimeError("CUDA was asked for but torch sees no CUDA GPU")
            device = torch.device("cuda", device.index or 0)
            torch.cuda.set_device(device)
        return device

    def hello(self, _: dict[str, Any]) -> dict[str, Any]:
        from edgeprobe.models.kernel_path import package_availability
        from edgeprobe.models.software import cuda_device_info, software_versions
        from edgeprobe.probe.memory import apply_cuda_budget

        torch = self.torch
        if self.options.threads:
            torch.set_num_threads(self.options.threads)
        # Warm the thread pools before any CPU budget is measured from the address space.
        (torch.ones(64, 64) @ torch.ones(64, 64)).sum().item()
        device_info = (cuda_device_info(self.device) if self.device.type == "cuda"
                       else {"kind": "cpu", "threads": torch.get_num_threads()})
        budget = self.options.memory_budget_bytes
        if budget:
            self.budget = (apply_cuda_budget(self.device, budget) if self.device.type == "cuda"
                           else {"mechanism": "rlimit_as", "budget_bytes": budget,
                                 "applies": "address-space growth from each model's build on"})
        return {
            "ok": True,
            "device": device_info,
            "software": software_versions(),
            "kernels_available": package_availability() if self.device.type == "cuda" else {},
            "memory_budget": self.budget,
            "pid": os.getpid(),
        }

    def load(self, message: dict[str, Any]) -> dict[str, Any]:
        from edgeprobe.models.build import DTYPES, build, detect_kernel_path
        from edgeprobe.probe.memory import forget_long_lived, keep_long_lived, release
        from edgeprobe.suite.model_dir import preset_from_model_dir
        from edgeprobe.suite.presets import load_preset

        if self.model is not None:  # (after an ``unload`` there is nothing left to free)
            self.model = None
            forget_long_lived()
            release(self.device)
        preset = (preset_from_model_dir(Path(message["model_dir"]),
                                        bool(message.get("trust_remote_code")))
                  if message.get("model_dir") else load_preset(message["model"]))
        weights = Path(message["weights"]) if message.get("weights") else None
        if self.device.type == "cpu" and self.options.memory_budget_bytes:
            self._prepare_cpu_budget(preset)
        with clock.phase(clock.MODEL_BUILD):
            self.model = build(preset, message["implementation"], self.device,
                               DTYPES[message["dtype"]], seed=message.get("seed", 0),
                               weights=weights,
                               max_new_tokens=message.get("max_new_tokens", 1024))
        with clock.phase(clock.KERNEL_PATH_CHECK):
            kernel_path = detect_kernel_path(self.model)
        release(self.device)
        keep_long_lived()
        return {"ok": True, **self.model.describe(), "kernel_path": kernel_path.as_dict()}

    def _prepare_cpu_budget(self, preset: Any) -> None:
        """Do the one-time imports (model code, profiler) outside the budget, then cap."""
        from transformers import AutoModelForCausalLM

        from edgeprobe.models.build import hf_config, observed_names
        from edgeprobe.probe.memory import apply_cpu_budget

        torch = self.torch
        with torch.device("meta"):
            AutoModelForCausalLM.from_config(hf_config(preset),
                                             trust_remote_code=preset.trust_remote_code)
        if not self._profiler_warm:
            observed_names(lambda: torch.ones(8).sum(), self.device)
            self._profiler_warm = True
        apply_cpu_budget(self.options.memory_budget_bytes)

    def point(self, message: dict[str, Any]) -> dict[str, Any]:
        from edgeprobe.probe.point import measure_point
        from edgeprobe.probe.prefill import PointSpec

        if self.model is None:
            return {"ok": False, "status": "error", "error": "no model loaded"}
        return {"ok": True, "status": "ok",
                **measure_point(self.model, PointSpec.from_message(message["spec"]))}

    def fidelity(self, message: dict[str, Any]) -> dict[str, Any]:
        """The loaded model timed by a plain loop and by edgeprobe, side by side."""
        from edgeprobe.probe.fidelity import FidelitySpec, run_fidelity

        if self.model is None:
            return {"ok": False, "status": "error", "error": "no model loaded"}
        return {"ok": True, "status": "ok",
                **run_fidelity(self.model, FidelitySpec.from_message(message["spec"]))}

    def profile(self, message: dict[str, Any]) -> dict[str, Any]:
        """Per-kernel table of one point's prefill under torch.profiler (never timed)."""
        from edgeprobe.probe.memory import release
        from edgeprobe.probe.prefill import LOGITS_TO_KEEP, prompt
        from edgeprobe.profiling.capture import profile_prefill
        from edgeprobe.profiling.spec import ProfileSpec

        if self.model is None:
            return {"ok": False, "status": "error", "error": "no model loaded"}
        spec = ProfileSpec.from_message(message["spec"])
        ids = prompt(self.model, spec.length_tokens, spec.seed)
        try:
            with clock.phase(clock.PROFILING):
                    captured = profile_prefill(self.model, ids, LOGITS_TO_KEEP[spec.variant],
                                           spec.schedule, spec.trace_path)
        finally:
            del ids
            release(self.device)
        return {"ok": True, "status": "ok", **captured.table.as_record(),
                "trace_file": captured.trace_file, "trace_error": captured.trace_error}

    def unload(self, _: dict[str, Any]) -> dict[str, Any]:
        from edgeprobe.probe.memory import forget_long_lived, release

        self.model = None
        forget_long_lived()
        release(self.device)
        return {"ok": True}


def _failure(exc: BaseException) -> tuple[dict[str, Any], bool]:
    reply, fatal = _classify(exc)
    # Where in a point it happened: the prefill variant, or the decode.
    for key in ("variant", "phase"):
        value = getattr(exc, f"edgeprobe_{key}", None)
        if value:
            reply[key] = value
    return reply, fatal


def _classify(exc: BaseException) -> tuple[dict[str, Any], bool]:
    from edgeprobe.models.build import ImplementationUnavailable
    from edgeprobe.probe.memory import condense_oom, is_fatal_device_error, is_oom

    message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]
    if isinstance(exc, ImplementationUnavailable):
        return {"ok": False, "status": "unavailable", "error": str(exc)}, False
    if is_oom(exc):
        reply = {"ok": False, "status": "oom", "error": condense_oom(message)}
        memory = getattr(exc, "edgeprobe_memory", None)
        if memory:
            reply["memory"] = memory
        return reply, False
    if is_fatal_device_error(exc):
        reply = {"ok": False, "status": "kernel_error", "error": message, "fatal": True}
        memory = getattr(exc, "edgeprobe_memory", None)
        if memory:  # how much was in use when it faulted: memory to spare, or not
            reply["memory"] = memory
        return reply, True
    traceback.print_exc()
    return {"ok": False, "status": "error", "error": message}, False


def _release_after_failure(state: WorkerState,
                           reply: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Free memory after a failed request. A fault that surfaced only now (CUDA reports
    illegal accesses at the next call) makes the failure a fatal kernel error after all."""
    from edgeprobe.probe.memory import is_fatal_device_error, release

    try:
        release(state.device)
    except Exception as exc:
        if not is_fatal_device_error(exc):
            raise
        first = reply.get("error") or reply.get("status")
        message = str(exc).strip().splitlines()[0][:300]
        return {"ok": False, "status": "kernel_error", "fatal": True,
                "error": f"{message} (reported after: {first})"}, True
    return reply, False


def serve(conn: Connection, options: WorkerOptions) -> None:
    _die_with_parent()
    # Ctrl-C in the terminal reaches the whole process group: the runner decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _redirect_output(options.log_path)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models are built here, never downloaded
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    try:
        state = WorkerState(options)
    except Exception as exc:
        conn.send({"ok": False, "status": "error", "error": f"{type(exc).__name__}: {exc}"})
        return
    from edgeprobe.probe.attention import pinned

    handlers = {"hello": state.hello, "load": state.load, "point": state.point,
                "fidelity": state.fidelity,
                "profile": state.profile, "unload": state.unload}
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        op = message.get("op")
        if op == "stop":
            conn.send({"ok": True})
            # Nothing is left to save, and an interpreter that holds torch takes about a second
            # to tear itself down: leave at once.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        handler = handlers.get(op)
        if handler is None:
            conn.send({"ok": False, "status": "error", "error": f"unknown op {op!r}"})
            continue
        fatal = False
        try:
            with pinned(options.attention_backend):
                reply = handler(message)
        except Exception as exc:  # every failure becomes a recorded result
            reply, fatal = _failure(exc)
        if not reply.get("ok") and not fatal:
            # Outside the except block, so the traceback's frames (and their tensors) are gone.
            reply, fatal = _release_after_failure(state, reply)
        reply["timing_s"] = clock.take()
        conn.send(reply)
        if fatal:
            os._exit(FATAL_EXIT_CODE)
