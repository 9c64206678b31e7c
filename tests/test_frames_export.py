"""edgeprobe.load_bundle frames, and `edgeprobe export` to CSV, JSON and Parquet."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest

import edgeprobe
from edgeprobe.bundle import read_bundle
from tests.bundle_factory import DEVICE_RESULTS, FIXTURES, point, write_bundle
from tests.test_cli import _one_line_error

PARTIAL = DEVICE_RESULTS / "h200-maxctx-24GiB-partial.epb"


def test_points_frame_of_a_device_bundle():
    frames = edgeprobe.load_bundle(DEVICE_RESULTS / "h200-paper-slice.epb")
    raw = read_bundle(DEVICE_RESULTS / "h200-paper-slice.epb").points
    points = frames.points
    assert len(points) == len(raw) == 36 and frames.complete
    for column in ("ttft_s", "tpot_s", "peak_bytes", "prefill_energy_per_token_j", "throttled",
                   "kernel_path", "power_mode", "bundle", "run_id"):
        assert column in points.columns
    lean = points[(points.model == "mamba2-780m") & (points.implementation == "mamba_ssm")
                  & (points.variant == "lean")].sort_values("length_tokens")
    assert list(lean.length_tokens) == [1024, 8192, 32768]
    expected = [p["prefill"]["ttft_s"] for p in raw if p["model"] == "mamba2-780m"
                and p["implementation"] == "mamba_ssm" and p["variant"] == "lean"]
    assert list(lean.ttft_s) == expected
    assert set(frames.models.kernel_path) == {"fused"}
    assert frames.kernels.empty and frames.categories.empty  # run without --profile
    telemetry = frames.telemetry  # NVML samples of the whole run, on one clock
    assert {"monotonic_s", "gpu_power_w", "gpu_mem_used_bytes"} <= set(telemetry.columns)
    assert telemetry.monotonic_s.is_monotonic_increasing and telemetry.gpu_power_w.max() > 0


def test_frames_of_a_truncated_search_bundle():
    frames = edgeprobe.load_bundle(PARTIAL)
    assert frames.truncated and "footer" in frames.damage
    assert frames.points.search.sum() == 12
    table = frames.max_context.set_index("variant")
    assert table.loc["published", "max_ok_tokens"] == 75776
    assert table.loc["lean", "source"] == "search, cut short"


def test_kernel_and_telemetry_records(tmp_path):
    identity = {"model": "mamba", "implementation": "hf", "length_tokens": 256,
                "variant": "lean", "kernel_path": "fused"}
    kernels = [
        {**identity, "kernels": [
            {"name": "selective_scan_fwd", "category": "SSM_Scan", "calls": 10, "total_s": 0.6},
            {"name": "nvjet_gemm", "category": "GEMM", "calls": 20, "total_s": 0.3},
            {"name": "copy", "category": "memory", "calls": 5, "total_s": 0.1}]},
        {**identity, "length_tokens": 4096, "category_shares": {"SSM_Scan": 55.0, "GEMM": 45.0}},
    ]
    path = write_bundle(tmp_path / "k.epb", [point("mamba", 256, 0.1, family="ssm")],
                        kernels=kernels)
    frames = edgeprobe.load_bundle(path)
    assert list(frames.kernels.name) == ["selective_scan_fwd", "nvjet_gemm", "copy"]
    assert set(frames.kernels.length_tokens) == {256}
    shares = frames.categories.set_index(["length_tokens", "category"]).share
    assert shares[(256, "SSM_Scan")] == pytest.approx(0.6)
    assert shares[(4096, "SSM_Scan")] == pytest.approx(0.55)  # percent read as fraction


def test_telemetry_frame_from_real_sampler_chunks(tmp_path):
    from edgeprobe.telemetry import BackgroundSampler

    sampler = BackgroundSampler(rate_hz=10)
    chunks = []
    for _ in range(2):
        for _ in range(3):
            sampler.sample_once()
        chunks.append(sampler.drain_timeline())
    path = write_bundle(tmp_path / "t.epb", [point("q", 64, 0.1)], telemetry=chunks)
    telemetry = edgeprobe.load_bundle(path).telemetry
    assert len(telemetry) == 6
    assert telemetry.monotonic_s.is_monotonic_increasing
    assert (telemetry.ram_used_bytes > 0).all() and (telemetry.ram_total_bytes > 0).all()


def test_export_csv_json_parquet(cli, tmp_path):
    result = cli("export", str(PARTIAL), "--to", "csv", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr and "ends without a footer" in result.stderr
    written = {line.split("/")[-1] for line in result.stdout.split()}
    assert written == {"h200-maxctx-24GiB-partial.points.csv",
                       "h200-maxctx-24GiB-partial.models.csv",
                       "h200-maxctx-24GiB-partial.max_context.csv"}
    with open(tmp_path / "h200-maxctx-24GiB-partial.points.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 14 and rows[0]["model"] == "qwen2.5-0.5b"
    assert float(rows[0]["ttft_s"]) == read_bundle(PARTIAL).points[0]["prefill"]["ttft_s"]

    prefix = tmp_path / "slice"
    result = cli("export", str(DEVICE_RESULTS / "h200-paper-slice.epb"), "--to", "parquet",
                 "--out", str(prefix))
    assert result.returncode == 0, result.stderr
    table = pd.read_parquet(f"{prefix}.points.parquet")
    assert len(table) == 36 and table.ttft_s.notna().all()

    result = cli("export", str(FIXTURES / "cpu-mini.epb"), "--to", "json", "--out",
                 str(tmp_path / "mini.json"))
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "mini.json").read_text())
    assert document["complete"] and len(document["points"]) == 18
    assert document["header"]["device"]["kind"] == "cpu"
    assert document["telemetry"] == {} and document["kernels"] == []


def test_export_to_standard_output(cli):
    result = cli("export", str(FIXTURES / "cpu-maxctx-160MiB.epb"), "--out", "-")
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert result.returncode == 0 and len(rows) == len(read_bundle(
        FIXTURES / "cpu-maxctx-160MiB.epb").points)
    document = json.loads(cli("export", str(FIXTURES / "cpu-maxctx-160MiB.epb"), "--to", "json",
                              "--out", "-").stdout)
    assert document["max_context"][0]["source"] == "search"
    line = _one_line_error(cli("export", str(PARTIAL), "--to", "parquet", "--out", "-"), 2)
    assert "standard output" in line


def test_export_bad_input(cli, tmp_path):
    garbage = tmp_path / "garbage.epb"
    garbage.write_bytes(b"\x93\x01\x02\x03 not a bundle")
    assert "not an edgeprobe bundle" in _one_line_error(cli("export", str(garbage)))
    assert "no such file" in _one_line_error(cli("export", str(tmp_path / "none.epb")))
    assert "invalid choice" in _one_line_error(cli("export", str(PARTIAL), "--to", "xlsx"))
    target = tmp_path / "no" / "x"
    line = _one_line_error(cli("export", str(FIXTURES / "cpu-mini.epb"), "--out", str(target)), 1)
    assert f"cannot write the export to {target}.points.csv" in line
