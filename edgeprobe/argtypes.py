"""Argument types for numeric options: finite and in range, or one clear line from argparse.

Each returns a function for ``add_argument(type=...)``; a bad value becomes
``edgeprobe: argument --flag: must be ...`` and exit code 2, before any work starts.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def number(low: float, high: float, *, unit: str = "", low_open: bool = True
           ) -> Callable[[str], float]:
    """A finite float above ``low`` (or at least, with ``low_open=False``) and at most
    ``high``."""
    bound = "above" if low_open else "at least"
    rule = f"a number {bound} {low:g} and at most {high:g}{' ' + unit if unit else ''}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number; use {rule}") from None
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or value > high:
            raise argparse.ArgumentTypeError(f"{text!r}: use {rule}")
        return value

    return parse


def integer(low: int, high: int) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high``."""
    rule = f"a whole number from {low} to {high}"

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; use {rule}") \
                from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r}: use {rule}")
        return value

    return parse


# Shared ranges (units in the names, as everywhere).
MAX_TIMEOUT_S = 7 * 24 * 3600.0
MAX_RATE_HZ = 100.0
MAX_POWER_W = 100_000.0
seconds = number(0, MAX_TIMEOUT_S, unit="seconds")
rate_hz = number(0, MAX_RATE_HZ, unit="Hz")
watts = number(0, MAX_POWER_W, unit="W")
threads = integer(1, 4096)
count = integer(0, 1_000_000)
repeats = integer(1, 1_000_000)
job_id = integer(1, 2**31 - 1)
