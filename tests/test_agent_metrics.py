"""``edgeprobe agent --metrics``: a real agent on the recorded Orin Nano tree, scraped over
HTTP and read back with prometheus_client's own parser."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO
from tests.tui_helpers import stop_agent, wait_for_socket

BOARD = REPO / "tests" / "fixtures" / "sysfs" / "orin-nano-jp6"
ENV = {"EDGEPROBE_SYSFS_ROOT": str(BOARD),
       "PATH": f"{REPO / 'tests' / 'fixtures' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
FAMILIES = ("edgeprobe_power_watts", "edgeprobe_temperature_celsius", "edgeprobe_clock_hertz",
            "edgeprobe_utilization_ratio", "edgeprobe_memory_used_bytes",
            "edgeprobe_memory_total_bytes", "edgeprobe_energy_joules",
            "edgeprobe_throttle_active", "edgeprobe_power_mode_info", "edgeprobe_job_running",
            "edgeprobe_job_points_done", "edgeprobe_job_points")


@pytest.fixture
def scrape(tmp_path):
    env = {**os.environ, **ENV, "EDGEPROBE_DATA_DIR": str(tmp_path / "data")}
    socket_path = tmp_path / "agent.sock"
    agent = subprocess.Popen([sys.executable, "-m", "edgeprobe", "agent", "--socket",
                              str(socket_path), "--metrics", "127.0.0.1:0"], cwd=REPO, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_socket(socket_path, agent)
        port = None
        deadline = time.monotonic() + 30
        while port is None and time.monotonic() < deadline:
            found = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics",
                              agent.stderr.readline())
            port = int(found.group(1)) if found else None
        assert port, "the agent never said where its metrics are"

        def fetch() -> dict[str, list]:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                text = r.read().decode()
            return {family.name: family.samples
                    for family in text_string_to_metric_families(text)}

        yield fetch
    finally:
        stop_agent(agent)


def _values(samples: list, label: str) -> dict[str, float]:
    return {sample.labels[label]: sample.value for sample in samples}


def test_every_metric_is_served_with_the_values_info_reads(cli, scrape):
    deadline = time.monotonic() + 30
    metrics = scrape()
    while not metrics.get("edgeprobe_power_watts") and time.monotonic() < deadline:
        time.sleep(0.2)  # the first telemetry sample is still on its way
        metrics = scrape()
    assert set(FAMILIES) <= set(metrics)
    sample = json.loads(cli("info", "--json", env=ENV).stdout)["sample"]
    power = _values(metrics["edgeprobe_power_watts"], "sensor")
    assert power["rail_vdd_in"] == pytest.approx(sample["rail_vdd_in_power_w"])
    assert power["board"] == pytest.approx(sample["board_power_w"])
    temperatures = _values(metrics["edgeprobe_temperature_celsius"], "sensor")
    assert temperatures["zone_tj_thermal"] == pytest.approx(sample["zone_tj_thermal_temp_c"])
    clocks = _values(metrics["edgeprobe_clock_hertz"], "clock")
    assert clocks["gpu_sm"] == pytest.approx(sample["gpu_sm_clock_mhz"] * 1e6)
    memory = _values(metrics["edgeprobe_memory_total_bytes"], "memory")
    assert memory["ram"] == pytest.approx(sample["ram_total_bytes"])
    (mode,) = metrics["edgeprobe_power_mode_info"]
    assert mode.labels["mode"] == "MAXN_SUPER" and mode.value == 1.0
    (running,) = metrics["edgeprobe_job_running"]
    assert running.value == 0.0 and metrics["edgeprobe_job_points"] == []


def test_a_bad_metrics_address_is_refused_in_one_line(cli, tmp_path):
    result = cli("agent", "--socket", str(tmp_path / "a.sock"), "--metrics", "here",
                 env={"EDGEPROBE_DATA_DIR": str(tmp_path / "data")}, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "edgeprobe: --metrics 'here': use PORT or HOST:PORT, e.g. 127.0.0.1:9464")
