"""The agent's live state in the Prometheus text format (``edgeprobe agent --metrics``).

Each scrape reads the newest telemetry sample, the power mode in force and the running job;
nothing is sampled for the scrape itself. Metric names and units follow Prometheus's
conventions (base units: watts, celsius, hertz, bytes, joules, ratios); which column is
which quantity comes from ``telemetry.columns``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from edgeprobe.errors import UsageError
from edgeprobe.power.state import current_power_state
from edgeprobe.telemetry.columns import readings, source_words

log = logging.getLogger("edgeprobe.agent")

# telemetry group -> (metric name, help, label name, scale to the base unit)
GAUGES: dict[str, tuple[str, str, str, float]] = {
    "power": ("edgeprobe_power_watts", "Power drawn, per sensor or rail", "sensor", 1.0),
    "temperature": ("edgeprobe_temperature_celsius", "Temperature, per sensor", "sensor", 1.0),
    "clock": ("edgeprobe_clock_hertz", "Clock frequency", "clock", 1e6),
    "load": ("edgeprobe_utilization_ratio", "Busy share, 0 to 1", "unit", 0.01),
}
def _label(column: str) -> str:
    return "_".join(source_words(column))


def _memory(values: dict[str, float]) -> Iterator[Metric]:
    used = GaugeMetricFamily("edgeprobe_memory_used_bytes", "Memory in use", labels=["memory"])
    total = GaugeMetricFamily("edgeprobe_memory_total_bytes", "Memory in all", labels=["memory"])
    for column, value in values.items():
        name, _, kind = column.removesuffix("_bytes").rpartition("_")
        if kind == "used":
            used.add_metric([name], value)
        elif kind == "total":
            total.add_metric([name], value)
    yield used
    yield total


def sample_metrics(sample: dict[str, Any]) -> Iterator[Metric]:
    """The telemetry sample's readings as metric families."""
    grouped = readings(sample)
    for group, (name, text, label, scale) in GAUGES.items():
        family = GaugeMetricFamily(name, text, labels=[label])
        for column, value in grouped.get(group, {}).items():
            family.add_metric([_label(column)], value * scale)
        yield family
    yield from _memory(grouped.get("memory", {}))
    energy = CounterMetricFamily("edgeprobe_energy_joules", "Energy counter since it started",
                                 labels=["sensor"])
    for column, value in grouped.get("energy", {}).items():
        energy.add_metric([_label(column)], value)
    yield energy
    throttle = GaugeMetricFamily("edgeprobe_throttle_active", "1 while the device reports "
                                 "this clock-event (throttle) reason", labels=["reason"])
    for reason in sample.get("throttle_reasons") or []:
        throttle.add_metric([str(reason)], 1.0)
    yield throttle


def job_metrics(job: dict[str, Any] | None) -> Iterator[Metric]:
    running = GaugeMetricFamily("edgeprobe_job_running", "1 while a suite run is going on")
    running.add_metric([], 1.0 if job else 0.0)
    yield running
    done = GaugeMetricFamily("edgeprobe_job_points_done", "Points the running job measured")
    total = GaugeMetricFamily("edgeprobe_job_points", "Points the running job plans")
    if job:
        done.add_metric([], float(job.get("points_done") or 0))
        total.add_metric([], float(job.get("points_total") or 0))
    yield done
    yield total


class AgentCollector(Collector):
    """Collects on scrape: ``sample()`` (the newest telemetry) and ``job()`` (the running
    job's summary, or None)."""

    def __init__(self, sample: Callable[[], dict[str, Any] | None],
                 job: Callable[[], dict[str, Any] | None]) -> None:
        self.sample = sample
        self.job = job

    def collect(self) -> Iterator[Metric]:
        yield from sample_metrics(self.sample() or {})
        power = current_power_state()
        mode = InfoMetricFamily("edgeprobe_power_mode", "The power mode in force")
        mode.add_metric([], {"mode": str(power.get("mode") or ""),
                             "source": str(power.get("source") or "")})
        yield mode
        yield from job_metrics(self.job())


def parse_address(text: str) -> tuple[str, int]:
    """``PORT`` or ``HOST:PORT``; the host defaults to localhost (metrics are not for the
    network unless asked)."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise UsageError(f"--metrics {text!r}: use PORT or HOST:PORT, e.g. 127.0.0.1:9464") \
            from None
    if not 0 <= number <= 65535:
        raise UsageError(f"--metrics {text!r}: the port must be 0-65535")
    return host or "127.0.0.1", number


def serve_metrics(address: str, collector: AgentCollector) -> tuple[str, int, Any]:
    """Start the HTTP endpoint in a thread; returns the host, the port it listens on (port 0
    picks a free one) and the server, for ``shutdown()``."""
    host, port = parse_address(address)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    try:
        server, _ = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise UsageError(f"--metrics {address}: cannot listen there "
                         f"({exc.strerror or exc})") from None
    bound = server.server_address[1]
    log.info("metrics on http://%s:%d/metrics", host, bound)
    return host, bound, server
