"""Strings from a bundle made safe for a terminal, and nesting kept shallow.

A bundle is data from another machine: a model name holding an escape sequence must not
clear the screen of whoever reads it. Control characters (C0, DEL, C1) and the bidirectional
overrides are replaced by visible escapes (``\\x1b``, ``\\n``, ``\\u202e``) in every key and
value; everything else, ``µ`` included, is kept.
"""

from __future__ import annotations

import re
from typing import Any

# Deeper maps and lists are damage: no record the writer makes nests beyond a few levels,
# and every reader walks them recursively.
MAX_DEPTH = 32

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


class Unreadable(ValueError):
    """A record nests deeper than ``MAX_DEPTH``, has a map key that is not a string, or holds
    an extension value."""


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: str) -> str:
    """``text`` with control and bidirectional-override characters escaped."""
    return _UNSAFE.sub(_escape, text)


def clean(value: Any, depth: int = 0) -> Any:
    """A copy of a decoded msgpack value with every string made safe; raises Unreadable."""
    if isinstance(value, str):
        return safe_text(value) if _UNSAFE.search(value) else value
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise Unreadable(f"nested deeper than {MAX_DEPTH} levels")
        if not all(isinstance(k, str) for k in value):
            raise Unreadable("a map key that is not a string")
        return {clean(k): clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        if depth >= MAX_DEPTH:
            raise Unreadable(f"nested deeper than {MAX_DEPTH} levels")
        return [clean(v, depth + 1) for v in value]
    if value is None or isinstance(value, (bool, int, float, bytes)):
        return value
    raise Unreadable("a msgpack extension value (bundles hold none)")
