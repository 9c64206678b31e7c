"""Command-line behaviour: listings, and one clear line (never a traceback) for mistakes."""

from __future__ import annotations

import json

import msgpack
import pytest


def _one_line_error(result, code=2):
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("edgeprobe: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_models_lists_every_family(cli):
    result = cli("models", "--json")
    assert result.returncode == 0
    models = json.loads(result.stdout)
    assert {m["family"] for m in models} == {"transformer", "ssm", "hybrid"}
    assert any(m["name"] == "mamba2-780m" and m["mamba_ssm"] for m in models)
    assert "zamba2-1.2b" in cli("models").stdout


def test_suites_lists_smoke_and_paper(cli):
    result = cli("suites", "--json")
    names = {s["name"] for s in json.loads(result.stdout)}
    assert {"smoke", "paper-desktop", "paper-edge"} <= names


@pytest.mark.parametrize(("args", "fragment"), [
    (["run", "--models", "gpt-17"], "unknown model 'gpt-17'"),
    (["run", "--suite", "smok"], "did you mean smoke"),
    (["run", "--lengths", "lots"], "cannot read length"),
    (["run", "--memory-budget", "24 parsecs"], "cannot read size"),
    (["run", "--device", "tpu"], "--device 'tpu'"),
    (["run", "--repeats", "0"], "argument --repeats: '0': use a whole number from 1"),
    (["run", "--frobnicate"], "unrecognized arguments"),
    (["run", "--weights", "/nonexistent", "--models", "tiny-qwen2"], "is not a folder"),
    (["run", "--weights", "/tmp"], "exactly one model"),
    (["show"], "required"),
    (["nonsense"], "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_2(cli, args, fragment):
    line = _one_line_error(cli(*args))
    assert fragment in line


def test_show_rejects_corrupt_and_missing_bundles(cli, tmp_path):
    garbage = tmp_path / "garbage.epb"
    garbage.write_bytes(b"\x00\x01\x02 not a bundle at all")
    assert "not an edgeprobe bundle" in _one_line_error(cli("show", str(garbage)))
    assert "no such file" in _one_line_error(cli("show", str(tmp_path / "missing.epb")))
    foreign = tmp_path / "foreign.epb"
    foreign.write_bytes(msgpack.packb([1, 2, 3]))
    _one_line_error(cli("show", str(foreign)))


def test_run_refuses_to_overwrite(cli, tmp_path):
    existing = tmp_path / "x.epb"
    existing.write_bytes(b"")
    assert "already exists" in _one_line_error(cli("run", "--out", str(existing)))
