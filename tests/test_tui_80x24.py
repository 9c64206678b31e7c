"""The TUI at 80x24, as over SSH: the quit key in the footer, the results table reached by
one key and left where the reader put it while rows arrive, power that no sensor reads said
in words, and every panel fitting without cutting what names a row. Telemetry comes from the
recorded machine trees through the TUI's own sampler; runs from the recorded event stream."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, RichLog, Sparkline, TabbedContent

from edgeprobe.tui.app import EdgeprobeApp
from edgeprobe.tui.widgets.results import ResultsTable
from tests.tui_helpers import (
    FIXTURES,
    headless,
    panel_text,
    recorded_events,
    replay_into,
    screen_lines,
    table_rows,
    until,
    use_recordings,
)

SIZE = (80, 24)
NO_POWER_MACHINE = FIXTURES / "machines" / "x86-cpu"  # no powercap, no thermal zones


@pytest.fixture(autouse=True)
def recorded(monkeypatch, tmp_path):
    use_recordings(monkeypatch, tmp_path)


async def started(pilot: Any) -> None:
    await until(pilot, lambda: pilot.app.frames_seen >= 2, "local telemetry")


def split_before_last_row() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The recorded run cut where the point of its last table row begins (5 rows, then 6)."""
    events = recorded_events()
    points = [i for i, e in enumerate(events) if e.get("kind") == "point"]
    last = events[points[-1]]["record"]
    row = (last["model"], last["length_tokens"])
    cut = next(i for i in points if (events[i]["record"]["model"],
                                     events[i]["record"]["length_tokens"]) == row)
    return events[:cut], events[cut:]


def visible_rows(table: DataTable[Any]) -> int:
    return table.scrollable_content_region.height - table.header_height


async def settle(pilot: Any) -> None:
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


@contextlib.asynccontextmanager
async def results_shown(events: list[dict[str, Any]]
                        ) -> AsyncIterator[tuple[Any, EdgeprobeApp, ResultsTable]]:
    """The TUI at 80x24 with ``events`` of the recorded run replayed into its results."""
    app = EdgeprobeApp()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        table = app.query_one(ResultsTable)
        replay_into(app, events, start=True)
        await settle(pilot)
        yield pilot, app, table


@headless
async def test_the_footer_shows_quit_first_and_help_at_80_columns():
    app = EdgeprobeApp()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        footer = screen_lines(app)[-1]
        assert footer.lstrip().startswith("q quit"), footer
        assert "? help" in footer and "r results" in footer and "s start" in footer
        await pilot.press("question_mark")  # the keys not in the footer are listed in help
        help_text = str(app.screen.query_one("#help-text").content)
        for key, what in (("b", "browse bundles"), ("k", "kernels tab"), ("l", "log tab")):
            assert re.search(rf"^  {key} +{what}", help_text, re.M), key


@headless
async def test_one_key_focuses_the_results_and_the_arrows_move_in_them():
    app = EdgeprobeApp()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        table = app.query_one(ResultsTable)
        assert app.focused is table  # nothing else needs the keyboard at the start
        replay_into(app, recorded_events(), start=True, finish=True)
        await settle(pilot)
        await pilot.press("l")
        assert app.query_one(TabbedContent).active == "log"
        assert app.focused is app.query_one("#log-view", RichLog)
        await pilot.press("r")
        assert app.query_one(TabbedContent).active == "results" and app.focused is table
        last = table.row_count - 1
        assert table.cursor_row == last  # it followed the rows as they came
        await pilot.press("up", "up")
        assert table.cursor_row == last - 2
        await pilot.press("pageup")
        assert table.cursor_row == 0
        await pilot.press("pagedown")
        assert table.cursor_row > 0


