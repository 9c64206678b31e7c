"""A job's folder on disk, so that a job outlives the agent that started it.

``<data dir>/jobs/<id>/`` holds:

- ``job.json``: the job's record (argv, state, pid and the process's start time, times,
  progress, final state), replaced atomically on every change;
- ``events.jsonl``: the run's event stream (``edgeprobe run --event-stream`` writes it as its
  standard output: one JSON object a line; lines that are not events are skipped);
- ``job.log``: the run's standard error.

An agent that starts reads these folders back: a job whose process still runs is followed
again, one that ended while no agent watched gets its state from its last events.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from edgeprobe.errors import EdgeprobeError

JOB_FILE = "job.json"
EVENTS_FILE = "events.jsonl"
LOG_FILE = "job.log"
LOCK_FILE = ".agent.lock"
# Finished jobs kept on disk (and listed) across restarts; older folders are removed.
KEEP_FINISHED_JOBS = 100
# An event line longer than this is skipped (events are a few kB; a kernel table tens of kB).
MAX_EVENT_LINE_BYTES = 1 << 20


@dataclass
class JobRecord:
    """What ``job.json`` holds."""

    id: int
    argv: list[str]
    # queued | starting | running | completed | failed | cancelled | interrupted | lost
    state: str = "queued"
    submitted_unix_s: float = 0.0
    started_unix_s: float | None = None
    ended_unix_s: float | None = None
    pid: int | None = None
    # A pid alone may name another process later: the process's start (clock ticks after
    # boot, from /proc/<pid>/stat: a wall-clock step does not move it) and the boot it ran in.
    process_start_ticks: int | None = None
    boot_id: str | None = None
    returncode: int | None = None
    error: str | None = None
    bundle: str | None = None
    points_done: int = 0
    points_total: int = 0
    cancel_requested: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRecord:
        known = {f.name for f in fields(cls)}
        record = cls(**{key: value for key, value in data.items() if key in known})
        if not isinstance(record.id, int) or not isinstance(record.argv, list):
            raise ValueError("id and argv missing")
        return record


@dataclass
class JobFolder:
    path: Path

    @property
    def job_file(self) -> Path:
        return self.path / JOB_FILE

    @property
    def events(self) -> Path:
        return self.path / EVENTS_FILE

    @property
    def log(self) -> Path:
        return self.path / LOG_FILE

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)

    def save(self, record: JobRecord) -> None:
        """Replace ``job.json`` atomically: a reader (or a crash) sees the old or the new."""
        temporary = self.path / f".{JOB_FILE}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(asdict(record), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.job_file)

    def load(self) -> JobRecord | None:
        """The record, or None when there is none or it cannot be read."""
        try:
            data = json.loads(self.job_file.read_text(encoding="utf-8"))
            return JobRecord.from_dict(data)
        except (OSError, ValueError, TypeError):
            return None

    def open_outputs(self) -> tuple[int, int]:
        """File descriptors for the run's standard output (events) and error (log)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        events = os.open(self.events, flags, 0o640)
        try:
            log = os.open(self.log, flags, 0o640)
        except OSError:
            os.close(events)
            raise
        return events, log

    def last_log_line(self, max_bytes: int = 4096) -> str | None:
        try:
            with open(self.log, "rb") as handle:
                handle.seek(max(0, handle.seek(0, os.SEEK_END) - max_bytes))
                lines = handle.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return None
        return lines[-1].strip() if lines else None


@dataclass
class FolderLock:
    """The jobs folder belongs to one agent at a time: two would both run its queue."""

    fd: int

    @classmethod
    def take(cls, root: Path) -> FolderLock:
        try:
            root.mkdir(parents=True, exist_ok=True)
            fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except OSError as exc:
            raise EdgeprobeError(f"cannot use {root} for the agent's jobs "
                                 f"({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise EdgeprobeError(f"another agent is using {root} for its jobs") from None
        return cls(fd)

    def release(self) -> None:
        os.close(self.fd)  # closing the descriptor drops the lock


def job_folders(root: Path) -> list[tuple[int, JobFolder]]:
    """Every ``<root>/<id>`` folder, oldest job first."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    found = [(int(entry.name), JobFolder(entry)) for entry in entries
             if entry.name.isdigit() and entry.is_dir() and not entry.is_symlink()]
    return sorted(found, key=lambda pair: pair[0])


def prune(root: Path, keep_ids: Iterable[int], finished_to_keep: int = KEEP_FINISHED_JOBS
          ) -> list[int]:
    """Remove the folders of the oldest finished jobs past ``finished_to_keep``; folders in
    ``keep_ids`` (queued and running jobs) always stay. Returns the ids removed."""
    protected = set(keep_ids)
    finished = [(job_id, folder) for job_id, folder in job_folders(root)
                if job_id not in protected]
    doomed = finished[:max(0, len(finished) - finished_to_keep)]
    for _, folder in doomed:
        shutil.rmtree(folder.path, ignore_errors=True)
    return [job_id for job_id, _ in doomed]


# -- the job's process ---------------------------------------------------------------------

@dataclass(frozen=True)
class ProcessIdentity:
    """A process named by its pid, its start time after boot and the boot, so that a later
    process given the same pid is not taken for it. Read from this machine's own /proc (not
    a sensor: never under EDGEPROBE_SYSFS_ROOT)."""

    pid: int
    start_ticks: int
    boot_id: str

    @classmethod
    def of(cls, pid: int) -> ProcessIdentity | None:
        stat = _proc_stat(pid)
        boot = current_boot_id()
        return cls(pid, stat[1], boot) if stat is not None and boot is not None else None

    def alive(self) -> bool:
        """Running, and the same process (a zombie has ended)."""
        stat = _proc_stat(self.pid)
        return (stat is not None and stat[0] != "Z" and stat[1] == self.start_ticks
                and current_boot_id() == self.boot_id)


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks after boot) from /proc/<pid>/stat, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses; fields after it
    # start at field 3 (state), and field 22 is the start time.
    fields_after = text[text.rfind(")") + 2:].split()
    try:
        return fields_after[0], int(fields_after[19])
    except (IndexError, ValueError):
        return None


def current_boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


# -- the event file --------------------------------------------------------------------------

def parse_event(raw: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(raw)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "kind" in event else None


@dataclass
class EventTail:
    """Reads the events appended to a file since the last read; a line still being written
    (no newline yet) waits for the next read."""

    path: Path
    offset: int = 0
    _partial: bytearray = field(default_factory=bytearray, repr=False)
    _skipping: bool = False  # inside a line longer than MAX_EVENT_LINE_BYTES

    def read(self, max_bytes: int = 4 << 20) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read(max_bytes)
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        events = []
        for line in self._lines(chunk):
            event = parse_event(line)
            if event is not None:
                events.append(event)
        return events

    def _lines(self, chunk: bytes) -> list[bytes]:
        lines = []
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            if not self._skipping:
                lines.append(bytes(self._partial) + chunk[start:end])
            self._partial.clear()
            self._skipping = False
            start = end + 1
        if not self._skipping:
            self._partial += chunk[start:]
            if len(self._partial) > MAX_EVENT_LINE_BYTES:
                self._partial.clear()
                self._skipping = True
        return lines


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every complete event in the file (bounded by what a job writes: a few per point)."""
    tail = EventTail(path)
    events: list[dict[str, Any]] = []
    while True:
        before = tail.offset
        events += tail.read()
        if tail.offset == before:
            return events


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
