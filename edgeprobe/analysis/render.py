"""Terminal tables (rich) for run summaries and bundle headers."""

from __future__ import annotations

import shlex
import textwrap
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from edgeprobe.analysis.figures import figures
from edgeprobe.analysis.kernels import (
    SHORT_LABELS,
    TIME_BASIS_LABELS,
    category_shares,
    device_busy_share,
    kernel_records,
    short_kernel_name,
    shown_categories,
    top_rows,
)
from edgeprobe.analysis.limits import limit_detail, limit_kind
from edgeprobe.analysis.summary import summarize
from edgeprobe.bundle.reader import Bundle
from edgeprobe.units import (
    format_bytes,
    format_bytes_compact,
    format_duration,
    format_joules_compact,
    format_seconds,
    format_seconds_compact,
    format_spread_percent,
    format_tokens,
)

# Events about the conditions of a run (power, clocks, temperature) that `show` always lists.
CONDITION_EVENTS = ("power_mode", "power_limit", "jetson_clocks", "cooldown", "idle_baseline",
                    "retry_throttled", "stale_restore", "critical_temperature", "resumed",
                    "shared_host")
_PATH_SHORT = {"fused": "fused", "partial": "part", "reference": "ref"}
_STATUS_STYLE = {"ok": "green", "oom": "yellow", "skipped": "dim", "kernel_error": "red",
                 "error": "red", "timeout": "red", "crashed": "red"}


SUMMARY_NOTES = (
    "figures: median±half the interquartile range, as a share of the median; * launch-bound "
    "(the device was busy for less than half of the pass). TTFT all: logits for every "
    "position (as the study); TTFT last: last position only; TPOT: warm decode pass, cold: "
    "the first pass over KV lengths new to the process; graph: CUDA-graph decode; peak: CUDA "
    "reserved or CPU RSS; energy: one prefill pass (last position), from the power sensor; "
    "cache: the KV cache or SSM state a prompt leaves.")


def _marked(text: str, launch_bound: bool | None) -> str:
    return text + ("*" if launch_bound else "")


def summary_lines(points: list[dict[str, Any]], title: str = "Results",
                  width: int = 80) -> list[str]:
    """One block per model (its kernel path and attention kernel in the heading), one line
    per prompt length; fits ``width`` columns (80 by default) without breaking a figure."""
    rows = summarize(points)
    graph = any(r.tpot_graph_s is not None for r in rows)
    energy = any(r.prefill_energy_j is not None for r in rows)
    # The last column is the cache, unless graph decode or energy needs the room.
    last = "energy" if energy else None if graph else "cache"
    headers = ["tokens", "TTFT all", "TTFT last", "TPOT", "cold",
               *(["graph"] if graph else []), "peak", *([last] if last else [])]
    widths = [6, 10, 10, 10, 6, *([6] if graph else []), 7, *([7] if last else [])]
    lines = [title, "  " + "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
             + "  status"]
    previous = None
    for row in rows:
        if (row.model, row.implementation) != previous:
            previous = (row.model, row.implementation)
            name = row.model if row.implementation == "hf" else f"{row.model}/{row.implementation}"
            detail = f"kernel path {row.kernel_path or '?'}"
            if row.attention_backend:
                detail += f", attention {row.attention_backend}"
            lines.append(f"{name}  ({detail})")
        peak = row.peak_lean_bytes if row.peak_lean_bytes is not None else row.peak_published_bytes
        cells = [format_tokens(row.length_tokens),
                 _marked(format_spread_percent(row.ttft_published_s, row.ttft_published_iqr_s),
                         row.launch_bound.get("published")),
                 _marked(format_spread_percent(row.ttft_lean_s, row.ttft_lean_iqr_s),
                         row.launch_bound.get("lean")),
                 _marked(format_spread_percent(row.tpot_s, row.tpot_iqr_s),
                         row.launch_bound.get("decode")),
                 format_seconds_compact(row.tpot_cold_s)]
        if graph:
            cells.append(format_seconds_compact(row.tpot_graph_s))
        cells.append(format_bytes_compact(peak))
        if last == "energy":
            cells.append(format_joules_compact(row.prefill_energy_j))
        elif last == "cache":
            cells.append(format_bytes_compact(row.cache_bytes))
        line = "  " + "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))
        if len(line) + 2 + len(row.status) <= width:
            lines.append(f"{line}  {row.status}")
        else:  # a long status goes on a line of its own rather than past the edge
            lines += [line, f"{'':>8}status: {row.status}"]
    lines += textwrap.wrap(SUMMARY_NOTES, width)
    if any(row.shared_host for row in rows):
        lines += textwrap.wrap("shared host: another edgeprobe run measured on this host at "
                               "the same time, which slows launch-bound decode.", width)
    if any(summary_single_pass(p) for p in points):
        lines += textwrap.wrap("TPOT here is one decode pass over new KV lengths (bundle "
                               "written before warm passes were measured): it compares with "
                               "cold, not with a warm TPOT.", width)
    return lines


