"""``edgeprobe export``: a bundle's tables as CSV files, one JSON document, or Parquet files.

CSV and JSON need nothing beyond edgeprobe's own dependencies; Parquet needs pyarrow.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

from edgeprobe.analysis import tables
from edgeprobe.analysis.frames import require
from edgeprobe.analysis.timeline import read_telemetry
from edgeprobe.bundle import schema
from edgeprobe.bundle.reader import Bundle
from edgeprobe.errors import EdgeprobeError

EXPORT_FORMATS = ("csv", "json", "parquet")


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _rows_of_columns(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(columns)
    samples = zip(*columns.values(), strict=False)
    return [dict(zip(names, values, strict=True)) for values in samples]


def _telemetry(bundle: Bundle, notes: list[str] | None) -> dict[str, list[Any]]:
    columns, why = read_telemetry(bundle.of_type(schema.TELEMETRY))
    if why is not None and notes is not None:
        notes.append(why)
    return columns


def export_document(label: str, bundle: Bundle,
                    notes: list[str] | None = None) -> dict[str, Any]:
    """Everything export writes, as one JSON-ready document. Why the telemetry stops early,
    when it does, is appended to ``notes``."""
    header = dict(bundle.header)
    found: list[str] = []
    document = _json_safe({
        "path": str(bundle.path), "complete": bundle.complete, "truncated": bundle.truncated,
        "damage": bundle.damage, "damaged": bundle.damaged, "verified": bundle.verified,
        "header": header, "footer": bundle.footer,
        **tables.all_tables(label, bundle),
        "events": bundle.events,
        "telemetry": _telemetry(bundle, found),
    })
    document["telemetry_note"] = found[0] if found else None
    if notes is not None:
        notes.extend(found)
    return document


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(_json_safe(value))
    return value


def csv_text(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    names = list(columns or [])
    for row in rows:
        names += [k for k in row if k not in names]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in names})
    return buffer.getvalue()


def _write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    pyarrow = require("pyarrow", "Parquet export")
    parquet = require("pyarrow.parquet", "Parquet export")
    flat = [{k: json.dumps(_json_safe(v)) if isinstance(v, (dict, list)) else v
             for k, v in row.items()} for row in rows]
    parquet.write_table(pyarrow.Table.from_pylist(flat), path)


def _target(out: str | None, bundle: Bundle, suffix: str) -> Path:
    """``--out`` is a folder (one that exists, or any path ending in ``/``, made when
    missing) or a path prefix; default: the bundle's name in the current folder."""
    if out is None:
        return Path(bundle.path.stem + suffix)
    path = Path(out)
    if out.endswith(("/", os.sep)) or path.is_dir():
        return path / (bundle.path.stem + suffix)
    return path if path.suffix == suffix and suffix == ".json" else Path(str(path) + suffix)


def _refuse_overwrite(paths: list[Path]) -> None:
    existing = [path for path in paths if path.exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise EdgeprobeError(f"{existing[0]} exists{more}: pass --force to overwrite, or "
                             "choose another --out", 2)


def export_bundle(bundle: Bundle, to: str, out: str | None = None,
                  notes: list[str] | None = None, force: bool = False) -> list[Path]:
    """Write the bundle's tables; returns the files written. Tables with no rows (kernels,
    telemetry when not recorded) are left out, except points. Why the telemetry stops early,
    when it does, is appended to ``notes``. Existing files are refused unless ``force``."""
    if to not in EXPORT_FORMATS:
        raise EdgeprobeError(f"unknown export format {to!r}: use csv, json or parquet", 2)
    label = bundle.path.stem
    if to == "json":
        planned: dict[Path, Any] = {_target(out, bundle, ".json"):
                                    export_document(label, bundle, notes)}
    else:
        named = tables.all_tables(label, bundle)
        named["telemetry"] = _rows_of_columns(_telemetry(bundle, notes))
        planned = {_target(out, bundle, f".{name}.{to}"): (name, rows)
                   for name, rows in named.items() if rows or name == "points"}
    if not force:
        _refuse_overwrite(list(planned))
    try:
        if out and out.endswith(("/", os.sep)):
            Path(out).mkdir(parents=True, exist_ok=True)
        for path, content in planned.items():
            if to == "json":
                path.write_text(json.dumps(content, indent=1) + "\n")
            elif to == "csv":
                name, rows = content
                path.write_text(csv_text(rows, tables.point_columns() if name == "points"
                                         else None))
            else:
                _write_parquet(content[1], path)
    except OSError as exc:
        where = f" to {exc.filename}" if exc.filename else ""
        raise EdgeprobeError(f"cannot write the export{where}: {exc.strerror or exc}") from None
    return list(planned)
