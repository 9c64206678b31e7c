"""Terminal tables (rich) for run summaries and bundle headers."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from edgeprobe.analysis.summary import summarize
from edgeprobe.bundle.reader import Bundle
from edgeprobe.units import format_bytes, format_seconds, format_tokens

_STATUS_STYLE = {"ok": "green", "oom": "yellow", "skipped": "dim", "kernel_error": "red",
                 "error": "red", "timeout": "red", "crashed": "red"}


def summary_table(points: list[dict[str, Any]], title: str = "Results") -> Table:
    table = Table(title=title, title_justify="left", header_style="bold", pad_edge=False)
    for name, justify in (("model", "left"), ("impl", "left"), ("path", "left"),
                          ("tokens", "right"), ("TTFT all-logits", "right"),
                          ("TTFT last-logit", "right"), ("TPOT", "right"),
                          ("peak mem", "right"), ("cache", "right"), ("status", "left")):
        table.add_column(name, justify=justify, no_wrap=name in ("model", "tokens"))
    for row in summarize(points):
        status = row.status
        style = _STATUS_STYLE.get(status.split(" ")[0], "red")
        peak = row.peak_lean_bytes if row.peak_lean_bytes is not None else row.peak_published_bytes
        table.add_row(row.model, row.implementation, row.kernel_path or "-",
                      format_tokens(row.length_tokens), format_seconds(row.ttft_published_s),
                      format_seconds(row.ttft_lean_s), format_seconds(row.tpot_s),
                      format_bytes(peak), format_bytes(row.cache_bytes),
                      f"[{style}]{status}[/]")
    return table


def max_context_table(records: list[dict[str, Any]]) -> Table:
    table = Table(title="Max context (largest prompt that fit)", title_justify="left",
                  header_style="bold", pad_edge=False)
    for name in ("model", "impl", "prefill", "max tokens", "first failure", "budget", "trials"):
        table.add_column(name, justify="right" if name in ("max tokens", "trials") else "left")
    for rec in records:
        fail = "-" if rec.get("limit_reached") else (
            f"{format_tokens(rec.get('first_fail_tokens'))} ({rec.get('fail_status')})")
        max_ok = rec.get("max_ok_tokens")
        max_text = (f">= {max_ok:,}" if rec.get("limit_reached") else f"{max_ok:,}") \
            if max_ok is not None else "none"
        table.add_row(rec["model"], rec.get("implementation", "hf"), _variant_label(rec["variant"]),
                      max_text, fail, format_bytes(rec.get("memory_budget_bytes")),
                      str(len(rec.get("trials", []))))
    return table


def _variant_label(variant: str) -> str:
    return {"published": "all-logits", "lean": "last-logit"}.get(variant, variant)


def header_lines(bundle: Bundle) -> list[str]:
    header = bundle.header
    device = header.get("device", {})
    software = header.get("software", {})
    suite = header.get("suite", {})
    settings = header.get("settings", {})
    power = header.get("power", {})
    name = device.get("name") or f"CPU: {header.get('host', {}).get('cpu', '?')}"
    lines = [
        f"bundle   {bundle.path}  (schema v{header.get('schema_version')}, "
        f"edgeprobe {header.get('edgeprobe_version')})",
        f"device   {name}  [{device.get('kind', '?')}]  dtype {settings.get('dtype', '?')}  "
        f"power mode {power.get('mode') or 'n/a'} ({power.get('source', '?')})",
        f"suite    {suite.get('name')} v{suite.get('version')}  "
        f"sha256 {str(suite.get('sha256'))[:12]}"
        + (f"  overrides: {', '.join(suite['overrides'])}" if suite.get("overrides") else ""),
        "software " + "  ".join(f"{k} {v}" for k, v in software.items()
                                if v and k in ("torch", "cuda", "transformers", "mamba_ssm",
                                               "causal_conv1d")),
    ]
    if settings.get("memory_budget_bytes"):
        lines.append(f"budget   {format_bytes(settings['memory_budget_bytes'])} "
                     f"({(settings.get('memory_budget') or {}).get('mechanism', '?')})")
    footer = bundle.footer
    if footer:
        lines.append(f"status   {footer.get('status')}  points {footer.get('points')}  "
                     f"in {format_seconds(footer.get('duration_s'))}")
    return lines


def print_bundle(console: Console, bundle: Bundle) -> None:
    for line in header_lines(bundle):
        console.print(line, highlight=False, markup=False)
    if bundle.truncated or bundle.damage:
        console.print(f"[yellow]warning:[/] {escape(bundle.damage or 'bundle is truncated')}; "
                      f"showing the {len(bundle.points)} points read")
    for event in bundle.events:
        level = (event.get("data") or {}).get("level")
        if level in ("warning", "error"):
            console.print(f"[{'yellow' if level == 'warning' else 'red'}]{level}:[/] "
                          f"{escape(str(event.get('message')))}", highlight=False)
    console.print(summary_table(bundle.points))
    if bundle.max_context:
        console.print(max_context_table(bundle.max_context))
