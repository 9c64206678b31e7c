"""Name listings: every kernel or op a bundle's profiles saw, with what launched it. No torch.

A listing is a tab-separated text file, one entry a line: ``kind``, ``name``, ``launched_by``
(ops, innermost first, joined by `` < ``; ``-`` for none) and ``scope`` (``-`` for none).
Lines starting with ``#`` are comments. Listings recorded on real devices are kept as test
fixtures so the category table is checked against names that really occur.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeprobe.profiling.table import TIME_BASIS_CUDA, UNLINKED_NAME

KIND_KERNEL = "kernel"  # a GPU kernel, memcpy or memset
KIND_OP = "op"  # a CPU op (the rows of a CPU profile)
CHAIN_SEPARATOR = " < "


@dataclass(frozen=True)
class NameEntry:
    kind: str
    name: str
    launched_by: tuple[str, ...] = ()
    scope: str | None = None

    def line(self) -> str:
        chain = CHAIN_SEPARATOR.join(self.launched_by) or "-"
        return "\t".join((self.kind, self.name, chain, self.scope or "-"))


def entries_from_records(records: Iterable[dict[str, Any]]) -> list[NameEntry]:
    """Distinct entries of every row of ``kernels`` records, sorted."""
    found: set[NameEntry] = set()
    for record in records:
        kind = KIND_KERNEL if record.get("time_basis") == TIME_BASIS_CUDA else KIND_OP
        for row in record.get("rows") or []:
            if row.get("name") == UNLINKED_NAME:
                continue
            found.add(NameEntry(kind, str(row["name"]), tuple(row.get("launched_by") or ()),
                                row.get("scope")))
    return sorted(found, key=lambda e: (e.kind, e.name, e.launched_by, e.scope or ""))


def write_names(path: Path, entries: Iterable[NameEntry], comments: Iterable[str] = ()) -> None:
    lines = [f"# {c}" for c in comments]
    lines.append("# kind\tname\tlaunched_by (innermost first)\tscope")
    lines += [entry.line() for entry in entries]
    path.write_text("\n".join(lines) + "\n")


def read_names(path: Path) -> list[NameEntry]:
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 4:
            raise ValueError(f"{path}:{number}: expected 4 tab-separated fields")
        kind, name, chain, scope = parts
        entries.append(NameEntry(kind, name,
                                 () if chain == "-" else tuple(chain.split(CHAIN_SEPARATOR)),
                                 None if scope == "-" else scope))
    return entries
