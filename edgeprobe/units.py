"""Parsing and formatting of sizes and durations. Internally: bytes and seconds."""

from __future__ import annotations

import math
import re

from edgeprobe.errors import UsageError

_SIZE_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ki": 1024,
    "kib": 1024,
    "mi": 1024**2,
    "mib": 1024**2,
    "gi": 1024**3,
    "gib": 1024**3,
    "ti": 1024**4,
    "tib": 1024**4,
}

_SIZE_RE = re.compile(r"^\s*(\d{1,20}(?:\.\d{1,20})?)\s*([a-zA-Z]*)\s*$")
# Larger sizes and lengths than any device or model has: beyond them a value is a typo.
MAX_BYTES = 1024**5  # 1 PiB
MAX_TOKENS = 1 << 30


def parse_bytes(text: str) -> int:
    """``"24GiB"`` -> 25769803776; ``"8GB"`` -> 8000000000; a bare number is bytes."""
    match = _SIZE_RE.match(text)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _SIZE_UNITS:
        raise UsageError(f"cannot read size {text!r}: use a number and a unit such as 24GiB or 8GB")
    value = float(match.group(1)) * _SIZE_UNITS[unit]
    if value < 1:
        raise UsageError(f"size {text!r} must be at least 1 byte")
    if value > MAX_BYTES:
        raise UsageError(f"size {text!r} is larger than 1 PiB")
    return int(value)


def parse_tokens(text: str) -> int:
    """``"32K"`` -> 32768 (K = 1024 tokens, as the study counts), ``"220000"`` -> 220000."""
    match = re.match(r"^\s*(\d{1,20})\s*([kKmM]?)\s*$", text)
    if not match:
        raise UsageError(f"cannot read length {text!r}: use tokens such as 4096 or 32K")
    factor = {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2).lower()]
    value = int(match.group(1)) * factor
    if value <= 0:
        raise UsageError(f"length {text!r} must be positive")
    if value > MAX_TOKENS:
        raise UsageError(f"length {text!r} is more than {MAX_TOKENS} tokens")
    return value


def _three_digits(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def format_bytes(value: float | None, compact: bool = False) -> str:
    """``3.00 GiB``; compact: ``423MiB``, ``1.07GiB`` (three digits, for narrow tables)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(value) >= size:
            scaled = value / size
            return f"{_three_digits(scaled)}{unit}" if compact else f"{scaled:.2f} {unit}"
    return f"{int(value)}B" if compact else f"{int(value)} B"


def format_seconds(value: float | None, compact: bool = False) -> str:
    """``13.80 ms``; compact: ``13.8ms``, ``1.30s`` (three digits)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    for unit, scale, floor in (("s", 1.0, 1.0), ("ms", 1e3, 1e-3)):
        if value >= floor:
            scaled = value * scale
            return f"{_three_digits(scaled)}{unit}" if compact else f"{scaled:.2f} {unit}"
    return f"{_three_digits(value * 1e6)}µs" if compact else f"{value * 1e6:.1f} µs"


def format_duration(value: float | None) -> str:
    """A wall time: ``850 ms``, ``12.3 s``, ``4m 03s``, ``1h 02m``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value < 1:
        return f"{value * 1e3:.0f} ms"
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def format_joules_compact(value: float | None) -> str:
    """``1.49kJ``, ``371J``, ``12.0mJ`` (three digits, for narrow tables)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    for unit, scale, floor in (("kJ", 1e-3, 1e3), ("J", 1.0, 1.0), ("mJ", 1e3, 0.0)):
        if abs(value) >= floor:
            return f"{_three_digits(value * scale)}{unit}"
    return "-"


def format_bytes_compact(value: float | None) -> str:
    return format_bytes(value, compact=True)


def format_seconds_compact(value: float | None) -> str:
    return format_seconds(value, compact=True)


def format_tokens(value: int | None) -> str:
    if value is None:
        return "-"
    if value >= 1024 and value % 1024 == 0:
        return f"{value // 1024}K"
    return str(value)



def _time_unit(value: float) -> tuple[str, float]:
    for unit, scale, floor in (("s", 1.0, 1.0), ("ms", 1e3, 1e-3)):
        if value >= floor:
            return unit, scale
    return "µs", 1e6


def format_spread(median_s: float | None, iqr_s: float | None) -> str:
    """``16.2±0.6ms``: a median and half its interquartile range, in the median's unit
    (three digits for the median, the spread to the same decimals); the median alone when
    the spread is unknown."""
    if median_s is None or (isinstance(median_s, float) and math.isnan(median_s)):
        return "-"
    if iqr_s is None or (isinstance(iqr_s, float) and math.isnan(iqr_s)):
        return format_seconds_compact(median_s)
    unit, scale = _time_unit(median_s)
    text = _three_digits(median_s * scale)
    decimals = len(text.partition(".")[2])
    return f"{text}±{iqr_s / 2 * scale:.{decimals}f}{unit}"


def format_spread_percent(median_s: float | None, iqr_s: float | None) -> str:
    """``16.2ms±2%``: a median and half its interquartile range as a share of it (compact,
    for tables); the median alone when the spread is unknown."""
    text = format_seconds_compact(median_s)
    if text == "-" or iqr_s is None or not median_s or math.isnan(iqr_s):
        return text
    return f"{text}±{iqr_s / 2 / median_s * 100:.0f}%"
