"""What the start dialog offers and says before a run starts: the device profiles (and the one
detected), the power modes (and which need a reboot from the mode in force), the arguments
of ``edgeprobe run`` a choice makes, how many points it measures and how long earlier runs
of the suite on this machine took.

Nothing here imports Textual, so these rules are tested as plain functions.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from edgeprobe.analysis.estimate import Estimate, device_label, from_earlier_runs
from edgeprobe.bundle import BundleError
from edgeprobe.bundle.reader import read_header
from edgeprobe.errors import EdgeprobeError
from edgeprobe.probe.plan import make_plan
from edgeprobe.units import parse_tokens

KEEP_MODE = "(keep current)"
AUTO_PROFILE = "auto"
DEVICES = ("auto", "cuda", "cpu")
REBOOT_MARK = " (needs reboot)"
SCANNED_FOR_DEVICE = 40


def available_suites() -> list[str]:
    from edgeprobe.suite import list_suites

    try:
        return list_suites()
    except EdgeprobeError:
        return ["smoke"]


@dataclass(frozen=True)
class PowerModes:
    """The modes a run may ask for: nvpmodel's on a Jetson, else the named power limits of
    the device profile."""

    names: tuple[str, ...] = ()
    current: str | None = None
    reboot: frozenset[str] = frozenset()  # modes that need a reboot from ``current``
    jetson: bool = False

    def label(self, name: str) -> str:
        return name + (REBOOT_MARK if name in self.reboot else "")


def power_modes(device_name: str | None, current_name: str | None = None) -> PowerModes:
    """The modes of this machine; on a Jetson, each marked when switching to it from the
    mode in force (``current_name``, else read from nvpmodel) needs a reboot."""
    from edgeprobe.power import jetson, nvpmodel
    from edgeprobe.suite.devices import detect_device_profile

    try:
        config = nvpmodel.read_config()
        if config is None:
            profile = detect_device_profile([device_name])
            return PowerModes(tuple(profile.power_limits_w or {}), current_name)
        current = (config.by_name(current_name) if current_name else None) \
            or jetson.current_mode(config)
        reboot = frozenset(m.name for m in config.modes if config.needs_reboot(current, m))
        return PowerModes(tuple(m.name for m in config.modes),
                          current.name if current else current_name, reboot, jetson=True)
    except EdgeprobeError:
        return PowerModes(current=current_name)


def device_profiles(device_name: str | None) -> tuple[list[str], str | None]:
    """Every device profile's name, and the one detected for ``device_name``."""
    from edgeprobe.suite.devices import detect_device_profile, list_device_profiles

    try:
        names = list_device_profiles()
    except EdgeprobeError:
        return [], None
    try:
        return names, detect_device_profile([device_name]).name
    except EdgeprobeError:
        return names, None


def split_words(text: str) -> tuple[str, ...]:
    """``"a, b c"`` -> ``("a", "b", "c")``, as ``edgeprobe run`` splits its lists."""
    return tuple(text.replace(",", " ").split())


@dataclass(frozen=True)
class RunChoice:
    """What the dialog holds; ``argv()`` is the ``edgeprobe run`` command it starts."""

    suite: str = "smoke"
    power_mode: str = KEEP_MODE
    device: str = "auto"
    device_profile: str = AUTO_PROFILE
    jetson_clocks: bool = False
    max_context: bool = False
    models: tuple[str, ...] = ()
    lengths: tuple[str, ...] = ()
    allow_reboot: bool = False

    def argv(self) -> list[str]:
        argv = ["--suite", self.suite, "--device", self.device]
        if self.models:
            argv += ["--models", *self.models]
        if self.lengths:
            argv += ["--lengths", *self.lengths]
        if self.device_profile and self.device_profile != AUTO_PROFILE:
            argv += ["--device-profile", self.device_profile]
        if self.power_mode and self.power_mode != KEEP_MODE:
            argv += ["--power-mode", self.power_mode]
        if self.jetson_clocks:
            argv.append("--jetson-clocks")
        if self.allow_reboot:
            argv.append("--allow-reboot")
        if self.max_context:
            argv.append("--find-max-context")
        return argv


@dataclass(frozen=True)
class PlanSize:
    """Points a run measures; two figures where it depends on whether mamba_ssm's own
    kernels can run on the device (known only once the run's worker starts)."""

    least: int
    most: int

    def text(self) -> str:
        count = str(self.least) if self.least == self.most else f"{self.least}-{self.most}"
        return f"{count} point{'' if count == '1' else 's'}"


def planned_points(choice: RunChoice) -> PlanSize:
    """The points the run will measure, as the runner plans them (models x lengths x
    variants, per implementation). Raises EdgeprobeError for a choice the run refuses."""
    from edgeprobe.suite import load_suite

    lengths = [parse_tokens(length) for length in choice.lengths]
    suite = load_suite(choice.suite).with_overrides(models=list(choice.models) or None,
                                                    lengths=lengths or None)
    counts = [sum(plan.points for plan in make_plan(suite, mamba_ok)[0])
              for mamba_ok in (False, True)]
    return PlanSize(min(counts), max(counts))


def _device_of_earlier_runs(folder: Path, suite: str, device: str) -> tuple[str, str] | None:
    """(device label, dtype) of the newest finished run of ``suite`` on this host asked for
    ``device`` (any, for auto): the device the estimate compares with."""
    host = platform.node()
    paths = sorted(folder.glob("*.epb"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in paths[:SCANNED_FOR_DEVICE]:
        try:
            header = read_header(path)
        except (BundleError, OSError):
            continue
        settings = header.get("settings") or {}
        if ((header.get("suite") or {}).get("name") == suite
                and (header.get("host") or {}).get("hostname") == host
                and device in ("auto", settings.get("device"))):
            return device_label(header.get("device") or {}), str(settings.get("dtype"))
    return None


def earlier_estimate(folders: Iterable[Path], suite: str, device: str,
                     points: int) -> Estimate | None:
    """How long ``points`` took in earlier runs of ``suite`` on this machine's device."""
    for folder in folders:
        if not folder.is_dir():
            continue
        found = _device_of_earlier_runs(folder, suite, device)
        if found is not None:
            return from_earlier_runs([folder], suite, found[0], found[1], points)
    return None


def minutes_text(seconds: float) -> str:
    return f"about {max(1, round(seconds / 60))} min"


def size_line(choice: RunChoice, folders: Iterable[Path]) -> str:
    """The dialog's size line: points, and the time earlier runs suggest (or that there is
    none to go by)."""
    try:
        size = planned_points(choice)
    except (EdgeprobeError, ValueError) as exc:
        return f"cannot plan this run: {exc}"
    found = earlier_estimate(folders, choice.suite, choice.device, size.most)
    if found is None:
        return f"{size.text()}; no earlier run of {choice.suite} here to estimate the time from"
    runs = f"{found.runs} earlier run{'s' if found.runs != 1 else ''}"
    return f"{size.text()}, {minutes_text(found.seconds)} (from {runs})"
