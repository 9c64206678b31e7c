"""Reading ``kernels`` records (per-kernel tables of profiled points) tolerantly.

A record carries the point's identity (model, implementation, length_tokens, variant,
kernel_path, device, dtype), a per-kernel table (a list of maps, under ``kernels``, ``table``
or ``rows``) and category shares (``category_shares`` or ``categories``: category -> share,
fraction or percent). Shares are derived from the table's time column when absent.
"""

from __future__ import annotations

from typing import Any

_TABLE_KEYS = ("kernels", "table", "rows")
_SHARE_KEYS = ("category_shares", "categories", "shares")
IDENTITY_KEYS = ("model", "implementation", "family", "length_tokens", "variant", "kernel_path",
                 "device", "dtype", "time_basis")


def identity(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record.get(key) for key in IDENTITY_KEYS}


def kernel_table(record: dict[str, Any]) -> list[dict[str, Any]]:
    for key in _TABLE_KEYS:
        value = record.get(key)
        if isinstance(value, list) and all(isinstance(item, dict) for item in value):
            return value
    return []


def _time_key(rows: list[dict[str, Any]]) -> str | None:
    """The column with each kernel's total time (a number, seconds or microseconds)."""
    numeric = [k for k in rows[0] if isinstance(rows[0].get(k), (int, float))
               and not isinstance(rows[0].get(k), bool)]
    for wanted in ("total_s", "device_total_s", "total_device_s", "self_device_total_s",
                   "device_time_s", "total_us", "device_total_us"):
        if wanted in numeric:
            return wanted
    return next((k for k in numeric if "total" in k), None)


def _normalise(shares: dict[str, float]) -> dict[str, float]:
    total = sum(shares.values())
    if total > 1.5:  # percentages
        return {k: v / 100.0 for k, v in shares.items()}
    return shares


def category_shares(record: dict[str, Any]) -> dict[str, float]:
    """Category -> share of device time (fractions summing to about 1); empty when unknown."""
    for key in _SHARE_KEYS:
        value = record.get(key)
        if isinstance(value, dict):
            shares = {str(k): float(v) for k, v in value.items()
                      if isinstance(v, (int, float)) and not isinstance(v, bool)}
            if not shares:
                shares = {str(k): float(v["share"]) for k, v in value.items()
                          if isinstance(v, dict) and isinstance(v.get("share"), (int, float))}
            if shares:
                return _normalise(shares)
        if isinstance(value, list):
            shares = {str(item["category"]): float(item["share"]) for item in value
                      if isinstance(item, dict) and "category" in item
                      and isinstance(item.get("share"), (int, float))}
            if shares:
                return _normalise(shares)
    table = kernel_table(record)
    time_key = _time_key(table) if table else None
    if time_key is None:
        return {}
    totals: dict[str, float] = {}
    for row in table:
        value = row.get(time_key)
        if isinstance(value, (int, float)):
            category = str(row.get("category") or "other")
            totals[category] = totals.get(category, 0.0) + float(value)
    grand = sum(totals.values())
    return {k: v / grand for k, v in totals.items()} if grand > 0 else {}


def share_rows(label: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per profiled point: identity and its category shares."""
    rows = []
    for record in records:
        shares = category_shares(record)
        if shares:
            rows.append({"bundle": label, **identity(record), "category_shares": shares})
    return rows
