"""Apply a power request for a run and always put things back.

Before changing anything the session writes what was in force to a restore file, so that even
a run ended by ``kill -9`` or a power cut is put right by the next edgeprobe run.
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
import json
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from edgeprobe.power import jetson, nvpmodel
from edgeprobe.power.nvml_limit import NvmlPowerLimit
from edgeprobe.power.nvpmodel import NvpmodelConfig, PowerModel
from edgeprobe.power.programs import PowerControlError
from edgeprobe.signals import acknowledge

EventSink = Callable[..., None]
RESTORE_FILE = "power-restore.json"


@dataclass(frozen=True)
class PowerRequest:
    mode: str | None = None
    jetson_clocks: bool = False
    power_limit_w: float | None = None
    allow_reboot: bool = False

    @property
    def empty(self) -> bool:
        return self.mode is None and not self.jetson_clocks and self.power_limit_w is None


def close_names(name: str, names: list[str]) -> list[str]:
    """Names the user may have meant: those that begin with or contain what was typed (MAXN
    for MAXN_SUPER), then those spelled alike."""
    typed = name.upper()
    near = [n for n in names if n.upper().startswith(typed)]
    near += [n for n in names if typed in n.upper() and n not in near]
    near += [n for n in difflib.get_close_matches(name, names, n=3, cutoff=0.5)
             if n not in near]
    return near[:3]


def _unknown_mode(name: str, names: list[str], where: str) -> PowerControlError:
    near = close_names(name, names)
    hint = f"did you mean {' or '.join(near)}? " if near else ""
    return PowerControlError(f"unknown power mode {name!r}: {hint}({where} has "
                             f"{', '.join(names)})")


def resolve_mode(config: NvpmodelConfig | None, named_limits: dict[str, float],
                 name: str) -> PowerModel | float:
    """A Jetson nvpmodel mode, or a discrete GPU's named power limit (watts)."""
    if config is not None:
        mode = config.by_name(name)
        if mode is None:
            raise _unknown_mode(name, [m.name for m in config.modes], "this board")
        return mode
    for key, watts in named_limits.items():
        if key.upper() == name.upper():
            return watts
    if named_limits:
        raise _unknown_mode(name, list(named_limits), "this device profile")
    raise PowerControlError(f"--power-mode {name}: this machine has no nvpmodel and its device "
                            "profile names no power modes; use --power-limit WATTS")


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Restoring must not be cut short by a second Ctrl-C or SIGTERM: each is acknowledged
    with one line and otherwise ignored."""
    held = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s]
    try:
        previous = {s: signal.signal(s, acknowledge) for s in held}
    except ValueError:  # not the main thread: signals cannot reach us here anyway
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class PowerSession:
    def __init__(self, request: PowerRequest, state_dir: Path,
                 named_limits: dict[str, float] | None = None,
                 on_event: EventSink | None = None, gpu_index: int = 0) -> None:
        self.request = request
        self.state_dir = state_dir
        self.named_limits = named_limits or {}
        self.on_event = on_event or (lambda kind, message, **data: None)
        self.gpu_index = gpu_index
        self.config = nvpmodel.read_config()
        self.original_mode: PowerModel | None = None
        self.original_limit_w: float | None = None
        self.clocks = jetson.JetsonClocks(state_dir)
        self.clocks_changed = False
        self.limit_changed = False
        self.mode_changed = False
        self._nvml: NvmlPowerLimit | None = None
        self.target_mode: PowerModel | None = None
        self.target_limit_w: float | None = request.power_limit_w

    @property
    def restore_file(self) -> Path:
        return self.state_dir / RESTORE_FILE

    # -- before any work --------------------------------------------------------------------
    def preflight(self) -> None:
        """Every check that can fail, before anything changes. Raises PowerControlError."""
        request = self.request
        if request.mode is not None:
            resolved = resolve_mode(self.config, self.named_limits, request.mode)
            if isinstance(resolved, PowerModel):
                self.target_mode = resolved
                current = jetson.current_mode(self.config)  # type: ignore[arg-type]
                if current is None:
                    raise PowerControlError("cannot read the current power mode (no nvpmodel "
                                            "status and `nvpmodel -q` gave nothing)")
                if self.config.needs_reboot(current, resolved) and not request.allow_reboot:
                    raise PowerControlError(
                        f"switching from {current.name} to {resolved.name} needs a reboot "
                        "(GPU power gating changes): switch by hand, or pass --allow-reboot")
            else:
                if self.target_limit_w is not None and self.target_limit_w != resolved:
                    raise PowerControlError("--power-mode and --power-limit disagree")
                self.target_limit_w = resolved
        if request.jetson_clocks and jetson.run_query("jetson_clocks", "--help") is None:
            raise PowerControlError("--jetson-clocks: jetson_clocks not found on PATH")
        if self.target_limit_w is not None:
            self._nvml = NvmlPowerLimit(self.gpu_index)
            self._nvml.check(self.target_limit_w)
            self._nvml.check_permission()

    def preflight_sweep(self, names: list[str]) -> list[PowerModel]:
        """Check a sweep's modes before anything changes: known, and no switch needs a reboot
        (from the current mode, between neighbours, and back at the end)."""
        if self.config is None:
            raise PowerControlError("--power-modes needs a Jetson (nvpmodel modes)")
        modes = []
        for name in names:
            resolved = resolve_mode(self.config, {}, name)
            assert isinstance(resolved, PowerModel)
            modes.append(resolved)
        current = jetson.current_mode(self.config)
        chain = [current, *modes, current]
        for before, after in itertools.pairwise(chain):
            if after is not None and self.config.needs_reboot(before, after):
                raise PowerControlError(
                    f"the sweep switches {before.name if before else '?'} -> {after.name}, "
                    "which needs a reboot (GPU power gating changes): leave that mode out")
        self.mode_changed = False
        return modes

    # -- apply / restore --------------------------------------------------------------------
    def _save_restore_file(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = {"pid": os.getpid(),
                "mode_id": self.original_mode.id if self.original_mode else None,
                "mode_name": self.original_mode.name if self.original_mode else None,
                "power_limit_w": self.original_limit_w,
                "gpu_index": self.gpu_index,
                "jetson_clocks_saved": str(self.clocks.saved) if self.request.jetson_clocks
                else None}
        tmp = self.restore_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.restore_file)

    def apply(self) -> dict[str, Any]:
        if self.config is not None:
            self.original_mode = jetson.current_mode(self.config)
        if self._nvml is not None:
            self.original_limit_w = self._nvml.read().current_w
        self._save_restore_file()
        if self.target_mode is not None:
            self.switch(self.target_mode)
        if self.request.jetson_clocks:
            self.clocks.store()
            self.clocks_changed = True
            self.clocks.enable()
            self.on_event("jetson_clocks", "jetson_clocks on (clocks pinned at maximum)")
        if self.target_limit_w is not None and self._nvml is not None:
            self.limit_changed = True
            self._nvml.set(self.target_limit_w)
            self.on_event("power_limit", f"GPU power limit {self.original_limit_w:g} W -> "
                          f"{self.target_limit_w:g} W", before_w=self.original_limit_w,
                          after_w=self.target_limit_w)
        return self.describe()

    def switch(self, target: PowerModel | str) -> None:
        """Switch the Jetson's mode (also used to sweep several modes in one run)."""
        if self.config is None:
            raise PowerControlError("this machine has no nvpmodel power modes")
        if isinstance(target, str):
            resolved = resolve_mode(self.config, {}, target)
            assert isinstance(resolved, PowerModel)
            target = resolved
        before = jetson.current_mode(self.config)
        if self.original_mode is None:
            self.original_mode = before
            self._save_restore_file()
        self.mode_changed = True
        via = jetson.set_mode(self.config, target, self.request.allow_reboot)
        self.on_event("power_mode", f"power mode {before.name if before else '?'} -> "
                      f"{target.name} (via {via}, verified)", before=before.name if before
                      else None, after=target.name, via=via)

    def restore(self) -> list[str]:
        """Put back everything changed, newest first. Never raises: failures become events."""
        problems: list[str] = []
        with _signals_held():
            if self.limit_changed and self._nvml is not None and self.original_limit_w:
                try:
                    self._nvml.set(self.original_limit_w)
                    self.on_event("power_limit_restored",
                                  f"GPU power limit restored to {self.original_limit_w:g} W")
                except PowerControlError as exc:
                    problems.append(str(exc))
            if self.clocks_changed:
                try:
                    self.clocks.restore()
                    self.on_event("jetson_clocks_restored", "jetson_clocks settings restored")
                except PowerControlError as exc:
                    problems.append(str(exc))
            if self.mode_changed and self.original_mode is not None and self.config:
                try:
                    jetson.set_mode(self.config, self.original_mode, allow_reboot=False)
                    self.on_event("power_mode_restored",
                                  f"power mode restored to {self.original_mode.name}",
                                  after=self.original_mode.name)
                except PowerControlError as exc:
                    problems.append(str(exc))
            for problem in problems:
                self.on_event("restore_failed", f"could not restore: {problem}", level="error")
            if not problems:
                with contextlib.suppress(FileNotFoundError):
                    self.restore_file.unlink()
            self.limit_changed = self.clocks_changed = self.mode_changed = False
            if self._nvml is not None:
                self._nvml.close()
                self._nvml = None
        return problems

    def describe(self) -> dict[str, Any]:
        return {"mode_before": self.original_mode.name if self.original_mode else None,
                "mode": self.target_mode.name if self.target_mode else None,
                "jetson_clocks": self.request.jetson_clocks,
                "power_limit_before_w": self.original_limit_w,
                "power_limit_w": self.target_limit_w}

    def __enter__(self) -> PowerSession:
        try:
            self.apply()
        except BaseException:
            self.restore()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.restore()


def recover_stale(state_dir: Path, on_event: EventSink) -> bool:
    """Restore settings a previous run changed and never put back (killed, power cut)."""
    path = state_dir / RESTORE_FILE
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return False
    pid = data.get("pid")
    if isinstance(pid, int) and pid != os.getpid() and _alive(pid):
        raise PowerControlError(f"another edgeprobe run (pid {pid}) holds the power settings")
    session = PowerSession(PowerRequest(jetson_clocks=bool(data.get("jetson_clocks_saved"))),
                           state_dir, on_event=on_event, gpu_index=data.get("gpu_index", 0))
    if data.get("mode_id") is not None and session.config is not None:
        session.original_mode = session.config.by_id(data["mode_id"])
        session.mode_changed = session.original_mode is not None
    session.clocks_changed = bool(data.get("jetson_clocks_saved"))
    if data.get("power_limit_w"):
        session.original_limit_w = float(data["power_limit_w"])
        try:
            session._nvml = NvmlPowerLimit(session.gpu_index)
            session.limit_changed = True
        except PowerControlError:
            pass
    on_event("stale_restore", "a previous run did not restore its power settings: "
             "restoring them now", level="warning", previous=data)
    return not session.restore()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
