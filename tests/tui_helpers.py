"""Shared pieces of the TUI tests: a real agent (in this process or as ``edgeprobe agent``)
whose telemetry reads a recorded sensor tree, a recorded run played in place of the run
process, and waiting on a Pilot for what the screen should come to show."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeprobe.agent.feed import TelemetryFeed
from edgeprobe.agent.jobs import JobQueue
from edgeprobe.agent.server import AgentServer
from edgeprobe.telemetry import BackgroundSampler
from edgeprobe.tui.app import EdgeprobeApp
from tests.conftest import REPO

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ORIN_NANO = FIXTURES / "sysfs" / "orin-nano-jp6"
RECORDING = FIXTURES / "runs" / "cpu-oom-400MiB.jsonl"
KERNELS_EVENT = FIXTURES / "runs" / "kernels-event.jsonl"
REPLAY_PROGRAM = FIXTURES / "bin" / "run-replay"


def recorded_events(path: Path = RECORDING) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


REPLAYED_JOB = {"id": 1, "argv": ["--suite", "smoke"], "bundle": "/data/oom.epb",
                "submitted_unix_s": 1000.0, "started_unix_s": 1000.0, "points_total": 12}


def replay_into(app: Any, events: list[dict[str, Any]], start: bool = False,
                finish: bool = False) -> None:
    """Apply recorded run events to the app as the agent's replay would (job 1), then bring
    the panels up to date."""
    if start:
        app.apply_run_event({"job": 1, "kind": "job_started", **REPLAYED_JOB, "state": "running"})
    for event in events:
        app.apply_run_event({"job": 1, **event}, replay=True)
    if finish:
        app.apply_run_event({"job": 1, "kind": "job_finished", **REPLAYED_JOB,
                             "state": "completed", "ended_unix_s": 1065.0, "returncode": 0,
                             "points_done": 12})
    app.show_run_state()


def use_recordings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, delay_s: float = 0.02,
                   kernels: bool = True) -> None:
    """Sensors from the recorded Orin Nano tree; runs replayed from the recorded stream."""
    monkeypatch.setenv("EDGEPROBE_SYSFS_ROOT", str(ORIN_NANO))
    monkeypatch.setenv("EDGEPROBE_REPLAY", str(RECORDING))
    monkeypatch.setenv("EDGEPROBE_REPLAY_DELAY_S", str(delay_s))
    if kernels:
        monkeypatch.setenv("EDGEPROBE_REPLAY_EXTRA", str(KERNELS_EVENT))
    else:
        monkeypatch.delenv("EDGEPROBE_REPLAY_EXTRA", raising=False)
    monkeypatch.setenv("EDGEPROBE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EDGEPROBE_SOCKET", str(tmp_path / "no-agent.sock"))


@contextlib.asynccontextmanager
async def agent_in_process(path: Path, publish_hz: float = 10.0) -> AsyncIterator[AgentServer]:
    """A real agent on a real socket in this event loop; its job queue starts the replay
    program where it would start Python for ``-m edgeprobe run``."""
    feed = TelemetryFeed(BackgroundSampler(rate_hz=20.0, history_s=120.0))
    server = AgentServer(path, telemetry=feed, rate_hz=publish_hz)
    server.jobs = JobQueue(server.broadcast, python=str(REPLAY_PROGRAM))
    task = asyncio.create_task(server.serve_forever())
    for _ in range(400):
        if path.exists():
            break
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        for job in list(server.jobs.jobs.values()):  # let a cancelled replay exit first
            if await server.jobs.cancel(job.id):
                for _ in range(200):
                    if job.process is None:
                        break
                    await asyncio.sleep(0.025)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def tui_with_agent(socket: Path, size: tuple[int, int]
                         ) -> AsyncIterator[tuple[Any, EdgeprobeApp, AgentServer]]:
    """The TUI at ``size`` against a real agent in this event loop: (pilot, app, agent)."""
    async with agent_in_process(socket) as server:
        app = EdgeprobeApp(socket=socket)
        async with app.run_test(size=size) as pilot:
            yield pilot, app, server


def headless(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test body in its own event loop."""
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def wait_for_socket(path: Path, process: subprocess.Popen[str], timeout_s: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"agent exited: {process.stderr.read() if process.stderr else ''}")
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.connect(str(path))
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("agent socket never appeared")


def start_agent(path: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    """``edgeprobe agent`` as a user starts it, telemetry on; returns once it serves."""
    process = subprocess.Popen([sys.executable, "-m", "edgeprobe", "agent", "--socket", str(path),
                                *extra], cwd=REPO, env={**os.environ, **env},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_socket(path, process)
    except BaseException:
        stop_agent(process)
        raise
    return process


def stop_agent(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def stop_jobs(data_dir: Path) -> None:
    """End the runs an agent started there: they outlive the agent, not the test. Only a
    process that is still the job's (same pid, start and boot) is signalled."""
    from edgeprobe.agent.jobfiles import ProcessIdentity

    for job_file in data_dir.glob("jobs/*/job.json"):
        try:
            record = json.loads(job_file.read_text())
            identity = ProcessIdentity(record["pid"], record["process_start_ticks"],
                                       record["boot_id"])
            if identity.alive():
                os.killpg(identity.pid, signal.SIGKILL)
        except (OSError, ValueError, KeyError, TypeError):
            continue


@contextlib.contextmanager
def agent_process(path: Path, env: dict[str, str], *extra: str) -> Iterator[subprocess.Popen[str]]:
    process = start_agent(path, env, *extra)
    try:
        yield process
    finally:
        stop_agent(process)
        if env.get("EDGEPROBE_DATA_DIR"):
            stop_jobs(Path(env["EDGEPROBE_DATA_DIR"]))


async def until(pilot: Any, predicate: Callable[[], bool], what: str,
                timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def panel_text(app: Any, selector: str) -> str:
    from edgeprobe.tui.widgets.panel import TextPanel

    texts = []
    for node in app.query(selector):
        panels = [node] if isinstance(node, TextPanel) else list(node.query(TextPanel))
        texts += [panel.shown_text for panel in panels]
    return "\n".join(texts)


def table_rows(table: Any) -> list[list[str]]:
    rows = []
    for row_key in table.rows:
        rows.append([str(getattr(cell, "plain", cell)) for cell in table.get_row(row_key)])
    return rows


def rendered_text(renderable: Any, width: int = 100) -> str:
    """What a renderable (a Static's content) prints as, without styles."""
    from rich.console import Console

    console = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def screen_lines(app: Any) -> list[str]:
    """The screen as a terminal shows it, one string per row, without styles."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, record=True, file=io.StringIO(),
                      color_system=None)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()


def job_events(client: Any, job_id: int, until: Callable[[dict], bool],
               timeout_s: float = 240.0) -> list[dict]:
    """The events of one job an ``AgentClient`` receives, up to the first that ``until``
    accepts (or the stream's end); the assertion says what was seen by the deadline."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout_s
    for message in client.events(timeout_s=timeout_s):
        data = message["data"]
        if data.get("job") == job_id:
            seen.append(data)
            if until(data):
                return seen
        assert time.monotonic() < deadline, seen
    return seen

