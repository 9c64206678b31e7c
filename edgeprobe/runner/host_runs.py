"""Other edgeprobe runs measuring on this host at the same time.

Eager decode is launch-bound, so the host sets its pace: on a two-GPU host, two sweeps that
decoded at once slowed each other's steps by 15-60 % with the CPUs mostly idle. Each run
announces itself in a folder shared by the host's runs; every point records how many others
were live when it started (``concurrent_runs``), and the bundle gets an event when one
appears or goes, naming its process, device and bundle.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

RUNS_DIR_ENV = "EDGEPROBE_RUNS_DIR"


def runs_dir() -> Path:
    """The folder every run on this host announces itself in (shared by all users)."""
    return Path(os.environ.get(RUNS_DIR_ENV) or Path(tempfile.gettempdir()) / "edgeprobe-runs")


@dataclass(frozen=True)
class LiveRun:
    """A run measuring on this host, as its entry in the folder of runs names it."""

    pid: int
    device: str
    bundle: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.device} ({self.bundle})"

    def fields(self) -> dict[str, Any]:
        return {"pid": self.pid, "device": self.device, "bundle": self.bundle}


def device_words(device: dict[str, Any]) -> str:
    """The device of a run as the other runs name it: "NVIDIA H200 (cuda:1)", "cpu"."""
    if device.get("kind") == "cuda":
        return f"{device.get('name', 'GPU')} (cuda:{device.get('index', 0)})"
    return str(device.get("kind") or "cpu")


def _process_started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


class HostRuns:
    """This run's entry in the host's folder of runs, and what the others are."""

    def __init__(self, device: str, bundle: str, folder: Path | None = None) -> None:
        self.folder = folder or runs_dir()
        self.pid = os.getpid()
        self.entry = self.folder / f"{self.pid}.json"
        # As the others read it, and when this process started: a reused pid is told apart.
        self.record = {**LiveRun(self.pid, device, bundle).fields(),
                       "process_started": _process_started(self.pid)}
        self.seen: dict[int, LiveRun] = {}
        self.announced = False

    def announce(self) -> None:
        """Write this run's entry; a folder that cannot be written only costs the check."""
        try:
            if not self.folder.is_dir():
                self.folder.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(OSError):  # every user's runs share it, as /tmp
                    self.folder.chmod(0o1777)
            partial = self.folder / f".{self.pid}.json.partial"
            partial.write_text(json.dumps(self.record))
            partial.replace(self.entry)
            self.announced = True
        except OSError:
            self.announced = False

    def withdraw(self) -> None:
        if self.announced:
            with contextlib.suppress(OSError):
                self.entry.unlink()
            self.announced = False

    def others(self) -> list[LiveRun]:
        """Live runs other than this one; entries of runs that died are removed."""
        return [run for run in live_runs(self.folder) if run.pid != self.pid]

    def check(self) -> tuple[list[LiveRun], list[LiveRun], list[LiveRun]]:
        """(live others, those new since the last check, those gone since it)."""
        now = {run.pid: run for run in self.others()}
        arrived = [run for pid, run in now.items() if pid not in self.seen]
        left = [run for pid, run in self.seen.items() if pid not in now]
        self.seen = now
        return list(now.values()), arrived, left

    def watch(self, notice: Callable[..., None]) -> int:
        """``check``, telling ``notice(kind, message, level=..., **fields)`` of each run that
        came or went; returns how many others are live."""
        live, arrived, left = self.check()
        for run in arrived:
            notice("shared_host", f"another edgeprobe run is measuring on this host: "
                   f"{run.describe()}; launch-bound decode of both runs slows while they "
                   "overlap", level="warning", **run.fields())
        for run in left:
            notice("shared_host", f"the other run on this host has ended: {run.describe()}",
                   level="info", **run.fields())
        return len(live)


def live_runs(folder: Path | None = None) -> list[LiveRun]:
    """Every run measuring on this host now; entries of runs that died are removed."""
    folder = folder or runs_dir()
    found = []
    try:
        entries = sorted(folder.glob("*.json"))
    except OSError:
        return []
    for path in entries:
        record = _read(path)
        if record is None:
            continue
        pid = record["pid"]
        started = _process_started(pid)
        if started is None or (record.get("process_started") is not None
                               and abs(started - record["process_started"]) > 1.0):
            with contextlib.suppress(OSError):  # that run died (its pid may be reused)
                path.unlink()
            continue
        found.append(LiveRun(pid, str(record.get("device") or "?"),
                              str(record.get("bundle") or "?")))
    return found


def _read(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("pid"), int):
        return None
    return record
