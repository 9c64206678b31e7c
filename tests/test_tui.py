"""The TUI under Textual's Pilot, driven by a real agent on a real socket: telemetry from a
recorded Orin Nano sensor tree, runs from a recorded CPU run's event stream."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from textual.widgets import DataTable, RichLog, Sparkline

from edgeprobe.agent.client import AsyncAgentClient
from edgeprobe.tui.app import EdgeprobeApp
from edgeprobe.tui.screens.bundles import BundlesScreen
from edgeprobe.tui.screens.confirm import ConfirmScreen
from edgeprobe.tui.screens.help import HelpScreen
from edgeprobe.tui.screens.start_run import StartRunScreen
from edgeprobe.tui.widgets.power import PowerPanel
from edgeprobe.tui.widgets.results import ResultsTable
from tests.tui_helpers import (
    FIXTURES,
    ORIN_NANO,
    agent_in_process,
    agent_process,
    headless,
    panel_text,
    rendered_text,
    start_agent,
    stop_agent,
    table_rows,
    tui_with_agent,
    until,
    use_recordings,
)

SIZE = (80, 24)


def _job_over(app: EdgeprobeApp) -> bool:
    return app.progress.job_id is not None and app.progress.state in (
        "completed", "cancelled", "failed", "interrupted")


def test_panels_show_the_recorded_board_from_a_real_agent_process(tmp_path):
    socket = tmp_path / "agent.sock"
    env = {"EDGEPROBE_SYSFS_ROOT": str(ORIN_NANO), "EDGEPROBE_DATA_DIR": str(tmp_path / "d")}

    async def scenario() -> None:
        app = EdgeprobeApp(socket=socket)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.frames_seen >= 3, "telemetry frames")
            header = panel_text(app, "#header")
            assert "Jetson Orin Nano" in header and "MAXN_SUPER" in header
            assert "agent (edgeprobe" in header and "GPU 306 MHz" in header
            assert "EMC 2133 MHz" in header and "load 12%" in header
            assert "throttle n/a" in header  # Jetson sysfs has no clock-event reasons
            memory = panel_text(app, "#memory")
            assert "shared" in memory and "2.1/7.4 GiB" in memory  # unified memory
            assert "swap" in memory and "torch  no run yet" in memory
            power = panel_text(app, "#power")
            assert "6.1 W board" in power
            for rail, watts in (("VDD_IN", "6.1 W"), ("VDD_SOC", "2.5 W"),
                                ("VDD_CPU_GPU_CV", "1.6 W")):
                assert any(rail in line and watts in line for line in power.splitlines())
            spark = app.query_one("#power-spark", Sparkline)
            assert len(spark.data) >= 3 and set(spark.data) == {6.117}
            temps = panel_text(app, "#temps").splitlines()
            assert temps[0] == "GPU      46.3 °C" and temps[1] == "hottest  47.8 °C"
            assert temps[2].startswith(("cpu", "tj")) and "47.8 °C" in temps[2]
            assert "no run yet" in panel_text(app, "#run")

    with agent_process(socket, env):
        asyncio.run(scenario())


@headless
async def test_a_run_started_from_the_tui_streams_into_every_run_panel(tmp_path, monkeypatch):
    use_recordings(monkeypatch, tmp_path, delay_s=0.05)

    async with tui_with_agent(tmp_path / "agent.sock", SIZE) as (pilot, app, _):
        await until(pilot, lambda: app.frames_seen >= 2, "telemetry")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, StartRunScreen), "start")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.progress.state == "running", "running job")
        await until(pilot, lambda: "probing" in panel_text(app, "#run"), "a point")
        assert "suite smoke" in panel_text(app, "#run")
        await until(pilot, lambda: _job_over(app), "job end", timeout_s=60)
        progress = panel_text(app, "#run")
        assert "completed" in progress and "12/12" in progress

        rows = {(r[0], r[1]): r for r in table_rows(app.query_one(ResultsTable))}
        assert len(rows) == 6
        # status (all-position/last-position logits) right after model and length
        assert rows[("tiny-qwen2", "1K")][2] == "ok"
        assert rows[("tiny-qwen2", "1K")][3].endswith("ms")
        assert rows[("tiny-qwen2", "16K")][2] == "OOM/ok"
        assert rows[("tiny-qwen2", "64K")][2] == "skip/OOM"
        assert rows[("tiny-mamba2", "16K")][2] == "OOM"
        assert rows[("tiny-mamba2", "1K")][5] != "-"  # TPOT (warm) measured
        assert rows[("tiny-mamba2", "1K")][6] != "-"  # and the cold pass beside it

        memory = panel_text(app, "#memory")
        assert "worker peak, last point" in memory and "RSS" in memory
        # the last point's energy: integrated from the frames that fell inside it
        # (how many did depends on timing; what is shown must match what was seen)
        shown = PowerPanel.energy_text(None, None, app._last_energy_j)
        assert panel_text(app, "#power-rails").splitlines()[-1] == shown

        await pilot.press("k")
        kernels = panel_text(app, "#kernel-panel")
        assert "tiny-mamba2" in kernels and "16K tokens" in kernels
        assert "gemm" in kernels and "50%" in kernels and "ssm_scan" in kernels
        table = app.query_one("#kernels-table", DataTable)
        top = table_rows(table)
        assert top[0][0] == "aten::bmm" and top[0][2] == "36.8%"
        assert top[1][0].startswith("torch_chunk_scan")

        await pilot.press("l")
        log = "\n".join(str(line.text) for line in
                        app.query_one("#log-view", RichLog).lines)
        assert "tiny-mamba2: the study ran mamba_ssm" in log
        assert "oom" in log and "job 1 completed" in log


@headless
async def test_cancel_asks_first_then_stops_the_job(tmp_path, monkeypatch):
    use_recordings(monkeypatch, tmp_path, delay_s=0.5)

    async with tui_with_agent(tmp_path / "agent.sock", SIZE) as (pilot, app, _):
        await pilot.press("c")
        assert not isinstance(app.screen, ConfirmScreen)  # nothing to cancel yet
        await until(pilot, lambda: app.agent is not None, "connection")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, StartRunScreen), "start")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.progress.points_done >= 1, "a point")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("n")
        await pilot.pause(0.3)
        assert app.progress.state == "running"
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("y")
        await until(pilot, lambda: _job_over(app), "job end", timeout_s=30)
        assert app.progress.state == "cancelled"
        assert "cancelled" in panel_text(app, "#run")
        assert app.progress.points_done < 12


def test_a_tui_that_joins_mid_run_catches_up_and_the_run_outlives_it(tmp_path, monkeypatch):
    use_recordings(monkeypatch, tmp_path, delay_s=0.15)
    socket = tmp_path / "agent.sock"

    async def scenario() -> None:
        async with agent_in_process(socket) as server:
            first = EdgeprobeApp(socket=socket)
            async with first.run_test(size=SIZE) as pilot:
                await until(pilot, lambda: first.agent is not None, "connection")
                await pilot.press("s")
                await until(pilot, lambda: isinstance(first.screen, StartRunScreen), "start")
                await pilot.press("ctrl+s")
                await until(pilot, lambda: first.progress.points_done >= 3, "three points")
                await pilot.press("q")  # the SSH session ends; the run goes on
            job = server.jobs.jobs[1]
            assert job.state == "running"
            second = EdgeprobeApp(socket=socket)
            async with second.run_test(size=SIZE) as pilot:
                await until(pilot, lambda: len(table_rows(second.query_one(ResultsTable))) >= 2,
                            "rows replayed from the job's recent events")
                assert second.progress.job_id == 1 and second.progress.suite == "smoke"
                await until(pilot, lambda: _job_over(second), "job end", timeout_s=60)
                rows = table_rows(second.query_one(ResultsTable))
                assert len(rows) == 6  # nothing lost, nothing doubled
                assert second.progress.points_done == 12
            assert job.state == "completed"

    asyncio.run(scenario())


def test_two_tuis_at_once_see_the_same_board_and_run(tmp_path, monkeypatch):
    use_recordings(monkeypatch, tmp_path, delay_s=0.05, kernels=False)
    socket = tmp_path / "agent.sock"

    async def scenario() -> None:
        async with agent_in_process(socket) as server:
            one, two = EdgeprobeApp(socket=socket), EdgeprobeApp(socket=socket)
            async with one.run_test(size=SIZE) as p1, two.run_test(size=(100, 30)) as p2:
                await until(p1, lambda: one.frames_seen >= 2 and two.frames_seen >= 2,
                            "telemetry in both")
                watcher = AsyncAgentClient(socket, name="third")
                await watcher.connect()
                assert (await watcher.request("status"))["clients"] == 3
                await watcher.close()
                await p1.press("s")
                await until(p1, lambda: isinstance(one.screen, StartRunScreen), "start")
                await p1.press("ctrl+s")
                await until(p2, lambda: _job_over(one) and _job_over(two), "job end in both",
                            timeout_s=60)
                assert table_rows(one.query_one(ResultsTable)) == \
                    table_rows(two.query_one(ResultsTable))
                assert panel_text(one, "#temps") == panel_text(two, "#temps")
            assert len(server.jobs.jobs) == 1

    asyncio.run(scenario())


def test_without_an_agent_it_samples_locally_and_says_so(tmp_path, monkeypatch):
    use_recordings(monkeypatch, tmp_path)

    async def scenario() -> None:
        app = EdgeprobeApp()  # EDGEPROBE_SOCKET names a socket nobody serves
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.frames_seen >= 2, "local telemetry")
            assert app.link_info is not None and app.link_info.local
            assert "LOCAL: no agent; runs end with this TUI" in panel_text(app, "#header")
            assert "6.1 W board" in panel_text(app, "#power")
            await pilot.press("l")
            log_view = app.query_one("#log-view", RichLog)
            await until(pilot, lambda: bool(log_view.lines), "the log drawn")
            log = "\n".join(str(line.text) for line in log_view.lines)
            assert "no agent running" in log and "no-agent.sock" in log
            local_socket = app.link_info.socket
            assert local_socket.exists()
            await pilot.press("q")
        assert not local_socket.parent.exists()  # the private agent went with the TUI

    asyncio.run(scenario())


async def select_row(pilot, table: DataTable, first_cell: str) -> None:
    """Move the cursor with the keyboard to the row whose first cell is ``first_cell``."""
    names = [row[0] for row in table_rows(table)]
    assert table.has_focus, "the table should have the keyboard"
    await pilot.press(*["up"] * len(names))
    await pilot.press(*["down"] * names.index(first_cell))
    assert names[table.cursor_row] == first_cell


@headless
async def test_help_and_bundle_browser(tmp_path, monkeypatch):
    use_recordings(monkeypatch, tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(FIXTURES / "bundles" / "cpu-mini.epb", data / "cpu-mini.epb")
    (data / "broken.epb").write_bytes(b"not a bundle at all")

    async with tui_with_agent(tmp_path / "agent.sock", SIZE) as (pilot, app, _):
        await until(pilot, lambda: app.agent is not None, "connection")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "browse bundles" in rendered_text(app.screen.query_one("#help-text").content)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, BundlesScreen), "bundles")
        table = app.screen.query_one("#bundles-table", DataTable)
        names = sorted(row[0] for row in table_rows(table))
        assert names == ["broken.epb", "cpu-mini.epb"]
        await select_row(pilot, table, "cpu-mini.epb")
        await pilot.press("enter")
        summary = app.screen.query_one("#bundle-summary")
        await until(pilot, lambda: app.screen.query_one("#bundle-view").display,
                    "summary shown")
        text = rendered_text(summary.content)
        assert "cpu-mini.epb" in text and "Results" in text and "tiny-qwen2" in text
        await pilot.press("escape")
        assert table.display
        await select_row(pilot, table, "broken.epb")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert "cannot read" in rendered_text(summary.content)
        await pilot.press("escape", "escape")
        assert not isinstance(app.screen, BundlesScreen)


def test_the_tui_reconnects_when_the_agent_comes_back(tmp_path):
    socket = tmp_path / "agent.sock"
    env = {"EDGEPROBE_SYSFS_ROOT": str(ORIN_NANO), "EDGEPROBE_DATA_DIR": str(tmp_path / "d")}

    async def scenario() -> None:
        app = EdgeprobeApp(socket=socket)
        agent = start_agent(socket, env)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await until(pilot, lambda: app.frames_seen >= 1, "telemetry")
                stop_agent(agent)
                await until(pilot, lambda: "lost the agent" in panel_text(app, "#header"),
                            "the loss shown")
                assert app.link_info is not None and not app.link_info.local
                seen = app.frames_seen
                agent = start_agent(socket, env)
                await until(pilot, lambda: app.frames_seen > seen + 1, "telemetry again")
                assert "agent (edgeprobe" in panel_text(app, "#header")
        finally:
            stop_agent(agent)

    asyncio.run(scenario())


@pytest.mark.parametrize("argv", [["tui", "--rate", "0"], ["tui", "--rate", "500"]])
def test_bad_rate_is_one_line(cli, argv):
    done = cli(*argv)
    assert done.returncode == 2 and done.stderr.startswith("edgeprobe: argument --rate: ")
    assert "Traceback" not in done.stderr
