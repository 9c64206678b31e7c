"""Walks a suite: worker -> model -> points (-> max-context search, profiling), appending
to a bundle. Never imports torch: device work happens in a worker process.

``Runner`` and ``RunSettings`` load on first use, so that importing ``runner.events`` (as the
agent and the TUI do) does not bring in the run machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgeprobe.runner.core import Runner
    from edgeprobe.runner.settings import RunSettings

__all__ = ["RunSettings", "Runner"]


def __getattr__(name: str) -> Any:
    if name == "Runner":
        from edgeprobe.runner.core import Runner

        return Runner
    if name == "RunSettings":
        from edgeprobe.runner.settings import RunSettings

        return RunSettings
    raise AttributeError(name)
