"""Record checksums: a CRC-32 chain through every record of a bundle.

Each record is a msgpack map whose last entry is ``"crc32": <uint32>``, always encoded in
the same 11 bytes (``a5 'crc32' ce XX XX XX XX``). The value is the CRC-32 (zlib's) of the
record's bytes before that entry, started from the previous record's value (0 for the
header): a changed, missing, repeated or reordered record breaks the chain where it happens,
and the footer's value covers the whole file. docs/bundle-format.md specifies it.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from typing import Any

import msgpack

CHECK_KEY = "crc32"
# Header key naming the scheme, so a reader knows every record must carry a check.
INTEGRITY_KEY = "integrity"
INTEGRITY_SCHEME = "crc32-chain-1"
# fixstr "crc32" then the uint32 marker: the check entry's bytes up to its value.
_TRAILER_PREFIX = b"\xa5crc32\xce"
TRAILER_BYTES = len(_TRAILER_PREFIX) + 4
_UINT32 = struct.Struct(">I")


def seal(packer: msgpack.Packer, record: Mapping[str, Any], previous: int) -> tuple[bytes, int]:
    """The record's bytes with its check entry last, and the check value (the next
    record's ``previous``)."""
    if CHECK_KEY in record:
        raise ValueError(f"a record may not carry its own {CHECK_KEY!r} key")
    body = bytearray(packer.pack_map_header(len(record) + 1))
    for key, value in record.items():
        body += packer.pack(key)
        body += packer.pack(value)
    check = zlib.crc32(body, previous)
    return bytes(body) + _TRAILER_PREFIX + _UINT32.pack(check), check


def has_check(raw: bytes) -> bool:
    """Whether a record's bytes end with a check entry."""
    return len(raw) > TRAILER_BYTES and raw[-TRAILER_BYTES:-4] == _TRAILER_PREFIX


def verify(raw: bytes, previous: int) -> int | None:
    """The record's check value when it matches its bytes and ``previous``, else None."""
    if not has_check(raw):
        return None
    (stored,) = _UINT32.unpack(raw[-4:])
    return stored if zlib.crc32(raw[:-TRAILER_BYTES], previous) == stored else None
