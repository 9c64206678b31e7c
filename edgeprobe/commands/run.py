"""``edgeprobe run``: a suite on this machine, with live progress and a summary at the end."""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from platformdirs import user_state_dir
from rich.console import Console

from edgeprobe.agent.client import agent_running
from edgeprobe.agent.paths import bundle_dir
from edgeprobe.analysis.estimate import from_earlier_runs
from edgeprobe.analysis.figures import flat_point
from edgeprobe.analysis.kernels import kernel_records
from edgeprobe.analysis.render import kernel_shares_table, max_context_table, summary_table
from edgeprobe.bundle import read_bundle
from edgeprobe.commands.console import terminal
from edgeprobe.commands.progress import ProgressView
from edgeprobe.commands.run_args import from_command, recorded_argv, without_resume
from edgeprobe.errors import UsageError
from edgeprobe.power.session import PowerRequest, PowerSession, recover_stale
from edgeprobe.runner import Runner, RunSettings, events
from edgeprobe.runner.resume import load_resume
from edgeprobe.signals import interruptible
from edgeprobe.suite import load_preset, load_suite
from edgeprobe.suite.devices import DeviceProfile, load_device_profile
from edgeprobe.suite.model_dir import preset_from_model_dir
from edgeprobe.suite.suites import parse_attention_backend, parse_decode_mode
from edgeprobe.units import (
    parse_bytes,
    parse_tokens,
)


