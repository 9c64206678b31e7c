"""Comparison of bundles: alignment, ratios, warnings, energy, throttling, old bundles."""

from __future__ import annotations

import csv
import io
import json
import shutil

import msgpack
import pytest

from edgeprobe.analysis.compare import compare, compare_files
from edgeprobe.analysis.crossover import CROSSOVER, NONE_IN_RANGE
from edgeprobe.analysis.formats import to_csv, to_json, to_markdown
from edgeprobe.analysis.plotdata import metric_series
from edgeprobe.bundle import BundleError, read_bundle, schema
from edgeprobe.errors import UsageError
from tests.bundle_factory import DEVICE_RESULTS, FIXTURES, point, write_bundle

K = 1024


def _pair(tmp_path, a_overrides=None, b_overrides=None):
    a_points = [point("qwen", K, 0.1, tpot_s=0.01, peak_bytes=4000),
                point("qwen", 8 * K, 0.4, tpot_s=0.02, peak_bytes=8000),
                point("mamba", K, 0.3, family="ssm", tpot_s=0.01)]
    b_points = [point("qwen", K, 0.2, tpot_s=0.005, peak_bytes=2000),
                point("qwen", 8 * K, 1.2, tpot_s=0.01, peak_bytes=4000)]
    a = write_bundle(tmp_path / "orin-15w.epb", a_points, **(a_overrides or {}))
    b = write_bundle(tmp_path / "orin-maxn.epb", b_points, **(b_overrides or {}))
    return a, b


def _row(comparison, bundle, model, length):
    return next(r for r in comparison.rows if r["bundle"] == bundle and r["model"] == model
                and r["length_tokens"] == length)


def test_ratios_are_value_over_baseline(tmp_path):
    a, b = _pair(tmp_path)
    result = compare_files([a, b])
    assert result.baseline == "orin-15w"
    row = _row(result, "orin-maxn", "qwen", 8 * K)
    assert row["ttft_s_ratio"] == pytest.approx(3.0)
    assert row["tpot_s_ratio"] == pytest.approx(0.5)
    assert row["peak_bytes_ratio"] == pytest.approx(0.5)
    assert _row(result, "orin-15w", "qwen", K)["ttft_s_ratio"] == pytest.approx(1.0)
    # mamba is only in the baseline: a row, and no ratio for a bundle without it.
    assert [r["bundle"] for r in result.rows if r["model"] == "mamba"] == ["orin-15w"]
    flipped = compare_files([a, b], baseline="orin-maxn.epb")
    assert flipped.baseline == "orin-maxn"
    assert _row(flipped, "orin-15w", "qwen", 8 * K)["ttft_s_ratio"] == pytest.approx(1 / 3)
    assert compare_files([a, b], baseline=str(b)).baseline == "orin-maxn"


def test_unknown_baseline_and_variant_are_usage_errors(tmp_path):
    a, b = _pair(tmp_path)
    with pytest.raises(UsageError, match="--baseline 'c' is none of the compared bundles"):
        compare_files([a, b], baseline="c")
    with pytest.raises(UsageError, match="variant"):
        compare_files([a, b], variant="medium")
    with pytest.raises(UsageError):
        compare_files([])


def test_identical_settings_give_no_warning(tmp_path):
    a, b = _pair(tmp_path)
    assert compare_files([a, b]).warnings == []


def test_every_kind_of_difference_is_warned(tmp_path):
    a, b = _pair(tmp_path, b_overrides={
        "power": {"mode": "15W"}, "suite": {"sha256": "b" * 64},
        "settings": {"memory_budget_bytes": 8 * 1024**3, "dtype": "bfloat16"},
        "software": {"torch": "2.8.0", "mamba_ssm": None},
        "host": {"jetson": {"jetpack": "6.2"}}})
    warnings = "\n".join(compare_files([a, b]).warnings)
    for fragment in ("power mode differs: orin-15w MAXN, orin-maxn 15W",
                     "suite hash differs", "memory budget differs: orin-15w none, "
                     "orin-maxn 8.00 GiB", "dtype differs", "torch version differs: "
                     "orin-15w 2.11.0, orin-maxn 2.8.0", "mamba_ssm version differs",
                     "jetpack version differs"):
        assert fragment in warnings


