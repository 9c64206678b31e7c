"""Streaming bundle writer: each record is appended, flushed and fsynced as it happens.

A crash or ``kill -9`` therefore loses no completed record; at worst the last record is cut
short, and the reader recovers everything before it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import msgpack

from edgeprobe import __version__
from edgeprobe.bundle import schema


class BundleWriter:
    def __init__(self, path: str | os.PathLike[str], header: dict[str, Any]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # "x": never clobber an existing bundle.
        self._file = open(self.path, "xb")  # noqa: SIM115 - closed in close()
        self._packer = msgpack.Packer(use_bin_type=True, datetime=False)
        self.records_written = 0
        self.closed = False
        full_header = {
            "type": schema.HEADER,
            "format": schema.FORMAT_NAME,
            "schema_version": schema.SCHEMA_VERSION,
            "edgeprobe_version": __version__,
            "created_unix_s": time.time(),
            **header,
        }
        self._write(full_header)

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(self._packer.pack(record))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.records_written += 1

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
        self._write({"type": schema.FOOTER, "status": status, "ended_unix_s": time.time(),
                     "records": self.records_written + 1, **summary})
        self._file.close()
        self.closed = True

    def abandon(self) -> None:
        """Close the file without a footer (the reader then reports it as truncated)."""
        if not self.closed:
            self._file.close()
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
