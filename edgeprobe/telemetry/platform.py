"""What machine this is: host, CPU, memory, Jetson model and L4T / JetPack release."""

from __future__ import annotations

import os
import platform
import re
from typing import Any

from edgeprobe import sysroot

# L4T release -> JetPack release, for the JetPack 5 and 6 lines (NVIDIA's release notes).
_JETPACK_BY_L4T = {
    "35.1": "5.0.2", "35.2": "5.1", "35.3": "5.1.1", "35.4": "5.1.2", "35.5": "5.1.3",
    "35.6": "5.1.4", "36.2": "6.0 DP", "36.3": "6.0", "36.4": "6.1", "36.4.3": "6.2",
    "36.4.4": "6.2.1",
}


def cpu_model() -> str:
    text = sysroot.read_text("/proc/cpuinfo") or ""
    for key in ("model name", "Hardware", "Model"):
        match = re.search(rf"^{key}\s*:\s*(.+)$", text, re.MULTILINE)
        if match:
            return match.group(1).strip()
    return platform.processor() or platform.machine()


def l4t_release() -> dict[str, str] | None:
    """Parse /etc/nv_tegra_release: ``# R36 (release), REVISION: 4.3, ...`` -> 36.4.3."""
    text = sysroot.read_text("/etc/nv_tegra_release")
    if not text:
        return None
    match = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
    if not match:
        return {"raw": text.splitlines()[0][:120]}
    l4t = f"{match.group(1)}.{match.group(2)}"
    jetpack = _JETPACK_BY_L4T.get(l4t) or _JETPACK_BY_L4T.get(".".join(l4t.split(".")[:2]))
    result = {"l4t": l4t}
    if jetpack:
        result["jetpack"] = jetpack
    return result


def jetson_model() -> str | None:
    text = sysroot.read_text("/proc/device-tree/model")
    return text.rstrip("\x00") if text else None


def is_jetson() -> bool:
    return l4t_release() is not None or (jetson_model() or "").lower().find("jetson") >= 0


def _cpu_share() -> dict[str, Any]:
    """The CPUs this process may run on and the load on them when the run starts."""
    share: dict[str, Any] = {}
    if hasattr(os, "sched_getaffinity"):
        share["cpus_allowed"] = len(os.sched_getaffinity(0))
    if hasattr(os, "getloadavg"):
        share["load_average_1m"] = round(os.getloadavg()[0], 2)
    return share


def host_info() -> dict[str, Any]:
    import psutil  # here, not at import: the samplers need none of it

    memory = psutil.virtual_memory()
    info: dict[str, Any] = {
        "hostname": platform.node(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_logical_cores": os.cpu_count(),
        "ram_total_bytes": memory.total,
        # Eager decode is bound by the host: how much of it this process had is provenance.
        **_cpu_share(),
    }
    release = l4t_release()
    if release or jetson_model():
        info["jetson"] = {"model": jetson_model(), **(release or {})}
    return info
