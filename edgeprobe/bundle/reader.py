"""Bundle reader: whole files, truncated files (valid prefix + a note), and clear errors."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from edgeprobe.bundle import schema
from edgeprobe.errors import EdgeprobeError


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
    # Why reading stopped early, when it did: None for a complete, clean file.
    damage: str | None = None

    def of_type(self, record_type: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("type") == record_type]

    @property
    def points(self) -> list[dict[str, Any]]:
        return self.of_type(schema.POINT)

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


def _check_header(record: Any, path: Path) -> dict[str, Any]:
    if not isinstance(record, dict) or record.get("format") != schema.FORMAT_NAME:
        raise BundleError(f"{path}: not an edgeprobe bundle")
    version = record.get("schema_version")
    if not isinstance(version, int):
        raise BundleError(f"{path}: bundle header has no schema version")
    if version > schema.SCHEMA_VERSION:
        raise BundleError(
            f"{path}: bundle schema v{version} is newer than this edgeprobe reads "
            f"(v{schema.SCHEMA_VERSION}); upgrade edgeprobe to read it"
        )
    if version < 1:
        raise BundleError(f"{path}: bundle schema v{version} is not supported")
    return record


def read_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Read a bundle. Raises BundleError for files that are not readable bundles.

    A file cut short (a run killed mid-write) or damaged after its header is returned with
    every record before the damage, ``truncated=True`` and ``damage`` saying where and why.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise BundleError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BundleError(f"{path}: is a directory, not a bundle") from None
    except OSError as exc:
        raise BundleError(f"{path}: cannot open ({exc.strerror})") from None
    with handle:
        unpacker = msgpack.Unpacker(
            handle,
            raw=False,
            strict_map_key=False,
            max_buffer_size=schema.MAX_RECORD_BYTES,
        )
        try:
            first = next(unpacker)
        except StopIteration:
            raise BundleError(f"{path}: empty or cut short before its header") from None
        except (ValueError, msgpack.UnpackException) as exc:
            raise BundleError(f"{path}: not an edgeprobe bundle ({_short(exc)})") from None
        bundle = Bundle(path=path, header=_check_header(first, path))
        _read_records(bundle, unpacker, size)
    return bundle


def _read_records(bundle: Bundle, unpacker: msgpack.Unpacker, size: int) -> None:
    while True:
        offset = unpacker.tell()
        try:
            record = next(unpacker)
        except StopIteration:
            break
        except (ValueError, msgpack.UnpackException) as exc:
            bundle.truncated = True
            bundle.damage = f"unreadable data at byte {offset}: {_short(exc)}"
            return
        if not isinstance(record, dict) or record.get("type") not in schema.RECORD_TYPES:
            bundle.truncated = True
            bundle.damage = f"unexpected data at byte {offset}"
            return
        if record["type"] == schema.FOOTER:
            bundle.footer = record
            if unpacker.tell() < size:
                bundle.damage = f"{size - unpacker.tell()} extra bytes after the footer ignored"
            return
        bundle.records.append(record)
    bundle.truncated = True
    if unpacker.tell() < size:
        bundle.damage = f"cut short inside a record at byte {unpacker.tell()} of {size}"
    else:
        bundle.damage = "ends without a footer (the run did not finish)"


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]
