"""The agent's job queue: suite runs, one at a time, that outlive clients and the agent.

A job is ``edgeprobe run --local --event-stream ARGS`` started in its own session (so neither
a dropped SSH connection nor a client's Ctrl-C reaches it) with its output in its folder
(``jobfiles``): the event stream in ``events.jsonl``, standard error in ``job.log``. The agent
follows the event file and relays new events to subscribers; nothing ties the run to the
agent's process, so stopping, restarting or killing the agent leaves the run going, and the
next agent follows it again. Cancelling sends SIGTERM to the run's process group: the run
closes its bundle and restores power settings as it does for any SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from edgeprobe.agent.jobfiles import (
    KEEP_FINISHED_JOBS,
    EventTail,
    FolderLock,
    JobFolder,
    JobRecord,
    ProcessIdentity,
    job_folders,
    prune,
    read_events,
    remove_quietly,
)
from edgeprobe.agent.paths import bundle_dir
from edgeprobe.runner import events

Broadcast = Callable[[str, dict[str, Any]], Awaitable[None]]
FINISHED = ("completed", "failed", "cancelled", "interrupted", "lost")
ACTIVE = ("starting", "running")
# How often the event file and the process are looked at while a job runs.
POLL_S = 0.1
RECENT_EVENTS = 200
log = logging.getLogger("edgeprobe.agent")


@dataclass
class Job(JobRecord):
    """A job's record plus what the agent keeps while it follows the job."""

    folder: JobFolder | None = field(default=None, repr=False)
    current: str | None = None
    recent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT_EVENTS),
                                          repr=False)
    # This agent's child (None for a job started by an earlier agent, or one that ended).
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    finished_status: str | None = None  # from the run's `finished` event
    last_error: str | None = None  # the run's last error notice
    recent_loaded: bool = False

    @property
    def identity(self) -> ProcessIdentity | None:
        if self.pid is None or self.process_start_ticks is None or self.boot_id is None:
            return None
        return ProcessIdentity(self.pid, self.process_start_ticks, self.boot_id)

    def record(self) -> JobRecord:
        return JobRecord(**{f.name: getattr(self, f.name) for f in fields(JobRecord)})

    def save(self) -> None:
        """Write the record; a failure (a full disk) is logged, and the job goes on."""
        if self.folder is None:
            return
        try:
            self.folder.save(self.record())
        except OSError as exc:
            log.warning("job %d: cannot write %s (%s)", self.id, self.folder.job_file,
                        exc.strerror or exc)

    def describe(self) -> str:
        """``job 3 (suite smoke, bundle /data/x.epb)``: how the log names a job."""
        resumed = _option(self.argv, "--resume")
        suite = _option(self.argv, "--suite") or (f"of {resumed}" if resumed else "default")
        bundle = self.bundle or _option(self.argv, "--out") or resumed or "not named yet"
        return f"job {self.id} (suite {suite}, bundle {bundle})"

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "argv": self.argv, "state": self.state, "bundle": self.bundle,
                "submitted_unix_s": self.submitted_unix_s, "started_unix_s": self.started_unix_s,
                "ended_unix_s": self.ended_unix_s, "returncode": self.returncode,
                "error": self.error, "points_done": self.points_done,
                "points_total": self.points_total, "current": self.current}


