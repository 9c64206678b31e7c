"""``edgeprobe info``: platform, GPU, power state and sensor status, as text and JSON."""

from __future__ import annotations

import json

from tests.telemetry_helpers import FIXTURES


def _info(cli, tree: str | None, *args: str):
    env = {"COLUMNS": "200"}  # rich wraps at 80 columns when not on a terminal
    if tree:
        env["EDGEPROBE_SYSFS_ROOT"] = str(FIXTURES / tree)
    return cli("info", *args, env=env, timeout=120)


def test_info_on_an_orin_nano(cli):
    result = _info(cli, "orin-nano-jp6", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["jetson"]["jetpack"] == "6.2" and report["jetson"]["l4t"] == "36.4.3"
    assert report["power"]["mode"] == "MAXN_SUPER" and report["power"]["jetson_clocks"] is False
    assert report["gpu"] == {"kind": "integrated", "name": "Jetson integrated GPU",
                             "devfreq": "/sys/class/devfreq/17000000.gpu",
                             "telemetry_from": "sysfs"}
    sensors = {(s["source"], s["sensor"]): s for s in report["sensors"]}
    assert sensors[("jetson", "rail VDD_IN")]["available"]
    assert not sensors[("jtop", "service")]["available"]
    assert "jtop.service" in sensors[("jtop", "service")]["fix"]
    assert report["sample"]["board_power_w"] > 0
    assert report["working"] + report["not_working"] == len(report["sensors"])
    text = _info(cli, "orin-nano-jp6").stdout
    assert "L4T 36.4.3, JetPack 6.2" in text and "MAXN_SUPER" in text
    assert "jetson_clocks off" in text and "unavailable" in text and "fix:" in text


def test_info_on_an_agx_orin_and_an_x86_desktop(cli):
    agx = json.loads(_info(cli, "agx-orin-iio", "--json").stdout)
    assert agx["power"]["mode"] == "MAXN" and agx["power"]["jetson_clocks"] is True
    assert agx["jetson"]["jetpack"] == "5.0.2"
    desktop = json.loads(_info(cli, "x86-desktop", "--json").stdout)
    assert desktop["jetson"] is None and desktop["platform"]["cpu"].startswith("13th Gen")
    assert any(s["source"] == "rapl" and s["available"] for s in desktop["sensors"])


def test_info_on_this_machine(cli):
    result = _info(cli, None)
    assert result.returncode == 0 and "sensors work" in result.stdout
    assert "Traceback" not in result.stderr


def test_info_bad_flag_is_one_line(cli):
    result = cli("info", "--frobnicate")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("edgeprobe: ") and len(result.stderr.splitlines()) == 1
