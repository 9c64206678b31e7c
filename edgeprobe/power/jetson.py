"""Switching a Jetson's power mode (jtop's service when reachable, else nvpmodel) and
jetson_clocks, each verified by reading the state back."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from edgeprobe import sysroot
from edgeprobe.power import nvpmodel
from edgeprobe.power.nvpmodel import NvpmodelConfig, PowerModel
from edgeprobe.power.programs import PowerControlError, run_privileged, run_query

JTOP_SOCKET = "/run/jtop.sock"


def current_mode(config: NvpmodelConfig) -> PowerModel | None:
    """The mode in force: nvpmodel's status file, else ``nvpmodel -q``."""
    mode_id = nvpmodel.current_mode_id()
    if mode_id is None:
        answer = run_query("nvpmodel", "-q")
        parsed = nvpmodel.parse_query(answer.output) if answer else None
        mode_id = parsed[1] if parsed else None
    return config.by_id(mode_id) if mode_id is not None else None


def jtop_unusable_reason() -> str | None:
    """None when jtop's service can switch modes for us, else why it cannot."""
    try:
        import jtop  # noqa: F401 - optional extra edgeprobe[jetson]
    except ImportError:
        return "jetson-stats (jtop) is not installed"
    if not sysroot.path(JTOP_SOCKET).exists():
        return f"jtop service not reachable ({JTOP_SOCKET} missing): is jtop.service running?"
    return None


def _switch_with_jtop(target: PowerModel) -> None:
    from jtop import jtop

    with jtop() as board:
        board.nvpmodel = target.name


def set_mode(config: NvpmodelConfig, target: PowerModel, allow_reboot: bool = False) -> str:
    """Switch to ``target``; returns how ("jtop" or "nvpmodel"). Raises PowerControlError."""
    current = current_mode(config)
    if config.needs_reboot(current, target):
        if not allow_reboot:
            raise PowerControlError(
                f"switching from {current.name if current else '?'} to {target.name} needs a "
                "reboot (GPU power gating changes): switch by hand, or pass --allow-reboot")
        run_privileged("nvpmodel", "-m", str(target.id), stdin_text="YES\n")
        raise PowerControlError(f"{target.name} takes effect after the reboot nvpmodel started;"
                                " run edgeprobe again once the board is up")
    if current is not None and current.id == target.id:
        return "unchanged"
    via = "nvpmodel"
    if jtop_unusable_reason() is None:
        try:
            _switch_with_jtop(target)
            via = "jtop"
        except Exception:  # the service may refuse; nvpmodel is the reference path
            via = "nvpmodel"
    if via == "nvpmodel":
        result = run_privileged("nvpmodel", "-m", str(target.id))
        errors = [line for line in result.output.splitlines() if "ERROR" in line]
        if result.returncode != 0 or errors:
            detail = (errors or result.output.strip().splitlines() or ["no output"])[0]
            raise PowerControlError(f"nvpmodel -m {target.id} failed: {detail.strip()}")
    now = current_mode(config)
    if now is None or now.id != target.id:
        raise PowerControlError(f"asked for {target.name} but the mode reads back as "
                                f"{now.name if now else 'unknown'}")
    return via


# Where the clocks are saved when the state folder will not do: the agent's service runs as
# an unprivileged user and saves them, through sudo, in a folder only root may write, since
# `jetson_clocks --restore` as root writes whatever that file says.
CLOCKS_FILE_ENV = "EDGEPROBE_JETSON_CLOCKS_FILE"


class JetsonClocks:
    """jetson_clocks pins clocks at their maximum; ``--store``/``--restore`` undo that."""

    def __init__(self, state_dir: Path) -> None:
        override = os.environ.get(CLOCKS_FILE_ENV)
        self.saved = Path(override) if override else state_dir / "jetson_clocks.conf"

    def store(self) -> None:
        self.saved.parent.mkdir(parents=True, exist_ok=True)
        result = run_privileged("jetson_clocks", "--store", str(self.saved))
        if result.returncode != 0:
            raise PowerControlError(f"jetson_clocks --store failed: {result.output.strip()[:200]}")

    def enable(self) -> None:
        result = run_privileged("jetson_clocks")
        if result.returncode != 0:
            raise PowerControlError(f"jetson_clocks failed: {result.output.strip()[:200]}")

    def restore(self) -> None:
        if not self.saved.exists():
            return
        result = run_privileged("jetson_clocks", "--restore", str(self.saved))
        if result.returncode != 0:
            raise PowerControlError(f"jetson_clocks --restore failed: "
                                    f"{result.output.strip()[:200]}")
        with contextlib.suppress(PermissionError):  # root's file: the next --store replaces it
            os.unlink(self.saved)