class JobQueue:
    def __init__(self, broadcast: Broadcast, python: str = sys.executable,
                 env: dict[str, str] | None = None, root: Path | None = None,
                 keep_finished: int = KEEP_FINISHED_JOBS) -> None:
        self.broadcast = broadcast
        self.python = python
        self.env = env
        self.root = root or bundle_dir() / "jobs"
        self.keep_finished = keep_finished
        self.jobs: dict[int, Job] = {}
        self._next_id = 1
        self._pending: asyncio.Queue[Job] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._watchers: dict[int, asyncio.Task[None]] = {}
        self._lock: FolderLock | None = None

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Read the jobs of earlier agents back, follow those still running, queue the
        queued ones, then start working."""
        self._lock = FolderLock.take(self.root)
        for job_id, folder in job_folders(self.root):
            self._next_id = max(self._next_id, job_id + 1)
            self._adopt(job_id, folder)
        self._prune()
        self._worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        """Stop following: running jobs go on, and the next agent follows them again."""
        tasks = [*self._watchers.values(), *([self._worker] if self._worker else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._watchers.clear()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def submit(self, argv: list[str]) -> Job:
        """Queue a run; OSError when its folder cannot be written (the run could not be)."""
        job = Job(self._next_id, list(argv), submitted_unix_s=time.time())
        job.folder = JobFolder(self.root / str(job.id))
        job.folder.create()
        job.folder.save(job.record())
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
            job.save()
            log.info("%s cancelled before it started", job.describe())
            await self.broadcast("run", {"job": job.id, "kind": "job_finished", **job.summary()})
            return True
        job.save()
        if job.pid is not None and not self._ended(job):
            # The run leads its own process group (its own session): the probe worker it
            # started gets the signal too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job.pid, signal.SIGTERM)
        return True

    def running(self) -> Job | None:
        return next((j for j in self.jobs.values() if j.state in ACTIVE), None)

    def recent(self, job_id: int) -> list[dict[str, Any]]:
        """The job's last events (read from its event file for a job of an earlier agent)."""
        job = self.jobs.get(job_id)
        if job is None:
            return []
        if not job.recent and not job.recent_loaded and job.folder is not None:
            job.recent.extend(read_events(job.folder.events))
            job.recent_loaded = True
        return list(job.recent)

    # -- jobs of an earlier agent ---------------------------------------------------------
    def _adopt(self, job_id: int, folder: JobFolder) -> None:
        record = folder.load()
        if record is None or record.id != job_id:
            log.warning("%s: no readable job record; left alone", folder.path)
            return
        job = Job(**asdict(record), folder=folder)
        self.jobs[job_id] = job
        if job.state == "queued":
            self._pending.put_nowait(job)
        elif job.state in ACTIVE:
            tail = self._catch_up(job)
            identity = job.identity
            if job.state == "running" and identity is not None and identity.alive():
                log.info("job %d (pid %d) is still running: following it again", job_id,
                         identity.pid)
                self._watchers[job_id] = asyncio.get_running_loop().create_task(
                    self._follow(job, tail))
            else:
                self._conclude(job, watched=False)

    def _catch_up(self, job: Job) -> EventTail:
        """Progress and recent events from what the job wrote so far (not relayed again);
        the returned tail goes on from there."""
        assert job.folder is not None
        job.points_done = 0
        tail = EventTail(job.folder.events)
        while events := tail.read():
            for event in events:
                self._track(job, event)
                job.recent.append(event)
        job.recent_loaded = True
        return tail

    # -- running --------------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            job = await self._pending.get()
            if job.state != "queued":
                continue
            if self._watchers:  # one run at a time: a job of an earlier agent may run
                await asyncio.wait(list(self._watchers.values()))
            await self._run(job)

    async def _run(self, job: Job) -> None:
        assert job.folder is not None
        job.state, job.started_unix_s = "starting", time.time()
        job.save()
        try:
            job.process = self._spawn(job.folder, job.argv)
        except OSError as exc:
            job.state, job.error = "failed", f"could not start: {exc}"
            log.error("%s failed: could not start the run (%s)", job.describe(),
                      exc.strerror or exc)
            await self.broadcast("run", {"job": job.id, "kind": "job_started", **job.summary()})
            job.ended_unix_s = time.time()
            job.save()
            await self.broadcast("run", {"job": job.id, "kind": "job_finished", **job.summary()})
            return
        job.pid = job.process.pid
        identity = ProcessIdentity.of(job.pid)
        if identity is not None:
            job.process_start_ticks, job.boot_id = identity.start_ticks, identity.boot_id
        job.state = "running"
        job.save()
        log.info("%s started (pid %d)", job.describe(), job.pid)
        await self.broadcast("run", {"job": job.id, "kind": "job_started", **job.summary()})
        task = asyncio.current_task()
        assert task is not None
        self._watchers[job.id] = task
        await self._follow(job, EventTail(job.folder.events))

    def _spawn(self, folder: JobFolder, argv: list[str]) -> subprocess.Popen[bytes]:
        """The run, in its own session, writing to its folder only: nothing ties it to this
        process. Its temporary files go to its folder too, which outlives the service's
        private /tmp (removed when the service stops)."""
        temporary = folder.path / "tmp"
        temporary.mkdir(exist_ok=True)
        env = {**(self.env if self.env is not None else os.environ), "TMPDIR": str(temporary)}
        events, errors = folder.open_outputs()
        try:
            return subprocess.Popen(
                [self.python, "-m", "edgeprobe", "run", "--local", "--event-stream", *argv],
                stdin=subprocess.DEVNULL, stdout=events, stderr=errors,
                start_new_session=True, env=env)
        finally:
            os.close(events)
            os.close(errors)

    async def _follow(self, job: Job, tail: EventTail) -> None:
        """Relay the job's new events until its process has ended, then conclude it."""
        try:
            while True:
                ended = self._ended(job)  # checked first: the reads after it see every line
                while events := tail.read():
                    for event in events:
                        self._track(job, event)
                        job.recent.append(event)
                        await self.broadcast("run", {"job": job.id, **event})
                if ended:
                    break
                await asyncio.sleep(POLL_S)
            self._conclude(job, watched=True)
            await self.broadcast("run", {"job": job.id, "kind": "job_finished",
                                         **job.summary()})
            self._prune()
        finally:
            if self._watchers.get(job.id) is asyncio.current_task():
                del self._watchers[job.id]

    def _ended(self, job: Job) -> bool:
        if job.process is not None:
            job.returncode = job.process.poll()
            return job.returncode is not None
        identity = job.identity
        return identity is None or not identity.alive()

    def _conclude(self, job: Job, watched: bool) -> None:
        """The job's final state: from its exit code when this agent started it, else from
        its last events (a job that ended with no `finished` event is `lost`)."""
        assert job.folder is not None
        if job.process is not None and job.returncode is not None:
            job.state, job.error = _state_from_exit(job)
        else:
            job.state, job.error = _state_from_events(job)
        if watched or job.ended_unix_s is None:
            job.ended_unix_s = time.time() if watched else _modified(job.folder, job)
        job.process = None
        job.current = None
        job.save()
        remove_quietly(job.folder.path / "tmp")
        _log_end(job, watched)

    def _prune(self) -> None:
        keep = [j.id for j in self.jobs.values() if j.state not in FINISHED]
        for job_id in prune(self.root, keep, self.keep_finished):
            self.jobs.pop(job_id, None)

    @staticmethod
    def _track(job: Job, message: dict[str, Any]) -> None:
        event = events.from_message(message)
        if isinstance(event, events.Started):
            job.points_total = int(event.total)
            job.bundle = event.path
        elif isinstance(event, events.PointDone):
            if not event.record.get("search"):
                job.points_done += 1
        elif isinstance(event, events.PointStarted):
            job.current = f"{event.model} {event.length} tokens {event.variant}"
        elif isinstance(event, events.Finished):
            job.finished_status = str(event.status)
        elif isinstance(event, events.Notice) and event.level == "error":
            job.last_error = str(event.message)


