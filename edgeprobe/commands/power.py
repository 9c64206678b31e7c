"""``edgeprobe power-modes``: the power modes this device offers and the one in force."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from edgeprobe.commands.console import terminal
from edgeprobe.power import jetson, nvpmodel
from edgeprobe.suite.devices import detect_device_profile, load_device_profile
from edgeprobe.telemetry.nvml import query_gpu
from edgeprobe.telemetry.platform import jetson_model


def _gpu_name() -> str | None:
    name = query_gpu(lambda nvml, gpu: nvml.nvmlDeviceGetName(gpu))
    return name.decode() if isinstance(name, bytes) else name


def main(args: argparse.Namespace) -> int:
    config = nvpmodel.read_config()
    profile = (load_device_profile(args.device_profile) if args.device_profile
               else detect_device_profile([jetson_model(), _gpu_name()]))
    document: dict = {"device_profile": profile.name, "modes": [], "current": None}
    if config is not None:
        current = jetson.current_mode(config)
        document["source"] = "nvpmodel"
        document["current"] = current.name if current else None
        document["default"] = (config.by_id(config.default_id).name
                               if config.default_id is not None and config.by_id(config.default_id)
                               else None)
        document["modes"] = [{"id": m.id, "name": m.name,
                              "needs_reboot": config.needs_reboot(current, m)}
                             for m in config.modes]
    elif profile.power_limits_w:
        document["source"] = "device profile (NVML power limits)"
        document["modes"] = [{"name": k, "power_limit_w": v}
                             for k, v in profile.power_limits_w.items()]
    else:
        document["source"] = "none"
        # An empty list is an answer, not a failure: the same exit status with --json or not.
        document["note"] = ("this machine has no power modes edgeprobe can switch (no "
                            "nvpmodel, no named power limits in device profile "
                            f"{profile.name}); --power-limit WATTS works on NVIDIA GPUs")
    if args.json:
        print(json.dumps(document, indent=2))
        return 0
    console = terminal()
    if not document["modes"]:
        console.print(document["note"], highlight=False, markup=False)
        return 0
    table = Table(title=f"power modes ({document['source']}, profile {profile.name})",
                  title_justify="left", header_style="bold", pad_edge=False)
    for column in ("", "mode", "id / limit", "note"):
        table.add_column(column)
    for mode in document["modes"]:
        mark = "*" if mode["name"] == document["current"] else ""
        detail = str(mode.get("id", "")) or f"{mode.get('power_limit_w', 0):g} W"
        note = "needs a reboot from the current mode" if mode.get("needs_reboot") else ""
        if mode["name"] == document.get("default"):
            note = (note + "; " if note else "") + "boot default"
        table.add_row(mark, mode["name"], detail, note)
    console.print(table)
    if document["current"]:
        console.print(f"current: [bold]{document['current']}[/]")
    return 0
