"""Crossover length on constructed TTFT series whose answer is known."""

from __future__ import annotations

import pytest

from edgeprobe.analysis.crossover import (
    CROSSOVER,
    NO_OVERLAP,
    NONE_IN_RANGE,
    OTHER_FASTER_EVERYWHERE,
    crossovers,
    find_crossover,
    loglog_interpolate,
    max_speedup,
)
from edgeprobe.analysis.rows import point_row
from tests.bundle_factory import point

K = 1024


def test_power_laws_cross_where_the_algebra_says():
    # Transformer TTFT grows linearly (1 s at 1K), the SSM's is flat at 4 s: equal at 4K.
    transformer = {n * K: float(n) for n in (1, 2, 8, 16, 64)}
    ssm = {n * K: 4.0 for n in (1, 2, 8, 16, 64)}
    kind, tokens = find_crossover(transformer, ssm)
    assert kind == CROSSOVER
    assert tokens == pytest.approx(4 * K, rel=1e-9)


def test_crossover_between_grids_that_do_not_share_lengths():
    transformer = {K: 1.0, 4 * K: 4.0, 16 * K: 16.0}  # TTFT = n / 1K
    ssm = {2 * K: 4.0, 8 * K: 4.0, 32 * K: 4.0}
    kind, tokens = find_crossover(transformer, ssm)
    assert kind == CROSSOVER and tokens == pytest.approx(4 * K, rel=1e-9)


def test_quadratic_against_linear_on_log_log_axes():
    # T = (n/1K)^2 / 100, S = (n/1K) / 10: equal at n = 10K, between measured 8K and 16K.
    lengths = [K, 2 * K, 4 * K, 8 * K, 16 * K, 32 * K]
    transformer = {n: (n / K) ** 2 / 100 for n in lengths}
    ssm = {n: (n / K) / 10 for n in lengths}
    kind, tokens = find_crossover(transformer, ssm)
    assert kind == CROSSOVER and tokens == pytest.approx(10 * K, rel=1e-9)


def test_a_tie_at_a_measured_length_is_the_crossover():
    transformer = {K: 1.0, 4 * K: 2.0, 16 * K: 8.0}
    ssm = {K: 2.0, 4 * K: 2.0, 16 * K: 2.0}
    assert find_crossover(transformer, ssm) == (CROSSOVER, pytest.approx(4 * K))


def test_faster_everywhere_none_in_range_and_no_overlap():
    transformer = {K: 2.0, 8 * K: 4.0}
    assert find_crossover(transformer, {K: 1.0, 8 * K: 3.9})[0] == OTHER_FASTER_EVERYWHERE
    assert find_crossover(transformer, {K: 3.0, 8 * K: 5.0}) == (NONE_IN_RANGE, None)
    # Equal at the longest length is not "below": no crossover.
    assert find_crossover(transformer, {K: 3.0, 8 * K: 4.0}) == (NONE_IN_RANGE, None)
    assert find_crossover(transformer, {16 * K: 1.0, 32 * K: 1.0}) == (NO_OVERLAP, None)
    assert find_crossover({}, {K: 1.0}) == (NO_OVERLAP, None)


def test_a_dip_at_short_lengths_is_not_the_crossover():
    # Below at 1K (noise), above at 4K, below from 16K on: the answer lies in 4K-16K.
    transformer = {K: 1.0, 4 * K: 1.0, 16 * K: 4.0, 64 * K: 16.0}
    ssm = {K: 0.9, 4 * K: 2.0, 16 * K: 2.0, 64 * K: 2.0}
    kind, tokens = find_crossover(transformer, ssm)
    assert kind == CROSSOVER
    assert tokens == pytest.approx(8 * K, rel=1e-9)  # T = 1 * (n/4K): equals 2 at 8K


def test_crossing_back_above_at_the_end_is_none_in_range():
    transformer = {K: 1.0, 4 * K: 4.0, 16 * K: 4.0}
    ssm = {K: 2.0, 4 * K: 2.0, 16 * K: 8.0}
    assert find_crossover(transformer, ssm)[0] == NONE_IN_RANGE


def test_loglog_interpolation_is_exact_for_power_laws():
    series = {K: 1.0, 16 * K: 256.0}  # TTFT = (n/1K)^2
    assert loglog_interpolate(series, 4 * K) == pytest.approx(16.0)
    assert loglog_interpolate(series, 512) == 1.0  # clamped outside the range


def test_max_speedup_reports_the_largest_ratio_and_where():
    fast = {K: 1.0, 8 * K: 2.0, 32 * K: 4.0}
    slow = {K: 3.0, 8 * K: 3.0, 32 * K: 4.0}
    assert max_speedup(fast, slow) == (3.0, K)
    assert max_speedup(fast, slow, lengths=[8 * K, 32 * K]) == (1.5, 8 * K)
    assert max_speedup(slow, fast) is None  # never faster


def _rows(points):
    return [point_row(p) for p in points]


def test_pairs_are_transformer_against_ssm_and_hybrid_of_the_chosen_variant():
    points = [
        *(point("qwen", n * K, n / 1.0) for n in (1, 2, 8, 16)),
        *(point("mamba2", n * K, 4.0, family="ssm") for n in (1, 2, 8, 16)),
        *(point("falcon", n * K, 0.5, family="hybrid") for n in (1, 2, 8, 16)),
        # The published variant: the SSM is slower everywhere.
        *(point("qwen", n * K, n ** 0.25, variant="published") for n in (1, 16)),
        *(point("mamba2", n * K, 9.0, family="ssm", variant="published") for n in (1, 16)),
    ]
    lean = {c.other: c for c in crossovers("b", _rows(points), "lean")}
    assert set(lean) == {"mamba2/hf", "falcon/hf"}  # no SSM x hybrid pair
    assert lean["mamba2/hf"].kind == CROSSOVER
    assert lean["mamba2/hf"].crossover_tokens == pytest.approx(4 * K)
    assert "faster beyond ~4,096 tokens" in lean["mamba2/hf"].describe()
    assert lean["falcon/hf"].kind == OTHER_FASTER_EVERYWHERE
    assert "every length" in lean["falcon/hf"].describe()
    (published,) = crossovers("b", _rows(points), "published")
    assert published.kind == NONE_IN_RANGE and "none in range (1K-16K)" in published.describe()
    assert published.transformer_speedup == (9.0, K)


def test_a_transformer_that_runs_out_of_memory_is_said_so():
    points = [
        point("qwen", K, 1.0), point("qwen", 8 * K, 2.0), point("qwen", 64 * K, None,
                                                               status="oom"),
        point("mamba", K, 3.0, family="ssm"), point("mamba", 8 * K, 3.0, family="ssm"),
        point("mamba", 64 * K, 5.0, family="ssm"),
    ]
    (item,) = crossovers("b", _rows(points), "lean")
    assert item.kind == NONE_IN_RANGE
    assert item.transformer_fails_from_tokens == 64 * K
    assert "qwen fails from 64K" in item.describe()
    assert item.as_dict()["transformer_fails_from_tokens"] == 64 * K