def _log_end(job: Job, watched: bool) -> None:
    level = logging.WARNING if job.state in ("failed", "lost") else logging.INFO
    took = ""
    if job.started_unix_s is not None and job.ended_unix_s is not None:
        took = f" after {job.ended_unix_s - job.started_unix_s:.1f} s"
    unwatched = "" if watched else " while no agent watched it"
    error = f": {job.error}" if job.error else ""
    log.log(level, "%s %s%s%s%s", job.describe(), job.state, took, unwatched, error)


def _option(argv: list[str], name: str) -> str | None:
    """The value of ``name VALUE`` or ``name=VALUE`` in ``argv`` (the last one given)."""
    found = None
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith(name + "="):
            found = arg[len(name) + 1:]
    return found


def _state_from_exit(job: Job) -> tuple[str, str | None]:
    """As the run's exit code says (this agent's own child)."""
    if job.returncode == 0:
        return "completed", None
    if job.cancel_requested:
        return "cancelled", None
    if job.returncode == 130:
        return "interrupted", None
    assert job.folder is not None
    return "failed", job.folder.last_log_line() or f"exit code {job.returncode}"


def _state_from_events(job: Job) -> tuple[str, str | None]:
    """As the run's `finished` event says (a job whose exit code no agent saw)."""
    status = job.finished_status
    if status == "completed":
        return "completed", None
    if status == "interrupted":
        return ("cancelled" if job.cancel_requested else "interrupted"), None
    if status is not None:
        return "failed", job.last_error or status
    assert job.folder is not None
    last = job.folder.last_log_line()
    why = "the run ended without saying how (no finished event)"
    return "lost", f"{why}; its log ends: {last}" if last else why


def _modified(folder: JobFolder, job: Job) -> float:
    """When a job that ended unwatched last wrote anything: its best known end time."""
    times = []
    for path in (folder.events, folder.log):
        with contextlib.suppress(OSError):
            times.append(path.stat().st_mtime)
    return max(times, default=job.started_unix_s or time.time())