def test_kernel_path_difference_and_incomplete_bundle_are_warned(tmp_path):
    fused = write_bundle(tmp_path / "fused.epb",
                         [point("mamba", K, 0.1, family="ssm", kernel_path="fused")])
    reference = write_bundle(tmp_path / "ref.epb",
                             [point("mamba", K, 0.9, family="ssm", kernel_path="reference")],
                             complete=False)
    warnings = compare_files([fused, reference]).warnings
    assert "kernel path of mamba/hf differs: fused fused, ref reference" in warnings
    assert any(w.startswith("ref is incomplete") and "1 points read" in w for w in warnings)


def test_energy_per_token_and_throttling(tmp_path):
    energy = {"prefill": {"energy_j": 20.0, "energy_source": "nvml_counter",
                          "mean_power_w": 50.0},
              "decode": {"energy_j": 1.6, "energy_source": "nvml_counter"}}
    phases = {"prefill": {"passes": 4, "tokens": 4 * K}, "decode": {"passes": 1, "tokens": 16}}
    path = write_bundle(tmp_path / "e.epb", [
        point("qwen", K, 0.1, tpot_s=0.01, energy=energy, phases=phases, throttled=True),
        point("qwen", 2 * K, 0.2, tpot_s=0.01, throttled=False)])
    result = compare_files([path])
    row = _row(result, "e", "qwen", K)
    assert row["prefill_energy_j"] == pytest.approx(5.0)  # one pass of four
    assert row["prefill_energy_per_token_j"] == pytest.approx(20.0 / (4 * K))
    assert row["decode_energy_per_token_j"] == pytest.approx(0.1)
    assert row["energy_source"] == "nvml_counter" and row["throttled"] is True
    assert _row(result, "e", "qwen", 2 * K)["throttled"] is False
    text = to_markdown(result)
    assert "prefill J/token" in text and "decode J/token" in text and "100 mJ" in text
    assert "| ok, throttled |" in text


def test_energy_columns_left_out_when_nothing_measured(tmp_path):
    a, b = _pair(tmp_path)
    text = to_markdown(compare_files([a, b]))
    assert "prefill J/token |" not in text and "| TTFT |" in text


def test_oldest_v1_bundle_with_few_fields_is_read(tmp_path):
    # Only what the first bundles carried: no implementation, variant, decode or memory.
    path = tmp_path / "old.epb"
    records = [{"type": "header", "format": schema.FORMAT_NAME, "schema_version": 1},
               {"type": "point", "model": "m", "family": "transformer", "length_tokens": 512,
                "status": "ok", "prefill": {"ttft_s": 0.5}},
               {"type": "point", "model": "s", "family": "ssm", "length_tokens": 512,
                "status": "ok", "prefill": {"ttft_s": 0.25}},
               {"type": "footer", "status": "completed"}]
    path.write_bytes(b"".join(msgpack.packb(r) for r in records))
    lean = compare_files([path])
    assert lean.rows == [] and "old has no lean prefill points" in lean.warnings[0]
    result = compare_files([path], variant="published")
    assert [(r["model"], r["implementation"], r["ttft_s"]) for r in result.rows] == \
        [("m", "hf", 0.5), ("s", "hf", 0.25)]
    (item,) = result.crossovers
    assert "faster at every length" in item.describe()
    assert "unknown device" in to_markdown(result)


@pytest.mark.parametrize(("version", "message"), [(schema.SCHEMA_VERSION + 1, "upgrade"),
                                                  (0, "not supported")])
def test_bundle_versions_it_cannot_read_are_said_clearly(tmp_path, version, message):
    path = tmp_path / "v.epb"
    path.write_bytes(msgpack.packb({"type": "header", "format": schema.FORMAT_NAME,
                                    "schema_version": version}))
    with pytest.raises(BundleError, match=message):
        compare_files([path])


def test_device_bundle_crossover_and_figures():
    path = DEVICE_RESULTS / "h200-paper-slice.epb"
    result = compare_files([path])
    items = {c.other: c for c in result.crossovers}
    # mamba_ssm's Mamba2 is slower than Qwen at 8K and faster at 32K (last-position logits).
    ssd = items["mamba2-780m/mamba_ssm"]
    assert ssd.kind == CROSSOVER and 8 * K < ssd.crossover_tokens < 32 * K
    assert items["mamba2-780m/hf"].kind == NONE_IN_RANGE
    raw = next(p for p in read_bundle(path).points if p["model"] == "qwen2.5-0.5b"
               and p["length_tokens"] == 32 * K and p["variant"] == "lean")
    row = _row(result, "h200-paper-slice", "qwen2.5-0.5b", 32 * K)
    assert row["ttft_s"] == raw["prefill"]["ttft_s"]
    assert row["tpot_s"] == raw["decode"]["tpot_s"]
    assert row["peak_bytes"] == raw["memory"]["peak_reserved_bytes"]


