"""``edgeprobe run --profile`` / ``--trace-dir`` and ``show --kernels`` end to end on the CPU."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edgeprobe.bundle import BundleWriter, read_bundle
from edgeprobe.cli import build_parser
from edgeprobe.commands.run import settings_from_args
from edgeprobe.profiling.names import read_names
from edgeprobe.profiling.spec import STUDY_SCHEDULE
from edgeprobe.profiling.table import TIME_BASIS_CUDA, KernelSample, aggregate
from tests.conftest import REPO, write_suite
from tests.test_cli import _one_line_error


@pytest.mark.slow
def test_profiled_run_writes_kernels_records(cli, tmp_path):
    suite = write_suite(tmp_path, models=["tiny-qwen2", "tiny-mamba2"], lengths=[32, 64],
                        decode_tokens=2, profile=True)
    out = tmp_path / "run.epb"
    traces = tmp_path / "traces"
    result = cli("run", "--suite", str(suite), "--out", str(out), "--device", "cpu",
                 "--trace-dir", str(traces))
    assert result.returncode == 0, result.stderr
    assert "Per-kernel latency" in result.stdout

    bundle = read_bundle(out)
    settings = bundle.header["settings"]
    assert settings["profile"] is True and settings["trace_dir"] == str(traces)
    assert settings["profile_schedule"] == STUDY_SCHEDULE.as_dict()
    assert len(bundle.points) == 2 * 2 * 2  # profiling adds no points
    kernels = bundle.of_type("kernels")
    assert [(k["model"], k["length_tokens"]) for k in kernels] == [
        ("tiny-qwen2", 32), ("tiny-qwen2", 64), ("tiny-mamba2", 32), ("tiny-mamba2", 64)]
    points = {p["seq"]: p for p in bundle.points}
    for record in kernels:
        assert record["status"] == "ok", record
        assert record["variant"] == "published"  # the study's variant, where it ran
        point = points[record["point_seq"]]
        for key in ("model", "implementation", "length_tokens", "variant", "kernel_path",
                    "device", "dtype"):
            assert record[key] == point[key], key
        assert record["time_basis"] == "cpu_op_self_time"
        assert record["steps"] == STUDY_SCHEDULE.active
        assert record["comparable_to_study"] is False and "CPU" in record["comparability_note"]
        assert sum(c["share"] for c in record["categories"].values()) == pytest.approx(1.0)
        assert (traces / record["trace_file"].rsplit("/", 1)[-1]).is_file()
    # Each model's profiles come after all of its timed points.
    order = [(r["type"], r.get("model")) for r in bundle.records if r["type"] in ("point",
                                                                               "kernels")]
    for model in ("tiny-qwen2", "tiny-mamba2"):
        mine = [t for t, m in order if m == model]
        assert mine == ["point"] * 4 + ["kernels"] * 2

    shown = cli("show", str(out), "--kernels", "--top", "3")
    assert shown.returncode == 0, shown.stderr
    assert "Per-kernel latency" in shown.stdout and "top 3 of" in shown.stdout
    # The SSM's reference convolution is among its profiled ops (where it ranks among the
    # tiny model's ops varies from run to run, so not only the top 3 are looked at).
    mamba_ops = {row["name"] for k in kernels if k["model"] == "tiny-mamba2"
                 for row in k["rows"]}
    assert any(name.startswith(("aten::conv1d", "aten::mkldnn_con", "aten::_convolution"))
               for name in mamba_ops), sorted(mamba_ops)
    document = json.loads(cli("show", str(out), "--json").stdout)
    assert len(document["kernels"]) == 4


def test_profile_flags_and_the_suite_key(tmp_path):
    suite = str(write_suite(tmp_path, profile=True))

    def settings(*flags: str):
        args = build_parser().parse_args(["run", "--suite", suite, "--out",
                                          str(tmp_path / "x.epb"), *flags])
        return settings_from_args(args)

    assert settings().suite.profile is True  # the suite's key
    assert settings("--no-profile").suite.profile is False
    traced = settings("--trace-dir", str(tmp_path / "t"))
    assert traced.suite.profile is True and traced.trace_dir == tmp_path / "t"
    plain = str(write_suite(tmp_path, name="plain"))
    args = build_parser().parse_args(["run", "--suite", plain, "--out", str(tmp_path / "y.epb")])
    assert settings_from_args(args).suite.profile is False  # off unless asked for
    args = build_parser().parse_args(["run", "--suite", plain, "--profile", "--out",
                                      str(tmp_path / "y.epb")])
    assert settings_from_args(args).suite.profile is True


def test_show_kernels_without_profiles(cli):
    shown = cli("show", str(REPO / "docs" / "results" / "h200-smoke.epb"), "--kernels")
    assert shown.returncode == 0 and "run with --profile" in shown.stdout


def test_bad_profiling_input(cli, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    assert "--trace-dir needs profiling" in _one_line_error(
        cli("run", "--trace-dir", str(tmp_path), "--no-profile"))
    assert "is not a folder" in _one_line_error(cli("run", "--trace-dir", str(afile)))
    assert "argument --top: '0': use a whole number from 1" in _one_line_error(
        cli("show", str(afile), "--top", "0"))
    suite = write_suite(tmp_path, profile="yes")
    assert "profile must be true or false" in _one_line_error(cli("run", "--suite", str(suite)))


def _gpu_style_bundle(path):
    """A bundle with kernels records as a GPU run writes them, from recorded H200 names."""
    entries = read_names(REPO / "tests" / "fixtures" / "kernels" / "h200-recorded.txt")
    samples = [KernelSample(e.name, 1e-3 * (i + 1), e.launched_by, e.scope)
               for i, e in enumerate(entries) if e.kind == "kernel"]
    table = aggregate(samples, TIME_BASIS_CUDA, steps=10, active_wall_s=0.2)
    identity = {"model": "mamba2-130m", "family": "ssm", "implementation": "mamba_ssm",
                "variant": "published", "kernel_path": "fused", "device": "NVIDIA H200",
                "dtype": "float16", "comparable_to_study": True}
    with BundleWriter(path, {"device": {"kind": "cuda", "name": "NVIDIA H200"},
                             "suite": {"name": "t"}}) as writer:
        writer.append("kernels", {**identity, "length_tokens": 256, "status": "ok",
                                  **table.as_record()})
        writer.append("kernels", {**identity, "length_tokens": 32768, "status": "oom",
                                  "error": "CUDA out of memory"})
    return table


def test_show_kernels_of_a_gpu_bundle(cli, tmp_path):
    path = tmp_path / "gpu.epb"
    table = _gpu_style_bundle(path)
    scan_share = table.category_times_s()["SSM_Scan"] / table.device_time_s
    shown = cli("show", str(path), "--kernels", "--top", "20", env={"COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    assert f"{scan_share * 100:.1f}" in shown.stdout
    assert "selective_scan_fwd_kernel<…>" in shown.stdout
    assert "kernels busy" in shown.stdout and "oom" in shown.stdout
    report = subprocess.run([sys.executable, str(REPO / "benchmarks" / "kernel_report.py"),
                             str(path), "--names", str(tmp_path / "names.txt")],
                            capture_output=True, text=True, check=True)
    assert f"{scan_share * 100:.1f}%" in report.stdout and "CUDA out of memory" in report.stdout
    written = read_names(tmp_path / "names.txt")
    assert {e.name for e in written} == {r.name for r in table.rows}
    assert all(e.kind == "kernel" for e in written)


def test_show_kernels_of_the_recorded_h200_bundle(cli):
    bundle = REPO / "docs" / "results" / "h200-kernels.epb"
    result = cli("show", str(bundle), "--kernels", "--top", "3", env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert "Per-kernel latency" in result.stdout and "mamba2-130m/mamba_ssm 32K" in result.stdout
    document = cli("show", str(bundle), "--json")
    records = json.loads(document.stdout)["kernels"]
    shares = {(r["model"], r["implementation"], r["length_tokens"]):
              r["categories"]["SSM_Scan"]["share"] for r in records if r["status"] == "ok"}
    # mamba_ssm's own Mamba2 spends about half its kernel time in the scan; HF's far less.
    assert shares[("mamba2-130m", "mamba_ssm", 4096)] > 0.45
    assert shares[("mamba2-130m", "hf", 4096)] < shares[("mamba2-130m", "mamba_ssm", 4096)]
