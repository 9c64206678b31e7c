"""Bundle reader: verified records, truncated files (valid prefix + a note), clear errors.

Each record's bytes are found without decoding them, its checksum checked, and only then is
it decoded, its strings made safe for a terminal and its documented keys checked. Reading
stops at the first record that fails any of these: what came before is returned, marked
``damaged`` with the record's index and byte offset; nothing from it on is used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import msgpack

from edgeprobe.bundle import integrity, schema, shapes
from edgeprobe.bundle.clean import Unreadable, clean, safe_text
from edgeprobe.errors import EdgeprobeError
from edgeprobe.files import open_regular


class BundleError(EdgeprobeError):
    """The file is not a bundle edgeprobe can read (foreign, corrupt, or too new)."""

    exit_code = 2


@dataclass
class Bundle:
    path: Path
    header: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    footer: dict[str, Any] | None = None
    truncated: bool = False
    # Why reading stopped early or what was wrong, when it did: None for a clean file.
    damage: str | None = None
    # True when the file is not as it was written (a checksum that does not match, bytes
    # that do not decode, a record of the wrong shape, bytes after the footer); False for a
    # file that was merely cut short.
    damaged: bool = False
    # Every record carried a matching checksum. False for bundles written before checksums.
    verified: bool = False
    size_bytes: int = 0

    def of_type(self, record_type: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("type") == record_type]

    @property
    def points(self) -> list[dict[str, Any]]:
        """The point records, less those a resumed run measured again (``superseded_seqs``)."""
        gone = self.superseded_seqs
        return [p for p in self.of_type(schema.POINT) if not gone or p.get("seq") not in gone]

    @property
    def all_points(self) -> list[dict[str, Any]]:
        """Every point record, superseded ones included."""
        return self.of_type(schema.POINT)

    @property
    def resumed_events(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("kind") == schema.EVENT_RESUMED]

    @property
    def superseded_seqs(self) -> set[int]:
        """Seqs of points cut off mid-way and measured again by a resumed run."""
        seqs: set[int] = set()
        for event in self.resumed_events:
            listed = (event.get("data") or {}).get("superseded_seqs")
            if isinstance(listed, list):
                seqs.update(s for s in listed if isinstance(s, int) and not isinstance(s, bool))
        return seqs

    @property
    def sessions(self) -> int:
        """Processes that wrote this bundle: 1, plus one per resume."""
        return 1 + len(self.resumed_events)

    @property
    def resumable(self) -> bool:
        """Unfinished, undamaged and checksummed: ``edgeprobe run --resume`` continues it."""
        return (not self.damaged and self.verified
                and (self.footer or {}).get("status") != "completed")

    @property
    def models(self) -> list[dict[str, Any]]:
        return self.of_type(schema.MODEL)

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.of_type(schema.EVENT)

    @property
    def max_context(self) -> list[dict[str, Any]]:
        return self.of_type(schema.MAX_CONTEXT)

    @property
    def complete(self) -> bool:
        return self.footer is not None and not self.truncated


def _check_header(record: Any, name: str) -> dict[str, Any]:
    if not isinstance(record, dict) or record.get("format") != schema.FORMAT_NAME:
        raise BundleError(f"{name}: not an edgeprobe bundle")
    version = record.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BundleError(f"{name}: bundle header has no schema version")
    if version > schema.SCHEMA_VERSION:
        raise BundleError(
            f"{name}: bundle schema v{min(version, 10**6)} is newer than this edgeprobe reads "
            f"(v{schema.SCHEMA_VERSION}); upgrade edgeprobe to read it"
        )
    if version < 1:
        raise BundleError(f"{name}: bundle schema v{max(version, -1)} is not supported")
    return record


def _decode(raw: bytes) -> Any:
    return msgpack.unpackb(raw, raw=False, strict_map_key=False, max_ext_len=0)


class _Scanner:
    """Finds each record's bytes in the file without building it (bounded memory)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.fd = handle.fileno()
        self.unpacker = msgpack.Unpacker(handle, max_buffer_size=schema.MAX_RECORD_BYTES)
        self.offset = 0

    def next_raw(self) -> bytes | None:
        """The next record's bytes; None at the end of the file. Raises OutOfData for a
        record that runs past the end, ValueError for bytes that are not msgpack."""
        self.offset = self.unpacker.tell()
        try:
            self.unpacker.skip()
        except msgpack.OutOfData:
            if self.file_size() > self.offset:
                raise
            return None
        end = self.unpacker.tell()
        return os.pread(self.fd, end - self.offset, self.offset)

    def file_size(self) -> int:
        return os.fstat(self.fd).st_size


def read_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Read a bundle. Raises BundleError for files that are not readable bundles.

    A file cut short (a run killed mid-write) or damaged after its header is returned with
    every record before the damage, ``truncated=True`` and ``damage`` saying where and why.
    """
    path = Path(path)
    with open_regular(path, "a bundle", BundleError) as handle:
        scanner = _Scanner(handle)
        bundle, check = _read_header(path, scanner)
        _Records(bundle, scanner, check).read()
        bundle.size_bytes = scanner.file_size()
    return bundle


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A bundle's header alone (device, suite, settings), checked as ``read_bundle`` checks
    it, without reading the records after it."""
    path = Path(path)
    with open_regular(path, "a bundle", BundleError) as handle:
        return _read_header(path, _Scanner(handle))[0].header


