"""What the TUI knows, kept apart from how it is drawn: run progress from the run events,
live energy of the point being measured, and a power history for the sparkline.

Nothing here imports Textual, so these rules are tested as plain functions.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from edgeprobe.agent.feed import ENERGY_COUNTERS, total_power_column
from edgeprobe.runner import events
from edgeprobe.units import format_tokens

SPARKLINE_S = 60.0


@dataclass(frozen=True)
class RunProgress:
    """The run the agent is doing (or did last), as far as its events tell."""

    job_id: int | None = None
    state: str = "idle"  # idle | queued | running | completed | failed | cancelled | interrupted
    suite: str | None = None
    device: str | None = None
    power_mode: str | None = None
    bundle: str | None = None
    model: str | None = None
    length_tokens: int | None = None
    variant: str | None = None
    searching: bool = False
    loading: bool = False
    kernel_path: str | None = None  # the current model's observed kernel path summary
    points_done: int = 0
    points_total: int = 0
    started_unix_s: float | None = None
    ended_unix_s: float | None = None
    error: str | None = None

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def eta_s(self, now_unix_s: float | None = None) -> float | None:
        """Remaining time if the points left take as long as the done ones took on average."""
        if self.state != "running" or not self.started_unix_s or self.points_done <= 0:
            return None
        now = time.time() if now_unix_s is None else now_unix_s
        per_point = (now - self.started_unix_s) / self.points_done
        return max(self.points_total - self.points_done, 0) * per_point


@dataclass
class Notice:
    level: str
    message: str


class RunTracker:
    """Folds run events (``{"job", "kind", ...}``) into progress, points, kernel tables and
    notices. Events of other jobs than the one followed start following the newer job."""

    def __init__(self) -> None:
        self.progress = RunProgress()
        self.points: list[dict[str, Any]] = []
        self.kernels: dict[str, Any] | None = None
        self.notices: deque[Notice] = deque(maxlen=200)
        self.kernel_paths: dict[str, str] = {}

    def apply(self, event: dict[str, Any]) -> str | None:
        """Take one event; returns its kind when it was used, None when ignored."""
        kind = event.get("kind")
        job = event.get("job")
        if job is not None and job != self.progress.job_id:
            if kind not in ("job_started", events.STARTED) and self.progress.active:
                return None  # an old job's late events while following a newer one
            self._follow(int(job))
        handler = getattr(self, f"_on_{kind}", None)
        if handler is None:
            return None
        handler(event)
        return str(kind)

    def _follow(self, job_id: int) -> None:
        self.progress = RunProgress(job_id=job_id, state="queued")
        self.points = []
        self.kernels = None
        self.kernel_paths = {}

    def _set(self, **changes: Any) -> None:
        self.progress = replace(self.progress, **changes)

    def load_job(self, summary: dict[str, Any]) -> None:
        """Follow a job afresh from its summary (``status``/``jobs``), e.g. when joining
        mid-run; its recent events are replayed after this."""
        self._follow(int(summary["id"]))
        self._on_job_summary({**summary, "points_done": 0})  # the replay counts them

    def update_job(self, summary: dict[str, Any]) -> None:
        """Take the agent's newer figures for the job followed (after a replay)."""
        if summary.get("id") == self.progress.job_id:
            self._on_job_summary(summary)

    def _on_job_summary(self, data: dict[str, Any]) -> None:
        self._set(state=data.get("state", self.progress.state),
                  bundle=data.get("bundle") or self.progress.bundle,
                  started_unix_s=data.get("started_unix_s") or self.progress.started_unix_s,
                  ended_unix_s=data.get("ended_unix_s"), error=data.get("error"),
                  points_done=max(int(data.get("points_done") or 0), self.progress.points_done),
                  points_total=int(data.get("points_total") or self.progress.points_total))

    def _on_job_started(self, data: dict[str, Any]) -> None:
        self._on_job_summary({**data, "state": "running"})

    def _on_job_finished(self, data: dict[str, Any]) -> None:
        self._on_job_summary(data)
        self._set(loading=False, searching=False)
        if data.get("error"):
            self.notices.append(Notice("error", f"job {data.get('job')}: {data['error']}"))

    def _on_started(self, data: dict[str, Any]) -> None:
        header = data.get("header") or {}
        self._set(state="running", suite=header.get("suite"), device=header.get("device"),
                  power_mode=header.get("power_mode"), bundle=data.get("path"),
                  points_total=int(data.get("total") or 0),
                  started_unix_s=self.progress.started_unix_s or time.time())

    def _on_notice(self, data: dict[str, Any]) -> None:
        self.notices.append(Notice(str(data.get("level", "info")), str(data.get("message", ""))))

    def _on_model_loading(self, data: dict[str, Any]) -> None:
        self._set(model=data.get("model"), loading=True, length_tokens=None, variant=None,
                  kernel_path=None)

    def _on_model_loaded(self, data: dict[str, Any]) -> None:
        record = data.get("record") or {}
        path = record.get("kernel_path")
        summary = path.get("summary") if isinstance(path, dict) else path
        if data.get("model") and summary:
            self.kernel_paths[str(data["model"])] = str(summary)
        self._set(model=data.get("model"), loading=False, kernel_path=summary)

    def _on_point_started(self, data: dict[str, Any]) -> None:
        self._set(model=data.get("model"), length_tokens=data.get("length"),
                  variant=data.get("variant"), searching=bool(data.get("search")), loading=False)

    def _on_point(self, data: dict[str, Any]) -> None:
        record = data.get("record") or {}
        self.points.append(record)
        if not record.get("search"):
            self._set(points_done=self.progress.points_done + 1)

    def _on_search_started(self, data: dict[str, Any]) -> None:
        self._set(model=data.get("model"), variant=data.get("variant"), searching=True)

    def _on_max_context(self, data: dict[str, Any]) -> None:
        record = data.get("record") or {}
        self.notices.append(Notice("info", f"max context {record.get('model')} "
                                   f"{record.get('variant')}: {record.get('max_ok_tokens')} "
                                   "tokens"))

    def _on_kernels(self, data: dict[str, Any]) -> None:
        record = data.get("record")
        if isinstance(record, dict):
            self.kernels = record

    def _on_finished(self, data: dict[str, Any]) -> None:
        self._set(loading=False, searching=False)