def summary_single_pass(point: dict[str, Any]) -> bool:
    return figures(point).get("tpot_method") == "single-pass"


def summary_table(points: list[dict[str, Any]], title: str = "Results") -> Text:
    """``summary_lines`` as one block of text for a rich console."""
    return Text("\n".join(summary_lines(points, title)))


def max_context_table(records: list[dict[str, Any]]) -> Table:
    """One row per search, with what stopped it; a line under the table for each limit that
    has more to say (the peak against the budget, the memory left at a device fault)."""
    table = Table(title="Max context (largest prompt that fit)", title_justify="left",
                  header_style="bold", pad_edge=False)
    for name in ("model", "impl", "prefill", "max tokens", "stopped by", "at", "budget",
                 "trials"):
        table.add_column(name, justify="right" if name in ("max tokens", "trials") else "left")
    notes = []
    for rec in records:
        kind = limit_kind(rec)
        at = "-" if kind == "search limit" else format_tokens(rec.get("first_fail_tokens"))
        max_ok = rec.get("max_ok_tokens")
        max_text = (f">= {max_ok:,}" if kind == "search limit" else f"{max_ok:,}") \
            if max_ok is not None else "none"
        table.add_row(rec["model"], rec.get("implementation", "hf"), _variant_label(rec["variant"]),
                      max_text, kind, at, format_bytes(rec.get("memory_budget_bytes")),
                      str(len(rec.get("trials", []))))
        detail = limit_detail(rec)
        if detail:
            notes.append(f"{rec['model']} {_variant_label(rec['variant'])}: {detail}")
    if notes:
        table.caption = escape("\n".join(notes))
        table.caption_justify = "left"
    return table


def _variant_label(variant: str) -> str:
    return {"published": "all-logits", "lean": "last-logit"}.get(variant, variant)


def host_line(host: dict[str, Any]) -> str:
    """Where the run's process ran: the host, its CPUs (those the process was allowed, where
    fewer) and the load when it started; eager decode is bound by them."""
    if not host.get("hostname"):
        return ""
    parts = [str(host["hostname"])]
    cores, allowed = host.get("cpu_logical_cores"), host.get("cpus_allowed")
    if cores:
        parts.append(f"{cores} CPUs" + (f" ({allowed} allowed)" if allowed and allowed < cores
                                        else ""))
    if host.get("load_average_1m") is not None:
        parts.append(f"load {host['load_average_1m']:.2f} at start")
    return ", ".join(parts)


def header_lines(bundle: Bundle, width: int = 80) -> list[str]:
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
    host = host_line(header.get("host") or {})
    if host:
        lines.append(f"host     {host}")
    if settings.get("memory_budget_bytes"):
        lines.append(f"budget   {format_bytes(settings['memory_budget_bytes'])} "
                     f"({(settings.get('memory_budget') or {}).get('mechanism', '?')})")
    footer = bundle.footer
    sessions = (f" (session {bundle.sessions} of {bundle.sessions})" if bundle.sessions > 1
                else "")
    if bundle.resumable:
        lines.append(f"status   {(footer or {}).get('status') or 'interrupted'}, resumable "
                     f"with: edgeprobe run --resume {shlex.quote(str(bundle.path))}")
    if footer:
        lines.append((f"status   {footer.get('status')}  " if not bundle.resumable
                      else "         ")
                     + f"points {len(bundle.points)}  in "
                     f"{format_duration(footer.get('duration_s'))}{sessions}")
    # Wrapped between words only: a path or a command longer than the line stays whole.
    return [wrapped for line in lines for wrapped in textwrap.wrap(
        line, width, subsequent_indent=" " * 9, break_long_words=False,
        break_on_hyphens=False) or [line]]


def print_bundle(console: Console, bundle: Bundle) -> None:
    for line in header_lines(bundle, console.width):  # paths and commands stay whole
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if bundle.truncated or bundle.damage:
        console.print(f"[yellow]warning:[/] {escape(bundle.damage or 'bundle is truncated')}; "
                      f"showing the {len(bundle.points)} points read")
    for event in bundle.events:
        level = (event.get("data") or {}).get("level")
        if level in ("warning", "error"):
            console.print(f"[{'yellow' if level == 'warning' else 'red'}]{level}:[/] "
                          f"{escape(str(event.get('message')))}", highlight=False)
        elif str(event.get("kind", "")).startswith(CONDITION_EVENTS):
            console.print(f"[cyan]{event['kind']}:[/] {escape(str(event.get('message')))}",
                          highlight=False)
    console.print(summary_table(bundle.points))
    if bundle.max_context:
        console.print(max_context_table(bundle.max_context))


