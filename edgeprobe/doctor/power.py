"""Permission to change power: nvpmodel / jetson_clocks on a Jetson, the NVML power limit on
a discrete GPU. Root can; so can the agent when it runs as root (it applies the power request
of the runs it executes); a user, and the agent's service user, can through the `sudo -n`
rule install/install.sh writes for group edgeprobe, which names the exact commands."""

from __future__ import annotations

import os
import subprocess

from edgeprobe.doctor.agent import AgentState
from edgeprobe.doctor.machine import GPU, JETSON, Machine
from edgeprobe.doctor.result import OK, SKIP, WARN, Check
from edgeprobe.power.nvml_limit import NvmlPowerLimit
from edgeprobe.power.programs import PowerControlError, find

# Each program with arguments it is run with (the sudo rule allows those commands only).
JETSON_PROGRAMS = {"nvpmodel": ("-m", "0"), "jetson_clocks": ()}
SUDOERS_FIX = ("sudo install/install.sh adds a sudo rule for group edgeprobe; or run edgeprobe "
               "with sudo, or through the agent service")


def sudo_allows(program_path: str, *args: str, timeout_s: float = 10.0) -> bool:
    """Whether ``sudo -n`` would run this command without asking for a password."""
    sudo = find("sudo")
    if sudo is None:
        return False
    try:
        done = subprocess.run([sudo, "-n", "-l", program_path, *args], capture_output=True,
                              text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _jetson(agent: AgentState, euid: int) -> Check:
    title = "permission to change power modes"
    paths = {name: find(name) for name in JETSON_PROGRAMS}
    absent = [name for name, path in paths.items() if path is None]
    if "nvpmodel" in absent:
        return Check("power", title, WARN, "nvpmodel is not on PATH: power modes cannot be "
                     "switched", "sudo apt-get install nvidia-l4t-nvpmodel")
    present = {name: path for name, path in paths.items() if path}
    missing_note = f" ({', '.join(absent)} not on PATH)" if absent else ""
    if euid == 0:
        return Check("power", title, OK, f"running as root{missing_note}")
    if agent.answers and agent.as_root:
        return Check("power", title, OK, "the agent runs as root and switches modes for the runs "
                     f"it executes{missing_note}")
    refused = [name for name, path in present.items()
               if not sudo_allows(path, *JETSON_PROGRAMS[name])]
    if not refused:
        return Check("power", title, OK, f"sudo -n may run {', '.join(present)}{missing_note}")
    return Check("power", title, WARN, f"{', '.join(refused)} need root and sudo -n asks for a "
                 "password: runs keep the current mode", SUDOERS_FIX)


def _gpu(agent: AgentState, euid: int) -> Check:
    title = "permission to change the power limit"
    try:
        control = NvmlPowerLimit()
    except PowerControlError as exc:
        return Check("power", title, WARN, f"{exc}", "pip install 'edgeprobe[probe]' and check "
                     "that `nvidia-smi` works")
    try:
        limits = control.read()
    except PowerControlError as exc:
        return Check("power", title, WARN, str(exc), None)
    finally:
        control.close()
    now = (f"limit {limits.current_w:g} W (allowed {limits.min_w:g}-{limits.max_w:g} W, "
           f"default {limits.default_w:g} W)")
    data = {"power_limit_w": limits.current_w, "min_w": limits.min_w, "max_w": limits.max_w}
    if euid == 0:
        return Check("power", title, OK, f"{now}; running as root", data=data)
    if agent.answers and agent.as_root:
        return Check("power", title, OK, f"{now}; the agent runs as root and sets it for its runs",
                     data=data)
    smi = find("nvidia-smi")
    if smi and sudo_allows(smi, "-i", "0", "-pl", f"{round(limits.current_w)}"):
        return Check("power", title, OK, f"{now}; sudo -n may run nvidia-smi -pl", data=data)
    return Check("power", title, WARN, f"{now}; only root may change it",
                 "run through the agent service (sudo install/install.sh) or with sudo",
                 data=data)


def check_power(machine: Machine, agent: AgentState, euid: int | None = None) -> Check:
    euid = os.geteuid() if euid is None else euid
    if machine.kind == JETSON:
        return _jetson(agent, euid)
    if machine.kind == GPU:
        return _gpu(agent, euid)
    return Check("power", "permission to change power", SKIP, "no NVIDIA GPU: nothing to switch")
