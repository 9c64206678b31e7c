"""Streaming bundle writer: each record is appended, flushed and fsynced as it happens.

A crash or ``kill -9`` therefore loses no completed record; at worst the last record is cut
short, and the reader recovers everything before it. A write that fails (a full disk, a
file-size limit) is undone back to the last complete record, so the file stays readable,
and is reported as one ``BundleWriteError``; the writer then writes nothing more.

``BundleWriter.reopen`` continues a bundle a run left unfinished: it cuts off a record cut
short and the footer, and goes on with the CRC-32 chain from the last complete record. A
writer holds an exclusive lock on its file, so two runs never write one bundle.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import msgpack

from edgeprobe import __version__
from edgeprobe.bundle import integrity, schema
from edgeprobe.bundle.tail import Tail, find_tail
from edgeprobe.errors import EdgeprobeError


class BundleWriteError(EdgeprobeError):
    """The bundle could not be written (disk full, file too large, I/O error)."""


def _sync_folder(folder: Path) -> None:
    """Make the new file's name durable: fsync the folder that holds it."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse fsync on folders
            os.fsync(fd)
    finally:
        os.close(fd)


class BundleBusy(BundleWriteError):
    """Another process is writing the bundle."""

    exit_code = 2


def _lock(fd: int, path: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise BundleBusy(f"{path} is being written by another edgeprobe run") from None
    except OSError:
        pass  # a file system without locks: nothing to hold


class BundleWriter:
    def __init__(self, path: str | os.PathLike[str], header: dict[str, Any],
                 on_write: Callable[[float], None] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: never clobber an existing bundle.
        self._start(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                            | getattr(os, "O_CLOEXEC", 0), 0o644), on_write)
        full_header = {
            "type": schema.HEADER,
            "format": schema.FORMAT_NAME,
            "schema_version": schema.SCHEMA_VERSION,
            "edgeprobe_version": __version__,
            "created_unix_s": time.time(),
            integrity.INTEGRITY_KEY: integrity.INTEGRITY_SCHEME,
            **header,
        }
        try:
            self._write(full_header)
        except BaseException:
            # Nothing readable was written: leave no file behind.
            os.close(self._fd)
            self.closed = True
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise
        _sync_folder(self.path.parent)

    def _start(self, fd: int, on_write: Callable[[float], None] | None) -> None:
        _lock(fd, self.path)
        self._fd = fd
        self._packer = msgpack.Packer(use_bin_type=True, datetime=False)
        self._check = 0  # the previous record's checksum (the chain's start: 0)
        self._size = 0  # bytes of complete records
        self.records_written = 0
        self.closed = False
        self.failed: str | None = None  # why writing stopped, after a failed write
        self.on_write = on_write  # told how long each record took to write

    @classmethod
    def reopen(cls, path: str | os.PathLike[str],
               on_write: Callable[[float], None] | None = None) -> tuple[BundleWriter, Tail]:
        """A writer that appends to an unfinished bundle, and what it found at its end. The
        footer and any record cut short are cut off; the CRC-32 chain goes on from the last
        complete record. Raises ``TailError`` for a damaged bundle, ``BundleBusy`` when
        another run holds it."""
        writer = cls.__new__(cls)
        writer.path = Path(path)
        writer._start(os.open(writer.path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0)),
                      on_write)
        try:
            tail = find_tail(writer.path)  # read under the lock: nobody else is appending
            os.ftruncate(writer._fd, tail.end_bytes)
            os.fsync(writer._fd)
            os.lseek(writer._fd, tail.end_bytes, os.SEEK_SET)
        except BaseException:
            writer.abandon()
            raise
        writer._check, writer._size, writer.records_written = (tail.check, tail.end_bytes,
                                                               tail.records)
        return writer, tail

    def _write(self, record: dict[str, Any]) -> None:
        if self.failed is not None:
            return  # already reported; the file keeps its complete records
        started = time.monotonic()
        data, check = integrity.seal(self._packer, record, self._check)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)
        except BaseException as exc:
            # Undo a partial record (a full disk, or a signal mid-write): the file must end on
            # a complete record.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
                # The next record goes where this one started, not after a hole of zeros.
                os.lseek(self._fd, self._size, os.SEEK_SET)
            if not isinstance(exc, OSError):
                raise
            self.failed = exc.strerror or "write error"
            raise BundleWriteError(
                f"cannot write {self.path} ({self.failed}): it keeps its "
                f"{self.records_written} complete records") from None
        self._check = check
        self._size += len(data)
        self.records_written += 1
        if self.on_write is not None:
            self.on_write(time.monotonic() - started)

    def append(self, record_type: str, record: dict[str, Any]) -> None:
        if record_type not in schema.RECORD_TYPES or record_type in (schema.HEADER, schema.FOOTER):
            raise ValueError(f"not an appendable record type: {record_type}")
        if self.closed:
            raise ValueError("bundle already closed")
        self._write({"type": record_type, **record})

    def event(self, kind: str, message: str, **data: Any) -> None:
        self.append(schema.EVENT, {"time_unix_s": time.time(), "kind": kind, "message": message,
                                   "data": data})

    def close(self, status: str = "completed", **summary: Any) -> None:
        if self.closed:
            return
        try:
            self._write({"type": schema.FOOTER, "status": status, "ended_unix_s": time.time(),
                         "records": self.records_written + 1, **summary})
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Close the file without a footer (the reader then reports it as truncated)."""
        if not self.closed:
            os.close(self._fd)
            self.closed = True

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close(status="interrupted")
        else:
            self.close(status="failed", error=f"{exc_type.__name__}: {exc}")
