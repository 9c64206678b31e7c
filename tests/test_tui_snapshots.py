"""Snapshot tests of the TUI (pytest-textual-snapshot): the screen as SVG, compared with the
committed snapshots in ``__snapshots__/``. Telemetry comes from the recorded Orin Nano tree
through the TUI's own sampler (no agent: the header says so); the run from the recorded
event stream. Review a change with ``pytest tests/test_tui_snapshots.py --snapshot-report``
and accept it with ``--snapshot-update``."""

from __future__ import annotations

from typing import Any

import pytest

from edgeprobe.tui.app import EdgeprobeApp
from tests.tui_helpers import KERNELS_EVENT, recorded_events, replay_into, until, use_recordings

pytest.importorskip("pytest_textual_snapshot")


@pytest.fixture(autouse=True)
def recorded(monkeypatch, tmp_path):
    use_recordings(monkeypatch, tmp_path)


async def telemetry_settled(pilot: Any) -> None:
    await until(pilot, lambda: pilot.app.frames_seen >= 3, "local telemetry")


def replay_run(app: EdgeprobeApp, kernels: bool = True) -> None:
    events = recorded_events()
    if kernels:
        events[-1:-1] = recorded_events(KERNELS_EVENT)
    replay_into(app, events, start=True, finish=True)


async def after_run(pilot: Any) -> None:
    await telemetry_settled(pilot)
    replay_run(pilot.app)
    await pilot.pause(0.2)


def test_idle_dashboard_80x24(snap_compare):
    assert snap_compare(EdgeprobeApp(), run_before=telemetry_settled)


def test_idle_dashboard_without_colour(snap_compare, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = EdgeprobeApp()
    assert app.no_color
    assert snap_compare(app, run_before=telemetry_settled)


def test_results_after_a_run_80x24(snap_compare):
    assert snap_compare(EdgeprobeApp(), run_before=after_run)


def test_kernel_view_after_a_run(snap_compare):
    async def kernels_tab(pilot: Any) -> None:
        await after_run(pilot)
        await pilot.press("k")
        await pilot.pause(0.1)

    assert snap_compare(EdgeprobeApp(), run_before=kernels_tab)


def test_results_after_a_run_100x30(snap_compare):
    assert snap_compare(EdgeprobeApp(), run_before=after_run, terminal_size=(100, 30))


def test_start_run_dialog(snap_compare):
    async def open_dialog(pilot: Any) -> None:
        await telemetry_settled(pilot)
        await pilot.press("s")
        await until(pilot, lambda: "points" in str(
            pilot.app.screen.query_one("#start-size").render()), "the size line")

    assert snap_compare(EdgeprobeApp(), run_before=open_dialog)


def test_help_screen(snap_compare):
    async def open_help(pilot: Any) -> None:
        await telemetry_settled(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.1)

    assert snap_compare(EdgeprobeApp(), run_before=open_help)
