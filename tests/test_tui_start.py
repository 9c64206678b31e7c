"""The start dialog at 80x24, driven with the keyboard against a real agent on a real socket:
the device profile and jetson_clocks reach the run's arguments, a power mode that needs a
reboot is marked and starts nothing until the reboot is agreed to, the size line counts the
run's points and estimates its time once an earlier run of the suite is in the data folder,
and the dialog fits the screen with every label visible, a list open or not. Telemetry and
power modes come from the recorded Orin Nano tree (fake nvpmodel on PATH)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, OptionList, Select

from edgeprobe.bundle import read_bundle
from edgeprobe.tui.app import EdgeprobeApp
from edgeprobe.tui.screens.confirm import ConfirmScreen
from edgeprobe.tui.screens.start_run import StartRunScreen
from tests.conftest import REPO
from tests.tui_helpers import (
    FIXTURES,
    ORIN_NANO,
    headless,
    screen_lines,
    tui_with_agent,
    until,
    use_recordings,
)

SIZE = (80, 24)
LABELS = ("suite", "models", "lengths", "device", "profile", "power mode", "clocks",
          "max context")


@pytest.fixture
def board(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The recorded Orin Nano tree with the nvpmodel.conf of a board whose 7W mode power-gates
    GPU TPCs (a switch to it needs a reboot), in MAXN_SUPER; runs replayed, fake nvpmodel."""
    use_recordings(monkeypatch, tmp_path, delay_s=0.01, kernels=False)
    root = tmp_path / "orin-nano"
    shutil.copytree(ORIN_NANO, root)
    shutil.copy(FIXTURES / "power" / "orin-nano" / "etc" / "nvpmodel.conf",
                root / "etc" / "nvpmodel.conf")
    monkeypatch.setenv("EDGEPROBE_SYSFS_ROOT", str(root))
    monkeypatch.setenv("PATH", f"{FIXTURES / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("EDGEPROBE_FAKE_LOG", str(tmp_path / "calls.jsonl"))
    return root


async def open_dialog(pilot: Any) -> StartRunScreen:
    app = pilot.app
    await until(pilot, lambda: app.agent is not None and app.frames_seen >= 1, "the agent")
    await pilot.press("s")
    await until(pilot, lambda: isinstance(app.screen, StartRunScreen), "the start dialog")
    await pilot.pause()
    return app.screen


def size_line(screen: StartRunScreen) -> str:
    return str(screen.query_one("#start-size").render())


async def focus(pilot: Any, widget: Any) -> None:
    """Tab from field to field until ``widget`` has the keyboard."""
    for _ in range(20):
        if widget.has_focus:
            return
        await pilot.press("tab")
    raise AssertionError(f"tab never reached {widget.id}")


async def open_list(pilot: Any, select: Select[Any]) -> OptionList:
    await focus(pilot, select)
    await pilot.press("enter")
    overlay = select.query_one(OptionList)
    await until(pilot, lambda: overlay.display and overlay.has_focus, "the list open")
    return overlay


def prompts(overlay: OptionList) -> list[str]:
    return [str(overlay.get_option_at_index(i).prompt) for i in range(overlay.option_count)]


async def choose(pilot: Any, select: Select[Any], prompt: str) -> None:
    """Open the list with the keyboard and pick the option shown as ``prompt``."""
    overlay = await open_list(pilot, select)
    wanted = prompts(overlay).index(prompt)
    await pilot.press("home", *["down"] * wanted, "enter")
    await until(pilot, lambda: not overlay.display, "the list closed")


async def type_into(pilot: Any, field: Input, text: str) -> None:
    await focus(pilot, field)
    await pilot.press(*list(text))


async def submitted(pilot: Any, server: Any, job_id: int) -> list[str]:
    await until(pilot, lambda: job_id in server.jobs.jobs, f"job {job_id} submitted")
    return list(server.jobs.jobs[job_id].argv)


@headless
async def test_profile_and_jetson_clocks_reach_the_runs_arguments(board, tmp_path):
    async with tui_with_agent(tmp_path / "agent.sock", SIZE) as (pilot, _, server):
        screen = await open_dialog(pilot)
        profile = screen.query_one("#start-profile", Select)
        assert str(profile.selection) == "auto"
        overlay = await open_list(pilot, profile)
        assert prompts(overlay)[0] == "auto (orin-nano-8gb)"  # the detected one
        await pilot.press("escape")
        await pilot.press("ctrl+s")  # as it opens: nothing chosen, nothing added
        first = await submitted(pilot, server, 1)
        assert first == ["--suite", "smoke", "--device", "auto"]

        screen = await open_dialog(pilot)
        assert screen.query_one("#start-clocks-row").display  # nvpmodel: a Jetson
        await choose(pilot, screen.query_one("#start-profile", Select), "agx-orin-64gb")
        await focus(pilot, screen.query_one("#start-clocks"))
        await pilot.press("space")
        await pilot.press("ctrl+s")
        second = await submitted(pilot, server, 2)
        assert second[second.index("--device-profile") + 1] == "agx-orin-64gb"
        assert "--jetson-clocks" in second and "--allow-reboot" not in second


@headless
async def test_no_jetson_clocks_switch_off_a_jetson(tmp_path, monkeypatch):
    use_recordings(monkeypatch, tmp_path, kernels=False)
    monkeypatch.setenv("EDGEPROBE_SYSFS_ROOT", str(FIXTURES / "machines" / "x86-cpu"))

    async with tui_with_agent(tmp_path / "agent.sock", SIZE) as (pilot, app, _):
        screen = await open_dialog(pilot)
        assert not screen.query_one("#start-clocks-row").display
        assert not any("jetson_clocks" in row for row in dialog_rows(app))


@headless
async def test_a_mode_that_needs_a_reboot_is_marked_and_starts_only_once_agreed(board, tmp_path):
    async with tui_with_agent(tmp_path / "agent.sock", SIZE) as (pilot, app, server):
        screen = await open_dialog(pilot)
        mode = screen.query_one("#start-mode", Select)
        overlay = await open_list(pilot, mode)
        assert prompts(overlay) == ["(keep current) (now MAXN_SUPER)", "15W", "25W",
                                    "MAXN_SUPER", "7W (needs reboot)"]
        await pilot.press("escape")
        await choose(pilot, mode, "7W (needs reboot)")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert "needs a reboot" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("n")
        await until(pilot, lambda: app.screen is screen, "back in the dialog")
        note = str(screen.query_one("#start-note").render())
        assert note.startswith("not started: 7W needs a reboot")
        assert "not started" in "\n".join(screen_lines(app))
        await pilot.pause(0.3)
        assert server.jobs.jobs == {}  # no run, no reboot

        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        argv = await submitted(pilot, server, 1)
        assert argv[argv.index("--power-mode") + 1] == "7W"
        assert "--allow-reboot" in argv


def tiny_run(data: Path) -> Path:
    """A real one-point run of the smoke suite on the CPU into ``data``."""
    env = {key: value for key, value in os.environ.items() if key != "EDGEPROBE_SYSFS_ROOT"}
    out = data / "earlier-smoke.epb"
    done = subprocess.run(
        [sys.executable, "-m", "edgeprobe", "run", "--local", "--quiet", "--suite", "smoke",
         "--models", "tiny-qwen2", "--lengths", "128", "--variants", "lean", "--device", "cpu",
         "--decode-tokens", "0", "--repeats", "1", "--warmup", "0", "--no-telemetry",
         "--no-thermal-guard", "--out", str(out)],
        cwd=REPO, env={**env, "EDGEPROBE_DATA_DIR": str(data)}, capture_output=True,
        text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out


@headless
async def test_the_size_line_counts_points_and_estimates_from_an_earlier_run(board, tmp_path):
    data = tmp_path / "data"

    async with tui_with_agent(tmp_path / "agent.sock", SIZE) as (pilot, app, _):
        screen = await open_dialog(pilot)
        # smoke: 5 models x 3 lengths x 2 prefill variants
        await until(pilot, lambda: size_line(screen).startswith("30 points;"), "30")
        assert "no earlier run of smoke here" in size_line(screen)
        await type_into(pilot, screen.query_one("#start-models", Input),
                        "tiny-qwen2 tiny-mamba2")
        await type_into(pilot, screen.query_one("#start-lengths", Input), "1K 4K 8K")
        await until(pilot, lambda: size_line(screen).startswith("12 points;"), "12")
        await type_into(pilot, screen.query_one("#start-models", Input), " nope")
        await until(pilot, lambda: "unknown model 'nope'" in size_line(screen), "error")
        await pilot.press("escape")

        bundle = await asyncio.to_thread(tiny_run, data)
        footer = read_bundle(bundle).footer or {}
        minutes = max(1, round(footer["duration_s"] * 30 / 60))  # one point so far
        screen = await open_dialog(pilot)
        await until(pilot, lambda: "earlier" in size_line(screen), "the estimate")
        assert size_line(screen) == \
            f"30 points, about {minutes} min (from 1 earlier run)"
        assert size_line(screen) in "\n".join(screen_lines(app)).replace("█", "")


def dialog_rows(app: EdgeprobeApp) -> list[str]:
    box = app.screen.query_one("#start-box").region
    return [line[box.x:box.right] for line in screen_lines(app)[box.y:box.bottom]]


@headless
async def test_the_dialog_fits_80x24_and_open_lists_leave_every_label_visible(board, tmp_path):
    async with tui_with_agent(tmp_path / "agent.sock", SIZE) as (pilot, app, _):
        screen = await open_dialog(pilot)
        box = screen.query_one("#start-box").region
        assert box.x >= 0 and box.y >= 0 and box.right <= 80 and box.bottom <= 24
        fields = screen.query_one("#start-fields")
        assert fields.max_scroll_y == 0  # every field shown at 80x24, none scrolled
        rows = dialog_rows(app)
        assert any("start" in row and "cancel" in row for row in rows)
        for select in screen.query(Select):
            await open_list(pilot, select)
            shown = [row[2:2 + 13].strip() for row in dialog_rows(app)]
            assert all(label in shown for label in LABELS), (select.id, shown)
            await pilot.press("escape")
