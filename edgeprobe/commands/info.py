"""``edgeprobe info``: this machine, its GPU and power state, and which sensors work."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from edgeprobe.commands.console import terminal
from edgeprobe.telemetry.report import machine_report
from edgeprobe.telemetry.sampler import BackgroundSampler


def _gpu_arg(text: str | None) -> int | str:
    if text is None:
        return 0
    return int(text) if text.isdigit() else text


def _print(report: dict[str, Any], console: Console) -> None:
    host, jetson, gpu, power = report["platform"], report["jetson"], report["gpu"], report["power"]
    console.print(f"[bold]edgeprobe {report['edgeprobe_version']}[/] on {host['hostname']} "
                  f"({host['machine']}, {host['cpu']}, {host['cpu_logical_cores']} threads, "
                  f"{host['ram_total_bytes'] / 2**30:.1f} GiB RAM)")
    if jetson:
        release = ", ".join(f"{label} {jetson[key]}" for key, label in
                            (("l4t", "L4T"), ("jetpack", "JetPack")) if jetson.get(key))
        console.print(f"Jetson:  {jetson.get('model') or 'unknown model'}"
                      + (f" ({release})" if release else ""))
    if gpu is None:
        console.print("GPU:     none found (no NVIDIA driver, not a Jetson)")
    elif gpu["kind"] == "discrete":
        console.print(f"GPU:     {gpu['name']}, driver {gpu.get('driver')}, "
                      f"CUDA {gpu.get('cuda_driver')}")
    else:
        console.print(f"GPU:     integrated, telemetry from {gpu.get('telemetry_from')}")
    mode = power.get("mode") or "unknown"
    clocks = power.get("jetson_clocks")
    console.print(f"Power:   {mode} (from {power.get('source')})"
                  + ("" if clocks is None else f", jetson_clocks {'on' if clocks else 'off'}"))
    table = Table(header_style="bold", pad_edge=False, title="sensors", title_justify="left")
    for column in ("source", "sensor", "state", "where / why"):
        table.add_column(column)
    for sensor in report["sensors"]:
        if sensor["available"]:
            state, detail = "[green]ok[/]", sensor["detail"]
        else:
            state = "[yellow]unavailable[/]"
            detail = sensor["detail"] + (f"\nfix: {sensor['fix']}" if sensor.get("fix") else "")
        table.add_row(sensor["source"], sensor["sensor"], state, detail)
    console.print(table)
    console.print(f"{report['working']} sensors work, {report['not_working']} do not.")


def main(args: argparse.Namespace) -> int:
    report = machine_report(BackgroundSampler(gpu=_gpu_arg(args.gpu)))
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    _print(report, terminal())
    return 0
