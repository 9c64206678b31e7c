"""Bundle format: round trip, truncation at any byte, corruption, foreign and newer files."""

from __future__ import annotations

import msgpack
import pytest

from edgeprobe.bundle import BundleError, BundleWriter, read_bundle, schema
from tests.bundle_fuzzing import record_spans


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
        writer.append(schema.POINT, {"seq": 1, "model": "m", "length_tokens": 64})
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
            "edgeprobe.profiling.spec, edgeprobe.profiling.names, edgeprobe.analysis.kernels, "
            "edgeprobe.runner.core, edgeprobe.runner.events, edgeprobe.runner.fidelity, "
            "edgeprobe.commands.fidelity, edgeprobe.analysis.fidelity, edgeprobe.stats, "
            "edgeprobe.probe.worker, edgeprobe.probe.plan, edgeprobe.probe.search; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_changed_figure_is_damage_with_its_record_index(tmp_path):
    """A byte flip that still decodes (a throughput of 378 read as 7.4e204 in a bundle without
    checksums) is caught by the record's checksum: the records before it are kept, the
    changed one and everything after are not shown."""
    path = _write(tmp_path / "a.epb", points=3)
    data = bytearray(path.read_bytes())
    start, end = record_spans(bytes(data))[2]  # the second point
    at = data.index(msgpack.packb(0.02), start, end) + 1  # inside the float64 of ttft_s
    data[at] ^= 0x40
    path.write_bytes(bytes(data))
    assert msgpack.unpackb(bytes(data[start:end]), raw=False)["prefill"]["ttft_s"] != 0.02
    bundle = read_bundle(path)
    assert bundle.verified and bundle.damaged and bundle.truncated
    assert [p["prefill"]["ttft_s"] for p in bundle.points] == [0.01]
    assert bundle.damage.startswith(f"record 2 at byte {start} is damaged (checksum mismatch)")


def test_a_removed_or_repeated_record_breaks_the_chain(tmp_path):
    path = _write(tmp_path / "a.epb", points=3)
    data = path.read_bytes()
    spans = record_spans(data)
    (s1, e1), (s2, e2) = spans[1], spans[2]
    for changed, index in ((data[:s1] + data[e1:], 1),  # first point removed
                           (data[:e2] + data[s2:], 3),  # second point twice
                           (data[:s1] + data[s2:e2] + data[s1:e1] + data[e2:], 1)):  # swapped
        path.write_bytes(changed)
        bundle = read_bundle(path)
        assert bundle.damaged and f"record {index} " in bundle.damage, bundle.damage


def test_a_damaged_header_is_refused(tmp_path):
    path = _write(tmp_path / "a.epb")
    data = bytearray(path.read_bytes())
    data[data.index(b"kind")] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="header is damaged"):
        read_bundle(path)


def test_checksums_verify_without_edgeprobe(tmp_path):
    """The check as docs/bundle-format.md specifies it, with msgpack and zlib alone."""
    import io
    import zlib

    path = _write(tmp_path / "a.epb")
    data = path.read_bytes()
    unpacker = msgpack.Unpacker(io.BytesIO(data), raw=False)
    previous, start, types = 0, 0, []
    for record in unpacker:
        raw = data[start:unpacker.tell()]
        start = unpacker.tell()
        assert raw[-11:-4] == b"\xa5crc32\xce"
        assert int.from_bytes(raw[-4:], "big") == record["crc32"]
        assert zlib.crc32(raw[:-11], previous) == record["crc32"]
        previous = record["crc32"]
        types.append(record["type"])
    assert types == ["header", "point", "point", "point", "event", "footer"]


def test_bundles_without_checksums_read_unverified():
    from tests.bundle_factory import FIXTURES

    path = FIXTURES / "cpu-mini.epb"
    bundle = read_bundle(path)
    assert not bundle.verified and not bundle.damaged and bundle.complete
    with open(path, "rb") as handle:
        written = [r for r in msgpack.Unpacker(handle, raw=False) if r["type"] == "point"]
    assert bundle.points == written


def test_strings_are_made_safe_for_a_terminal(tmp_path):
    path = tmp_path / "a.epb"
    with BundleWriter(path, {"suite": {"name": "t\x1b[2J"}}) as writer:
        writer.append(schema.POINT, {"model": "m\x1b]0;owned\x07\u202e", "length_tokens": 1,
                                     "error": "line one\nline two", "µ": "µs"})
    bundle = read_bundle(path)
    assert bundle.header["suite"]["name"] == "t\\x1b[2J"
    assert bundle.points[0]["model"] == "m\\x1b]0;owned\\x07\\u202e"
    assert bundle.points[0]["error"] == "line one\\nline two"
    assert bundle.points[0]["µ"] == "µs"