def _read_header(path: Path, scanner: _Scanner) -> tuple[Bundle, int]:
    """The bundle with its header, and the header's check value (0 when unverified)."""
    name = safe_text(str(path))
    try:
        raw = scanner.next_raw()
        if raw is None:
            raise BundleError(f"{name}: empty, not an edgeprobe bundle")
        first = _decode(raw)
    except msgpack.OutOfData:
        raise BundleError(f"{name}: cut short before the end of its header") from None
    except (ValueError, TypeError, msgpack.UnpackException):
        raise BundleError(f"{name}: not an edgeprobe bundle") from None
    header = _check_header(first, name)
    verified = integrity.has_check(raw)
    check = integrity.verify(raw, 0) if verified else 0
    if check is None:
        raise BundleError(f"{name}: the bundle's header is damaged (checksum mismatch)")
    if not verified and integrity.INTEGRITY_KEY in header:
        raise BundleError(f"{name}: the bundle's header is damaged (its checksum is missing)")
    header.pop(integrity.CHECK_KEY, None)
    try:
        header = clean(header)
    except Unreadable as exc:
        raise BundleError(f"{name}: the bundle's header is damaged ({exc})") from None
    why = shapes.problem({**header, "type": schema.HEADER})
    if why is not None:
        raise BundleError(f"{name}: the bundle's header is damaged ({why})")
    return Bundle(path=path, header=header, verified=verified), check


class _Records:
    """Reads the records after the header, stopping at the first damaged one."""

    def __init__(self, bundle: Bundle, scanner: _Scanner, header_check: int) -> None:
        self.bundle = bundle
        self.scanner = scanner
        self.index = 1  # the header is record 0
        self.previous = header_check

    def damaged(self, why: str) -> None:
        self.bundle.truncated = True
        self.bundle.damaged = True
        self.bundle.damage = (f"record {self.index} at byte {self.scanner.offset} is damaged "
                              f"({why}); nothing from it on is used")

    def read(self) -> None:
        while True:
            try:
                raw = self.scanner.next_raw()
            except msgpack.OutOfData:
                self._ran_past_end()
                return
            except (ValueError, msgpack.UnpackException) as exc:
                self.damaged(f"not msgpack: {_short(exc)}")
                return
            if raw is None:
                self.bundle.truncated = True
                self.bundle.damage = "ends without a footer (the run did not finish)"
                return
            record = self._record(raw)
            if record is None:
                return
            if record["type"] == schema.FOOTER:
                self._footer(record)
                return
            self.bundle.records.append(record)
            self.index += 1

    def _record(self, raw: bytes) -> dict[str, Any] | None:
        """The decoded, checked record; None (and the damage noted) when it is damaged."""
        if self.bundle.verified:
            check = integrity.verify(raw, self.previous)
            if check is None:
                self.damaged("checksum mismatch" if integrity.has_check(raw)
                             else "no checksum")
                return None
            self.previous = check
        elif integrity.has_check(raw):
            self.damaged("it has a checksum but the header has none: the header was altered")
            return None
        try:
            record = _decode(raw)
            if not isinstance(record, dict):
                self.damaged("not a map")
                return None
            record.pop(integrity.CHECK_KEY, None)
            record = clean(record)
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            self.damaged(str(exc) if isinstance(exc, Unreadable) else "does not decode")
            return None
        why = shapes.problem(record)
        if why is None and record["type"] == schema.HEADER:
            why = "a second header"
        if why is not None:
            self.damaged(why)
            return None
        return record

    def _footer(self, record: dict[str, Any]) -> None:
        bundle = self.bundle
        counted = record.get("records")
        if isinstance(counted, int) and counted != self.index + 1:
            self.damaged(f"the footer counts {counted} records, the file holds {self.index + 1}")
            return
        bundle.footer = record
        extra = self.scanner.file_size() - self.scanner.unpacker.tell()
        if extra > 0:
            bundle.damaged = True
            bundle.damage = f"{extra} bytes after the footer, not written by edgeprobe, ignored"

    def _ran_past_end(self) -> None:
        """A record that runs past the end: a run cut short, or (in a file that ends on a
        record's checksum) a damaged length."""
        size = self.scanner.file_size()
        if self.bundle.verified and self._ends_on_a_check(size):
            self.damaged("its length runs past the end of the file")
            return
        self.bundle.truncated = True
        self.bundle.damage = f"cut short inside a record at byte {self.scanner.offset} of {size}"

    def _ends_on_a_check(self, size: int) -> bool:
        if size < integrity.TRAILER_BYTES:
            return False
        tail = os.pread(self.scanner.fd, integrity.TRAILER_BYTES + 1,
                        size - integrity.TRAILER_BYTES - 1)
        return integrity.has_check(tail)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else "unreadable"
    return safe_text(text[:120])
