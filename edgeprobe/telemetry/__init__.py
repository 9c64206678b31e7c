"""Headless telemetry (no UI, no torch): samplers per source, a background sampler with energy
windows and timeline chunks, and platform facts.

    from edgeprobe.telemetry import BackgroundSampler
    with BackgroundSampler(rate_hz=10) as sampler:
        ...                                   # run something
        window = sampler.energy_window(t0, t1)  # time.monotonic() stamps
        chunk = sampler.drain_timeline()        # a ``telemetry`` bundle record body
"""

from edgeprobe.telemetry.base import Metric, SensorStatus, Source
from edgeprobe.telemetry.energy import EnergyWindow, compute_window
from edgeprobe.telemetry.sampler import DEFAULT_RATE_HZ, MAX_RATE_HZ, BackgroundSampler
from edgeprobe.telemetry.sources import default_sources
from edgeprobe.telemetry.timeline import Timeline, decode_chunk, decode_timeline

__all__ = [
    "DEFAULT_RATE_HZ",
    "MAX_RATE_HZ",
    "BackgroundSampler",
    "EnergyWindow",
    "Metric",
    "SensorStatus",
    "Source",
    "Timeline",
    "compute_window",
    "decode_chunk",
    "decode_timeline",
    "default_sources",
]
