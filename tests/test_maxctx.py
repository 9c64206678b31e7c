"""Max context per model: from search records, from a cut-short search, from the sweep."""

from __future__ import annotations

from edgeprobe.analysis.maxctx import (
    SOURCE_SEARCH,
    SOURCE_SEARCH_CUT_SHORT,
    SOURCE_SWEEP,
    max_contexts,
)
from edgeprobe.bundle import read_bundle
from tests.bundle_factory import DEVICE_RESULTS, FIXTURES, point, write_bundle

K = 1024


def _by_key(results):
    return {(r.model, r.implementation, r.variant): r for r in results}


def test_sweep_gives_largest_ok_and_first_failure_above_it(tmp_path):
    points = [point("qwen", n * K, 0.1) for n in (1, 2, 4)]
    points += [point("qwen", 8 * K, None, status="oom"),
               point("qwen", 16 * K, None, status="skipped"),
               point("mamba", 1 * K, 0.1, family="ssm"), point("mamba", 16 * K, 0.2, family="ssm"),
               point("zamba", 1 * K, None, family="hybrid", status="kernel_error")]
    bundle = read_bundle(write_bundle(tmp_path / "a.epb", points,
                                      settings={"memory_budget_bytes": 8 * 1024**3}))
    results = _by_key(max_contexts("a", bundle))
    qwen = results[("qwen", "hf", "lean")]
    assert (qwen.max_ok_tokens, qwen.first_fail_tokens, qwen.fail_status) == (4 * K, 8 * K, "oom")
    assert qwen.source == SOURCE_SWEEP and not qwen.lower_bound
    assert qwen.memory_budget_bytes == 8 * 1024**3
    assert qwen.peak_bytes_at_max == 1000 * 4 * K
    mamba = results[("mamba", "hf", "lean")]
    assert mamba.max_ok_tokens == 16 * K and mamba.first_fail_tokens is None and mamba.lower_bound
    zamba = results[("zamba", "hf", "lean")]
    assert zamba.max_ok_tokens is None and zamba.first_fail_tokens == K
    assert zamba.fail_status == "kernel_error" and not zamba.lower_bound


def test_search_record_wins_over_the_sweep(tmp_path):
    points = [point("qwen", 8 * K, 0.1, variant="published"),
              point("qwen", 12 * K, 0.1, variant="published", search=True),
              point("qwen", 13 * K, None, variant="published", search=True, status="oom")]
    record = {"model": "qwen", "family": "transformer", "implementation": "hf",
              "variant": "published", "max_ok_tokens": 12 * K, "first_fail_tokens": 13 * K,
              "fail_status": "oom", "limit_reached": False, "memory_budget_bytes": 24 * 1024**3,
              "trials": [{"length_tokens": 12 * K, "status": "ok", "peak_bytes": 123},
                         {"length_tokens": 13 * K, "status": "oom", "peak_bytes": None}]}
    limit = {**record, "model": "mamba", "family": "ssm", "max_ok_tokens": 512 * K,
             "first_fail_tokens": None, "limit_reached": True, "trials": []}
    bundle = read_bundle(write_bundle(tmp_path / "a.epb", points, max_context=[record, limit]))
    results = _by_key(max_contexts("a", bundle))
    qwen = results[("qwen", "hf", "published")]
    assert qwen.source == SOURCE_SEARCH
    assert (qwen.max_ok_tokens, qwen.first_fail_tokens) == (12 * K, 13 * K)
    assert qwen.peak_bytes_at_max == 123 and qwen.memory_budget_bytes == 24 * 1024**3
    mamba = results[("mamba", "hf", "published")]
    assert mamba.lower_bound and mamba.max_ok_tokens == 512 * K and mamba.fail_status is None


def test_device_bundle_cut_short_mid_search():
    # The H200 run under a 24 GiB budget ended (time limit) during the last-position search.
    bundle = read_bundle(DEVICE_RESULTS / "h200-maxctx-24GiB-partial.epb")
    assert bundle.truncated
    results = _by_key(max_contexts("partial", bundle))
    published = results[("qwen2.5-0.5b", "hf", "published")]
    assert published.source == SOURCE_SEARCH
    assert (published.max_ok_tokens, published.first_fail_tokens) == (75776, 76800)
    lean = results[("qwen2.5-0.5b", "hf", "lean")]
    assert lean.source == SOURCE_SEARCH_CUT_SHORT
    assert (lean.max_ok_tokens, lean.first_fail_tokens, lean.fail_status) == \
        (262144, 524288, "oom")
    assert lean.memory_budget_bytes == 24 * 1024**3


def test_cpu_search_bundle_matches_its_trials():
    bundle = read_bundle(FIXTURES / "cpu-maxctx-160MiB.epb")
    (record,) = bundle.max_context
    (result,) = max_contexts("cpu", bundle)
    assert result.source == SOURCE_SEARCH
    assert result.max_ok_tokens == record["max_ok_tokens"]
    assert result.first_fail_tokens == record["first_fail_tokens"]
    assert result.first_fail_tokens - result.max_ok_tokens <= 1024