def test_device_bundles_of_different_runs_warn_and_align():
    result = compare_files([DEVICE_RESULTS / "h200-paper-slice.epb",
                            DEVICE_RESULTS / "h200-maxctx-24GiB-partial.epb"])
    warnings = "\n".join(result.warnings)
    assert "memory budget differs" in warnings and "suite hash differs" in warnings
    assert "h200-maxctx-24GiB-partial is incomplete" in warnings
    shared = [r for r in result.rows if r["model"] == "qwen2.5-0.5b"
              and r["length_tokens"] == 32 * K]
    assert [r["bundle"] for r in shared] == ["h200-paper-slice", "h200-maxctx-24GiB-partial"]
    assert shared[1]["ttft_s_ratio"] == pytest.approx(shared[1]["ttft_s"] / shared[0]["ttft_s"])


def test_same_file_names_in_two_folders_get_distinct_labels(tmp_path):
    for folder in ("mon", "tue"):
        (tmp_path / folder).mkdir()
        shutil.copy(FIXTURES / "cpu-mini.epb", tmp_path / folder / "run.epb")
    result = compare_files([tmp_path / "mon" / "run.epb", tmp_path / "tue" / "run.epb"],
                           baseline="mon/run")
    assert [b.label for b in result.bundles] == ["mon/run", "tue/run"]
    ratios = [r["ttft_s_ratio"] for r in result.rows if r["bundle"] == "tue/run"]
    assert ratios and all(r == pytest.approx(1.0) for r in ratios)


def test_csv_and_json_carry_the_aligned_rows(tmp_path):
    a, b = _pair(tmp_path)
    result = compare_files([a, b])
    table = list(csv.DictReader(io.StringIO(to_csv(result))))
    assert len(table) == len(result.rows) == 5
    maxn = next(r for r in table if r["bundle"] == "orin-maxn" and r["length_tokens"] == "8192")
    assert float(maxn["ttft_s_ratio"]) == pytest.approx(3.0)
    document = json.loads(to_json(result))
    assert document["baseline"] == "orin-15w" and len(document["rows"]) == 5
    assert {c["other"] for c in document["crossovers"]} == {"mamba/hf"}
    assert {m["model"] for m in document["max_context"]} == {"qwen", "mamba"}


def test_cpu_run_bundle_compares_with_its_search_run():
    result = compare([read_bundle(FIXTURES / "cpu-mini.epb"),
                      read_bundle(FIXTURES / "cpu-maxctx-160MiB.epb")], variant="published")
    models = {r["model"] for r in result.rows}
    assert models == {"tiny-qwen2", "tiny-mamba2", "tiny-falcon-h1"}
    assert any("memory budget differs" in w for w in result.warnings)
    searched = [m for m in result.max_context if m.bundle == "cpu-maxctx-160MiB"]
    assert [m.source for m in searched] == ["search"]
    assert {c.other for c in result.crossovers if c.bundle == "cpu-mini"} == \
        {"tiny-mamba2/hf", "tiny-falcon-h1/hf"}


def test_many_bundles_group_a_difference_by_value(tmp_path):
    paths = [write_bundle(tmp_path / f"run{i}.epb", [point("qwen", K, 0.1 * (i + 1))],
                          power={"mode": "15W" if i % 2 else "MAXN"}) for i in range(6)]
    (warning,) = compare_files(paths).warnings
    assert warning == "power mode differs: MAXN in run0, run2, run4; 15W in run1, run3, run5"


def test_point_rows_read_temperatures_of_old_and_new_snapshots():
    from edgeprobe.analysis.rows import point_row

    new = point_row({"model": "m", "length_tokens": 64, "status": "ok",
                     "thermal_before": {"gpu_temp_c": 41.0, "zones_max_temp_c": 39.0},
                     "thermal_after": {"zones_max_temp_c": 44.5}})
    assert (new["temp_before_c"], new["temp_after_c"]) == (41.0, 44.5)
    old = point_row({"model": "m", "length_tokens": 64, "status": "ok",
                     "thermal_before": {"gpu_c": 43.0}, "thermal_after": {"unavailable": "x"}})
    assert (old["temp_before_c"], old["temp_after_c"]) == (43.0, None)


