"""The background sampler: one thread reads every source at a fixed rate into a ring buffer.

Timestamps are ``time.monotonic()`` (CLOCK_MONOTONIC), the clock the probe worker uses for its
phase boundaries, so windows from another process line up with the samples.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from edgeprobe.errors import UsageError
from edgeprobe.telemetry.base import Metric, SensorStatus, Source
from edgeprobe.telemetry.energy import EnergyWindow, compute_window
from edgeprobe.telemetry.nvml import MASK_COLUMN, decode_clock_events
from edgeprobe.telemetry.ring import Ring, Rows
from edgeprobe.telemetry.timeline import encode_chunk

DEFAULT_RATE_HZ = 10.0
MAX_RATE_HZ = 100.0
DEFAULT_HISTORY_S = 1800.0


class BackgroundSampler:
    """Samples ``sources`` (default: every source that may work here) ``rate_hz`` times a second.

    ``start()``/``stop()`` (or ``with``) run the thread; ``sample_once()`` takes one sample
    without it. The ring keeps ``history_s`` seconds; windows and drains read from it.
    """

    def __init__(self, sources: Sequence[Source] | None = None, rate_hz: float = DEFAULT_RATE_HZ,
                 history_s: float = DEFAULT_HISTORY_S, gpu: int | str = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < rate_hz <= MAX_RATE_HZ:
            raise UsageError(f"telemetry rate must be above 0 and at most {MAX_RATE_HZ:g} Hz, "
                             f"not {rate_hz:g}")
        if history_s <= 0:
            raise UsageError("telemetry history must be positive")
        if sources is None:
            from edgeprobe.telemetry.sources import default_sources

            sources = default_sources(gpu)
        self.sources = list(sources)
        # Stamps the samples; time.monotonic except where a test drives time itself.
        self.clock = clock
        self.rate_hz = float(rate_hz)
        self.history_s = float(history_s)
        self.metrics: dict[str, Metric] = {}
        self._ring: Ring | None = None
        self._lock = threading.Lock()
        self._new_sample = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drained_seq = 0
        self._chunks = 0
        self._notices: list[str] = []
        self._cost_s = {s.name: 0.0 for s in self.sources}
        self._late_ticks = 0
        self._first_t: float | None = None

    # -- life cycle -------------------------------------------------------------------------
    def open(self) -> BackgroundSampler:
        """Open every source once (done by start() and sample_once() when needed)."""
        if self._ring is not None:
            return self
        for source in self.sources:
            try:
                declared = source.open()
            except Exception as exc:  # a source that breaks its contract is reported, not fatal
                source.unavailable("source", f"failed to open: {type(exc).__name__}: {exc}")
                declared = []
            for metric in declared:
                self.metrics.setdefault(metric.name, metric)
        capacity = max(int(self.history_s * self.rate_hz) + 1, 2)
        self._ring = Ring(list(self.metrics), capacity)
        return self

    def start(self) -> BackgroundSampler:
        self.open()
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="edgeprobe-telemetry",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        for source in self.sources:
            with contextlib.suppress(Exception):  # best effort at the end of a run
                source.close()

    def __enter__(self) -> BackgroundSampler:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        period = 1.0 / self.rate_hz
        next_t = time.monotonic()
        while not self._stop.is_set():
            self.sample_once()
            next_t += period
            now = time.monotonic()
            if next_t < now:  # fell behind (a slow sensor, a busy machine): skip, don't burst
                self._late_ticks += 1
                next_t = now
            self._stop.wait(next_t - now)

    # -- sampling ---------------------------------------------------------------------------
    def sample_once(self) -> float:
        """Read every source now and append one row; returns its timestamp."""
        ring = self.open()._ring
        assert ring is not None
        values: dict[str, float] = {}
        before = self.clock()
        for source in self.sources:
            if source.is_lost("source"):
                continue
            began = time.perf_counter()
            try:
                source.read(values)
            except Exception as exc:  # a source must not raise; if it does, stop asking it
                source.lose("source", f"{type(exc).__name__}: {exc}")
            self._cost_s[source.name] = (self._cost_s.get(source.name, 0.0)
                                         + time.perf_counter() - began)
            notices = source.take_notices()
            if notices:
                with self._lock:
                    self._notices += notices
        t = (before + self.clock()) / 2
        with self._new_sample:
            ring.append(t, values)
            if self._first_t is None:
                self._first_t = t
            self._new_sample.notify_all()
        return t

    # -- reading ----------------------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        return list(self.metrics)

    def latest(self) -> dict[str, Any]:
        """The newest sample: ``monotonic_s`` and every value read (decoded throttle reasons)."""
        with self._lock:
            last = self._ring.last() if self._ring else None
        if last is None:
            return {}
        t, values = last
        sample: dict[str, Any] = {"monotonic_s": t}
        sample.update({k: v for k, v in values.items() if not math.isnan(v)})
        if MASK_COLUMN in sample:
            sample["throttle_reasons"] = decode_clock_events(int(sample[MASK_COLUMN]))
        return sample

    def energy_window(self, start_monotonic_s: float, end_monotonic_s: float,
                      wait_s: float | None = None) -> EnergyWindow:
        """Energy, power, temperature and throttling between two ``time.monotonic()`` stamps.

        While the thread runs this waits (up to ``wait_s``, default 2.5 sample periods) for a
        sample after the window's end, so the counters can be interpolated at both edges.
        """
        ring = self.open()._ring
        assert ring is not None
        if wait_s is None:
            wait_s = 2.5 / self.rate_hz + 0.1
        deadline = time.monotonic() + wait_s
        with self._new_sample:
            while self.running and not self._has_sample_after(end_monotonic_s):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._new_sample.wait(remaining)
            rows = ring.around(start_monotonic_s, end_monotonic_s)
        return compute_window(rows, start_monotonic_s, end_monotonic_s)

    def rows(self, start_monotonic_s: float, end_monotonic_s: float) -> Rows:
        """A copy of the samples in [start, end] plus one on each side, for custom figures."""
        ring = self.open()._ring
        assert ring is not None
        with self._lock:
            return ring.around(start_monotonic_s, end_monotonic_s)

    def _has_sample_after(self, t: float) -> bool:
        last = self._ring.last() if self._ring else None
        return last is not None and last[0] >= t

    def phase_energy(self, phase: Mapping[str, Any]) -> dict[str, Any]:
        """The energy window of a worker phase ``{start_monotonic_s, end_monotonic_s, passes,
        tokens}``, with energy per pass and per token where those are given."""
        window = self.energy_window(float(phase["start_monotonic_s"]),
                                    float(phase["end_monotonic_s"])).as_dict()
        energy = window["energy_j"]
        for key, per in (("passes", "energy_per_pass_j"), ("tokens", "energy_per_token_j")):
            count = phase.get(key)
            if count:
                window[key] = count
                window[per] = energy / count if energy is not None else None
        return window

    def drain_timeline(self) -> dict[str, Any] | None:
        """Samples since the last drain as one compact chunk (a ``telemetry`` record body);
        None when there are none. Rows lost to the ring's wrap-around are counted."""
        ring = self.open()._ring
        assert ring is not None
        with self._lock:
            rows = ring.since(self._drained_seq)
            self._drained_seq = ring.total
        if not rows.times:
            return None
        self._chunks += 1
        start_unix = time.time() - (time.monotonic() - rows.times[0])
        dtypes = {name: m.dtype for name, m in self.metrics.items()}
        return encode_chunk(chunk=self._chunks, times=rows.times, columns=rows.columns,
                            dtypes=dtypes, start_unix_s=start_unix, rate_hz=self.rate_hz,
                            dropped_rows=rows.dropped)

    def drain_notices(self) -> list[str]:
        """Sensors that failed while sampling since the last call (each reported once)."""
        with self._lock:
            notices, self._notices = self._notices, []
        return notices

    # -- reports ----------------------------------------------------------------------------
    def availability(self) -> list[SensorStatus]:
        self.open()
        return [status for source in self.sources for status in source.statuses()]

    def facts(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for source in self.sources:
            merged.update(source.facts())
        return merged

    def stats(self) -> dict[str, Any]:
        """Samples taken, the rate achieved, late ticks, and mean cost per sample by source."""
        ring = self._ring
        samples = ring.total if ring else 0
        achieved = None
        if ring and ring.count >= 2 and self._first_t is not None:
            last = ring.last()
            span = last[0] - self._first_t if last else 0.0
            achieved = (samples - 1) / span if span > 0 else None
        return {"samples": samples, "rate_hz": self.rate_hz, "achieved_rate_hz": achieved,
                "late_ticks": self._late_ticks,
                "cost_us_per_sample": {name: 1e6 * total / samples if samples else None
                                       for name, total in self._cost_s.items()}}

    def describe(self) -> dict[str, Any]:
        """For the bundle header: rate, columns with their encodings, sensors, facts."""
        self.open()
        return {"rate_hz": self.rate_hz, "history_s": self.history_s,
                "clock": "CLOCK_MONOTONIC",
                "columns": {name: m.dtype for name, m in self.metrics.items()},
                "counters": [name for name, m in self.metrics.items() if m.counter],
                "sensors": [s.as_dict() for s in self.availability()],
                "facts": self.facts()}


__all__ = ["BackgroundSampler", "EnergyWindow"]