# -- per-kernel latency (``kernels`` records) ---------------------------------------------------
def _profile_label(record: dict[str, Any]) -> str:
    return (f"{record.get('model')}/{record.get('implementation')} "
            f"{format_tokens(record.get('length_tokens'))} {_variant_label(record.get('variant'))}")


def kernel_shares_table(records: list[dict[str, Any]]) -> Table:
    """One row per profiled point: the share of each category, in percent."""
    table = Table(title="Per-kernel latency: share of time by category (%)", title_justify="left",
                  header_style="bold", pad_edge=False)
    categories = shown_categories(records)
    mixed = len({r.get("variant") for r in records}) > 1
    table.add_column("point", min_width=12)
    for category in categories:
        table.add_column(SHORT_LABELS.get(category, category), justify="right", no_wrap=True,
                         min_width=4)
    for rec in records:
        label = (f"{rec.get('model')}/{rec.get('implementation')} "
                 f"{format_tokens(rec.get('length_tokens'))}"
                 + (f" {_variant_label(str(rec.get('variant')))}" if mixed else "")
                 + ("" if rec.get("comparable_to_study") else "*"))
        if rec.get("status") != "ok":
            table.add_row(label, f"[red]{escape(str(rec.get('status')))}[/]",
                          *([""] * (len(categories) - 1)))
            continue
        shares = category_shares(rec)
        table.add_row(label, *(f"{shares[c] * 100:.1f}" for c in categories))
    if any(not r.get("comparable_to_study") for r in records):
        table.caption = ("* not comparable with the study's shares: CPU op time, or a "
                         "reference kernel path")
        table.caption_justify = "left"
    return table


def top_kernels_heading(record: dict[str, Any], count: int) -> str:
    busy = device_busy_share(record)
    basis = TIME_BASIS_LABELS.get(str(record.get("time_basis")), str(record.get("time_basis")))
    return (f"{_profile_label(record)} ({record.get('kernel_path')} path): top {count} of "
            f"{len(record.get('rows') or [])} by {basis}, {record.get('steps')} prefills"
            + (f"; kernels busy {busy * 100:.0f}% of the wall time" if busy is not None else ""))


def top_kernels_table(record: dict[str, Any], count: int) -> Table:
    table = Table(header_style="bold", pad_edge=False, box=box.SIMPLE_HEAD)
    for name in ("share", "per prefill", "calls", "mean"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("category", no_wrap=True)
    table.add_column("kernel", min_width=16, overflow="fold")
    table.add_column("launched by", max_width=22, no_wrap=True, overflow="ellipsis")
    steps = record.get("steps") or 1
    for row in top_rows(record, count):
        category = str(row.get("category"))
        table.add_row(f"{float(row.get('share') or 0) * 100:.1f}%",
                      format_seconds(float(row.get("total_s") or 0) / steps),
                      str(row.get("calls")), format_seconds(row.get("mean_s")),
                      SHORT_LABELS.get(category, category),
                      escape(short_kernel_name(str(row.get("name")))),
                      escape(str((row.get("launched_by") or ["-"])[0])))
    return table


def print_kernels(console: Console, bundle: Bundle, top: int) -> None:
    """``show --kernels``: the category shares of every profiled point, then its top kernels."""
    records = kernel_records(bundle)
    if bundle.truncated or bundle.damage:
        console.print(f"[yellow]warning:[/] {escape(bundle.damage or 'bundle is truncated')}; "
                      f"showing the {len(records)} profiles read")
    if not records:
        console.print("no per-kernel data in this bundle (run with --profile to record it)")
        return
    console.print(kernel_shares_table(records))
    for rec in records:
        if rec.get("status") != "ok":
            console.print(f"[red]{escape(_profile_label(rec))}: profile {rec.get('status')}:[/] "
                          f"{escape(str(rec.get('error')))}", highlight=False)
            continue
        console.print(escape(top_kernels_heading(rec, top)), style="bold", highlight=False)
        console.print(top_kernels_table(rec, top))
        notes = [n for n in (rec.get("comparability_note"), rec.get("trace_file"),
                             rec.get("trace_error")) if n]
        for note in notes:
            console.print(f"  {escape(str(note))}", highlight=False, style="dim")