def _timed(model, ttft_s, iqr_s, backend, tpot_s=0.02, tpot_iqr_s=0.001, **extra):
    record = point(model, K, ttft_s, tpot_s=tpot_s, **extra)
    record["prefill"].update(ttft_iqr_s=iqr_s, attention_backend=backend,
                             launch_bound=extra.get("launch_bound", False))
    record["decode"].update(mode="eager", status="ok", tpot_iqr_s=tpot_iqr_s,
                            tpot_cold_s=tpot_s * 3, attention_backend=backend)
    return record


def test_ratios_inside_the_combined_spread_are_ties(tmp_path):
    settings = {"settings": {"decode_modes": ["eager"], "attention_backend": "auto"}}
    a = write_bundle(tmp_path / "a.epb", [_timed("qwen", 0.100, 0.010, "cudnn"),
                                          _timed("llama", 0.100, 0.002, "cudnn")], **settings)
    b = write_bundle(tmp_path / "b.epb", [_timed("qwen", 0.106, 0.010, "cudnn"),
                                          _timed("llama", 0.110, 0.002, "cudnn",
                                                 tpot_s=0.03)], **settings)
    result = compare_files([a, b])
    assert result.warnings == []
    qwen, llama = _row(result, "b", "qwen", K), _row(result, "b", "llama", K)
    assert qwen["ttft_s_tie"] is True and qwen["ttft_s_ratio"] == pytest.approx(1.06)
    assert llama["ttft_s_tie"] is False and llama["tpot_s_tie"] is False
    assert llama["tpot_cold_s"] == pytest.approx(0.09)
    text = to_markdown(result)
    assert "100ms±5% (tie)" not in text  # the baseline itself carries no ratio
    assert "106ms±5% (tie)" in text and "110ms±1% (1.10x)" in text
    header = next(csv.reader(io.StringIO(to_csv(result))))
    for column in ("ttft_iqr_s", "tpot_iqr_s", "tpot_cold_s", "ttft_s_tie", "attention_backend"):
        assert column in header


def test_attention_pin_kernel_and_decode_method_differences_are_warned(tmp_path):
    a = write_bundle(tmp_path / "pinned.epb",
                     [_timed("qwen", 0.1, 0.01, "efficient", launch_bound=True)],
                     settings={"decode_modes": ["eager"],
                               "attention_backend": ["flash", "efficient", "math"]})
    b = write_bundle(tmp_path / "auto.epb", [_timed("qwen", 0.1, 0.01, "cudnn")],
                     settings={"decode_modes": ["eager", "graph"], "attention_backend": "auto"})
    old = write_bundle(tmp_path / "old.epb", [point("qwen", K, 0.1, tpot_s=0.05)])
    result = compare_files([a, b, old])
    warnings = "\n".join(result.warnings)
    assert "attention pin differs: pinned flash,efficient,math, auto auto, old auto (not " \
           "recorded)" in warnings
    assert "attention kernel of qwen/hf differs: pinned efficient, auto cudnn" in warnings
    assert "decode method differs: pinned eager, auto eager+graph, old single-pass" in warnings
    assert result.notes == [
        "pinned: 1 point(s) launch-bound (device busy under half the time): their times "
        "follow the host's speed and load, not the model's"]


def test_plot_series_carry_the_spread_of_each_figure():
    comparison = compare_files([DEVICE_RESULTS / "h200-paper-slice.epb"])
    (series,) = [s for s in metric_series(comparison, "ttft_s")
                 if s.model == "qwen2.5-0.5b" and s.implementation == "hf"]
    rows = sorted((r for r in comparison.rows if r["model"] == "qwen2.5-0.5b"
                   and r["status"] == "ok"), key=lambda r: r["length_tokens"])
    assert series.lengths_tokens == [r["length_tokens"] for r in rows]
    assert series.spreads == [r["ttft_iqr_s"] for r in rows]  # seconds, as the values
    assert all(s is not None for s in series.spreads)
    (memory,) = [s for s in metric_series(comparison, "peak_bytes")
                 if s.model == "qwen2.5-0.5b"]
    assert set(memory.spreads) == {None}  # one peak per point: no spread to draw
