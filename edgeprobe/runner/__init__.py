"""Walks a suite: worker -> model -> points (-> max-context search, profiling), appending
to a bundle. Never imports torch: device work happens in a worker process."""

from edgeprobe.runner.core import Runner
from edgeprobe.runner.settings import RunSettings

__all__ = ["RunSettings", "Runner"]
