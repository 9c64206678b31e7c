"""The agent's job queue: suite runs as child processes, one at a time, that outlive clients.

A job is ``edgeprobe run --local --event-stream ARGS`` started in its own session, so neither
a dropped SSH connection nor a client's Ctrl-C reaches it; its JSON-lines event stream is
relayed to subscribers. Cancelling sends SIGTERM: the run closes its bundle and restores
power settings as it does for any SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Broadcast = Callable[[str, dict[str, Any]], Awaitable[None]]
FINISHED = ("completed", "failed", "cancelled", "interrupted")


@dataclass
class Job:
    id: int
    argv: list[str]
    state: str = "queued"  # queued | running | completed | failed | cancelled | interrupted
    bundle: str | None = None
    submitted_unix_s: float = field(default_factory=time.time)
    started_unix_s: float | None = None
    ended_unix_s: float | None = None
    returncode: int | None = None
    error: str | None = None
    points_done: int = 0
    points_total: int = 0
    current: str | None = None
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)
    cancel_requested: bool = False

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "argv": self.argv, "state": self.state, "bundle": self.bundle,
                "submitted_unix_s": self.submitted_unix_s, "started_unix_s": self.started_unix_s,
                "ended_unix_s": self.ended_unix_s, "returncode": self.returncode,
                "error": self.error, "points_done": self.points_done,
                "points_total": self.points_total, "current": self.current}


class JobQueue:
    def __init__(self, broadcast: Broadcast, python: str = sys.executable,
                 env: dict[str, str] | None = None) -> None:
        self.broadcast = broadcast
        self.python = python
        self.env = env
        self.jobs: dict[int, Job] = {}
        self._next_id = 1
        self._pending: asyncio.Queue[Job] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        for job in self.jobs.values():
            if job.state == "running":
                await self.cancel(job.id)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    def submit(self, argv: list[str]) -> Job:
        job = Job(self._next_id, list(argv))
        self._next_id += 1
        self.jobs[job.id] = job
        self._pending.put_nowait(job)
        return job

    async def cancel(self, job_id: int) -> bool:
        job = self.jobs.get(job_id)
        if job is None or job.state in FINISHED:
            return False
        job.cancel_requested = True
        if job.state == "queued":
            job.state = "cancelled"
            job.ended_unix_s = time.time()
            await self.broadcast("run", {"job": job.id, "kind": "job_finished", **job.summary()})
            return True
        if job.process is not None and job.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.process.pid, signal.SIGTERM)
        return True

    def running(self) -> Job | None:
        return next((j for j in self.jobs.values() if j.state == "running"), None)

    async def _work(self) -> None:
        while True:
            job = await self._pending.get()
            if job.state != "queued":
                continue
            await self._run(job)

    async def _run(self, job: Job) -> None:
        job.state, job.started_unix_s = "running", time.time()
        await self.broadcast("run", {"job": job.id, "kind": "job_started", **job.summary()})
        try:
            job.process = await asyncio.create_subprocess_exec(
                self.python, "-m", "edgeprobe", "run", "--local", "--event-stream", *job.argv,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True, env=self.env)
        except OSError as exc:
            job.state, job.error = "failed", f"could not start: {exc}"
            job.ended_unix_s = time.time()
            await self.broadcast("run", {"job": job.id, "kind": "job_finished", **job.summary()})
            return
        stderr_task = asyncio.create_task(job.process.stderr.read())  # type: ignore[union-attr]
        assert job.process.stdout is not None
        async for raw in job.process.stdout:
            event = _parse_event(raw)
            if event is None:
                continue
            self._track(job, event)
            job.recent.append(event)
            await self.broadcast("run", {"job": job.id, **event})
        job.returncode = await job.process.wait()
        stderr = (await stderr_task).decode(errors="replace").strip()
        job.ended_unix_s = time.time()
        if job.returncode == 0:
            job.state = "completed"
        elif job.cancel_requested:
            job.state = "cancelled"
        elif job.returncode == 130:
            job.state = "interrupted"
        else:
            job.state = "failed"
            job.error = stderr.splitlines()[-1] if stderr else f"exit code {job.returncode}"
        job.process = None
        await self.broadcast("run", {"job": job.id, "kind": "job_finished", **job.summary()})

    @staticmethod
    def _track(job: Job, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        if kind == "started":
            job.points_total = int(event.get("total", 0))
            job.bundle = event.get("path")
        elif kind == "point":
            record = event.get("record") or {}
            if not record.get("search"):
                job.points_done += 1
        elif kind == "point_started":
            job.current = (f"{event.get('model')} {event.get('length')} tokens "
                           f"{event.get('variant')}")


def _parse_event(raw: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(raw)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "kind" in event else None
