"""The documented keys of each record type and the type of their values.

A record whose known keys hold values of another type (a string where a number belongs, a
list where a map does) is damage, however it got there: the readers of a bundle (show,
compare, export, the TUI) then only ever see the types docs/bundle-format.md promises.
Keys not listed here are kept as they are and not checked. Numbers may be NaN or infinite.
"""

from __future__ import annotations

from typing import Any, TypedDict

import msgspec

from edgeprobe.bundle import schema

Num = float | None  # msgspec accepts integers where a float is expected
Count = int | None
Text = str | None
Strings = list[str] | None
AnyMap = dict[Any, Any] | None
Flags = dict[str, Any] | None


class Suite(TypedDict, total=False):
    name: Text
    version: int | str | None
    description: Text
    sha256: Text
    overrides: Strings
    definition: AnyMap


class Device(TypedDict, total=False):
    kind: Text
    name: Text
    total_memory_bytes: Count
    index: Count
    threads: Count


class Host(TypedDict, total=False):
    hostname: Text
    cpu: Text
    cpu_logical_cores: Count
    cpus_allowed: Count
    load_average_1m: Num
    ram_total_bytes: Count
    jetson: AnyMap


class Settings(TypedDict, total=False):
    device: Text
    dtype: Text
    memory_budget_bytes: Count
    find_max_context: bool | None
    search_resolution_tokens: Count
    search_limit_tokens: Count
    variants: Strings
    decode_tokens: Count
    warmup: Count
    repeats: Count
    point_timeout_s: Num


class Power(TypedDict, total=False):
    mode: Text
    source: Text


class PlanEntry(TypedDict, total=False):
    model: Text
    family: Text
    implementation: Text
    lengths: list[int] | None
    variants: Strings


class Header(TypedDict, total=False):
    format: str
    schema_version: int
    edgeprobe_version: Text
    created_unix_s: Num
    run_id: Text
    # Maps a reader opens without a check: absent is fine, null is not.
    command: list[str]
    run_argv: Strings
    host: Host
    device: Device
    software: dict[str, Any]
    kernels_available: AnyMap
    suite: Suite
    power: Power
    settings: Settings
    plan: list[PlanEntry]


class KernelPath(TypedDict, total=False):
    ssm_scan: Text
    conv1d: Text
    attention: Text
    summary: Text
    evidence: list[Any] | None


class Model(TypedDict, total=False):
    model: Text
    family: Text
    implementation: Text
    status: Text
    error: Text
    params: Count
    weight_bytes: Count
    dtype: Text
    device: Text
    load_s: Num
    kernel_path: KernelPath | str | None


class Prefill(TypedDict, total=False):
    ttft_s: Num
    ttft_min_s: Num
    ttft_max_s: Num
    ttft_stdev_s: Num
    ttft_samples_s: list[float] | None
    prefill_tokens_per_s: Num
    warmup: Count
    repeats: Count
    timer: Text
    logits_positions: Count
    logits_bytes: Count
    logits_dtype: Text


class Memory(TypedDict, total=False):
    peak_allocated_bytes: Count
    peak_reserved_bytes: Count
    peak_rss_bytes: Count
    weight_bytes: Count
    at_start: dict[str, Count] | None


class Decode(TypedDict, total=False):
    tokens: Count
    warmup_tokens: Count
    tpot_s: Num
    decode_s: Num
    decode_tokens_per_s: Num
    throughput_tokens_per_s: Num
    cache_bytes_after: Count
    timer: Text


class EnergyWindow(TypedDict, total=False):
    energy_j: Num
    energy_source: Text
    mean_power_w: Num
    peak_power_w: Num
    passes: Count
    tokens: Count
    duration_s: Num
    throttle_reasons: Strings


class PhaseTiming(TypedDict, total=False):
    passes: Count
    tokens: Count


class Thermal(TypedDict, total=False):
    verdict_reasons: Strings


class Point(TypedDict, total=False):
    seq: Count
    model: str
    family: Text
    implementation: Text
    length_tokens: int
    variant: Text
    status: Text
    error: Text
    search: bool | None
    dtype: Text
    device: Text
    power_mode: Text
    kernel_path: Text
    started_unix_s: Num
    wall_s: Num
    throttled: bool | None
    concurrent_runs: Count  # other edgeprobe runs measuring on the host
    thermal_before: AnyMap
    thermal_after: AnyMap
    thermal: Thermal | None
    prefill: Prefill | None
    memory: Memory | None
    cache_bytes: Count
    decode: Decode | None
    energy: dict[str, EnergyWindow | None] | None
    phases: dict[str, PhaseTiming | None] | None


