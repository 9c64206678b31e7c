"""Bundle format: round trip, truncation at any byte, corruption, foreign and newer files."""

from __future__ import annotations

import msgpack
import pytest

from edgeprobe.bundle import BundleError, BundleWriter, read_bundle, schema


def _write(path, points=3):
    with BundleWriter(path, {"device": {"kind": "cpu"}, "suite": {"name": "t"}}) as writer:
        for i in range(points):
            writer.append(schema.POINT, {"seq": i + 1, "model": "m", "length_tokens": 128 * (i + 1),
                                         "variant": "lean", "status": "ok",
                                         "prefill": {"ttft_s": 0.01 * (i + 1)}})
        writer.event("note", "hello", level="info")
    return path


def test_round_trip(tmp_path):
    bundle = read_bundle(_write(tmp_path / "a.epb"))
    assert bundle.complete and not bundle.truncated and bundle.damage is None
    assert bundle.header["schema_version"] == schema.SCHEMA_VERSION
    assert bundle.header["device"] == {"kind": "cpu"}
    assert [p["length_tokens"] for p in bundle.points] == [128, 256, 384]
    assert bundle.points[2]["prefill"]["ttft_s"] == pytest.approx(0.03)
    assert bundle.events[0]["message"] == "hello"
    assert bundle.footer["status"] == "completed"


def test_writer_never_clobbers(tmp_path):
    path = _write(tmp_path / "a.epb")
    with pytest.raises(FileExistsError):
        BundleWriter(path, {})


def test_every_truncation_reads_back_its_complete_records(tmp_path):
    path = _write(tmp_path / "a.epb", points=4)
    data = path.read_bytes()
    # Byte offsets where each record ends, found by decoding the whole stream.
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(data)
    ends = []
    for _ in unpacker:
        ends.append(unpacker.tell())
    header_end = ends[0]
    for cut in range(len(data)):
        cut_path = tmp_path / f"cut{cut}.epb"
        cut_path.write_bytes(data[:cut])
        if cut < header_end:
            with pytest.raises(BundleError):
                read_bundle(cut_path)
            continue
        bundle = read_bundle(cut_path)
        complete_points = sum(1 for end in ends[1:5] if end <= cut)
        assert len(bundle.points) == complete_points
        assert bundle.truncated and bundle.footer is None
        assert bundle.damage


def test_exception_inside_writer_closes_with_failed_status(tmp_path):
    path = tmp_path / "f.epb"
    with pytest.raises(RuntimeError), BundleWriter(path, {}) as writer:
        writer.append(schema.POINT, {"seq": 1})
        raise RuntimeError("boom")
    bundle = read_bundle(path)
    assert bundle.footer["status"] == "failed"
    assert "boom" in bundle.footer["error"]
    assert len(bundle.points) == 1


def test_foreign_file_is_rejected(tmp_path):
    path = tmp_path / "x.epb"
    path.write_bytes(b"PK\x03\x04 this is a zip file, not a bundle")
    with pytest.raises(BundleError, match="not an edgeprobe bundle"):
        read_bundle(path)
    path.write_bytes(msgpack.packb({"format": "something-else", "schema_version": 1}))
    with pytest.raises(BundleError, match="not an edgeprobe bundle"):
        read_bundle(path)


def test_newer_schema_says_upgrade(tmp_path):
    path = tmp_path / "new.epb"
    path.write_bytes(msgpack.packb({"type": "header", "format": schema.FORMAT_NAME,
                                    "schema_version": schema.SCHEMA_VERSION + 1}))
    with pytest.raises(BundleError, match="upgrade edgeprobe"):
        read_bundle(path)


def test_corruption_after_header_keeps_the_prefix(tmp_path):
    path = _write(tmp_path / "a.epb", points=3)
    data = bytearray(path.read_bytes())
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(bytes(data))
    ends = []
    for _ in unpacker:
        ends.append(unpacker.tell())
    # Replace the second point record with bytes that are not msgpack at all.
    start, end = ends[1], ends[2]
    data[start:end] = b"\xc1" * (end - start)
    path.write_bytes(bytes(data))
    bundle = read_bundle(path)
    assert len(bundle.points) == 1
    assert bundle.truncated and "byte" in bundle.damage


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(BundleError, match="no such file"):
        read_bundle(tmp_path / "nope.epb")
    with pytest.raises(BundleError, match="directory"):
        read_bundle(tmp_path)


def test_bundle_side_never_imports_torch():
    import subprocess
    import sys

    code = ("import sys, edgeprobe, edgeprobe.bundle, edgeprobe.analysis.render, "
            "edgeprobe.commands.show, edgeprobe.runner, edgeprobe.cli, edgeprobe.telemetry, "
            "edgeprobe.telemetry.sampler, edgeprobe.telemetry.report, edgeprobe.commands.info, "
            "edgeprobe.profiling, edgeprobe.conditions, edgeprobe.agent.server, "
            "edgeprobe.agent.client, edgeprobe.commands.run, edgeprobe.power.session, "
            "edgeprobe.profiling.categories, edgeprobe.profiling.table, "
            "edgeprobe.profiling.spec, edgeprobe.profiling.names, edgeprobe.analysis.kernels; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