@pytest.mark.parametrize(("record", "why"), [
    ({"model": "m"}, "point record lacks length_tokens"),
    ({"model": "m", "length_tokens": "long"}, "length_tokens: expected int, got str"),
    ({"model": "m", "length_tokens": 1, "prefill": {"ttft_s": [1]}},
     "prefill.ttft_s: expected float | none, got array"),
    ({"model": "m", "length_tokens": 1, "unknown": {"a": {"a": [b"\x00"]}}},
     None),
])
def test_records_of_the_wrong_shape_are_damage(tmp_path, record, why):
    path = tmp_path / "a.epb"
    with BundleWriter(path, {}) as writer:
        writer.append(schema.POINT, {"model": "ok", "length_tokens": 1})
        writer.append(schema.POINT, record)
    bundle = read_bundle(path)
    if why is None:
        assert not bundle.damaged and len(bundle.points) == 2
        return
    assert bundle.damaged and len(bundle.points) == 1
    assert why in bundle.damage, bundle.damage


def test_nesting_deeper_than_the_limit_is_damage(tmp_path):
    deep: dict = {}
    for _ in range(40):
        deep = {"d": deep}
    path = tmp_path / "a.epb"
    with BundleWriter(path, {}) as writer:
        writer.append(schema.POINT, {"model": "m", "length_tokens": 1, "extra": deep})
    bundle = read_bundle(path)
    assert bundle.damaged and "nested deeper than 32 levels" in bundle.damage


def test_a_fifo_or_device_is_refused_without_waiting(tmp_path):
    import os

    fifo = tmp_path / "pipe.epb"
    os.mkfifo(fifo)
    with pytest.raises(BundleError, match="not a regular file"):
        read_bundle(fifo)
    with pytest.raises(BundleError, match="not a regular file"):
        read_bundle("/dev/zero")


def test_a_full_disk_leaves_every_complete_record_readable(tmp_path):
    """Writes past RLIMIT_FSIZE fail like a full disk: one error, the partial record undone,
    nothing written after it (the footer neither), every complete record readable."""
    import subprocess
    import sys

    script = (
        "import resource, sys\n"
        "from edgeprobe.bundle import BundleWriter, schema\n"
        "from edgeprobe.bundle.writer import BundleWriteError\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))\n"
        "writer = BundleWriter(sys.argv[1], {})\n"
        "try:\n"
        "    for i in range(1000):\n"
        "        writer.append(schema.POINT, {'model': 'm', 'length_tokens': i + 1,\n"
        "                                     'pad': 'x' * 500})\n"
        "except BundleWriteError as exc:\n"
        "    print(exc)\n"
        "writer.event('after', 'not written')\n"
        "writer.close()\n")
    path = tmp_path / "full.epb"
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                            text=True, check=True)
    assert result.stdout.startswith(f"cannot write {path} (File too large): it keeps its ")
    kept = int(result.stdout.split("keeps its ")[1].split()[0])
    assert path.stat().st_size <= 20000
    bundle = read_bundle(path)
    assert bundle.truncated and not bundle.damaged and bundle.footer is None
    assert [p["length_tokens"] for p in bundle.points] == list(range(1, kept))
    assert bundle.damage == "ends without a footer (the run did not finish)"


def test_a_signal_inside_a_write_leaves_no_hole(tmp_path, monkeypatch):
    """Ctrl-C or SIGTERM arriving while a record is written: that record is undone, and the
    records written after it (the interruption event, the footer) follow the last complete
    one: the bundle reads back complete and undamaged."""
    import os

    path = tmp_path / "interrupted.epb"
    writer = BundleWriter(path, {"device": {"kind": "cpu"}})
    writer.append(schema.POINT, {"model": "m", "length_tokens": 64, "status": "ok"})
    real_fsync = os.fsync

    def interrupted(fd):
        monkeypatch.setattr(os, "fsync", real_fsync)  # the signal arrives once
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writer.append(schema.POINT, {"model": "m", "length_tokens": 128, "status": "ok"})
    writer.event("interrupted", "run stopped by SIGTERM", level="warning")
    writer.close(status="interrupted")
    bundle = read_bundle(path)
    assert bundle.complete and not bundle.damaged and bundle.footer["status"] == "interrupted"
    assert [p["length_tokens"] for p in bundle.points] == [64]
    assert [e["kind"] for e in bundle.events] == ["interrupted"]


def test_the_header_alone_reads_as_the_whole_bundle_has_it(tmp_path):
    from edgeprobe.bundle.reader import read_header
    from tests.bundle_factory import DEVICE_RESULTS

    path = DEVICE_RESULTS / "h200-paper-slice.epb"
    assert read_header(path) == read_bundle(path).header
    foreign = tmp_path / "foreign.epb"
    foreign.write_bytes(b"\x93\x01\x02\x03 not a bundle")
    with pytest.raises(BundleError, match="not an edgeprobe bundle"):
        read_header(foreign)
