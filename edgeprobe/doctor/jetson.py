"""Jetson-only checks: the jtop service, and where power readings come from (NVML on Tegra
answers "not supported" for power, so the INA3221 rails or jtop must)."""

from __future__ import annotations

import importlib.util
import socket

from edgeprobe import sysroot
from edgeprobe.doctor.accounts import checked_user, membership_problem
from edgeprobe.doctor.machine import GPU, JETSON, Machine
from edgeprobe.doctor.result import OK, SKIP, WARN, Check
from edgeprobe.power.jetson import JTOP_SOCKET

RAIL_PATTERNS = (
    "/sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*/in*_label",  # JetPack 5 and 6
    "/sys/bus/i2c/drivers/ina3221x/*/iio:device*/rail_name_*",  # older iio layout
)
JTOP_FIX = "sudo pip3 install -U jetson-stats && sudo systemctl enable --now jtop.service"


def socket_answers(absolute: str, timeout_s: float = 2.0) -> str | None:
    """None when something accepts connections on the Unix socket, else why not."""
    path = sysroot.path(absolute)
    if not path.exists():
        return f"{absolute} does not exist"
    if not path.is_socket():
        return f"{absolute} is not a socket"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout_s)
        try:
            probe.connect(str(path))
        except OSError as exc:
            return f"{absolute}: {exc.strerror or exc}"
    return None


def power_rails() -> list[str]:
    return [p for pattern in RAIL_PATTERNS for p in sysroot.glob_paths(pattern)]


def check_jtop(machine: Machine, user: str | None = None) -> Check:
    title = "jtop service"
    if machine.kind != JETSON:
        return Check("jtop", title, SKIP, "not a Jetson")
    problems: list[tuple[str, str]] = []
    if importlib.util.find_spec("jtop") is None:
        problems.append(("jetson-stats is not installed in this environment",
                         "pip install 'edgeprobe[jetson]' (install/install.sh does)"))
    unreachable = socket_answers(JTOP_SOCKET)
    if unreachable:
        problems.append((f"jtop service not reachable: {unreachable}", JTOP_FIX))
    group = membership_problem(user or checked_user(), "jtop",
                               "needed to talk to the jtop service")
    if group:
        problems.append(group)
    if not problems:
        return Check("jtop", title, OK, f"{JTOP_SOCKET} answers; power and clocks via jtop")
    detail = "; ".join(d for d, _ in problems) + " (edgeprobe falls back to sysfs)"
    return Check("jtop", title, WARN, detail, "; ".join(f for _, f in problems))


def nvml_answer() -> tuple[str | None, str | None]:
    """(summary, error): what NVML says about GPU 0, or why it cannot be asked."""
    try:
        import pynvml
    except ImportError:
        return None, "nvidia-ml-py is not installed"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return None, f"NVML does not start: {exc}"
    try:
        count = pynvml.nvmlDeviceGetCount()
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        name = pynvml.nvmlDeviceGetName(handle)
        name = name.decode() if isinstance(name, bytes) else name
        try:
            power = f"{pynvml.nvmlDeviceGetPowerUsage(handle) / 1000:.0f} W now"
        except pynvml.NVMLError as exc:
            power = f"power: {exc}"
        return f"{count} GPU(s), {name}, {power}", None
    except pynvml.NVMLError as exc:
        return None, f"NVML started but does not answer: {exc}"
    finally:
        pynvml.nvmlShutdown()


def check_power_readings(machine: Machine) -> Check:
    title = "power readings (NVML / Tegra rails)"
    if machine.kind == GPU:
        summary, error = nvml_answer()
        if error:
            return Check("nvml", title, WARN, f"{error}: no power, energy or clock readings",
                         "pip install 'edgeprobe[probe]' (nvidia-ml-py); check that "
                         "`nvidia-smi` works with the loaded driver")
        return Check("nvml", title, OK, f"NVML: {summary}")
    if machine.kind != JETSON:
        return Check("nvml", title, SKIP, "no NVIDIA GPU")
    summary, error = nvml_answer()
    nvml = f"NVML: {summary or error}"
    rails = power_rails()
    jtop = socket_answers(JTOP_SOCKET) is None
    data = {"nvml": summary or error, "rails": rails, "jtop": jtop}
    if rails or jtop:
        source = "INA3221 rails" if rails else "jtop"
        return Check("nvml", title, OK, f"{nvml} (Tegra: power comes from the {source}, "
                     "not NVML)", data=data)
    return Check("nvml", title, WARN, f"{nvml}; no INA3221 rails under /sys and no jtop: this "
                 "board cannot report power or energy", "check that the ina3221 driver is "
                 f"loaded (ls /sys/bus/i2c/drivers/ina3221*), or: {JTOP_FIX}", data=data)

