"""Where a bundle's last complete record ends, so that a resumed run can append after it.

Walks the records, checking the CRC-32 chain, up to the end of the last complete record
before any footer: the chain goes on from that record's check. A record cut short at the end
of the file (a run killed mid-write) and a footer (a run that stopped in an orderly way) lie
after that point and are cut off; a record that fails its check is damage, and refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from edgeprobe.bundle import integrity, schema
from edgeprobe.errors import EdgeprobeError


class TailError(EdgeprobeError):
    """The bundle cannot be appended to (damaged, or written before checksums)."""

    exit_code = 2


@dataclass(frozen=True)
class Tail:
    end_bytes: int  # where the next record goes
    check: int  # the check value of the record that ends there
    records: int  # complete records before end_bytes, header included
    footer: dict[str, Any] | None  # the footer after them, if the run wrote one
    cut_bytes: int  # bytes after end_bytes (a footer, a record cut short)


def find_tail(path: str | os.PathLike[str]) -> Tail:
    path = Path(path)
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        unpacker = msgpack.Unpacker(handle, max_buffer_size=schema.MAX_RECORD_BYTES)
        previous, end, records = 0, 0, 0
        footer = None
        while True:
            start = unpacker.tell()
            try:
                unpacker.skip()
            except msgpack.OutOfData:
                break  # the end, or a record cut short
            except (ValueError, msgpack.UnpackException):
                raise TailError(f"record {records} at byte {start} is damaged") from None
            raw = os.pread(handle.fileno(), unpacker.tell() - start, start)
            check = integrity.verify(raw, previous)
            if check is None:
                why = "checksum mismatch" if integrity.has_check(raw) else "no checksum"
                if records == 0:
                    why = "written before checksums" if not integrity.has_check(raw) else why
                raise TailError(f"record {records} at byte {start} is damaged ({why})")
            record = msgpack.unpackb(raw, raw=False, strict_map_key=False)
            if isinstance(record, dict) and record.get("type") == schema.FOOTER:
                footer = record
                if unpacker.tell() != size:
                    raise TailError(f"{size - unpacker.tell()} bytes follow its footer")
                break
            previous, end, records = check, unpacker.tell(), records + 1
    if records == 0:
        raise TailError("it holds no complete header")
    return Tail(end, previous, records, footer, size - end)
