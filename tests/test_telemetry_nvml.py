"""NVML through nvidia-ml-py against a stand-in libnvidia-ml.so.1 (tests/fixtures/nvml), built
here with the C compiler: the real bindings, ctypes structures and error paths are exercised."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FAKE_SOURCE = Path(__file__).resolve().parent / "fixtures" / "nvml" / "fake_nvml.c"

pytest.importorskip("pynvml")

SCRIPT = """
import json, os, pathlib
from edgeprobe.telemetry import BackgroundSampler
from edgeprobe.telemetry.nvml import NvmlSource
# The stand-in library and the sampler read one clock that this script advances.
clock = pathlib.Path(os.environ["FAKE_NVML_CLOCK_FILE"])
now = [1000.0]
clock.write_text(str(now[0]))
gpu = os.environ.get("TEST_GPU_BUS_ID")
sampler = BackgroundSampler([NvmlSource(gpu or 0)], rate_hz=50, clock=lambda: now[0])
stamps = []
for i in range(6):
    if i == 2 and os.environ.get("FAKE_NVML_LOST_FLAG"):
        pathlib.Path(os.environ["FAKE_NVML_LOST_FLAG"]).touch()
    stamps.append(sampler.sample_once())
    now[0] += 0.1 + 0.05 * (i % 2)
    clock.write_text(str(now[0]))
print(json.dumps({
    "statuses": {s.sensor: s.line() for s in sampler.availability()},
    "latest": sampler.latest(),
    "window": sampler.energy_window(stamps[1], stamps[4]).as_dict(),
    "facts": sampler.facts(),
    "notices": sampler.drain_notices(),
}))
"""


def _run(fake_nvml: Path, folder: Path, **env: str) -> dict:
    full_env = {**os.environ, "LD_LIBRARY_PATH": str(fake_nvml),
                "FAKE_NVML_CLOCK_FILE": str(folder / "clock"), **env}
    full_env.pop("EDGEPROBE_SYSFS_ROOT", None)
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            env=full_env, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_power_energy_clocks_and_throttle_reasons(fake_nvml, tmp_path):
    report = _run(fake_nvml, tmp_path, FAKE_NVML_POWER_MW="150000")
    latest, window = report["latest"], report["window"]
    assert latest["gpu_power_w"] == 150.0 and latest["gpu_power_avg_w"] == 150.0
    assert latest["gpu_sm_clock_mhz"] == 1980 and latest["gpu_mem_clock_mhz"] == 3201
    assert latest["gpu_temp_c"] == 47  # through the pre-versioned temperature call
    assert latest["gpu_mem_total_bytes"] == 150e9 and latest["gpu_power_limit_w"] == 700
    assert latest["throttle_reasons"] == ["sw_power_cap", "sw_thermal_slowdown"]
    assert report["facts"] == {"gpu_name": "Fake H200", "driver_version": "580.65.06",
                               "cuda_driver_version": "13.0"}
    # The counter grows by exactly the power the field reports: both estimates agree.
    by_source = window["energy_by_source_j"]
    assert window["energy_source"] == "nvml_counter"
    assert by_source["nvml_counter"] == pytest.approx(150.0 * window["duration_s"], rel=1e-6)
    assert by_source["integrated_power"] == pytest.approx(by_source["nvml_counter"], rel=1e-6)
    assert window["mean_power_w"] == pytest.approx(150.0)
    assert window["throttle_reasons"] == ["sw_power_cap", "sw_thermal_slowdown"]
    assert all(not line.startswith("unavailable") for line in report["statuses"].values())


def test_tegra_style_not_supported_is_reported_per_sensor(fake_nvml, tmp_path):
    report = _run(fake_nvml, tmp_path, FAKE_NVML_MODE="tegra")
    statuses = report["statuses"]
    assert statuses["nvml"].startswith("GPU 0: Orin (nvgpu)")
    for sensor in ("power_instant", "power_average", "energy_counter", "sm_clock", "memory"):
        assert statuses[sensor].startswith("unavailable: not supported by this GPU or driver")
    assert set(report["latest"]) == {"monotonic_s"}
    assert report["window"]["energy_j"] is None


def test_driver_not_loaded(fake_nvml, tmp_path):
    report = _run(fake_nvml, tmp_path, FAKE_NVML_MODE="nodriver")
    assert report["statuses"] == {
        "nvml": "unavailable: the NVIDIA kernel driver is not loaded "
                "(fix: install the NVIDIA driver (nvidia-smi must work))"}


def test_gpu_lost_mid_run_makes_power_unavailable_once(fake_nvml, tmp_path):
    report = _run(fake_nvml, tmp_path, FAKE_NVML_LOST_FLAG=str(tmp_path / "lost"))
    lost = [n for n in report["notices"] if "GPU is lost" in n]
    assert {n.split(" unavailable")[0] for n in lost} == {
        "nvml power_instant", "nvml power_average", "nvml energy_counter"}
    assert len(lost) == 3
    assert report["statuses"]["energy_counter"].startswith("unavailable: NVML error")
    assert report["latest"]["gpu_sm_clock_mhz"] == 1980  # the rest goes on


def test_the_gpu_is_opened_by_the_bus_id_cuda_reports(fake_nvml, tmp_path):
    # CUDA numbers GPUs after CUDA_VISIBLE_DEVICES, NVML never does: a probe on cuda:N has
    # its telemetry open the GPU by the bus id made from CUDA's PCI numbers.
    from edgeprobe.telemetry.nvml import pci_bus_id

    bus_id = pci_bus_id(0, 0x65, 0)
    assert bus_id == "00000000:65:00.0"
    report = _run(fake_nvml, tmp_path, TEST_GPU_BUS_ID=bus_id)
    assert report["latest"]["gpu_power_w"] == 150.0
    other = _run(fake_nvml, tmp_path, TEST_GPU_BUS_ID=pci_bus_id(0, 0x66, 0))
    assert other["statuses"]["nvml"].startswith("unavailable: no GPU '00000000:66:00.0'")
    assert set(other["latest"]) == {"monotonic_s"}
