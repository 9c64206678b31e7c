"""Energy windows, the ring buffer, timeline chunks in a bundle, and the sampler thread."""

from __future__ import annotations

import math
import time

import msgpack
import pytest

from edgeprobe.bundle import BundleWriter, read_bundle
from edgeprobe.bundle.schema import TELEMETRY
from edgeprobe.errors import UsageError
from edgeprobe.telemetry import BackgroundSampler, compute_window, decode_timeline
from edgeprobe.telemetry.base import FLOAT32, FLOAT64, UINT32
from edgeprobe.telemetry.nvml import decode_clock_events
from edgeprobe.telemetry.ring import Ring, Rows
from edgeprobe.telemetry.timeline import encode_chunk
from tests.telemetry_helpers import FIXTURES, use_tree

NAN = math.nan


def _rows(times, **columns):
    return Rows(times=list(times), columns={k: list(v) for k, v in columns.items()}, first_seq=0)


def test_counter_is_interpolated_at_the_edges_and_power_integrated():
    # 100 W for 1 s, then 300 W: the counter and the instantaneous power agree.
    times = [0.0, 0.5, 1.0, 1.5, 2.0]
    power = [100, 100, 100, 300, 300]
    counter = [1000.0, 1050.0, 1100.0, 1250.0, 1400.0]
    rows = _rows(times, gpu_energy_j=counter, gpu_power_w=power, gpu_temp_c=[40, 41, 45, 43, 42],
                 gpu_clock_event_mask=[0, 0, 4, 4, 0], gpu_sm_clock_mhz=[1980, 1980, 1900, 1700,
                                                                         1800])
    window = compute_window(rows, 0.25, 1.75)
    assert window.energy_source == "nvml_counter"
    assert window.energy_j == pytest.approx(1325.0 - 1025.0)
    # Trapezoids over the piecewise-linear power: 0.25..1.0 at 100 W, 1.0..1.5 ramps to 300 W.
    assert window.energy_by_source_j["integrated_power"] == pytest.approx(
        0.75 * 100 + 0.5 * 200 + 0.25 * 300)
    assert window.mean_power_w == pytest.approx(300.0 / 1.5)
    assert window.peak_power_w == 300
    assert (window.temp_start_c, window.temp_max_c, window.temp_end_c) == (40, 45, 42)
    assert window.throttle_reasons == ["sw_power_cap"]
    assert window.sm_clock_min_mhz == 1700
    assert window.samples == 3 and window.covered_s == pytest.approx(1.5)
    assert window.note is None


def test_windows_without_enough_samples_say_so():
    rows = _rows([1.0, 2.0], board_power_w=[5.0, 5.0])
    short = compute_window(rows, 1.2, 1.3)
    assert short.energy_j == pytest.approx(0.5) and short.energy_source == "jetson_rails"
    assert "only 0 sample(s) inside" in short.note
    early = compute_window(rows, 0.0, 2.0)
    assert early.covered_s == pytest.approx(1.0) and "before the oldest sample" in early.note
    assert compute_window(rows, 2.0, 1.0).note == "window ends before it starts"
    gaps = compute_window(_rows([0, 1, 2], gpu_power_w=[NAN, 10, 10]), 0.0, 2.0)
    assert gaps.energy_j == pytest.approx(10.0) and gaps.covered_s == pytest.approx(1.0)


def test_clock_event_bits_decode_to_names():
    assert decode_clock_events(0) == []
    assert decode_clock_events(0x1 | 0x40) == ["gpu_idle", "hw_thermal_slowdown"]
    assert decode_clock_events(0x400) == ["bit_0x400"]


def test_ring_keeps_the_newest_rows_and_counts_what_it_lost():
    ring = Ring(["x"], capacity=4)
    for i in range(6):
        ring.append(float(i), {"x": i * 10.0})
    assert ring.since(0).times == [2.0, 3.0, 4.0, 5.0] and ring.since(0).dropped == 2
    assert ring.since(5).columns["x"] == [50.0]
    around = ring.around(3.5, 4.0)
    assert around.times == [3.0, 4.0, 5.0]
    assert ring.last() == (5.0, {"x": 50.0})