@headless
async def test_rows_added_while_the_reader_is_up_leave_the_view_where_it_was():
    first, rest = split_before_last_row()
    async with results_shown(first) as (pilot, app, table):
        assert table.row_count == visible_rows(table)  # the table is full
        await pilot.press("r", *["up"] * table.row_count)
        assert table.cursor_row == 0 and table.scroll_y == 0
        top = screen_lines(app).index(next(line for line in screen_lines(app)
                                           if line.lstrip().startswith("model")))
        width = table.size.width - 1  # the vertical scrollbar (1 cell) comes with the 6th row
        shown = [line[:width] for line in screen_lines(app)[top:top + 2 + table.row_count]]

        replay_into(app, rest, finish=True)
        await settle(pilot)
        assert table.row_count > visible_rows(table)  # a row more than fits
        assert table.cursor_row == 0 and table.scroll_y == 0
        assert [line[:width] for line in screen_lines(app)[top:top + len(shown)]] == shown


@headless
async def test_rows_are_followed_when_the_cursor_was_on_the_last_row():
    first, rest = split_before_last_row()
    async with results_shown(first) as (pilot, app, table):
        assert table.cursor_row == table.row_count - 1
        replay_into(app, rest, finish=True)
        await settle(pilot)
        assert table.row_count > visible_rows(table)
        assert table.cursor_row == table.row_count - 1
        assert table.scroll_y == table.max_scroll_y > 0
        newest = table_rows(table)[-1]
        assert any(line.lstrip().startswith(f"{newest[0]}  {newest[1]}")
                   for line in screen_lines(app))


@headless
async def test_no_power_sensor_is_said_in_words_not_drawn_as_a_flat_line(monkeypatch):
    monkeypatch.setenv("EDGEPROBE_SYSFS_ROOT", str(NO_POWER_MACHINE))
    app = EdgeprobeApp()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        if any(k.endswith("_power_w") for k in app.sample):
            pytest.skip("this machine's NVML reads a GPU's power")
        await until(pilot, lambda: bool(app.power_why), "the sensors' statuses")
        await settle(pilot)
        assert not app.query_one("#power-spark", Sparkline).display
        power = panel_text(app, "#power-unread")
        assert power.startswith("power not read here")
        assert "rapl: no RAPL powercap domains" in power  # why, from the agent's sensors
        screen = "\n".join(screen_lines(app))
        assert "power not read here" in screen and "▁" not in screen
        await pilot.press("l")
        log_view = app.query_one("#log-view", RichLog)
        await until(pilot, lambda: bool(log_view.lines), "the log drawn")
        log = "\n".join(str(line.text) for line in log_view.lines)
        assert "power not read here: rapl package_energy: no RAPL" in log
        assert "(fix: sudo modprobe intel_rapl_msr)" in log


@headless
async def test_a_power_sensor_that_reads_keeps_its_sparkline():
    app = EdgeprobeApp()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await settle(pilot)
        assert app.query_one("#power-spark", Sparkline).display
        assert not app.query_one("#power-unread").display
        assert "6.1 W board" in panel_text(app, "#power-total")


@headless
async def test_the_panels_fit_80x24_without_cutting_names(monkeypatch):
    app = EdgeprobeApp()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        replay_into(app, recorded_events(), start=True, finish=True)
        app.progress = app.progress.__class__(**{**app.progress.__dict__, "bundle": str(
            Path("/home/user/.local/share/edgeprobe/bundles") / ("x" * 60 + "-smoke.epb"))})
        await settle(pilot)
        table = app.query_one(ResultsTable)
        assert table.virtual_size.width <= table.scrollable_content_region.width  # no column cut
        lines = screen_lines(app)
        assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
        screen = "\n".join(lines)
        assert "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super" in screen
        for row in table_rows(table)[-visible_rows(table):]:
            assert any(" ".join(row[:3]) == " ".join(line.split()[:3]) for line in lines), row
        assert "skip/OOM" in screen and "OOM/ok" in screen
        run = panel_text(app, "#run")
        assert "bundle …" in run and run.rstrip().endswith("-smoke.epb")
