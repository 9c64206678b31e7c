"""What a run tells its listener, defined once.

The runner hands each event, typed, to its listener (the progress view of ``edgeprobe run``,
or the JSON-lines stream the agent relays). On the wire an event is a JSON object with a
``kind`` and the event's fields; consumers of the stream (the agent's job queue, the TUI) name
kinds through the constants here rather than spelling the strings again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

STARTED = "started"
NOTICE = "notice"
MODEL_LOADING = "model_loading"
MODEL_LOADED = "model_loaded"
POINT_STARTED = "point_started"
POINT = "point"
PROFILE_STARTED = "profile_started"
KERNELS = "kernels"
SEARCH_STARTED = "search_started"
MAX_CONTEXT = "max_context"
FINISHED = "finished"


@dataclass(frozen=True)
class RunEvent:
    kind: ClassVar[str]

    def as_message(self) -> dict[str, Any]:
        """The event as the stream carries it: ``{"kind": ..., **fields}``."""
        return {"kind": self.kind, **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass(frozen=True)
class Started(RunEvent):
    kind: ClassVar[str] = STARTED
    header: dict[str, Any]  # device, kind, dtype, power mode, suite, models, budget
    total: int  # points the plan holds
    path: str  # the bundle


@dataclass(frozen=True)
class Notice(RunEvent):
    kind: ClassVar[str] = NOTICE
    message: str
    level: str = "info"  # info | warning | error


@dataclass(frozen=True)
class ModelLoading(RunEvent):
    kind: ClassVar[str] = MODEL_LOADING
    model: str  # preset/implementation


@dataclass(frozen=True)
class ModelLoaded(RunEvent):
    kind: ClassVar[str] = MODEL_LOADED
    model: str
    record: dict[str, Any]  # the bundle's model record


@dataclass(frozen=True)
class PointStarted(RunEvent):
    kind: ClassVar[str] = POINT_STARTED
    model: str
    length: int
    variant: str  # the variants measured together, joined by "+"
    search: bool


@dataclass(frozen=True)
class PointDone(RunEvent):
    kind: ClassVar[str] = POINT
    record: dict[str, Any]  # the bundle's point record


@dataclass(frozen=True)
class ProfileStarted(RunEvent):
    kind: ClassVar[str] = PROFILE_STARTED
    model: str
    length: int
    variant: str


@dataclass(frozen=True)
class KernelsDone(RunEvent):
    kind: ClassVar[str] = KERNELS
    record: dict[str, Any]  # the bundle's kernels record


@dataclass(frozen=True)
class SearchStarted(RunEvent):
    kind: ClassVar[str] = SEARCH_STARTED
    model: str
    variant: str


@dataclass(frozen=True)
class MaxContextDone(RunEvent):
    kind: ClassVar[str] = MAX_CONTEXT
    record: dict[str, Any]  # the bundle's max_context record


@dataclass(frozen=True)
class Finished(RunEvent):
    kind: ClassVar[str] = FINISHED
    status: str  # completed | interrupted | failed | critical_temperature
    path: str
    by_status: dict[str, int]


Listener = Callable[[RunEvent], None]
_BY_KIND: dict[str, type[RunEvent]] = {
    cls.kind: cls for cls in (Started, Notice, ModelLoading, ModelLoaded, PointStarted,
                              PointDone, ProfileStarted, KernelsDone, SearchStarted,
                              MaxContextDone, Finished)}


def from_message(message: dict[str, Any]) -> RunEvent | None:
    """The typed event of a stream message (as ``as_message`` made it); None for a kind that
    is not a run event (the agent's own, such as ``job_finished``) or a malformed one."""
    cls = _BY_KIND.get(str(message.get("kind")))
    if cls is None:
        return None
    names = {f.name for f in fields(cls)}
    try:
        return cls(**{k: v for k, v in message.items() if k in names})
    except TypeError:  # a field missing
        return None


def ignore(event: RunEvent) -> None:
    """A listener that listens to nothing."""
