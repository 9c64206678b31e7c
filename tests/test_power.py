"""Power modes with fake nvpmodel / jetson_clocks on PATH and recorded Jetson trees."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from edgeprobe.power import jetson, nvpmodel
from edgeprobe.power.guard import ThermalGuard
from edgeprobe.power.programs import PowerControlError
from edgeprobe.power.session import PowerRequest, PowerSession, recover_stale
from edgeprobe.suite.devices import (
    ThermalLimits,
    detect_device_profile,
    list_device_profiles,
    load_device_profile,
)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def board(tmp_path, monkeypatch):
    """A writable copy of a Jetson tree as the sensor root, with the fake programs on PATH."""

    def make(name: str = "orin-nano") -> Path:
        root = tmp_path / name
        shutil.copytree(FIXTURES / "power" / name, root)
        monkeypatch.setenv("EDGEPROBE_SYSFS_ROOT", str(root))
        monkeypatch.setenv("PATH", f"{FIXTURES / 'bin'}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("EDGEPROBE_FAKE_LOG", str(tmp_path / "calls.jsonl"))
        return root

    return make


def _mode(root: Path) -> int:
    return int((root / "var/lib/nvpmodel/status").read_text().split(":")[1][:4])


def _calls(tmp_path: Path) -> list[dict]:
    path = tmp_path / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_config_modes_come_from_the_board(board):
    board("orin-nano")
    config = nvpmodel.read_config()
    assert [m.name for m in config.modes] == ["15W", "25W", "MAXN_SUPER", "7W"]
    assert config.default_id == 2
    assert config.by_name("maxn_super").id == 2
    assert config.needs_reboot(config.by_id(0), config.by_id(3))
    assert not config.needs_reboot(config.by_id(0), config.by_id(2))
    assert jetson.current_mode(config).name == "15W"


def test_agx_modes_accept_short_names(board):
    board("agx-orin")
    config = nvpmodel.read_config()
    assert [m.name for m in config.modes] == ["MAXN", "MODE_15W", "MODE_30W", "MODE_50W"]
    assert config.by_name("30W").id == 2
    assert jetson.current_mode(config).name == "MODE_50W"


def test_current_mode_falls_back_to_nvpmodel_query(board):
    root = board("orin-nano")
    (root / "var/lib/nvpmodel/status").write_text("pmode:0001\n")
    config = nvpmodel.read_config()
    (root / "var/lib/nvpmodel/status").rename(root / "status.bak")
    assert nvpmodel.current_mode_id() is None
    # the fake nvpmodel -q needs its status file: put it back where the program reads it
    (root / "status.bak").rename(root / "var/lib/nvpmodel/status")
    assert jetson.current_mode(config).name == "25W"


def test_switch_is_verified_and_restored(board, tmp_path):
    root = board("orin-nano")
    events = []
    session = PowerSession(PowerRequest(mode="MAXN_SUPER", jetson_clocks=True), tmp_path / "st",
                           on_event=lambda kind, message, **data: events.append(kind))
    session.preflight()
    with session:
        assert _mode(root) == 2
        assert (root / "var/lib/jetson_clocks_state").read_text().strip() == "on"
        assert (tmp_path / "st" / "power-restore.json").exists()
    assert _mode(root) == 0
    assert (root / "var/lib/jetson_clocks_state").read_text().strip() == "off"
    assert not (tmp_path / "st" / "power-restore.json").exists()
    assert events == ["power_mode", "jetson_clocks", "jetson_clocks_restored",
                      "power_mode_restored"]
    assert ["-m", "2"] in [c.get("args") for c in _calls(tmp_path)]


def test_restored_after_an_exception(board, tmp_path):
    root = board("orin-nano")
    session = PowerSession(PowerRequest(mode="25W"), tmp_path / "st")
    session.preflight()
    with pytest.raises(RuntimeError), session:
        assert _mode(root) == 1
        raise RuntimeError("probe failed")
    assert _mode(root) == 0


def test_unknown_mode_lists_the_valid_ones(board, tmp_path):
    board("orin-nano")
    with pytest.raises(PowerControlError, match="this board has 15W, 25W, MAXN_SUPER, 7W"):
        PowerSession(PowerRequest(mode="TURBO"), tmp_path).preflight()


def test_reboot_switch_refused_before_anything_changes(board, tmp_path):
    root = board("orin-nano")
    with pytest.raises(PowerControlError, match=r"needs a reboot.*--allow-reboot"):
        PowerSession(PowerRequest(mode="7W"), tmp_path).preflight()
    assert _mode(root) == 0
    assert not [c for c in _calls(tmp_path) if c.get("args", [None])[0] == "-m"]


def test_switch_that_does_not_take_is_caught(board, tmp_path, monkeypatch):
    root = board("orin-nano")
    monkeypatch.setenv("FAKE_NVPMODEL_LIE", "1")
    session = PowerSession(PowerRequest(mode="25W"), tmp_path / "st")
    session.preflight()
    with pytest.raises(PowerControlError, match="reads back as 15W"), session:
        pass
    assert _mode(root) == 0


def test_nvpmodel_error_is_one_line(board, tmp_path, monkeypatch):
    board("orin-nano")
    monkeypatch.setenv("FAKE_NVPMODEL_FAIL", "1")
    session = PowerSession(PowerRequest(mode="25W"), tmp_path / "st")
    session.preflight()
    with pytest.raises(PowerControlError, match="NVPM ERROR") as info, session:
        pass
    assert "\n" not in str(info.value)


def test_stale_settings_are_restored_by_the_next_run(board, tmp_path):
    root = board("orin-nano")
    state = tmp_path / "st"
    session = PowerSession(PowerRequest(mode="MAXN_SUPER", jetson_clocks=True), state)
    session.preflight()
    session.apply()  # ... and the process dies here (kill -9): nothing restores
    assert _mode(root) == 2
    data = json.loads((state / "power-restore.json").read_text())
    data["pid"] = 2**22 + 12345  # a pid that is not running
    (state / "power-restore.json").write_text(json.dumps(data))
    events = []
    assert recover_stale(state, lambda kind, message, **d: events.append(kind))
    assert _mode(root) == 0
    assert (root / "var/lib/jetson_clocks_state").read_text().strip() == "off"
    assert "stale_restore" in events and not (state / "power-restore.json").exists()


def test_power_modes_command(board, cli):
    root = board("orin-nano")
    env = {"EDGEPROBE_SYSFS_ROOT": str(root), "PATH": os.environ["PATH"]}
    result = cli("power-modes", "--json", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["current"] == "15W" and document["default"] == "MAXN_SUPER"
    assert {m["name"]: m["needs_reboot"] for m in document["modes"]}["7W"] is True
    table = cli("power-modes", env=env)
    assert "MAXN_SUPER" in table.stdout and "boot default" in table.stdout


def test_device_profiles_load_and_detect():
    for name in list_device_profiles():
        profile = load_device_profile(name)
        assert profile.thermal.start_c < profile.thermal.limit_c < profile.thermal.critical_c
    assert detect_device_profile(["NVIDIA Jetson Orin Nano Engineering Reference Developer Kit "
                                  "Super"]).name == "orin-nano-8gb"
    assert detect_device_profile(["Jetson AGX Orin Developer Kit"]).name == "agx-orin-64gb"
    assert detect_device_profile([None, "NVIDIA H200"]).name == "h200-141gb"
    assert detect_device_profile(["NVIDIA GeForce RTX 3050"]).name == "generic-gpu"
    assert detect_device_profile([None, None]).name == "generic-cpu"


def test_thermal_guard_waits_and_judges():
    temps = iter([71.0, 66.0, 58.0, 49.0])
    now = [0.0]
    guard = ThermalGuard(ThermalLimits(50.0, 85.0, 95.0, cooldown_timeout_s=60),
                         read_temp_c=lambda: next(temps),
                         sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    seen = []
    result = guard.wait_until_cool(lambda temp, waited: seen.append(temp))
    assert not result.timed_out and result.end_c == 49.0 and seen == [71.0, 66.0, 58.0]
    assert result.waited_s == pytest.approx(6.0)
    assert guard.judge(70.0, ["gpu_idle"]).status == "ok"
    throttled = guard.judge(88.0, ["sw_thermal_slowdown"])
    assert throttled.status == "throttled" and throttled.thermal
    power = guard.judge(60.0, ["sw_power_cap"])
    assert power.status == "throttled" and not power.thermal
    assert guard.judge(96.0).status == "critical"


def test_thermal_guard_times_out():
    now = [0.0]
    guard = ThermalGuard(ThermalLimits(50.0, 85.0, 95.0, cooldown_timeout_s=10),
                         read_temp_c=lambda: 80.0,
                         sleep=lambda s: now.__setitem__(0, now[0] + s), clock=lambda: now[0])
    result = guard.wait_until_cool()
    assert result.timed_out and result.waited_s >= 10
