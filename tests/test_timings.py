"""Spreads, warm-up until stable, ties, and how a point's reply splits per variant."""

from __future__ import annotations

import pytest

from edgeprobe.analysis.figures import figures
from edgeprobe.probe.warmup import WarmupPolicy, warm_up
from edgeprobe.runner.points import split_reply
from edgeprobe.stats import spread, within_noise
from edgeprobe.units import format_spread, format_spread_percent


def test_spread_quartiles_stay_within_the_samples():
    stats = spread([4.0, 1.0, 3.0, 2.0, 100.0])
    assert stats.median_s == 3.0 and stats.min_s == 1.0 and stats.max_s == 100.0
    assert (stats.q1_s, stats.q3_s) == (2.0, 4.0) and stats.iqr_s == 2.0
    one = spread([0.5])
    assert one.iqr_s == 0 and one.median_s == 0.5
    with pytest.raises(ValueError):
        spread([])


def test_within_noise_is_overlap_of_half_spreads():
    assert within_noise(1.0, 0.2, 1.15, 0.2) is True
    assert within_noise(1.0, 0.2, 1.25, 0.2) is False
    assert within_noise(1.0, None, 1.0, 0.1) is None


def _durations(values):
    remaining = list(values)
    return lambda: remaining.pop(0)


def test_warm_up_stops_once_two_passes_agree():
    result = warm_up(_durations([5.0, 2.0, 1.2, 1.0, 1.01, 9.0]),
                     WarmupPolicy(min_passes=1, tolerance=0.05))
    assert result.passes == 5 and result.stable
    assert result.seconds == [5.0, 2.0, 1.2, 1.0, 1.01]


def test_warm_up_is_bounded_and_says_when_it_never_settled():
    result = warm_up(_durations([1.0, 2.0] * 10), WarmupPolicy(min_passes=1, max_passes=6))
    assert result.passes == 6 and not result.stable
    assert warm_up(_durations([]), WarmupPolicy(min_passes=0)).passes == 0
    # At least min_passes, even when the first two agree.
    assert warm_up(_durations([1.0] * 5), WarmupPolicy(min_passes=4)).passes == 4


def test_spread_formats():
    assert format_spread(0.0162, 0.0012) == "16.2±0.6ms"
    assert format_spread(1.3, None) == "1.30s"
    assert format_spread_percent(0.0162, 0.00065) == "16.2ms±2%"
    assert format_spread_percent(None, 0.1) == "-"


def test_a_fault_in_one_variant_fails_it_and_sends_the_others_again():
    reply = {"ok": False, "status": "kernel_error", "error": "illegal memory access",
             "fatal": True, "variant": "published"}
    outcomes, redo = split_reply(reply, ["published", "lean"], "lean")
    assert outcomes == {"published": {"status": "kernel_error", "error": "illegal memory access"}}
    assert redo == ["lean"]
    decode_fault = {**reply, "variant": None, "phase": "decode"}
    decode_fault.pop("variant")
    outcomes, redo = split_reply(decode_fault, ["published", "lean"], "lean")
    assert set(outcomes) == {"lean"} and "in the decode" in outcomes["lean"]["error"]
    assert redo == ["published"]
    crashed = {"ok": False, "status": "crashed", "error": "worker exited"}
    outcomes, redo = split_reply(crashed, ["published", "lean"], "lean")
    assert set(outcomes) == {"published", "lean"} and redo == []
    ok = {"ok": True, "variants": {"lean": {"status": "ok"}}}
    assert split_reply(ok, ["lean"], "lean") == ({"lean": {"status": "ok"}}, [])


def test_figures_of_old_and_new_decode_records():
    old = {"prefill": {"ttft_s": 0.1}, "decode": {"tokens": 4, "tpot_s": 0.05}}
    assert figures(old)["tpot_s"] == 0.05 and figures(old)["tpot_method"] == "single-pass"
    assert figures(old)["tpot_cold_s"] is None
    new = {"prefill": {"ttft_s": 0.1, "ttft_iqr_s": 0.01, "launch_bound": True},
           "decode": {"mode": "eager", "status": "ok", "tpot_s": 0.02, "tpot_cold_s": 0.06,
                      "tpot_iqr_s": 0.001},
           "decode_graph": {"mode": "graph", "status": "ok", "tpot_s": 0.002,
                            "tpot_cold_s": 0.003}}
    got = figures(new)
    assert (got["tpot_s"], got["tpot_cold_s"], got["tpot_graph_s"]) == (0.02, 0.06, 0.002)
    assert got["tpot_method"] == "eager" and got["prefill_launch_bound"] is True
    graph_only = {"prefill": {"ttft_s": 0.1}, "decode_graph": new["decode_graph"]}
    assert figures(graph_only)["tpot_s"] == 0.002
    assert figures(graph_only)["tpot_method"] == "graph"
    failed = {"prefill": {"ttft_s": 0.1}, "decode": {"mode": "eager", "status": "oom"}}
    assert figures(failed)["tpot_s"] is None
