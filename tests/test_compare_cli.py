"""`edgeprobe compare` as a user runs it: formats, plots, fallbacks, malformed input, and the
laptop case (no torch, no matplotlib, no pandas)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import msgpack
import pytest

from edgeprobe.bundle import read_bundle, schema
from tests.bundle_factory import DEVICE_RESULTS, FIXTURES
from tests.conftest import REPO, write_suite
from tests.test_cli import _one_line_error

SLICE = str(DEVICE_RESULTS / "h200-paper-slice.epb")
PARTIAL = str(DEVICE_RESULTS / "h200-maxctx-24GiB-partial.epb")
WIDE = {"COLUMNS": "200"}


def _without(tmp_path, *packages):
    """An environment in which importing ``packages`` fails, as on a machine without them."""
    blocked = tmp_path / "blocked"
    for name in packages:
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(
            f"raise ImportError('{name} is not installed here')\n")
    return {"PYTHONPATH": f"{blocked}"}


def test_terminal_report_of_device_bundles(cli):
    result = cli("compare", SLICE, PARTIAL, env=WIDE)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for fragment in ("h200-paper-slice (baseline)", "warning: memory budget differs",
                     "Crossover", "faster beyond", "none in range", "Max context", "75,776",
                     "search, cut short", "189ms 0.79x"):
        assert fragment in out, fragment


def test_terminal_figures_fit_80_columns_and_name_every_model_whole(cli):
    result = cli("compare", SLICE, str(DEVICE_RESULTS / "h200-graph-vs-eager-qwen.epb"),
                 env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Figures"))
    end = next(i for i, line in enumerate(lines) if line.startswith("Crossover"))
    figures = lines[start:end]
    assert all(len(line) <= 80 for line in figures), max(figures, key=len)
    for model in ("falcon-h1-0.5b", "mamba-790m/mamba_ssm", "mamba2-780m", "qwen2.5-0.5b"):
        assert model in figures
    # Warm TPOT with its spread and ratio (cuDNN attention, unpinned, against the slice's
    # pinned flash), the cold pass beside it.
    row = next(line for line in figures if line.startswith("      1K   B"))
    assert "29.1ms±20%* 1.56x" in row and "75.0ms" in row
    assert " A  h200-paper-slice (baseline)" in lines and " B  h200-graph-vs-eager-qwen" in lines


def test_markdown_and_published_variant(cli):
    result = cli("compare", SLICE, "--format", "md", "--variant", "published")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("### Bundles")
    assert "all-position logits prefill" in result.stdout
    assert "| mamba2-780m | mamba_ssm | 1K |" in result.stdout


def test_json_and_csv_formats(cli):
    document = json.loads(cli("compare", SLICE, PARTIAL, "--format", "json",
                              "--baseline", "h200-maxctx-24GiB-partial").stdout)
    assert document["baseline"] == "h200-maxctx-24GiB-partial"
    assert len(document["bundles"]) == 2 and document["warnings"]
    result = cli("compare", SLICE, PARTIAL, "--format", "csv")
    assert result.stdout.splitlines()[0].startswith("model,implementation,family")
    assert "edgeprobe: warning: memory budget differs" in result.stderr


def test_png_plot(cli, tmp_path):
    target = tmp_path / "cmp.png"
    result = cli("compare", SLICE, PARTIAL, "--format", "md", "--plot", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and target.stat().st_size > 20_000
    assert f"plot written to {target}" in result.stderr
    assert result.stdout.startswith("### Bundles")  # the report stays clean


def test_terminal_plot(cli):
    result = cli("compare", SLICE, "--plot", "term")
    assert result.returncode == 0, result.stderr
    assert "TTFT (s) vs prompt tokens, log-log" in result.stdout
    assert "Peak memory (GiB)" in result.stdout and "mamba2-780m [mamba_ssm]" in result.stdout


def test_without_matplotlib_the_plot_goes_to_the_terminal(cli, tmp_path):
    target = tmp_path / "cmp.png"
    result = cli("compare", SLICE, "--plot", str(target), env=_without(tmp_path, "matplotlib"))
    assert result.returncode == 0, result.stderr
    assert not target.exists()
    assert "matplotlib is not installed, showing terminal plots" in result.stderr
    assert "TTFT (s) vs prompt tokens" in result.stdout


def test_without_any_plot_library_says_how_to_install(cli, tmp_path):
    result = cli("compare", SLICE, "--plot", "term",
                 env=_without(tmp_path, "matplotlib", "plotext"))
    line = _one_line_error(result, 1)
    assert "plotext is not installed" in line and "edgeprobe[analysis]" in line
    assert "Crossover" in result.stdout  # the report itself was printed


def test_laptop_without_torch_compares_and_exports(cli, tmp_path):
    env = _without(tmp_path, "torch")
    assert cli("compare", SLICE, PARTIAL, "--format", "json", env=env).returncode == 0
    result = cli("export", SLICE, "--to", "parquet", "--out", str(tmp_path / "x"), env=env)
    assert result.returncode == 0, result.stderr
    code = f"import edgeprobe; f = edgeprobe.load_bundle({SLICE!r}); print(len(f.points))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **env}, cwd=REPO)
    assert out.stdout.strip() == "36", out.stderr


def test_without_pandas_load_bundle_says_how_and_csv_export_still_works(cli, tmp_path):
    env = _without(tmp_path, "pandas")
    code = f"import edgeprobe; edgeprobe.load_bundle({SLICE!r})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **env}, cwd=REPO)
    assert out.returncode != 0
    assert "pandas is not installed" in out.stderr and "edgeprobe[analysis]" in out.stderr
    result = cli("export", SLICE, "--out", str(tmp_path / "s"), env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "s.points.csv").exists()


def test_analysis_side_never_imports_torch():
    code = ("import sys, edgeprobe, edgeprobe.analysis.compare, edgeprobe.analysis.formats, "
            "edgeprobe.analysis.frames, edgeprobe.analysis.export, edgeprobe.analysis.plots, "
            "edgeprobe.analysis.termplots, edgeprobe.commands.compare, "
            "edgeprobe.commands.export; "
            f"c = edgeprobe.analysis.compare.compare_files([{SLICE!r}, {PARTIAL!r}]); "
            "c.rows; "
            f"f = edgeprobe.load_bundle({SLICE!r}); f.points; f.telemetry; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize(("args", "fragment", "code"), [
    (["compare"], "required", 2),
    (["compare", "/nonexistent/a.epb"], "no such file", 2),
    (["compare", SLICE, "--baseline", "friday"], "--baseline 'friday' is none of", 2),
    (["compare", SLICE, "--format", "xlsx"], "invalid choice", 2),
    (["compare", SLICE, "--variant", "fat"], "invalid choice", 2),
    (["compare", SLICE, "--plot", "/nonexistent/dir/p.png"], "cannot write plot", 1),
    (["compare", SLICE, "--plot", "p.unknownformat"], "cannot write plot", 1),
])
def test_bad_compare_input_is_one_line(cli, args, fragment, code):
    assert fragment in _one_line_error(cli(*args), code)


def test_corrupt_foreign_and_newer_bundles(cli, tmp_path):
    garbage = tmp_path / "garbage.epb"
    garbage.write_bytes(b"\x00\x01 definitely not msgpack of ours")
    assert "not an edgeprobe bundle" in _one_line_error(cli("compare", SLICE, str(garbage)))
    newer = tmp_path / "newer.epb"
    newer.write_bytes(msgpack.packb({"type": "header", "format": schema.FORMAT_NAME,
                                     "schema_version": schema.SCHEMA_VERSION + 1}))
    assert "upgrade edgeprobe" in _one_line_error(cli("compare", str(newer)))
    # Damage after the header: the valid prefix is compared, with a warning, and the damage
    # is named on stderr with exit code 2.
    data = (FIXTURES / "cpu-mini.epb").read_bytes()
    damaged = tmp_path / "damaged.epb"
    damaged.write_bytes(data[: len(data) // 2] + b"\xc1\xc1\xc1")
    result = cli("compare", str(damaged), "--format", "json")
    assert result.returncode == 2
    assert "record 11 at byte" in _one_line_error(result)
    document = json.loads(result.stdout)
    assert any("damaged is incomplete" in w for w in document["warnings"])
    assert 0 < len(document["rows"]) < 9


@pytest.mark.slow
def test_fresh_cpu_run_compares_and_exports(cli, tmp_path):
    suite = write_suite(tmp_path, models=["tiny-qwen2", "tiny-mamba2"], lengths=[64, 128])
    out = tmp_path / "fresh.epb"
    result = cli("run", "--suite", str(suite), "--out", str(out), "--device", "cpu", "--quiet")
    assert result.returncode == 0, result.stderr
    result = cli("compare", str(out), str(FIXTURES / "cpu-mini.epb"), "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["baseline"] == "fresh"
    assert any(w.startswith("suite hash differs") for w in document["warnings"])
    fresh = [r for r in document["rows"] if r["bundle"] == "fresh"]
    assert {(r["model"], r["length_tokens"]) for r in fresh} == \
        {(m, n) for m in ("tiny-qwen2", "tiny-mamba2") for n in (64, 128)}
    assert all(r["status"] == "ok" and r["ttft_s"] > 0 and r["tpot_s"] > 0 for r in fresh)
    assert {c["other"] for c in document["crossovers"] if c["bundle"] == "fresh"} == \
        {"tiny-mamba2/hf"}
    exported = cli("export", str(out), "--to", "json", "--out", "-")
    points = json.loads(exported.stdout)["points"]
    raw = read_bundle(out).points
    assert [p["ttft_s"] for p in points] == [p["prefill"]["ttft_s"] for p in raw]


def test_show_fits_80_columns_with_a_long_status(cli):
    result = cli("show", str(DEVICE_RESULTS / "h200-graph-vs-eager-qwen.epb"),
                 env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    table = lines[lines.index("Results"):]
    assert all(len(line) <= 80 for line in table), max(table, key=len)
    assert "        status: ok, throttled (sw_power_cap)" in table
