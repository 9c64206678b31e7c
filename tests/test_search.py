"""Max-context search on constructed cases with known answers."""

import pytest

from edgeprobe.probe.search import Trial, find_max_context, predict_limit


def fake_device(limit_tokens: int, base: int = 10**8, per_token: int = 1000):
    tried: list[int] = []

    def try_length(n: int) -> Trial:
        tried.append(n)
        fits = n <= limit_tokens
        return Trial(n, "ok" if fits else "oom", base + per_token * n if fits else None)

    return try_length, tried


@pytest.mark.parametrize("limit", [1024, 1500, 4096, 74_000, 221_000, 422_000, 999_999])
@pytest.mark.parametrize("with_budget", [False, True])
def test_finds_largest_fitting_length_to_resolution(limit, with_budget):
    try_length, tried = fake_device(limit)
    budget = 10**8 + 1000 * limit + 500 if with_budget else None
    result = find_max_context(try_length, start_tokens=1024, limit_tokens=1 << 20,
                              resolution_tokens=1024, budget_bytes=budget)
    expected = limit // 1024 * 1024
    assert result.max_ok_tokens == expected
    assert result.first_fail_tokens == expected + 1024
    assert result.fail_status == "oom"
    assert not result.limit_reached
    assert len(set(tried)) == len(tried), "no length is tried twice"


def test_memory_prediction_saves_trials():
    plain, plain_tried = fake_device(300_000)
    find_max_context(plain, 1024, 1 << 20, 1024)
    guided, guided_tried = fake_device(300_000)
    find_max_context(guided, 1024, 1 << 20, 1024, budget_bytes=10**8 + 1000 * 300_000 + 10)
    assert len(guided_tried) < len(plain_tried)


def test_wrong_prediction_falls_back_to_bisection():
    # Memory grows faster than linearly: the straight-line prediction overshoots.
    tried = []

    def try_length(n):
        tried.append(n)
        fits = n <= 50_000
        return Trial(n, "ok" if fits else "oom", n * n if fits else None)

    result = find_max_context(try_length, 1024, 1 << 20, 1024, budget_bytes=50_000**2)
    assert result.max_ok_tokens == 50_000 // 1024 * 1024
    assert result.first_fail_tokens == result.max_ok_tokens + 1024


def test_limit_reached_when_everything_fits():
    try_length, _ = fake_device(10**9)
    result = find_max_context(try_length, 4096, 100_000, 1024)
    assert result.limit_reached
    assert result.max_ok_tokens == 100_000 // 1024 * 1024
    assert result.first_fail_tokens is None


def test_nothing_fits():
    try_length, _ = fake_device(100)
    result = find_max_context(try_length, 8192, 1 << 20, 1024)
    assert result.max_ok_tokens is None
    assert result.first_fail_tokens == 1024


def test_known_sweep_points_seed_the_bracket():
    try_length, tried = fake_device(70_000)
    known = [Trial(65536, "ok", 10**8 + 65536000), Trial(131072, "oom")]
    result = find_max_context(try_length, 1024, 1 << 20, 1024, known=known)
    assert result.max_ok_tokens == 68 * 1024
    assert all(65536 < n < 131072 for n in tried)


def test_kernel_errors_count_as_failures():
    def try_length(n):
        if n >= 393_216:
            return Trial(n, "kernel_error", None, "illegal memory access")
        return Trial(n, "ok", n)

    result = find_max_context(try_length, 262_144, 1 << 20, 1024)
    assert result.fail_status == "kernel_error"
    assert result.max_ok_tokens == 393_216 - 1024


def test_prediction_needs_two_lengths():
    assert predict_limit([Trial(1024, "ok", 5)], 100) is None
    assert predict_limit([Trial(1000, "ok", 1000), Trial(2000, "ok", 2000)], 5000) == \
        pytest.approx(5000)
