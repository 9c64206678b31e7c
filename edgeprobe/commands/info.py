"""``edgeprobe info``: this machine, its GPU and power state, and which sensors work."""

from __future__ import annotations

import argparse
import json
import textwrap
from typing import Any

from rich.console import Console

from edgeprobe.commands.console import terminal
from edgeprobe.telemetry.report import machine_report
from edgeprobe.telemetry.sampler import BackgroundSampler


def _gpu_arg(text: str | None) -> int | str:
    if text is None:
        return 0
    return int(text) if text.isdigit() else text


def sensor_lines(sensors: list[dict[str, Any]], width: int) -> list[str]:
    """One entry per sensor: state, source/sensor, then where it reads or why it does not
    and the fix, wrapped at spaces (a path is never split)."""
    names = [f"{s['source']}/{s['sensor']}" for s in sensors]
    name_width = max(map(len, names), default=0)
    indent = " " * (17 + name_width)  # under the detail column
    if width - len(indent) < 30:  # too narrow beside the names: the detail goes below
        indent = " " * 4
    lines = ["sensors"]
    for sensor, name in zip(sensors, names, strict=True):
        state = "ok" if sensor["available"] else "unavailable"
        texts = [sensor["detail"], *([f"fix: {sensor['fix']}"] if sensor.get("fix") else [])]
        head = f"  {state:<11}  {name:<{name_width}}  "
        if len(indent) == 4:
            lines.append(head.rstrip())
            head = indent
        for text in texts:
            wrapped = textwrap.wrap(text, width, initial_indent=head, subsequent_indent=indent,
                                    break_long_words=False, break_on_hyphens=False)
            lines += wrapped
            head = indent
    return lines


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
    for line in sensor_lines(report["sensors"], max(60, console.width)):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(f"{report['working']} sensors work, {report['not_working']} do not.")


def main(args: argparse.Namespace) -> int:
    report = machine_report(BackgroundSampler(gpu=_gpu_arg(args.gpu)))
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    _print(report, terminal())
    return 0
