"""The operator category table, against names recorded from real profiles, and the kernel table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgeprobe.analysis.kernels import short_kernel_name
from edgeprobe.models.kernel_path import ATTENTION_OPS, CONV1D_MARKERS, SSM_SCAN_MARKERS
from edgeprobe.profiling.categories import CATEGORIES, categorize, scope_of, scope_range_name
from edgeprobe.profiling.names import (
    KIND_KERNEL,
    KIND_OP,
    NameEntry,
    entries_from_records,
    read_names,
    write_names,
)
from edgeprobe.profiling.spec import (
    ProfileSchedule,
    ProfileSpec,
    pick_variant,
    trace_file,
    why_not_comparable,
)
from edgeprobe.profiling.table import TIME_BASIS_CUDA, KernelSample, aggregate

FIXTURES = Path(__file__).parent / "fixtures" / "kernels"
LISTINGS = sorted([*FIXTURES.glob("*.tsv"), *FIXTURES.glob("*.txt")])
# Names a recorded listing may hold that no category fits (none so far).
KNOWN_OTHER: set[str] = set()

# Expectations written from what each kernel or op is, independent of the table's rules:
# (pattern on the name, pattern on the launching ops or None, category).
GPU_EXPECTED = (
    (r"selective_scan|_chunk_(cumsum|state|scan)_fwd|_state_passing_fwd|_bmm_chunk_fwd|"
     r"causal_conv1d", None, "SSM_Scan"),
    (r"sdpa|fmha|flash_fwd|flash_attn|attention", None, "attention"),
    (r".", r"aten::_scaled_dot_product_\w*attention", "attention"),
    (r"layer_norm|rms_?norm", None, "normalization"),
    (r"^Memcpy|^Memset|direct_copy|CatArrayBatchedCopy", None, "memory"),
    (r"^nvjet_|gemm|gemv", None, "GEMM"),
)
CPU_EXPECTED = (
    (r".", r"aten::conv1d", "SSM_Scan"),
    (r".", r"aten::scaled_dot_product_attention", "attention"),
    (r"^aten::_scaled_dot_product", None, "attention"),
    (r".", r"aten::embedding\b", "embedding"),
    (r"^aten::(mm|addmm|bmm)$", None, "GEMM"),
    (r"^aten::(copy_|cat|_to_copy|clone)$", None, "memory"),
    (r"^aten::(silu|softplus)$", None, "activation"),
    (r"^aten::(mul|add|exp|cumsum|pow|rsqrt)$", r"^$", "arithmetic"),
)


def _expected(entry: NameEntry) -> str | None:
    if entry.scope:
        return entry.scope
    chain = " < ".join(entry.launched_by)
    for name_pattern, chain_pattern, category in (
            GPU_EXPECTED if entry.kind == KIND_KERNEL else CPU_EXPECTED):
        if re.search(name_pattern, entry.name) and (
                chain_pattern is None or re.search(chain_pattern, chain)):
            return category
    return None


def test_fixture_listings_are_present():
    names = {p.name for p in LISTINGS}
    assert "h200-recorded.txt" in names and "cpu-tiny-models.tsv" in names
    kinds = {e.kind for path in LISTINGS for e in read_names(path)}
    assert kinds == {KIND_KERNEL, KIND_OP}


@pytest.mark.parametrize("listing", LISTINGS, ids=[p.name for p in LISTINGS])
def test_recorded_names_get_their_category(listing):
    wrong = []
    for entry in read_names(listing):
        category = categorize(entry.name, entry.launched_by, entry.scope)
        expected = _expected(entry)
        if (expected is not None and category != expected) or (
                category == "other" and entry.name not in KNOWN_OTHER):
            wrong.append(f"{entry.line()} -> {category} (expected {expected or 'not other'})")
    assert not wrong, "\n".join(wrong)


def test_the_cpu_listing_covers_every_family():
    entries = read_names(FIXTURES / "cpu-tiny-models.tsv")
    seen = {categorize(e.name, e.launched_by, e.scope) for e in entries}
    # Tiny models of all three families on the CPU: everything but a fused scan kernel shows.
    assert {"SSM_Scan", "GEMM", "attention", "normalization", "activation", "arithmetic",
            "memory", "embedding", "logits"} <= seen


def test_agrees_with_the_kernel_path_markers():
    for marker in (*SSM_SCAN_MARKERS, *CONV1D_MARKERS):
        assert categorize(marker) == "SSM_Scan", marker
    for op, _label in ATTENTION_OPS:
        assert categorize(op) == "attention", op


@pytest.mark.parametrize(("name", "chain", "scope", "category"), [
    # The logits GEMM and the embedding lookup are told apart only by their module scope.
    ("nvjet_sm90_tst_x", ("aten::mm", "aten::matmul", "aten::linear"), "logits", "logits"),
    ("nvjet_sm90_tst_x", ("aten::mm", "aten::matmul", "aten::linear"), None, "GEMM"),
    ("indexSelectLargeIndex", ("aten::index_select",), "embedding", "embedding"),
    ("indexSelectLargeIndex", ("aten::index_select", "aten::embedding"), None, "embedding"),
    ("indexSelectLargeIndex", ("aten::index_select",), None, "memory"),
    # A layout copy inside a matmul is memory; a GEMM-named cuDNN kernel of a conv is the conv.
    ("void at::native::elementwise_kernel<direct_copy_kernel_cuda>",
     ("aten::copy_", "aten::clone", "aten::matmul"), None, "memory"),
    ("implicit_convolve_sgemm<float>", ("aten::cudnn_convolution", "aten::conv1d"), None,
     "SSM_Scan"),
    # Flash kernels carry cutlass types in their names: attention wins over GEMM.
    ("void pytorch_flash::flash_fwd_kernel<Flash_fwd_kernel_traits<cutlass::half_t>>",
     ("aten::_flash_attention_forward",), None, "attention"),
    ("vectorized_elementwise_kernel<silu_kernel>", ("aten::silu",), None, "activation"),
    ("vectorized_elementwise_kernel<FillFunctor<float>>", ("aten::fill_", "aten::zeros"), None,
     "memory"),
    ("reduce_kernel<MeanOps<float>>", ("aten::mean",), None, "arithmetic"),
    ("aten::mul", (), "normalization", "normalization"),
    ("aten::mul", (), None, "arithmetic"),
    ("triton_unknown_fused_kernel", (), None, "other"),
])
def test_precedence(name, chain, scope, category):
    assert categorize(name, chain, scope) == category


def test_scope_ranges_round_trip():
    for category in ("embedding", "logits", "normalization"):
        assert scope_of(scope_range_name(category)) == category
    assert scope_of("ProfilerStep*") is None
    assert scope_of(scope_range_name("GEMM")) is None  # only the scoped categories


def test_aggregate_rows_and_shares():
    samples = [
        KernelSample("gemm_a", 3e-3, ("aten::mm",)),
        KernelSample("gemm_a", 1e-3, ("aten::mm",)),
        KernelSample("gemm_a", 2e-3, ("aten::mm",), "logits"),
        KernelSample("_chunk_scan_fwd_kernel", 4e-3),
    ]
    table = aggregate(samples, TIME_BASIS_CUDA, steps=2, active_wall_s=0.02)
    record = table.as_record()
    assert [(r["name"], r["category"], r["calls"]) for r in record["rows"]] == [
        ("_chunk_scan_fwd_kernel", "SSM_Scan", 1), ("gemm_a", "GEMM", 2),
        ("gemm_a", "logits", 1)]
    gemm = record["rows"][1]
    assert gemm["total_s"] == pytest.approx(4e-3) and gemm["mean_s"] == pytest.approx(2e-3)
    assert gemm["share"] == pytest.approx(0.4)
    assert record["device_time_s"] == pytest.approx(10e-3)
    assert record["device_time_per_step_s"] == pytest.approx(5e-3)
    assert list(record["categories"]) == list(CATEGORIES)
    assert record["categories"]["logits"]["share"] == pytest.approx(0.2)
    assert record["categories"]["GEMM"]["calls"] == 2
    assert sum(c["share"] for c in record["categories"].values()) == pytest.approx(1.0)


def test_name_listing_round_trip(tmp_path):
    record = aggregate([KernelSample("k<a, b>(x)", 1e-3, ("aten::mm", "aten::linear"), "logits"),
                        KernelSample("aten::add", 1e-3)], TIME_BASIS_CUDA, 1, 1e-3).as_record()
    entries = entries_from_records([record, record])
    assert len(entries) == 2
    path = tmp_path / "names.tsv"
    write_names(path, entries, ["recorded here"])
    assert read_names(path) == entries
    assert path.read_text().startswith("# recorded here")


def test_short_kernel_names():
    assert short_kernel_name("void selective_scan_fwd_kernel<traits<32, 4>, float>"
                             "(SSMParamsBase)") == "selective_scan_fwd_kernel<…>"
    assert short_kernel_name("void at::native::(anonymous namespace)::CatArrayBatchedCopy<"
                             "OpaqueType<2u>, unsigned int>(int*, int)") \
        == "at::native::CatArrayBatchedCopy<…>"
    assert short_kernel_name("Memcpy DtoD (Device -> Device)") == "Memcpy DtoD (Device -> Device)"
    assert short_kernel_name("(device time with no traced launch)") \
        == "(device time with no traced launch)"
    assert len(short_kernel_name("x" * 200, 40)) == 40


def test_profile_spec_helpers(tmp_path):
    assert pick_variant(["lean", "published"]) == "published"
    assert pick_variant(["lean"]) == "lean"
    assert pick_variant([]) is None
    spec = ProfileSpec(4096, "lean", 3, ProfileSchedule(0, 1, 1, 2), "/t/x.json.gz")
    assert ProfileSpec.from_message(spec.as_message()) == spec
    assert ProfileSchedule().total_steps == 15  # the study's 1 + 2 + 2 + 10
    with pytest.raises(ValueError):
        ProfileSchedule(active=0)
    path = trace_file(tmp_path, "run 1", "qwen2.5-0.5b", "hf", 32768, "published")
    assert path.name == "run-1_qwen2.5-0.5b_hf_32768tok_published.json.gz"
    assert why_not_comparable("cuda", "fused") is None
    assert "reference" in why_not_comparable("cuda", "reference")
    assert "CPU" in why_not_comparable("cpu", "fused")