def _point_line(record: dict[str, Any]) -> list[tuple[str, str]]:
    if record.get("status") in ("ok", "skipped"):
        return []
    return [("warning", f"{record.get('model')} {format_tokens(record.get('length_tokens'))} "
             f"{record.get('variant')}: {record.get('status')} {record.get('error') or ''}")]


def event_log_lines(kind: str, data: dict[str, Any],
                    progress: RunProgress) -> list[tuple[str, str]]:
    """What the log says about one applied run event, as ``(level, message)``; ``progress``
    is the state after it. The bundle's whole path is said here, the run panel may shorten
    it."""
    if kind == events.NOTICE:
        return [(str(data.get("level", "info")), str(data.get("message", "")))]
    if kind == events.POINT:
        return _point_line(data.get("record") or {})
    if kind in ("job_started", "job_finished"):
        return [("error" if progress.state == "failed" else "info",
                 f"job {progress.job_id} {progress.state}"
                 + (f": {progress.error}" if progress.error else ""))]
    if kind == events.STARTED and progress.bundle:
        return [("info", f"job {progress.job_id} bundle {progress.bundle}")]
    if kind == events.MODEL_LOADED and progress.kernel_path not in (None, "fused"):
        return [("info", f"{progress.model}: kernel path {progress.kernel_path}")]
    return []


