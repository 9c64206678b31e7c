"""Bad input gets one line on stderr and a non-zero exit before any work: every numeric
option, suites that are not TOML, an --out that cannot be written, files that are not
bundles; and a run in which no point could run exits non-zero."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, write_suite

CLASS_NAMES = ("ValueError", "TypeError", "OverflowError", "int(", "float(", "invalid int",
               "invalid float", "Traceback")


def _refused(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgeprobe: "), result.stderr
    assert not any(name in result.stderr for name in CLASS_NAMES), result.stderr
    return lines[0]


@pytest.mark.parametrize(("args", "fragment"), [
    (["run", "--point-timeout", "nan"], "--point-timeout: 'nan': use a number above 0"),
    (["run", "--point-timeout", "-1"], "--point-timeout: '-1'"),
    (["run", "--point-timeout", "1e400"], "--point-timeout: '1e400'"),
    (["run", "--lengths", "99999999999999999999"], "--lengths: length '99999999999999999999' "
                                                   "is more than 1073741824 tokens"),
    (["run", "--lengths", "123456789012345678901234"], "--lengths: cannot read length"),
    (["run", "--search-limit", "0"], "--search-limit: length '0' must be positive"),
    (["run", "--memory-budget", "0.5"], "--memory-budget: size '0.5' must be at least 1 byte"),
    (["run", "--memory-budget", "1KiB"], "--memory-budget 1KiB: use at least 16MiB"),
    (["run", "--memory-budget", "9999999PiB"], "cannot read size"),
    (["run", "--threads", "0"], "--threads: '0': use a whole number from 1 to 4096"),
    (["run", "--threads", "x"], "--threads: 'x' is not a whole number"),
    (["run", "--power-limit", "nan"], "--power-limit: 'nan': use a number above 0"),
    (["run", "--power-limit", "0"], "--power-limit: '0'"),
    (["run", "--telemetry-rate", "inf"], "--telemetry-rate: 'inf'"),
    (["run", "--warmup", "99999999999999999999999"], "--warmup: '99999999999999999999999'"),
    (["run", "--decode-tokens", "-3"], "--decode-tokens: '-3'"),
    (["show", "x.epb", "--top", "1e3"], "--top: '1e3' is not a whole number"),
    (["agent", "--rate", "0"], "--rate: '0'"),
    (["agent", "--publish-rate", "nan"], "--publish-rate: 'nan'"),
    (["tui", "--rate=-inf"], "--rate: '-inf'"),
    (["doctor", "--timeout", "nan"], "--timeout: 'nan'"),
    (["jobs", "--cancel", "99999999999999999999999"], "--cancel: '99999999999999999999999'"),
])
def test_numeric_options_are_checked_before_any_work(cli, tmp_path, args, fragment):
    out = tmp_path / "run.epb"
    extra = ["--out", str(out), "--local"] if args[0] == "run" else []
    assert fragment in _refused(cli(*args, *extra, cwd=tmp_path))
    assert not out.exists() and not list(tmp_path.iterdir())


def test_suites_that_are_not_toml_get_one_line(cli, tmp_path):
    binary = tmp_path / "suite.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    assert "not a TOML file" in _refused(cli("run", "--suite", str(binary)))
    program = tmp_path / "program"
    program.write_bytes((REPO / "edgeprobe" / "__init__.py").read_bytes() + b"\x00\xff\xfe")
    assert "not a TOML file" in _refused(cli("run", "--suite", str(program)))
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert "not a regular file" in _refused(cli("run", "--suite", str(fifo), timeout=60))


def test_an_unwritable_out_gets_one_line(cli, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    assert f"--out {afile}/run.epb: {afile} is not a folder" in _refused(
        cli("run", "--out", str(afile / "run.epb"), "--local"))
    assert "cannot write in /proc" in _refused(cli("run", "--out", "/proc/edgeprobe/r.epb",
                                                    "--local"))


@pytest.mark.parametrize("command", [["show"], ["show", "--json"], ["compare"],
                                     ["export", "--to", "json", "--out", "-"]])
def test_reading_commands_refuse_fifos_and_devices(cli, tmp_path, command):
    fifo = tmp_path / "pipe.epb"
    os.mkfifo(fifo)
    for target in (fifo, "/dev/zero"):
        line = _refused(cli(command[0], str(target), *command[1:], timeout=60))
        assert "is not a regular file" in line


def test_a_run_where_no_point_could_run_exits_non_zero(cli, tmp_path):
    """A model that cannot load (an empty checkpoint folder): every point skipped."""
    empty = tmp_path / "empty"
    empty.mkdir()
    suite = write_suite(tmp_path, models=["tiny-qwen2"], lengths=[64],
                        prefill_variants=["lean"])
    out = tmp_path / "none.epb"
    result = cli("run", "--suite", str(suite), "--weights", f"tiny-qwen2={empty}", "--local",
                 "--device", "cpu", "--quiet", "--no-telemetry", "--out", str(out))
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        "edgeprobe: no point could run (1 skipped); first: model not loaded")
    assert out.exists()  # the bundle stays: it says why


def test_a_full_disk_gives_one_line_and_a_readable_bundle(tmp_path):
    """RLIMIT_FSIZE stands in for a full disk: the run stops with one line, and the bundle
    reads back up to its last complete record."""
    import resource

    from edgeprobe.bundle import read_bundle

    out = tmp_path / "full.epb"
    limit = 8000  # past the header, short of the run's records
    result = subprocess.run(
        [sys.executable, "-m", "edgeprobe", "run", "--local", "--models", "tiny-qwen2",
         "--lengths", "64", "96", "128", "160", "192", "224", "--device", "cpu", "--quiet",
         "--no-telemetry", "--out", str(out)],
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)),
        capture_output=True, text=True, cwd=REPO, timeout=300)
    line = _refused(result, code=1)
    assert line.startswith(f"edgeprobe: cannot write {out} (File too large): it keeps its ")
    bundle = read_bundle(out)
    assert bundle.truncated and not bundle.damaged and bundle.footer is None
    assert out.stat().st_size <= limit
    assert "Traceback" not in result.stdout and "BundleWriteError" not in result.stdout


@pytest.mark.parametrize(("args", "fragment"), [
    (["run", "--resume", "missing.epb"], "missing.epb: no such file"),
    (["run", "--resume", "."], "is a directory, not a bundle"),
    (["run", "--model-dir", "nowhere"], "--model-dir: "),
    (["run", "--trust-remote-code"], "--trust-remote-code needs a --model-dir folder"),
])
def test_resume_and_model_folders_get_one_line(cli, tmp_path, args, fragment):
    assert fragment in _refused(cli(*args, "--local", cwd=tmp_path))
    assert not list(tmp_path.iterdir())