def test_timeline_chunks_round_trip_through_a_bundle(tmp_path):
    times = [100.0, 100.1, 100.2000004, 100.3]
    first = encode_chunk(chunk=1, times=times,
                         columns={"gpu_power_w": [1.5, NAN, 3.25, 4.0],
                                  "gpu_energy_j": [1e6, 1e6 + 0.15, 1e6 + 0.3, 1e6 + 0.45],
                                  "gpu_clock_event_mask": [0, 4, NAN, 36]},
                         dtypes={"gpu_power_w": FLOAT32, "gpu_energy_j": FLOAT64,
                                 "gpu_clock_event_mask": UINT32},
                         start_unix_s=1.7e9, rate_hz=10.0)
    second = encode_chunk(chunk=2, times=[100.4], columns={"board_power_w": [7.0]},
                          dtypes={}, start_unix_s=1.7e9 + 0.4, rate_hz=10.0, dropped_rows=3)
    path = tmp_path / "t.epb"
    with BundleWriter(path, {}) as writer:
        writer.append(TELEMETRY, first)
        writer.append(TELEMETRY, second)
    bundle = read_bundle(path)
    timeline = decode_timeline(bundle.records)
    assert timeline.chunks == 2 and len(timeline) == 5 and timeline.dropped_rows == 3
    assert timeline.monotonic_s == pytest.approx([100.0, 100.1, 100.2, 100.3, 100.4], abs=1e-6)
    assert timeline.unix_s[0] == pytest.approx(1.7e9)
    power = timeline.column("gpu_power_w")
    assert power[0] == 1.5 and math.isnan(power[1]) and math.isnan(power[4])
    assert timeline.column("gpu_energy_j")[3] == 1e6 + 0.45  # float64 keeps counters exact
    mask = timeline.column("gpu_clock_event_mask")
    assert mask[:2] == [0.0, 4.0] and math.isnan(mask[2]) and mask[3] == 36.0
    assert timeline.column("board_power_w")[4] == 7.0
    assert math.isnan(timeline.column("nothing")[0])


def test_sampler_drains_chunks_that_decode_to_its_samples(monkeypatch):
    use_tree(monkeypatch, FIXTURES / "orin-nano-jp6")
    sampler = BackgroundSampler(rate_hz=10, history_s=0.3)  # room for 4 rows
    stamps = [sampler.sample_once() for _ in range(3)]
    first = sampler.drain_timeline()
    assert sampler.drain_timeline() is None
    stamps += [sampler.sample_once() for _ in range(6)]
    second = sampler.drain_timeline()
    assert first["rows"] == 3 and second["rows"] == 4 and second["dropped_rows"] == 2
    timeline = decode_timeline([first, msgpack.unpackb(msgpack.packb(second), raw=False)])
    assert timeline.monotonic_s == pytest.approx(stamps[:3] + stamps[5:], abs=1e-6)
    assert timeline.column("board_power_w") == pytest.approx([5.064 * 1.208] * 7, rel=1e-6)
    assert timeline.column("nvpmodel_mode_id") == [2.0] * 7


def test_background_thread_samples_and_windows_wait_for_the_end(monkeypatch):
    use_tree(monkeypatch, FIXTURES / "agx-orin-iio")
    with BackgroundSampler(rate_hz=100) as sampler:
        start = time.monotonic()
        deadline = start + 60
        while sampler.stats()["samples"] < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        end = time.monotonic()
        window = sampler.energy_window(start, end, wait_s=30)
        phase = sampler.phase_energy({"start_monotonic_s": start, "end_monotonic_s": end,
                                      "passes": 4, "tokens": 4096})
    assert sampler.stats()["samples"] >= 5
    assert not sampler.running
    assert window.energy_j == pytest.approx(10.437 * window.covered_s)
    assert phase["energy_per_pass_j"] == pytest.approx(phase["energy_j"] / 4)
    assert phase["energy_per_token_j"] == pytest.approx(phase["energy_j"] / 4096)


@pytest.mark.parametrize("rate", [0, -1, 100.5, 1000])
def test_rate_outside_the_range_is_a_usage_error(rate):
    with pytest.raises(UsageError, match="telemetry rate"):
        BackgroundSampler(sources=[], rate_hz=rate)


def test_a_source_that_raises_is_dropped_not_fatal(monkeypatch):
    from edgeprobe.telemetry.base import Source, gauge

    class Broken(Source):
        name = "broken"

        def open(self):
            return [gauge("broken_w")]

        def read(self, values):
            raise RuntimeError("sensor exploded")

    sampler = BackgroundSampler([Broken()])
    sampler.sample_once()
    sampler.sample_once()
    assert sampler.drain_notices() == ["broken source unavailable: RuntimeError: sensor exploded"]
    assert [s.line() for s in sampler.availability()] == [
        "unavailable: RuntimeError: sensor exploded"]
