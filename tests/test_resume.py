"""``edgeprobe run --resume``: a run cut off continues into its own bundle, keeps what was
finished, measures the rest, and refuses to mix figures of a different run."""

from __future__ import annotations

import json
import os
import signal

import msgpack
import pytest

from edgeprobe.bundle import read_bundle, schema
from edgeprobe.bundle.reader import _Scanner
from tests.conftest import run_cli, stop_run_after, write_suite

pytestmark = pytest.mark.slow


def _suite(tmp_path):
    return write_suite(tmp_path, models=["tiny-mamba2", "tiny-qwen2"], lengths=[64, 128, 256],
                       decode_tokens=2, repeats=2)


def _identity(point):
    return (point["model"], point["implementation"], point["length_tokens"], point["variant"],
            bool(point.get("search")))




def _run(cli, *args):
    result = cli("run", *args, "--device", "cpu", "--quiet", "--local")
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The suite and the bundle of a run that was not cut off."""
    folder = tmp_path_factory.mktemp("whole")
    suite = _suite(folder)
    whole = folder / "whole.epb"
    _run(run_cli, "--suite", str(suite), "--out", str(whole))
    return suite, whole


def test_killed_run_resumed_ends_as_an_uninterrupted_one(cli, tmp_path, uninterrupted):
    suite, whole = uninterrupted
    expected = sorted(_identity(p) for p in read_bundle(whole).points)

    killed = tmp_path / "killed.epb"
    stop_run_after(suite, killed, 4, signal.SIGKILL)
    before = read_bundle(killed)
    assert before.footer is None and len(before.points) >= 4 and before.resumable
    shown = cli("show", str(killed))
    assert f"interrupted, resumable with: edgeprobe run --resume {killed}" in shown.stdout

    # Resumed from another folder, with nothing but the bundle's path.
    result = cli("run", "--resume", str(killed), "--quiet", "--local", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    after = read_bundle(killed)
    assert after.complete and after.verified and after.damage is None
    assert after.footer["status"] == "completed" and after.sessions == 2
    assert sorted(_identity(p) for p in after.points) == expected
    # Every point finished before the kill is kept as it was, and none was measured again.
    kept = {p["seq"]: p for p in before.points if p["seq"] not in after.superseded_seqs}
    for seq, point in kept.items():
        (same,) = [p for p in after.points if p["seq"] == seq]
        assert same["started_unix_s"] == point["started_unix_s"]
        assert same["prefill"]["ttft_samples_s"] == point["prefill"]["ttft_samples_s"]
    (resumed,) = after.resumed_events
    later = [p for p in after.points if p["seq"] not in kept]
    assert all(p["started_unix_s"] >= resumed["time_unix_s"] for p in later)
    assert {_identity(p) for p in later}.isdisjoint(_identity(p) for p in kept.values())
    assert resumed["data"]["settings"]["repeats"] == 2
    assert after.footer["timing"]["wall_s"] > 0

    timing = cli("show", str(killed), "--timing")
    assert timing.returncode == 0 and "2 sessions" in timing.stdout
    table = timing.stdout[timing.stdout.index("Where the time went"):].splitlines()
    assert max(len(line) for line in table) <= 80 and "model build" in timing.stdout
    compared = cli("compare", str(whole), str(killed), "--format", "json")
    assert compared.returncode == 0, compared.stderr
    assert not any("incomplete" in w for w in json.loads(compared.stdout)["warnings"])


def test_a_length_cut_off_mid_way_is_measured_again(cli, tmp_path, uninterrupted):
    """The run dies while writing the second variant of a length: its first variant, already
    written, is superseded, and the length is measured again in full."""
    path = tmp_path / "cut.epb"
    path.write_bytes(uninterrupted[1].read_bytes())
    bundle = read_bundle(path)
    target = next(p for p in bundle.points if p["model"] == "tiny-qwen2" and
                  p["length_tokens"] == 128 and p["variant"] == "lean")
    cut_at = _offset_of(path, schema.POINT, seq=target["seq"]) + 40  # inside that record
    os.truncate(path, cut_at)
    partial = read_bundle(path)
    first_half = next(p for p in partial.points if p["model"] == "tiny-qwen2"
                      and p["length_tokens"] == 128)
    assert first_half["variant"] == "published"

    result = cli("run", "--resume", str(path), "--quiet", "--local")
    assert result.returncode == 0, result.stderr
    after = read_bundle(path)
    assert after.complete and after.verified
    assert after.superseded_seqs == {first_half["seq"]}
    redone = [p for p in after.points if p["model"] == "tiny-qwen2"
              and p["length_tokens"] == 128]
    assert sorted(p["variant"] for p in redone) == ["lean", "published"]
    assert all(p["seq"] > first_half["seq"] for p in redone)
    assert sorted(_identity(p) for p in after.points) == sorted(
        _identity(p) for p in bundle.points)
    assert after.resumed_events[0]["data"]["cut_bytes"] > 0


def _offset_of(path, record_type, **keys):
    """Byte offset of the first record of that type with those keys."""
    with open(path, "rb") as handle:
        scanner = _Scanner(handle)
        while (raw := scanner.next_raw()) is not None:
            record = msgpack.unpackb(raw, raw=False, strict_map_key=False)
            if record.get("type") == record_type and all(record.get(k) == v
                                                         for k, v in keys.items()):
                return scanner.offset
    raise AssertionError(f"no {record_type} record with {keys}")


def test_a_resume_that_would_change_the_figures_is_refused(cli, tmp_path):
    suite = write_suite(tmp_path, models=["tiny-qwen2"], lengths=[64], decode_tokens=0)
    path = tmp_path / "run.epb"
    _run(cli, "--suite", str(suite), "--out", str(path))
    cli("run", "--resume", str(path), "--local")  # complete: refused (checked below)
    bundle = path.read_bytes()
    # Make it unfinished: drop the footer, as a kill would have.
    os.truncate(path, _offset_of(path, schema.FOOTER))
    refused = cli("run", "--resume", str(path), "--repeats", "3", "--local")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (f"edgeprobe: cannot resume {path}: repeats differs "
                                      "(bundle 1, now 3)")
    assert path.read_bytes() == bundle[:len(path.read_bytes())]  # untouched
    done = tmp_path / "done.epb"
    done.write_bytes(bundle)
    complete = cli("run", "--resume", str(done), "--local")
    assert complete.returncode == 2 and complete.stderr.count("\n") == 1
    assert "it is complete" in complete.stderr
    out = cli("run", "--resume", str(path), "--out", str(tmp_path / "x.epb"), "--local")
    assert out.returncode == 2 and "drop --out" in out.stderr



def test_compare_says_a_stopped_run_can_be_resumed(cli, tmp_path, uninterrupted):
    """A run stopped by SIGTERM ends with a footer (status interrupted): compare names it as
    stopped early and how to go on, rather than treating its points as the whole suite."""
    suite, whole = uninterrupted
    stopped = tmp_path / "stopped.epb"
    stop_run_after(suite, stopped, 2, signal.SIGTERM)
    bundle = read_bundle(stopped)
    assert bundle.footer["status"] == "interrupted" and bundle.resumable
    compared = cli("compare", str(whole), str(stopped), "--format", "json")
    assert compared.returncode == 0, compared.stderr
    assert (f"stopped: its run ended interrupted after {len(bundle.points)} points "
            "(edgeprobe run --resume continues it)") in json.loads(compared.stdout)["warnings"]