@dataclass
class PointEnergy:
    """Energy of the point being measured, from the live frames: the device's energy counter
    where the sample has one, else total power integrated over the frames (trapezoids)."""

    label: str | None = None
    energy_j: float | None = None
    source: str | None = None
    _start_counter_j: float | None = None
    _last: tuple[float, float] | None = None  # (monotonic_s, power_w)

    def begin(self, label: str) -> None:
        self.label, self.energy_j, self.source = label, None, None
        self._start_counter_j, self._last = None, None

    def end(self) -> None:
        self.label = None

    def add(self, sample: dict[str, Any]) -> None:
        if self.label is None:
            return
        column = total_power_column(sample)
        counter = ENERGY_COUNTERS.get(column or "")
        if counter and isinstance(sample.get(counter), (int, float)):
            if self._start_counter_j is None:
                self._start_counter_j = float(sample[counter])
            self.energy_j = float(sample[counter]) - self._start_counter_j
            self.source = counter
            return
        t, power = sample.get("monotonic_s"), sample.get(column) if column else None
        if not isinstance(t, (int, float)) or not isinstance(power, (int, float)):
            return
        if self._last is not None and t > self._last[0]:
            self.energy_j = (self.energy_j or 0.0) + 0.5 * (power + self._last[1]) * (
                t - self._last[0])
            self.source = f"integrated {column}"
        self._last = (float(t), float(power))


def point_energy_j(record: dict[str, Any]) -> float | None:
    """A finished point's measured energy: its phases' ``energy_j`` added up."""
    phases = record.get("energy") or {}
    values = [p.get("energy_j") for p in phases.values() if isinstance(p, dict)]
    numbers = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
    return sum(numbers) if numbers else None


@dataclass
class PowerHistory:
    """The last minute of total power for the sparkline, one value per frame."""

    step_s: float = 0.5
    values: deque[float] = field(default_factory=lambda: deque(maxlen=120))

    def reset(self, step_s: float) -> None:
        self.step_s = step_s
        self.values = deque(maxlen=max(2, round(SPARKLINE_S / step_s)))

    def seed(self, series: list[float | None]) -> None:
        last = None
        for value in series:
            last = value if value is not None else last
            if last is not None:
                self.values.append(float(last))

    def add(self, sample: dict[str, Any]) -> None:
        column = total_power_column(sample)
        if column and power_read(sample):
            self.values.append(round(float(sample[column]), 3))  # as the agent's history


# Sensors that read the device's power: every NVML, RAPL and jtop sensor, and the Jetson's
# INA3221 rails (the board total is their input rail).
_POWER_SOURCES = ("nvml", "rapl", "jtop")
_JETSON_POWER_SENSORS = ("rails", "board_power", "rail ")


def _reads_power(status: dict[str, Any]) -> bool:
    source, sensor = str(status.get("source")), str(status.get("sensor"))
    return source in _POWER_SOURCES or (
        source == "jetson" and sensor.startswith(_JETSON_POWER_SENSORS))


def _first_clause(detail: str) -> str:
    """``no RAPL powercap domains (/sys/...): not an Intel/AMD CPU`` -> the part before the
    first parenthesis or colon, short enough for a small panel."""
    for mark in (" (", ": "):
        detail = detail.split(mark, 1)[0]
    return detail.strip()


def power_unread(sources: list[dict[str, Any]]) -> list[str]:
    """Why no power sensor is read, one short line per power sensor the agent reports
    unavailable (``source: first clause``); empty when it reports none."""
    return [f"{status.get('source')}: {_first_clause(str(status.get('detail') or '?'))}"
            for status in sources if _reads_power(status) and not status.get("available")]


def power_unread_details(sources: list[dict[str, Any]]) -> list[str]:
    """The same sensors with their whole reason and fix, for the log."""
    return [f"{status.get('source')} {status.get('sensor')}: {status.get('detail')}"
            + (f" (fix: {status['fix']})" if status.get("fix") else "")
            for status in sources if _reads_power(status) and not status.get("available")]


@dataclass
class PowerNote:
    """Says once, in the log, why no power is read: the agent's sensor statuses (known after
    connecting) and a sample without a power reading."""

    sources: list[dict[str, Any]] | None = None
    said: bool = False

    def lines(self, sample: dict[str, Any]) -> list[str]:
        if self.said or self.sources is None or not sample or power_read(sample):
            return []
        self.said = True
        return [f"power not read here: {line}"
                for line in power_unread_details(self.sources) or ["no power sensor found"]]


def power_read(sample: dict[str, Any]) -> bool:
    """Whether the sample holds a total power reading (a number, not NaN)."""
    column = total_power_column(sample)
    value = sample.get(column) if column else None
    return isinstance(value, (int, float)) and not math.isnan(value)
