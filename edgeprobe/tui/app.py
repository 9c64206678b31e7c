"""The TUI: device header, memory, power, temperatures, run progress, and tabs with the live
results table, the kernel view and the log. Data arrives as agent frames (telemetry a few
times a second, run events as they happen) and lands in the app's data attributes, bound to
the panels' own; a panel repaints itself alone, and only when its text changed.

The attributes are ``var`` (reactive without a repaint of their owner): a plain reactive on
the App would repaint the whole screen on every frame."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, ClassVar

from rich.markup import escape
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.reactive import reactive, var
from textual.timer import Timer
from textual.widgets import Footer, RichLog, TabbedContent, TabPane

from edgeprobe.agent.client import AgentUnavailable
from edgeprobe.errors import EdgeprobeError
from edgeprobe.runner import events
from edgeprobe.tui.link import AgentLink, LinkInfo
from edgeprobe.tui.screens.bundles import BundlesScreen
from edgeprobe.tui.screens.confirm import ConfirmScreen
from edgeprobe.tui.screens.help import HelpScreen
from edgeprobe.tui.screens.start_run import StartRunScreen
from edgeprobe.tui.state import (
    PointEnergy,
    PowerHistory,
    PowerNote,
    RunProgress,
    RunTracker,
    event_log_lines,
    point_energy_j,
    power_unread,
)
from edgeprobe.tui.widgets.header import DeviceHeader
from edgeprobe.tui.widgets.kernels import KernelPanel
from edgeprobe.tui.widgets.memory import MemoryPanel
from edgeprobe.tui.widgets.power import PowerPanel
from edgeprobe.tui.widgets.progress import RunPanel
from edgeprobe.tui.widgets.results import ResultsTable
from edgeprobe.tui.widgets.temps import TemperaturePanel

RECONNECT_S = 2.0
# What each tab's key focuses, so the arrows and PgUp/PgDn scroll it at once.
TAB_FOCUS = {"results": "#results-table", "kernels": "#kernels-table", "log": "#log-view"}
RUN_VIEW_S = 0.25
HISTORY_STEP_S = 0.5


def _canonical(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, default=str)


class EdgeprobeApp(App[int]):
    CSS_PATH = "edgeprobe.tcss"
    TITLE = "edgeprobe"
    AUTO_FOCUS = "#results-table"
    # Quit first: at 80 columns the footer shows the first keys that fit; ? lists them all.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit"),
        Binding("question_mark", "help", "help"),
        Binding("s", "start_run", "start"),
        Binding("c", "cancel_run", "cancel"),
        Binding("r", "show_tab('results')", "results"),
        Binding("b", "bundles", "bundles"),
        Binding("k", "show_tab('kernels')", "kernels", show=False),
        Binding("l", "show_tab('log')", "log", show=False),
    ]

    sample: reactive[dict[str, Any]] = var(dict)
    progress: reactive[RunProgress] = var(RunProgress)
    last_point: reactive[dict[str, Any] | None] = var(None)
    history: reactive[tuple[float, ...]] = var(tuple)
    energy: reactive[str] = var("point energy -")
    power_why: reactive[tuple[str, ...]] = var(tuple)  # why no power sensor reads, if none
    link: reactive[str] = var("connecting to the agent...")
    warning: reactive[str | None] = var(None)
    record: reactive[dict[str, Any] | None] = var(None)  # latest kernels record

    def __init__(self, socket: Path | None = None, local: bool = False,
                 sample_rate_hz: float = 10.0) -> None:
        super().__init__()
        self.socket = socket
        self.force_local = local
        self.sample_rate_hz = sample_rate_hz
        self.agent: AgentLink | None = None
        self.link_info: LinkInfo | None = None
        self.tracker = RunTracker()
        self.point_energy = PointEnergy()
        self.power_history = PowerHistory()
        self.power_note = PowerNote()
        self._last_energy_j: float | None = None
        self._shown_job: int | None = None
        self._replayed: set[str] = set()
        self._pending_points: list[dict[str, Any]] = []
        self._pending_log: list[tuple[str, str]] = []
        self._pending_warning: str | None = None
        self._view_timer: Timer | None = None
        self.frames_seen = 0

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        app = EdgeprobeApp
        yield DeviceHeader(id="header").data_bind(app.sample, app.link)
        with Horizontal(id="top"):
            yield MemoryPanel(id="memory").data_bind(app.sample, app.last_point)
            yield PowerPanel(id="power").data_bind(app.sample, app.history, app.energy,
                                                   unread_why=app.power_why)
            yield TemperaturePanel(id="temps").data_bind(app.sample)
        yield RunPanel(id="run").data_bind(app.progress, app.warning)
        with TabbedContent(id="tabs", initial="results"):
            with TabPane("results", id="results"):
                yield ResultsTable(id="results-table")
            with TabPane("kernels", id="kernels"):
                yield KernelPanel(id="kernel-panel").data_bind(app.record)
            with TabPane("log", id="log"):
                yield RichLog(id="log-view", markup=True, wrap=True, max_lines=500)
        yield Footer()

    def on_mount(self) -> None:
        self.follow_agent()

    # -- the agent ---------------------------------------------------------------------------
    @work(exclusive=True, group="agent")
    async def follow_agent(self) -> None:
        """Connect, catch up, then apply frames until the agent goes; then connect again."""
        had_agent = False
        while True:
            agent = AgentLink(self.socket, self.force_local, self.sample_rate_hz)
            try:
                info = await agent.open(allow_local=not had_agent)
            except EdgeprobeError as exc:
                self.link = ("[b]lost the agent[/]; reconnecting..." if had_agent
                             else f"[b]no agent, no local sampling:[/] {escape(str(exc))}")
                await asyncio.sleep(RECONNECT_S)
                continue
            had_agent = not info.local
            self.agent, self.link_info = agent, info
            self.link = ("[b]LOCAL[/]: no agent; runs end with this TUI" if info.local
                         else f"agent (edgeprobe {info.server.get('edgeprobe_version', '?')})")
            if info.local:
                self.log_line("warning", f"no agent running ({info.why_local}); sampling "
                              "this machine here. Runs started now stop when the TUI quits; "
                              "`edgeprobe agent` keeps them going.")
            try:
                await self._catch_up(agent)
                async for message in agent.messages():
                    self._apply_message(message)
            except AgentUnavailable:
                pass
            except (EdgeprobeError, asyncio.TimeoutError) as exc:  # an agent that misbehaves
                self.log_line("error", f"agent connection dropped: {exc}")
            self.agent = None
            await agent.close()
            if info.local:
                return
            self.link = "[b]lost the agent[/]; reconnecting..."
            await asyncio.sleep(RECONNECT_S)

    async def _catch_up(self, agent: AgentLink) -> None:
        await agent.request("subscribe", topics=["telemetry", "run"])
        try:
            history = await agent.request("history", seconds=60.0, step_s=HISTORY_STEP_S)
        except EdgeprobeError:  # an agent from before the history op: the line starts empty
            history = {}
        self.power_history.reset(history.get("step_s") or HISTORY_STEP_S)
        series = history.get("series") or {}
        if series:
            self.power_history.seed(next(iter(series.values())))
            self.history = tuple(self.power_history.values)
        status = await agent.request("status")
        if status.get("telemetry"):
            self.apply_telemetry(status["telemetry"])
        self.power_note.sources = status.get("sources") or []
        self.power_why = tuple(power_unread(self.power_note.sources))
        job = status.get("job")
        if job is None:
            jobs = (await agent.request("jobs")).get("jobs") or []
            job = jobs[-1] if jobs else None
        if job is not None:
            self.tracker.load_job(job)
            self._show_new_job()
            recent = (await agent.request("recent", job=job["id"])).get("events") or []
            self._replayed = {_canonical({"job": job["id"], **event}) for event in recent}
            for event in recent:
                self.apply_run_event({"job": job["id"], **event}, replay=True)
            self.tracker.update_job(job)  # the summary is newer than the replayed counts
            self.show_run_state()

    def _apply_message(self, message: dict[str, Any]) -> None:
        data = message.get("data") or {}
        if message.get("topic") == "telemetry":
            self.apply_telemetry(data)
        elif message.get("topic") == "run":
            if self._replayed and _canonical(data) in self._replayed:
                return
            self.apply_run_event(data)

    # -- applying frames ---------------------------------------------------------------------
    def apply_telemetry(self, sample: dict[str, Any]) -> None:
        self.frames_seen += 1
        self.sample = sample
        self.power_history.add(sample)
        self.history = tuple(self.power_history.values)
        self.point_energy.add(sample)
        self._show_energy()
        for line in self.power_note.lines(sample):
            self.log_line("warning", line)

    def _show_energy(self) -> None:
        self.energy = PowerPanel.energy_text(self.point_energy.label, self.point_energy.energy_j,
                                             self._last_energy_j)

    def apply_run_event(self, data: dict[str, Any], replay: bool = False) -> None:
        """Fold a run event into the state now; the panels follow at most every
        ``RUN_VIEW_S`` (a burst of events costs one repaint, not one each)."""
        kind = self.tracker.apply(data)
        if kind is None:
            return
        progress = self.tracker.progress
        if progress.job_id != self._shown_job:
            self._show_new_job()
        if kind == events.POINT_STARTED and not replay:
            self.point_energy.begin(f"{data.get('model')} {data.get('length')}")
        elif kind == events.POINT:
            self._on_point(data.get("record") or {})
        elif kind == events.NOTICE and data.get("level") in ("warning", "error"):
            self._pending_warning = str(data.get("message", ""))
        self._pending_log += event_log_lines(kind, data, progress)
        if self._view_timer is None:
            self._view_timer = self.set_timer(RUN_VIEW_S, self.show_run_state)

    def _on_point(self, record: dict[str, Any]) -> None:
        self._pending_points.append(record)
        if record.get("status") != "skipped":  # a skipped point was never measured
            measured = point_energy_j(record)
            self._last_energy_j = (measured if measured is not None
                                   else self.point_energy.energy_j)
            self.point_energy.end()

    def show_run_state(self) -> None:
        """Bring the run panels up to the state (called by the timer, or after a replay)."""
        if self._view_timer is not None:
            self._view_timer.stop()
            self._view_timer = None
        self.progress = self.tracker.progress
        table = self.query_one(ResultsTable)
        for record in self._pending_points:
            table.add_point(record)
            if record.get("memory"):
                self.last_point = record
        self._pending_points = []
        for level, message in self._pending_log:
            self.log_line(level, message)
        self._pending_log = []
        if self._pending_warning is not None:
            self.warning, self._pending_warning = self._pending_warning, None
        if self.tracker.kernels is not self.record:
            self.record = self.tracker.kernels
        self._show_energy()

    def _show_new_job(self) -> None:
        self._shown_job = self.tracker.progress.job_id
        self.query_one(ResultsTable).clear_points()
        self._pending_points, self._pending_warning = [], None
        self.record, self.last_point, self.warning = None, None, None
        self._last_energy_j = None
        self.progress = self.tracker.progress

    def log_line(self, level: str, message: str) -> None:
        prefix = {"warning": "[b]warning:[/] ", "error": "[b]error:[/] "}.get(level, "")
        self.query_one("#log-view", RichLog).write(prefix + escape(message))

    # -- actions -----------------------------------------------------------------------------
    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.query_one(TAB_FOCUS[tab]).focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_start_run(self) -> None:
        if self.agent is None:
            self.notify("not connected to an agent yet", severity="warning")
            return
        self.push_screen(StartRunScreen.for_machine(self.sample.get("facts") or {}),
                         self._start_job)

    async def _start_job(self, argv: list[str] | None) -> None:
        if not argv or self.agent is None:
            return
        try:
            reply = await self.agent.request("start", argv=argv)
        except EdgeprobeError as exc:
            self.notify(str(exc), severity="error")
            return
        job = reply.get("job") or {}
        self.notify(f"job {job.get('id')} queued: edgeprobe run {' '.join(argv)}")

    def action_cancel_run(self) -> None:
        run = self.progress
        if self.agent is None or run.job_id is None or not run.active:
            self.notify("no run to cancel", severity="warning")
            return

        async def answered(yes: bool | None) -> None:
            if yes and self.agent is not None:
                reply = await self.agent.request("cancel", job=run.job_id)
                self.notify(f"job {run.job_id}: cancel requested" if reply.get("ok")
                            else f"job {run.job_id} had already ended")

        self.push_screen(ConfirmScreen(f"Cancel job {run.job_id} ({run.points_done}/"
                                       f"{run.points_total} points)? Completed points stay "
                                       "in its bundle."), answered)

    async def action_bundles(self) -> None:
        if self.agent is None:
            self.notify("not connected to an agent yet", severity="warning")
            return
        reply = await self.agent.request("bundles")
        self.push_screen(BundlesScreen(reply.get("bundles") or []))

    async def action_quit(self) -> None:
        if self.link_info is not None and self.link_info.local and self.progress.active:
            async def answered(yes: bool | None) -> None:
                if yes:
                    await self._leave()

            self.push_screen(ConfirmScreen("No agent is running: quitting stops the run "
                                           f"(job {self.progress.job_id}). Quit?"), answered)
            return
        await self._leave()

    async def _leave(self) -> None:
        if self.agent is not None:
            await self.agent.close()
            self.agent = None
        self.exit(0)
