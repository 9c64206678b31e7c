"""Jetson telemetry against recorded sysfs trees: Orin Nano (JetPack 6, INA3221 hwmon layout)
and AGX Orin (INA3221 iio layout), the jtop fallback, and sensors that fail mid-run."""

from __future__ import annotations

import socket

import pytest

from edgeprobe.telemetry import BackgroundSampler
from edgeprobe.telemetry.platform import host_info
from edgeprobe.telemetry.sources import JetsonSource
from tests.telemetry_helpers import FIXTURES, copy_tree, statuses, use_tree


def test_orin_nano_hwmon_rails_gpu_and_power_mode(monkeypatch):
    use_tree(monkeypatch, FIXTURES / "orin-nano-jp6")
    sampler = BackgroundSampler()
    sampler.sample_once()
    sample = sampler.latest()
    # VDD_IN: 5064 mV x 1208 mA; the board total is the input rail, not the sum.
    assert sample["rail_vdd_in_power_w"] == pytest.approx(5.064 * 1.208)
    assert sample["rail_vdd_cpu_gpu_cv_power_w"] == pytest.approx(5.056 * 0.320)
    assert sample["board_power_w"] == pytest.approx(5.064 * 1.208)
    assert sample["gpu_load_pct"] == pytest.approx(12.3)  # 123 per-mille
    assert sample["gpu_sm_clock_mhz"] == pytest.approx(306.0)
    assert sample["gpu_temp_c"] == pytest.approx(46.281)
    assert sample["emc_clock_mhz"] == pytest.approx(2133.0)
    assert sample["nvpmodel_mode_id"] == 2 and sample["jetson_clocks_on"] == 0
    assert sample["ram_total_bytes"] == 7802456 * 1024
    # Disabled zones (-256 C) are not reported as temperatures.
    assert "zone_cv0_thermal_temp_c" not in sample
    assert sample["zones_max_temp_c"] == pytest.approx(47.843)
    facts = sampler.facts()
    assert facts["power_mode"] == "MAXN_SUPER" and facts["jetson_clocks"] is False
    assert facts["board_power_from"] == "VDD_IN"
    assert facts["jetson_backend"] == "sysfs"
    found = statuses(sampler)
    assert "Tegra" in found[("nvml", "nvml")].detail and not found[("nvml", "nvml")].available
    assert "sum of shunt" not in str(facts["rails"])
    assert host_info()["jetson"] == {"model": "NVIDIA Jetson Orin Nano Engineering Reference "
                                     "Developer Kit Super", "l4t": "36.4.3", "jetpack": "6.2"}


def test_agx_orin_iio_rails_skip_unconnected_and_sum(monkeypatch):
    use_tree(monkeypatch, FIXTURES / "agx-orin-iio")
    sampler = BackgroundSampler()
    sampler.sample_once()
    sample = sampler.latest()
    assert sample["rail_vdd_gpu_soc_power_w"] == pytest.approx(4.820)
    assert not any(key.startswith("rail_nc") for key in sample)
    # No input rail on this board: the total is the sum of the connected rails (mW in iio).
    assert sample["board_power_w"] == pytest.approx((4820 + 1205 + 3610 + 802) / 1000)
    assert sample["gpu_load_pct"] == pytest.approx(96.8)
    assert sample["jetson_clocks_on"] == 1
    facts = sampler.facts()
    assert facts["power_mode"] == "MAXN" and facts["jetson_clocks"] is True
    emc = statuses(sampler)[("jetson", "emc_clock")]
    assert not emc.available and "root" in emc.detail and emc.fix


def test_jtop_socket_missing_falls_back_to_sysfs(monkeypatch):
    use_tree(monkeypatch, FIXTURES / "orin-nano-jp6")
    source = JetsonSource()
    columns = {m.name for m in source.open()}
    assert source.backend == "sysfs"
    assert "board_power_w" in columns and "gpu_load_pct" in columns
    jtop = next(s for s in source.statuses() if s.source == "jtop")
    assert not jtop.available
    assert "/run/jtop.sock does not exist" in jtop.detail and "jtop.service" in jtop.fix


def test_jtop_socket_present_but_jtop_unusable_falls_back(monkeypatch, tmp_path):
    root = copy_tree("orin-nano-jp6", tmp_path)
    (root / "run").mkdir()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(root / "run" / "jtop.sock"))
    try:
        use_tree(monkeypatch, root)
        source = JetsonSource()
        columns = {m.name for m in source.open()}
        jtop = next(s for s in source.statuses() if s.source == "jtop")
    finally:
        listener.close()
    assert source.backend == "sysfs" and "board_power_w" in columns
    assert not jtop.available
    # Either jetson-stats is absent here, or it would read the real board, not this tree.
    assert "jetson-stats is not installed" in jtop.detail or "sensor root" in jtop.detail


def test_rail_energy_is_the_integral_of_changing_power(monkeypatch, tmp_path):
    root = use_tree(monkeypatch, copy_tree("orin-nano-jp6", tmp_path))
    current = root / "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1/curr1_input"
    sampler = BackgroundSampler()
    times, watts = [], []
    for milliamps in (1000, 2000, 2000, 500):
        current.write_text(f"{milliamps}\n")
        times.append(sampler.sample_once())
        watts.append(5.064 * milliamps / 1000)
    window = sampler.energy_window(times[0], times[3])
    expected = sum((b - a) * (pa + pb) / 2 for a, b, pa, pb in
                   zip(times, times[1:], watts, watts[1:], strict=False))
    assert window.energy_source == "jetson_rails"
    assert window.energy_j == pytest.approx(expected)
    assert window.peak_power_w == pytest.approx(5.064 * 2)
    assert window.mean_power_w == pytest.approx(expected / (times[3] - times[0]))
    assert window.temp_column == "gpu_temp_c" and window.temp_max_c == pytest.approx(46.281)
    # Half-way between two samples the edge value is interpolated.
    middle = (times[1] + times[2]) / 2
    assert sampler.energy_window(middle, times[2]).energy_j == pytest.approx(
        (times[2] - middle) * 5.064 * 2)


def test_a_rail_that_disappears_mid_run_is_reported_once(monkeypatch, tmp_path):
    root = use_tree(monkeypatch, copy_tree("agx-orin-iio", tmp_path))
    sampler = BackgroundSampler()
    sampler.sample_once()
    (root / "sys/bus/i2c/drivers/ina3221/1-0040/iio:device0/in_power1_input").unlink()
    sampler.sample_once()
    sampler.sample_once()
    notices = sampler.drain_notices()
    assert len(notices) == 1 and "VDD_CPU_CV unavailable" in notices[0]
    assert "does not exist" in notices[0]
    status = statuses(sampler)[("jetson", "rail VDD_CPU_CV")]
    assert not status.available
    sample = sampler.latest()
    assert "rail_vdd_cpu_cv_power_w" not in sample
    assert sample["board_power_w"] == pytest.approx((4820 + 3610 + 802) / 1000)
    assert sampler.drain_notices() == []
