"""The probe worker process, seen from the runner (this module never imports torch).

Every model runs in a separate process so that a fused kernel's illegal memory access, which
leaves the CUDA context unusable, costs one point and a restart rather than the whole run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from edgeprobe.probe import oomkill

LOG_TAIL_MAX_BYTES = 256 * 1024


class WorkerCrashed(RuntimeError):
    """The worker process died or stopped answering."""

    def __init__(self, message: str, timed_out: bool = False,
                 oom_killed: str | None = None) -> None:
        super().__init__(message)
        self.timed_out = timed_out
        self.oom_killed = oom_killed  # the evidence that the kernel's OOM killer ended it


@dataclass
class WorkerOptions:
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    memory_budget_bytes: int | None = None
    log_path: str | None = None
    threads: int | None = None
    attention_backend: tuple[str, ...] = ()  # SDPA backends allowed, in order; (): torch's choice


def _entry(conn: Connection, options: WorkerOptions) -> None:
    from edgeprobe.probe.worker_main import serve  # torch is imported here, in the child

    serve(conn, options)


# Told, after every request, the worker's own phase times (None when it died) and the
# request's wall time.
ReplyTiming = Callable[[dict[str, float] | None, float], None]


class Worker:
    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self.hello: dict[str, Any] = {}
        self.on_reply: ReplyTiming | None = None
        self._log_offset = 0  # the log's size when the current request was sent
        self._oom_before: oomkill.Counters | None = None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self, timeout_s: float = 300.0) -> dict[str, Any]:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(target=_entry, args=(child, self.options), daemon=True,
                                        name="edgeprobe-worker")
        with _environment(_malloc_settings(self.options)):
            self._process.start()
        child.close()
        self._conn = parent
        self.hello = self.request({"op": "hello"}, timeout_s=timeout_s)
        return self.hello

    def request(self, message: dict[str, Any], timeout_s: float | None = None) -> dict[str, Any]:
        started = time.monotonic()
        try:
            reply = self._exchange(message, timeout_s)
        except WorkerCrashed:
            self._report(None, started)
            raise
        timing = reply.pop("timing_s", None)
        self._report(timing if isinstance(timing, dict) else {}, started)
        return reply

    def _report(self, timing: dict[str, float] | None, started: float) -> None:
        if self.on_reply is not None:
            self.on_reply(timing, time.monotonic() - started)

    def _exchange(self, message: dict[str, Any], timeout_s: float | None) -> dict[str, Any]:
        if self._conn is None or self._process is None:
            raise WorkerCrashed("worker not started")
        self._log_offset = self._log_size()
        self._oom_before = oomkill.read_counters()
        try:
            self._conn.send(message)
            if not self._conn.poll(timeout_s):
                self.kill()
                raise WorkerCrashed(f"no answer within {timeout_s:.0f} s", timed_out=True)
            return self._conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            self._process.join(timeout=5)
            code, pid = self._process.exitcode, self._process.pid
            self._cleanup()
            oom = oomkill.killed_by_oom(pid, self._oom_before) if code == -9 else None
            raise WorkerCrashed(f"worker exited ({_describe_exit(code)})",
                                oom_killed=oom) from None

    def stop(self) -> None:
        if self.alive and self._conn is not None:
            try:
                self._conn.send({"op": "stop"})
                self._conn.poll(10)
            except (OSError, EOFError):
                pass
        if self._process is not None:
            self._process.join(timeout=10)
        self.kill()

    def kill(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=10)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        if self._process is not None and not self._process.is_alive():
            self._process = None

    def log_tail(self, lines: int = 5) -> str:
        if not self.options.log_path or not os.path.exists(self.options.log_path):
            return ""
        text = Path(self.options.log_path).read_text(errors="replace").strip().splitlines()
        return "\n".join(text[-lines:])

    def _log_size(self) -> int:
        try:
            return os.path.getsize(self.options.log_path) if self.options.log_path else 0
        except OSError:
            return 0

    def request_log(self) -> str:
        """What the worker wrote to its log during the last request (its last 256 KiB)."""
        if not self.options.log_path:
            return ""
        start = max(self._log_offset, self._log_size() - LOG_TAIL_MAX_BYTES)
        try:
            with open(self.options.log_path, "rb") as handle:
                handle.seek(start)
                return handle.read(LOG_TAIL_MAX_BYTES).decode(errors="replace")
        except OSError:
            return ""


def _malloc_settings(options: WorkerOptions) -> dict[str, str]:
    """A CPU memory budget caps the worker's address space (``RLIMIT_AS``). glibc reserves
    address space it does not use: 64 MiB per extra malloc arena, and freed blocks below a
    threshold that grows at run time stay mapped. One arena and a fixed mmap threshold make
    the address space follow the memory really in use, so the budget bites where memory runs
    out, not where a reservation happens to land."""
    if not options.memory_budget_bytes or options.device.startswith("cuda"):
        return {}
    return {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": str(1 << 20)}


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in the environment while a child process starts (it copies the environment)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        import signal

        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