class Trial(TypedDict, total=False):
    length_tokens: Count
    status: Text
    peak_bytes: Count
    error: Text


class MemoryBound(TypedDict, total=False):
    no_oom_tokens: Count
    first_oom_tokens: Count
    limit_reached: bool | None
    stopped_by: Text


class MaxContext(TypedDict, total=False):
    model: str
    family: Text
    implementation: Text
    variant: str
    kernel_path: Text
    device: Text
    memory_budget_bytes: Count
    max_ok_tokens: Count
    first_fail_tokens: Count
    fail_status: Text
    fail_error: Text
    resolution_tokens: Count
    limit_tokens: Count
    limit_reached: bool | None
    trials: list[Trial]
    limit_kind: Text
    limit_budget_bytes: Count
    fail_peak_bytes: Count
    fail_free_bytes: Count
    memory_bound: MemoryBound | None


class KernelRow(TypedDict, total=False):
    name: Text
    category: Text
    scope: Text
    launched_by: Strings
    calls: Count
    total_s: Num
    mean_s: Num
    share: Num


class CategoryShare(TypedDict, total=False):
    time_s: Num
    share: Num
    calls: Count


class Kernels(TypedDict, total=False):
    model: Text
    family: Text
    implementation: Text
    length_tokens: Count
    variant: Text
    point_seq: Count
    kernel_path: Text
    status: Text
    error: Text
    time_basis: Text
    steps: Count
    device_time_s: Num
    device_time_per_step_s: Num
    active_wall_s: Num
    comparable_to_study: bool | None
    categories: dict[str, CategoryShare | float] | None
    rows: list[KernelRow] | None


class Event(TypedDict, total=False):
    time_unix_s: Num
    kind: Text
    message: Text
    data: AnyMap


class Column(TypedDict):
    dtype: str
    data: bytes


class Telemetry(TypedDict, total=False):
    encoding: str
    chunk: Count
    rows: int
    rate_hz: Num
    start_monotonic_s: float
    start_unix_s: float
    dropped_rows: Count
    dt_us: bytes
    columns: dict[str, Column]


class Timing(TypedDict, total=False):
    clock: Text
    wall_s: Num
    phases_s: dict[str, float] | None
    timed_work_s: Num
    counts: dict[str, int] | None


class Footer(TypedDict, total=False):
    status: Text
    ended_unix_s: Num
    records: Count
    duration_s: Num
    points: Count
    by_status: dict[str, int] | None
    kernel_paths: dict[str, Text] | None
    error: Text
    timing: Timing | None


_SHAPES: dict[str, type] = {
    schema.HEADER: Header, schema.MODEL: Model, schema.POINT: Point,
    schema.MAX_CONTEXT: MaxContext, schema.KERNELS: Kernels, schema.EVENT: Event,
    schema.TELEMETRY: Telemetry, schema.FOOTER: Footer,
}
# Keys without which a record of that type means nothing to a reader.
_REQUIRED: dict[str, tuple[str, ...]] = {
    schema.POINT: ("model", "length_tokens"),
    schema.MAX_CONTEXT: ("model", "variant"),
    schema.TELEMETRY: ("encoding", "rows", "dt_us", "columns", "start_monotonic_s",
                       "start_unix_s"),
}


def problem(record: dict[Any, Any]) -> str | None:
    """Why the record does not have its type's documented shape, or None when it does."""
    record_type = record.get("type")
    shape = _SHAPES.get(record_type) if isinstance(record_type, str) else None
    if shape is None:
        return f"unknown record type {str(record_type)[:40]!r}"
    missing = [key for key in _REQUIRED.get(record_type, ()) if key not in record]
    if missing:
        return f"{record_type} record lacks {', '.join(missing)}"
    try:
        msgspec.convert(record, shape)
    except msgspec.ValidationError as exc:
        return f"{record_type} record: {_readable(str(exc))}"
    return None


def _readable(message: str) -> str:
    """``Expected `int`, got `str` - at `$.prefill.repeats``` -> ``prefill.repeats: expected
    int, got str``."""
    text, _, where = message.partition(" - at ")
    text = text.replace("`", "").replace("null", "none")
    where = where.strip("`").removeprefix("$").lstrip(".")
    return f"{where}: {text[:1].lower()}{text[1:]}" if where else text
