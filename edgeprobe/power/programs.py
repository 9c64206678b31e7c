"""Running the board's power programs (nvpmodel, jetson_clocks), found on PATH.

They need root: edgeprobe runs them directly when it is root, else through ``sudo -n`` (a
sudoers rule for them, which install/ can add), and never prompts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from edgeprobe.errors import EdgeprobeError


class PowerControlError(EdgeprobeError):
    """A power or clock change was refused, failed, or could not be verified."""

    exit_code = 3


@dataclass(frozen=True)
class ProgramResult:
    returncode: int
    output: str


def find(program: str) -> str | None:
    return shutil.which(program)


def run_privileged(program: str, *args: str, stdin_text: str = "",
                   timeout_s: float = 60.0) -> ProgramResult:
    path = find(program)
    if path is None:
        raise PowerControlError(f"{program} not found on PATH")
    command = [path, *args]
    if os.geteuid() != 0:
        if find("sudo") is None:
            raise PowerControlError(f"{program} needs root: run edgeprobe as root")
        command = ["sudo", "-n", *command]
    try:
        done = subprocess.run(command, input=stdin_text, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise PowerControlError(f"{program} {' '.join(args)} did not finish in "
                                f"{timeout_s:.0f} s") from None
    output = (done.stdout or "") + (done.stderr or "")
    if done.returncode != 0 and "sudo" in command[0] and "password" in output.lower():
        raise PowerControlError(f"{program} needs root: run edgeprobe with sudo, or allow "
                                f"`sudo -n {path}` for this user (install/install.sh does)")
    return ProgramResult(done.returncode, output)


def run_query(program: str, *args: str, timeout_s: float = 30.0) -> ProgramResult | None:
    """Read-only calls (``nvpmodel -q``): no sudo; None when the program is absent."""
    path = find(program)
    if path is None:
        return None
    try:
        done = subprocess.run([path, *args], capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return ProgramResult(done.returncode, (done.stdout or "") + (done.stderr or ""))
