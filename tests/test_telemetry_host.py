"""Host telemetry: a recorded x86 desktop tree (RAPL, thermal zones), this machine itself,
and sensors that are missing or unreadable: always ``unavailable: why``, never a crash."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest

from edgeprobe.telemetry import BackgroundSampler
from edgeprobe.telemetry.host import HostSource
from edgeprobe.telemetry.rapl import RaplSource
from edgeprobe.telemetry.thermal import ThermalSource
from tests.telemetry_helpers import FIXTURES, copy_tree, statuses, use_tree

RAPL = "sys/class/powercap/intel-rapl:0"


def test_x86_desktop_zones_rapl_and_memory(monkeypatch):
    use_tree(monkeypatch, FIXTURES / "x86-desktop")
    sampler = BackgroundSampler()
    sampler.sample_once()
    sample = sampler.latest()
    # Two zones of one type stay apart; an out-of-range zone is no temperature.
    assert sample["zone_acpitz_temp_c"] == pytest.approx(27.8)
    assert sample["zone_acpitz_1_temp_c"] == pytest.approx(29.8)
    assert "zone_iwlwifi_1_temp_c" not in sample
    assert sample["zones_max_temp_c"] == pytest.approx(41.0)
    assert sample["cpu_package_energy_j"] == 0.0
    assert sample["ram_used_bytes"] == (65682236 - 58123876) * 1024
    found = statuses(sampler)
    assert not found[("nvml", "nvml")].available
    assert found[("rapl", "package-0")].available
    assert sampler.facts()["rapl_domains"] == ["package-0"]  # not the nested core domain


def test_rapl_counter_unwraps_and_gives_the_window_energy(monkeypatch, tmp_path):
    root = use_tree(monkeypatch, copy_tree("x86-desktop", tmp_path))
    energy_file = root / RAPL / "energy_uj"
    sampler = BackgroundSampler([RaplSource()])
    start = sampler.sample_once()
    energy_file.write_text("262143328000\n")  # +0.328 J
    sampler.sample_once()
    energy_file.write_text("1000000\n")  # wrapped at 262143328850 uJ: +0.00085 + 1 J
    end = sampler.sample_once()
    assert sampler.latest()["cpu_package_energy_j"] == pytest.approx(0.328 + 0.00085 + 1.0)
    window = sampler.energy_window(start, end)
    assert window.energy_source == "rapl_counter"
    assert window.energy_j == pytest.approx(1.32885)


def test_cpu_load_from_proc_stat_deltas(monkeypatch, tmp_path):
    root = use_tree(monkeypatch, copy_tree("x86-desktop", tmp_path))
    source = HostSource()
    source.open()
    # 300 busy and 100 idle jiffies more than the recorded line: 75 % load.
    (root / "proc/stat").write_text("cpu  2255540 1203 601321 90123612 20123 0 10234 0 0 0\n")
    values: dict[str, float] = {}
    source.read(values)
    assert values["cpu_load_pct"] == pytest.approx(75.0)


def test_unreadable_rapl_counter_says_why(monkeypatch, tmp_path):
    root = use_tree(monkeypatch, copy_tree("x86-desktop", tmp_path))
    energy_file = root / RAPL / "energy_uj"
    energy_file.unlink()
    energy_file.mkdir()  # reading fails even for root, as a protected counter does for users
    sampler = BackgroundSampler()
    sampler.sample_once()
    status = statuses(sampler)[("rapl", "package-0")]
    assert not status.available
    assert status.line().startswith("unavailable: cannot read /sys/class/powercap/intel-rapl:0/")
    assert "cpu_package_energy_j" not in sampler.columns


def test_a_machine_with_no_sensors_reports_every_reason(monkeypatch, tmp_path):
    use_tree(monkeypatch, tmp_path)  # an empty tree: no /proc, no /sys
    sampler = BackgroundSampler()
    t0 = sampler.sample_once()
    t1 = sampler.sample_once()
    lines = {(s.source, s.sensor): s.line() for s in sampler.availability()}
    assert all(not s.available for s in sampler.availability())
    assert lines[("host", "cpu_load")] == "unavailable: /proc/stat does not exist"
    assert lines[("host", "ram")] == "unavailable: /proc/meminfo does not exist"
    assert lines[("thermal", "zones")].startswith("unavailable: no readable")
    assert "modprobe" in lines[("rapl", "package_energy")]
    window = sampler.energy_window(t0, t1)
    assert window.energy_j is None and "no energy or power sensor" in window.note
    assert sampler.latest() == {"monotonic_s": t1}
    assert sampler.drain_timeline()["rows"] == 2


def test_this_machine_never_crashes_and_matches_psutil():
    sampler = BackgroundSampler()
    sampler.sample_once()
    sample = sampler.latest()
    assert sample["ram_total_bytes"] == psutil.virtual_memory().total
    for status in sampler.availability():
        assert status.detail, status
        assert status.line().startswith("unavailable: ") != status.available


def test_torch_allocator_says_why_without_importing_torch():
    code = ("import sys; from edgeprobe.telemetry.cuda_alloc import TorchAllocatorSource; "
            "s = TorchAllocatorSource(); print(s.open(), s.statuses()[0].line(), "
            "'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out.startswith("[] unavailable: torch is not loaded in this process")
    assert out.strip().endswith("False")


def test_torch_allocator_with_torch_but_no_cuda():
    pytest.importorskip("torch")
    code = ("import torch; from edgeprobe.telemetry.cuda_alloc import TorchAllocatorSource; "
            "s = TorchAllocatorSource(); print(s.open(), s.statuses()[0].line())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300).stdout
    assert out.startswith("[] unavailable: torch has no CUDA device here")


def test_thermal_zone_that_fails_mid_run_is_dropped_once(monkeypatch, tmp_path):
    root = use_tree(monkeypatch, copy_tree("x86-desktop", tmp_path))
    source = ThermalSource()
    source.open()
    (root / "sys/class/thermal/thermal_zone2/temp").unlink()
    values: dict[str, float] = {}
    source.read(values)
    source.read(values)
    assert source.take_notices() == [
        "thermal x86_pkg_temp (thermal_zone2) unavailable: "
        "/sys/class/thermal/thermal_zone2/temp does not exist"]
    assert values["zones_max_temp_c"] == pytest.approx(29.8)


def test_telemetry_side_never_imports_torch():
    code = ("import sys, edgeprobe.telemetry, edgeprobe.telemetry.sampler, "
            "edgeprobe.telemetry.report, edgeprobe.commands.info; "
            "from edgeprobe.telemetry import BackgroundSampler; "
            "s = BackgroundSampler(); s.sample_once(); s.availability(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False"
