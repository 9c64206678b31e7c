"""Mutated bundles and the checks every one of them must pass (the fuzz test and
benchmarks/bundle_fuzz.py share them).

A mutation is damage (bytes flipped, cut, inserted or removed, a length made huge) or a
hostile file with valid checksums (a value of the wrong type, control characters, deep
nesting, a telemetry column that inflates without end). For each, the commands that read
bundles (show, show --json, compare, export) must answer without a traceback, with exactly
one ``edgeprobe: ...`` line on stderr when they refuse, and no control character from the
file may reach their output. For damage, the records a reader returns must be exactly the
records written, in order, up to where it stopped: never a changed value.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from edgeprobe import cli
from edgeprobe.bundle import BundleError, BundleWriter, integrity, read_bundle, schema
from edgeprobe.telemetry.timeline import encode_chunk
from tests.bundle_factory import header, point

COMMANDS: tuple[tuple[str, ...], ...] = (
    ("show",), ("show", "--json"), ("show", "--kernels"), ("compare", "--format", "json"),
    ("compare",), ("export", "--to", "json", "--out", "-"), ("export", "--to", "csv"),
)
_CONTROL = {chr(c) for c in range(0x20) if chr(c) not in "\n"} | {"\x7f", "\x9b"}


def write_base(path: Path) -> Path:
    """A small complete bundle with every record type: the one that gets mutated."""
    writer = BundleWriter(path, header())
    writer.event("plan", "two models, three lengths", level="info")
    writer.append(schema.MODEL, {"model": "tiny-qwen2", "family": "transformer",
                                 "implementation": "hf", "status": "ok", "params": 1000,
                                 "kernel_path": {"summary": "fused", "ssm_scan": "n/a"}})
    seq = 0
    for model, family in (("tiny-qwen2", "transformer"), ("tiny-mamba2", "ssm")):
        for length in (256, 1024, 4096):
            seq += 1
            writer.append(schema.POINT, {"seq": seq, **point(
                model, length, 0.001 * length ** 0.8, family=family, tpot_s=0.004,
                energy={"prefill": {"energy_j": 2.5, "passes": 3, "tokens": 3 * length,
                                    "energy_source": "nvml_counter"}})})
    writer.append(schema.MAX_CONTEXT, {"model": "tiny-mamba2", "variant": "lean",
                                       "max_ok_tokens": 4096, "first_fail_tokens": 8192,
                                       "fail_status": "oom",
                                       "trials": [{"length_tokens": 8192, "status": "oom"}]})
    writer.append(schema.KERNELS, {
        "model": "tiny-mamba2", "implementation": "hf", "length_tokens": 1024,
        "variant": "lean", "status": "ok", "time_basis": "cuda_kernel_time",
        "device_time_s": 0.01, "active_wall_s": 0.012, "steps": 10,
        "categories": {"SSM_Scan": {"time_s": 0.006, "share": 0.6, "calls": 20},
                       "GEMM": {"time_s": 0.004, "share": 0.4, "calls": 40}},
        "rows": [{"name": "ssd_chunk_scan", "category": "SSM_Scan", "calls": 20,
                  "total_s": 0.006, "mean_s": 0.0003, "share": 0.6,
                  "launched_by": ["aten::mm"]}]})
    times = [100.0 + 0.1 * i for i in range(20)]
    writer.append(schema.TELEMETRY, encode_chunk(
        chunk=1, times=times, columns={"gpu_power_w": [50.0 + i for i in range(20)],
                                       "gpu_clock_event_mask": [4.0] * 20},
        dtypes={"gpu_power_w": "f4", "gpu_clock_event_mask": "u4"},
        start_unix_s=1.7e9, rate_hz=10.0))
    writer.close(points=seq, by_status={"ok": seq})
    return path


def record_spans(data: bytes) -> list[tuple[int, int]]:
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(data)
    spans, start = [], 0
    for _ in unpacker:
        spans.append((start, unpacker.tell()))
        start = unpacker.tell()
    return spans


def decoded(data: bytes) -> list[dict[str, Any]]:
    return list(msgpack.Unpacker(io.BytesIO(data), raw=False, strict_map_key=False))


def reseal(records: list[dict[str, Any]]) -> bytes:
    """Records written again with valid checksums: a hostile file, not a damaged one."""
    packer = msgpack.Packer(use_bin_type=True, datetime=False)
    out, check = bytearray(), 0
    for record in records:
        body = {k: v for k, v in record.items() if k != integrity.CHECK_KEY}
        raw, check = integrity.seal(packer, body, check)
        out += raw
    return bytes(out)


# -- damage ------------------------------------------------------------------------------
def flip(data: bytes, at: int, xor: int) -> bytes:
    at %= len(data)
    return data[:at] + bytes([data[at] ^ (xor % 255 + 1)]) + data[at + 1:]


def truncate(data: bytes, at: int) -> bytes:
    return data[:at % len(data)]


def insert(data: bytes, at: int, extra: bytes) -> bytes:
    at %= len(data) + 1
    return data[:at] + (extra or b"\x00") + data[at:]


def remove(data: bytes, at: int, count: int) -> bytes:
    at %= len(data)
    return data[:at] + data[at + max(1, count):]


_LENGTH_MARKERS = {0xc4: 1, 0xc5: 2, 0xc6: 4, 0xd9: 1, 0xda: 2, 0xdb: 4, 0xdc: 2, 0xdd: 4,
                   0xde: 2, 0xdf: 4}


def oversize_length(data: bytes, at: int) -> bytes:
    """The first length-prefixed msgpack header at or after ``at`` declares the largest
    length its width allows."""
    for offset in range(at % len(data), len(data)):
        width = _LENGTH_MARKERS.get(data[offset])
        if width and offset + 1 + width <= len(data):
            return data[:offset + 1] + b"\xff" * width + data[offset + 1 + width:]
    return data


# -- hostile files with valid checksums ---------------------------------------------------
HOSTILE_VALUES: tuple[Any, ...] = (
    "\x1b[2J\x1b[H cleared", "\x07\x08\r\u202eevil", "", 2**64 - 1, -(2**63), math.nan,
    math.inf, -math.inf, -1, 0, True, None, b"\x00\xff", [], {}, [1, "a", None],
    {"nested": {"deep": [1, 2]}}, "x" * 5000, 1e308, -0.0,
)


def _nest(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"d": value}
    return value


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in ("type", integrity.CHECK_KEY):
                found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:4]):
            found += _paths(item, (*prefix, index))
    return found


def _set(record: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        record = record[key]
    record[path[-1]] = value


def hostile_value(data: bytes, record_at: int, path_at: int, value_at: int) -> bytes:
    """One value somewhere in one record replaced (or its key removed), checksums valid."""
    records = decoded(data)
    index = record_at % len(records)
    paths = _paths(records[index])
    if not paths:
        return reseal(records)
    path = paths[path_at % len(paths)]
    choice = value_at % (len(HOSTILE_VALUES) + 2)
    if choice == len(HOSTILE_VALUES):
        parent: Any = records[index]
        for key in path[:-1]:
            parent = parent[key]
        parent.pop(path[-1]) if isinstance(parent, dict) else parent.pop()
    else:
        _set(records[index], path,
             _nest(200) if choice == len(HOSTILE_VALUES) + 1 else HOSTILE_VALUES[choice])
    return reseal(records)


def bomb(data: bytes, inflated_bytes: int) -> bytes:
    """The telemetry chunk's power column becomes ``inflated_bytes`` of zeros, compressed,
    with ``rows`` saying so: valid checksums, a file of a few hundred kB."""
    records = decoded(data)
    chunk = next(r for r in records if r["type"] == schema.TELEMETRY)
    chunk["columns"]["gpu_power_w"]["data"] = zeros_deflated(inflated_bytes)
    chunk["rows"] = inflated_bytes // 4
    return reseal(records)


_ZEROS: dict[int, bytes] = {}


def zeros_deflated(size: int) -> bytes:
    if size not in _ZEROS:
        packer, block, out = zlib.compressobj(9), b"\x00" * (1 << 20), bytearray()
        for _ in range(size >> 20):
            out += packer.compress(block)
        _ZEROS[size] = bytes(out + packer.flush())
    return _ZEROS[size]


# -- the checks ---------------------------------------------------------------------------
@dataclass
class Outcome:
    refused: bool = False  # read_bundle raised BundleError (one line)
    damaged: bool = False  # read, damage reported, prefix used
    truncated: bool = False
    clean: bool = False  # read as complete and undamaged
    silent_change: bool = False


def _same(a: Any, b: Any) -> bool:
    return msgpack.packb(a, use_bin_type=True) == msgpack.packb(b, use_bin_type=True)


def check_reader(path: Path, original: list[dict[str, Any]]) -> Outcome:
    """Read a damaged bundle: refused, or every record returned is the one written."""
    try:
        bundle = read_bundle(path)
    except BundleError as exc:
        assert "\n" not in str(exc)
        return Outcome(refused=True)
    written = [{k: v for k, v in r.items() if k != integrity.CHECK_KEY} for r in original]
    got = [bundle.header, *bundle.records] + ([bundle.footer] if bundle.footer else [])
    same = len(got) <= len(written) and all(_same(a, b) for a, b in zip(got, written,
                                                                        strict=False))
    if bundle.footer is not None:
        same = same and len(got) == len(written)
    return Outcome(damaged=bundle.damaged, truncated=bundle.truncated and not bundle.damaged,
                   clean=not bundle.truncated and not bundle.damaged,
                   silent_change=not same)


def run_command(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """``edgeprobe ARGV`` in this process, as the CLI runs it: (exit code, stdout, stderr).
    An exception that escapes it is a traceback a user would have seen."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _chdir(cwd):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def _chdir(path: Path) -> Iterator[None]:  # Python 3.10 has no contextlib.chdir
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def check_command(command: tuple[str, ...], path: Path, workdir: Path) -> int:
    """Run one reading command on the bundle; assert the one-line and clean-output rules."""
    code, out, err = run_command([command[0], str(path), *command[1:]], workdir)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    if code == 2:
        said = [line for line in lines
                if not line.startswith(("edgeprobe: note:", "edgeprobe: warning:"))]
        assert len(said) == 1, err
    errors = [line for line in lines if not line.startswith("edgeprobe: ")]
    assert not errors, err
    leaked = _CONTROL & set(out + err)
    assert not leaked, f"control characters {leaked!r} reached the output"
    assert code in (0, 2), (code, err)
    return code

