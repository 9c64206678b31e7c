"""``edgeprobe status``: one snapshot of the device (power, temperatures, memory, clocks,
load, power mode), of the agent's running job and of every edgeprobe run measuring on this
host; from the agent when one runs, else sampled here. For scripts and for a quick look over
SSH where the TUI is too much."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from edgeprobe.agent.client import AgentClient, agent_running
from edgeprobe.commands.console import terminal
from edgeprobe.power.state import current_power_state
from edgeprobe.runner.host_runs import live_runs
from edgeprobe.telemetry.columns import readings, source_words
from edgeprobe.units import format_bytes, format_duration

GROUPS = ("power", "temperature", "memory", "clock", "load")
WIDTH = 80


def _from_agent(path: Path | None) -> dict[str, Any]:
    with AgentClient(path, name="status") as client:
        reply = client.request("status")
    return {"source": "agent", "sample": reply.get("telemetry") or {}, "job": reply.get("job"),
            "queued": reply.get("queued") or []}


def _sampled_here() -> dict[str, Any]:
    from edgeprobe.telemetry.report import machine_report

    report = machine_report()
    return {"source": "sampled here", "sample": report["sample"], "job": None, "queued": []}


def snapshot(socket: Path | None, local: bool) -> dict[str, Any]:
    use_agent = not local and agent_running(socket)
    document = _from_agent(socket) if use_agent else _sampled_here()
    document["time_unix_s"] = time.time()
    document["power_state"] = current_power_state()
    document["readings"] = readings(document["sample"])
    document["runs"] = [run.fields() for run in live_runs()]  # measuring on this host now
    return document


def _items(group: str, values: dict[str, float]) -> list[str]:
    if group == "memory":
        items = []
        for column, used in values.items():
            if "_used_" not in column:
                continue
            total = values.get(column.replace("_used_", "_total_"))
            label = column.split("_used_")[0].replace("_", " ")
            items.append(f"{label} {format_bytes(used)}"
                         + (f" of {format_bytes(total)}" if total else ""))
        return items
    unit = {"power": "W", "temperature": "°C", "clock": "MHz", "load": "%"}[group]
    return [f"{' '.join(source_words(column))} {value:.4g} {unit}"
            for column, value in values.items()]


def _lines(group: str, items: list[str]) -> list[str]:
    """``group`` then the items, wrapped at 80 columns between items, never inside one."""
    lines, current = [], f"{group:<12}"
    for item in items:
        if len(current) + len(item) + 3 > WIDTH and current.strip() != group:
            lines.append(current.rstrip())
            current = " " * 12
        current += item + "   "
    lines.append(current.rstrip())
    return lines


def _job_line(job: dict[str, Any] | None, queued: list[int]) -> str:
    if job is None:
        return "job         none running" + (f"; queued {queued}" if queued else "")
    done, total = job.get("points_done") or 0, job.get("points_total") or 0
    started = job.get("started_unix_s")
    ran = f", {format_duration(time.time() - started)} in" if started else ""
    return (f"job         #{job['id']} {job['state']}: {done} of {total} points{ran}"
            + (f", {job['current']}" if job.get("current") else ""))


def text(document: dict[str, Any]) -> list[str]:
    power = document["power_state"]
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(document["time_unix_s"]))
    lines = [f"status      {when} ({document['source']})",
             f"power mode  {power.get('mode') or 'n/a'} ({power.get('source')})"]
    for group in GROUPS:
        items = _items(group, document["readings"].get(group, {}))
        if items:
            lines += _lines(group, items)
    lines.append(_job_line(document["job"], document["queued"]))
    # One run a line, as the other groups: a bundle's path is long and is never split.
    runs = [f"pid {r['pid']} on {r['device']} ({r['bundle']})" for r in document.get("runs") or []]
    for index, entry in enumerate(runs or ["none measuring on this host"]):
        lines.append(f"{'runs' if index == 0 else '':<12}{entry}")
    return lines


def main(args: argparse.Namespace) -> int:
    document = snapshot(Path(args.socket) if args.socket else None, args.local)
    if args.json:
        print(json.dumps(document, indent=2, default=str))
        return 0
    console = terminal()
    for line in text(document):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    return 0
