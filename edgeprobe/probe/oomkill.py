"""Did the kernel's OOM killer end a worker? (The usual end on a Jetson, whose CPU and GPU
share one pool of memory: the process gets SIGKILL and no Python error at all.)

Evidence, read through the sensor root so tests can use a recorded tree: the ``oom_kill``
counters of the worker's memory cgroup (``memory.events`` in cgroup v2,
``memory.oom_control`` in v1) and of the whole system (``/proc/vmstat``), read before a
request and again after the worker died; and, where readable, the kernel's message naming
the killed process (``/dev/kmsg``). No torch here.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass

from edgeprobe import sysroot

_KILLED = re.compile(r"(?:Killed process|oom-kill:.*?\bpid=)\s*(\d+)")
_KMSG_MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class Counters:
    """``oom_kill`` counts by source (``cgroup memory.events``, ``vmstat``, ...)."""

    values: dict[str, int]

    def grown(self, later: Counters) -> str | None:
        """The first source whose count went up between ``self`` and ``later``."""
        for source, before in self.values.items():
            after = later.values.get(source)
            if after is not None and after > before:
                return f"{source} oom_kill {before} -> {after}"
        return None


def _cgroup_paths() -> list[tuple[str, str]]:
    """(source label, file) for this process's memory cgroup and its parents."""
    text = sysroot.read_text("/proc/self/cgroup") or ""
    found: list[tuple[str, str]] = []
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, where = parts
        if controllers == "":  # cgroup v2
            base, name = "/sys/fs/cgroup", "memory.events"
        elif "memory" in controllers.split(","):
            base, name = "/sys/fs/cgroup/memory", "memory.oom_control"
        else:
            continue
        folder = where.rstrip("/")
        while True:
            found.append((f"cgroup {name}", f"{base}{folder}/{name}"))
            if not folder:
                break
            folder = folder.rsplit("/", 1)[0]
    return found


def _field(text: str | None, name: str) -> int | None:
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        if key == name and value.strip().isdigit():
            return int(value)
    return None


def read_counters() -> Counters:
    values: dict[str, int] = {}
    for source, path in _cgroup_paths():
        count = _field(sysroot.read_text(path), "oom_kill")
        if count is not None:  # the nearest cgroup that has the file
            values[source] = count
            break
    system = _field(sysroot.read_text("/proc/vmstat"), "oom_kill")
    if system is not None:
        values["vmstat"] = system
    return Counters(values)


def _kernel_log() -> str:
    """The kernel's recent messages: ``/dev/kmsg`` read without blocking (a recorded tree
    holds a plain file); empty where it cannot be read (it usually needs privileges)."""
    path = sysroot.path("/dev/kmsg")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return ""
    chunks: list[bytes] = []
    try:
        device = stat.S_ISCHR(os.fstat(fd).st_mode)
        size = 0
        while size < _KMSG_MAX_BYTES:
            try:
                chunk = os.read(fd, 8192)
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # a record overwritten while reading: go on
                    continue
                break  # EAGAIN: no more messages
            if not chunk:
                break
            chunks.append(chunk if not device else chunk.rstrip(b"\n") + b"\n")
            size += len(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def killed_by_oom(pid: int | None, before: Counters | None) -> str | None:
    """Why the OOM killer is the likely end of process ``pid``, or None: the kernel's message
    naming it, else an ``oom_kill`` counter that went up since ``before``."""
    if pid is not None:
        for line in _kernel_log().splitlines():
            match = _KILLED.search(line)
            if match and int(match.group(1)) == pid:
                return "kernel: " + line.split(";", 1)[-1].strip()[:200]
    if before is None:
        return None
    grown = before.grown(read_counters())
    return f"{grown} while it ran" if grown else None
