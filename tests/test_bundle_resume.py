"""Appending to an unfinished bundle: the CRC-32 chain goes on, a record cut short and the
old footer are cut off, one footer ends the file, and readers old and new read it."""

from __future__ import annotations

import io
import os
import zlib

import msgpack
import pytest

from edgeprobe.bundle import BundleWriter, read_bundle, schema
from edgeprobe.bundle.tail import TailError, find_tail
from edgeprobe.bundle.writer import BundleBusy
from tests.bundle_factory import header, point


def _started(path, count=3, footer="interrupted"):
    writer = BundleWriter(path, header())
    for seq in range(1, count + 1):
        writer.append(schema.POINT, {"seq": seq, **point("m", 1024 * seq, 0.01)})
    if footer:
        writer.close(status=footer)
    else:
        writer.abandon()
    return path


def _chain_ok(path) -> int:
    """The check docs/bundle-format.md gives, with msgpack and zlib only: records read."""
    data = path.read_bytes()
    unpacker = msgpack.Unpacker(io.BytesIO(data), raw=False, strict_map_key=False)
    previous, start, count = 0, 0, 0
    for record in unpacker:
        raw, start = data[start:unpacker.tell()], unpacker.tell()
        assert raw[-11:-4] == b"\xa5crc32\xce"
        assert zlib.crc32(raw[:-11], previous) == record["crc32"]
        previous, count = record["crc32"], count + 1
    return count


def test_reopen_strips_the_footer_and_continues_the_chain(tmp_path):
    path = _started(tmp_path / "run.epb")
    before = find_tail(path)
    assert before.footer["status"] == "interrupted" and before.records == 4
    writer, tail = BundleWriter.reopen(path)
    assert tail == before and tail.cut_bytes > 0
    writer.event(schema.EVENT_RESUMED, "resumed", superseded_seqs=[3], previous_footer=tail.footer)
    writer.append(schema.POINT, {"seq": 4, **point("m", 3072, 0.02)})
    writer.close(status="completed")
    bundle = read_bundle(path)
    assert bundle.verified and bundle.complete and bundle.damage is None
    assert bundle.footer["status"] == "completed" and bundle.footer["records"] == 7
    assert bundle.sessions == 2 and bundle.superseded_seqs == {3}
    # Readers leave the superseded point out; every record is still there.
    assert [p["seq"] for p in bundle.points] == [1, 2, 4]
    assert [p["seq"] for p in bundle.all_points] == [1, 2, 3, 4]
    # One footer, last: a plain msgpack reader sees one stream with a valid chain.
    assert _chain_ok(path) == 7
    types = [r["type"] for r in msgpack.Unpacker(io.BytesIO(path.read_bytes()), raw=False)]
    assert types.count("footer") == 1 and types[-1] == "footer"


def test_reopen_cuts_a_record_cut_short(tmp_path):
    path = _started(tmp_path / "run.epb", footer=None)
    whole = path.stat().st_size
    writer = BundleWriter.reopen(path)[0]
    writer.append(schema.POINT, {"seq": 4, **point("m", 4096, 0.02)})
    writer.abandon()
    with open(path, "r+b") as handle:  # killed in the middle of writing that record
        handle.truncate(whole + 20)
    assert read_bundle(path).truncated
    writer, tail = BundleWriter.reopen(path)
    assert tail.end_bytes == whole and tail.cut_bytes == 20 and tail.footer is None
    writer.append(schema.POINT, {"seq": 4, **point("m", 4096, 0.03)})
    writer.close()
    bundle = read_bundle(path)
    assert bundle.complete and bundle.verified
    assert [p["prefill"]["ttft_s"] for p in bundle.points][-1] == 0.03


def test_damage_is_refused_not_cut(tmp_path):
    path = _started(tmp_path / "run.epb")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    size = path.stat().st_size
    with pytest.raises(TailError, match="damaged"):
        BundleWriter.reopen(path)
    assert path.stat().st_size == size  # nothing was cut


def test_one_writer_at_a_time(tmp_path):
    path = _started(tmp_path / "run.epb")
    first, _ = BundleWriter.reopen(path)
    try:
        with pytest.raises(BundleBusy, match="another edgeprobe run"):
            BundleWriter.reopen(path)
    finally:
        first.abandon()
    BundleWriter.reopen(path)[0].abandon()  # free again once the first one closed


def test_bytes_after_a_footer_are_refused(tmp_path):
    path = _started(tmp_path / "run.epb")
    with open(path, "ab") as handle:
        handle.write(b"\x00" * 8)
    with pytest.raises(TailError, match="follow its footer"):
        find_tail(path)
    os.truncate(path, path.stat().st_size - 8)
    assert find_tail(path).footer is not None
