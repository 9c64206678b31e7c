"""The start dialog's rules as plain functions: the arguments a choice makes, the points a
run plans, and the power modes of a recorded Jetson tree (which need a reboot from which)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edgeprobe.tui.run_plan import (
    PlanSize,
    RunChoice,
    device_profiles,
    planned_points,
    power_modes,
    size_line,
)
from tests.tui_helpers import FIXTURES, ORIN_NANO

JETSON = "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super"


def test_a_default_choice_adds_nothing_beyond_suite_and_device():
    assert RunChoice().argv() == ["--suite", "smoke", "--device", "auto"]


def test_every_choice_reaches_the_arguments():
    argv = RunChoice(suite="paper-edge", power_mode="7W", device="cuda",
                     device_profile="orin-nano-8gb", jetson_clocks=True, max_context=True,
                     models=("tiny-qwen2",), lengths=("1K", "4K"), allow_reboot=True).argv()
    assert argv == ["--suite", "paper-edge", "--device", "cuda", "--models", "tiny-qwen2",
                    "--lengths", "1K", "4K", "--device-profile", "orin-nano-8gb",
                    "--power-mode", "7W", "--jetson-clocks", "--allow-reboot",
                    "--find-max-context"]


def test_points_are_planned_as_the_runner_plans_them():
    assert planned_points(RunChoice()) == PlanSize(30, 30)  # 5 models x 3 lengths x 2
    assert planned_points(RunChoice(models=("tiny-qwen2",), lengths=("1K",))).text() == \
        "2 points"
    assert PlanSize(4, 8).text() == "4-8 points"


def test_a_choice_the_run_would_refuse_is_said_in_the_size_line(tmp_path):
    line = size_line(RunChoice(lengths=("lots",)), [tmp_path])
    assert line.startswith("cannot plan this run: cannot read length 'lots'")


@pytest.fixture
def jetson_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "orin-nano"
    shutil.copytree(ORIN_NANO, root)
    shutil.copy(FIXTURES / "power" / "orin-nano" / "etc" / "nvpmodel.conf",
                root / "etc" / "nvpmodel.conf")
    monkeypatch.setenv("EDGEPROBE_SYSFS_ROOT", str(root))
    return root


def test_modes_that_power_gate_other_tpcs_need_a_reboot(jetson_tree):
    modes = power_modes(JETSON)
    assert modes.jetson and modes.current == "MAXN_SUPER"
    assert modes.names == ("15W", "25W", "MAXN_SUPER", "7W")
    assert [modes.label(m) for m in modes.names] == ["15W", "25W", "MAXN_SUPER",
                                                     "7W (needs reboot)"]
    (jetson_tree / "var/lib/nvpmodel/status").write_text("pmode:0003\n")  # now in 7W
    assert power_modes(JETSON).reboot == {"15W", "25W", "MAXN_SUPER"}


def test_off_a_jetson_the_modes_are_the_profiles_limits(monkeypatch):
    monkeypatch.setenv("EDGEPROBE_SYSFS_ROOT", str(FIXTURES / "machines" / "x86-cpu"))
    modes = power_modes("NVIDIA H200")
    assert not modes.jetson and not modes.reboot


def test_the_profile_is_detected_from_the_device_name():
    names, detected = device_profiles(JETSON)
    assert detected == "orin-nano-8gb" and "agx-orin-64gb" in names
    assert device_profiles(None)[1] == "generic-cpu"