def default_bundle_path(suite: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    host = socket.gethostname().split(".")[0] or "host"
    return bundle_dir() / f"{suite}-{host}-{stamp}.epb"


def _split(values: list[str] | None) -> list[str]:
    return [part for value in values or [] for part in value.replace(",", " ").split()]


def _weights(values: list[str] | None, models: tuple[str, ...]) -> dict[str, Path]:
    result: dict[str, Path] = {}
    for value in values or []:
        name, sep, folder = value.partition("=")
        if not sep:
            if len(models) != 1:
                raise UsageError("--weights DIR needs exactly one model; use --weights MODEL=DIR")
            name, folder = models[0], value
        load_preset(name)
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise UsageError(f"--weights {value}: {path} is not a folder")
        result[name] = path
    return result


def _flag(flag: str, parse: Callable[[str], int], text: str) -> int:
    """``parse(text)``, its error naming the flag."""
    try:
        return parse(text)
    except UsageError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def _trace_dir(value: str | None, profile: bool | None) -> Path | None:
    if value is None:
        return None
    if profile is False:
        raise UsageError("--trace-dir needs profiling; drop --no-profile")
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise UsageError(f"--trace-dir {value}: {path} exists and is not a folder")
    return path


def settings_from_args(args: argparse.Namespace) -> RunSettings:
    if getattr(args, "resume", None):
        return resume_settings(args)
    return _settings(args, resume_into=None)


def resume_settings(args: argparse.Namespace) -> RunSettings:
    """The settings of the run the bundle ``--resume`` names: its recorded arguments, with
    the options given beside ``--resume`` after them (they must not change the figures)."""
    path = Path(args.resume).expanduser()
    if args.out:
        raise UsageError("--resume continues the bundle it names: drop --out")
    state = load_resume(path)
    replay = state.header.get("run_argv")
    if not isinstance(replay, list):
        replay = from_command(state.header.get("command"))
    if replay is None:
        raise UsageError(f"cannot resume {path}: it does not record the arguments of its run")
    extra = without_resume(list(args.raw_argv))
    again = args.parse_again(["run", *replay, *extra])
    again.raw_argv, again.parse_again = ["run", *replay, *extra], args.parse_again
    settings = _settings(again, resume_into=path)
    settings.resume = state
    return settings


def _settings(args: argparse.Namespace, resume_into: Path | None) -> RunSettings:
    suite = load_suite(args.suite)
    trace_dir = _trace_dir(args.trace_dir, args.profile)
    decode_modes, attention = decode_and_attention(args)
    local = [preset_from_model_dir(Path(folder), args.trust_remote_code)
             for folder in args.model_dir or []]
    if args.trust_remote_code and not any(p.trust_remote_code for p in local):
        raise UsageError("--trust-remote-code needs a --model-dir folder that has its own "
                         "modeling code")
    suite = suite.with_overrides(
        local_presets=local or None,
        models=_split(args.models) or None,
        lengths=[_flag("--lengths", parse_tokens, v) for v in _split(args.lengths)] or None,
        variants=args.variants, decode_tokens=args.decode_tokens, repeats=args.repeats,
        warmup=args.warmup, implementation=args.impl,
        profile=True if trace_dir else args.profile, decode_modes=decode_modes,
        attention_backend=attention)
    device = args.device
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise UsageError(f"--device {device!r}: use auto, cpu, cuda or cuda:N")
    if device == "cpu" and "graph" in suite.decode_modes:
        raise UsageError("--decode-mode graph needs a CUDA GPU (CUDA graphs): use "
                         "--decode-mode eager on the CPU")
    if resume_into is not None:
        out = resume_into
    else:
        out = Path(args.out).expanduser() if args.out else default_bundle_path(suite.name)
        if out.exists() or out.is_symlink():
            raise UsageError(f"{out} already exists; choose another --out")
    _check_writable(out)
    budget = _flag("--memory-budget", parse_bytes, args.memory_budget) \
        if args.memory_budget else None
    if budget is not None and budget < MIN_MEMORY_BUDGET_BYTES:
        raise UsageError(f"--memory-budget {args.memory_budget}: use at least 16MiB")
    if args.point_timeout <= 0:
        raise UsageError("--point-timeout must be positive")
    power, profile, modes = _power_settings(args)
    if args.telemetry_rate is not None and not 0 < args.telemetry_rate <= 100:
        raise UsageError("--telemetry-rate must be above 0 and at most 100 Hz")
    return RunSettings(
        power=power, device_profile=profile, power_modes=modes,
        retry_throttled=args.retry_throttled, thermal_guard=not args.no_thermal_guard,
        telemetry_rate_hz=None if args.no_telemetry else args.telemetry_rate,
        suite=suite, out_path=out, device=device, dtype=args.dtype,
        memory_budget_bytes=budget,
        find_max_context=args.find_max_context,
        search_resolution_tokens=_flag("--search-resolution", parse_tokens,
                                       args.search_resolution),
        search_limit_tokens=_flag("--search-limit", parse_tokens, args.search_limit),
        weights=_weights(args.weights, suite.models), point_timeout_s=args.point_timeout,
        threads=args.threads, trace_dir=trace_dir,
        argv=recorded_argv(list(getattr(args, "raw_argv", []) or [])))


def decode_and_attention(args: argparse.Namespace) -> tuple[
        tuple[str, ...] | None, tuple[str, ...] | None]:
    """``--decode-mode`` and ``--attention-backend`` as suite overrides (None: the suite's)."""
    modes = parse_decode_mode(args.decode_mode) if args.decode_mode else None
    attention = None
    if args.attention_backend is not None:
        try:
            attention = parse_attention_backend(args.attention_backend)
        except ValueError as exc:
            raise UsageError(f"--{exc}") from None
    return modes, attention


MIN_MEMORY_BUDGET_BYTES = 16 * 1024**2


def _check_writable(out: Path) -> None:
    """The bundle's folder (or the nearest one that exists) takes a new file: checked by
    creating and removing one, since permission bits say nothing for root or a read-only
    file system."""
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(f"--out {out}: {folder} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot write in {folder} "
                         f"({exc.strerror or 'error'})") from None


def no_point_ran(path: Path) -> str | None:
    """Why a finished run measured nothing (no point ``ok`` or ``oom``), or None."""
    bundle = read_bundle(path)
    if any(p.get("status") in ("ok", "oom") for p in bundle.points):
        return None
    counts = ", ".join(f"{n} {s}" for s, n in
                       sorted(((bundle.footer or {}).get("by_status") or {}).items()))
    first = next((p for p in bundle.points if p.get("status") != "skipped"),
                 bundle.points[0] if bundle.points else None)
    detail = f"; first: {str(first.get('error'))[:160]}" if first else ""
    return f"no point could run ({counts or 'no points'}){detail}; bundle: {path}"


def _power_settings(args: argparse.Namespace) -> tuple[
        PowerSession | None, DeviceProfile | None, list[str]]:
    """Check every power request before any work starts; one clear line when it cannot be."""
    profile = load_device_profile(args.device_profile) if args.device_profile else None
    modes = _split([args.power_modes]) if args.power_modes else []
    if modes and args.power_mode:
        raise UsageError("use --power-mode or --power-modes, not both")
    if args.power_limit is not None and args.power_limit <= 0:
        raise UsageError("--power-limit must be positive watts")
    request = PowerRequest(mode=args.power_mode, jetson_clocks=args.jetson_clocks,
                           power_limit_w=args.power_limit, allow_reboot=args.allow_reboot)
    if request.empty and not modes:
        return None, profile, []
    if args.event_stream is False and agent_running() and not args.local:
        return None, profile, modes  # the agent's run process checks and applies them
    state_dir = Path(user_state_dir("edgeprobe"))
    recover_stale(state_dir, lambda kind, message, **data: print(f"edgeprobe: {message}"))
    session = PowerSession(request, state_dir,
                           named_limits=profile.power_limits_w if profile else None)
    session.preflight()
    if modes:
        session.preflight_sweep(modes)
    return session, profile, modes


class EventStream:
    """Listener for runs started by the agent: one JSON line per event on stdout."""

    def __call__(self, event: events.RunEvent) -> None:
        print(json.dumps(event.as_message(), default=str), flush=True)


def main(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if not (args.local or args.event_stream) and agent_running():
        from edgeprobe.commands.run_remote import run_with_agent

        return run_with_agent(args, settings)
    if args.detach:
        raise UsageError("--detach needs a running agent (start one with `edgeprobe agent`)")
    # With --json, stdout holds the summary document alone; progress goes to stderr.
    console = terminal() if not args.json else Console(stderr=True)
    view: Any = EventStream() if args.event_stream else ProgressView(
        console, quiet=args.quiet, estimate=lambda header, points: from_earlier_runs(
            {settings.out_path.parent, bundle_dir()}, header["suite"], header["device"],
            header["dtype"], points, exclude=settings.out_path))
    with interruptible():
        try:
            path = Runner(settings, view).run()
        except KeyboardInterrupt as stop:
            if isinstance(view, ProgressView):
                view.stop()
            console.print(f"[yellow]stopped ({getattr(stop, 'signal_name', 'Ctrl-C')}); "
                          f"completed points are in {settings.out_path}[/]", highlight=False)
            return 130
    if args.json:
        print(json.dumps(run_document(path), indent=2, default=str))
    elif not args.event_stream:
        print_run_summary(console, path, settings.suite.name)
    nothing = no_point_ran(path)
    if nothing is not None:
        sys.stderr.write(f"edgeprobe: {nothing}\n")
        return 1
    return 0


def run_document(path: Path) -> dict[str, Any]:
    """What ``run --json`` prints at the end: the bundle, how the run ended, every point's
    figures (as ``show --json`` has them) and the max-context results."""
    bundle = read_bundle(path)
    footer = bundle.footer or {}
    return {"bundle": str(path), "status": footer.get("status"),
            "by_status": footer.get("by_status"), "duration_s": footer.get("duration_s"),
            "points": [flat_point(p) for p in bundle.points], "max_context": bundle.max_context}


def print_run_summary(console: Console, path: Path, suite_name: str) -> None:
    bundle = read_bundle(path)
    console.print(summary_table(bundle.points, title=f"{suite_name}: results"))
    if bundle.max_context:
        console.print(max_context_table(bundle.max_context))
    if kernel_records(bundle):
        console.print(kernel_shares_table(kernel_records(bundle)))
    footer = bundle.footer or {}
    counts = ", ".join(f"{n} {s}" for s, n in sorted((footer.get("by_status") or {}).items()))
    console.print(f"bundle: [bold]{path}[/]  ({counts})", highlight=False)
