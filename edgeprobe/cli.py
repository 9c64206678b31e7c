"""The ``edgeprobe`` command: parses arguments and delegates to ``edgeprobe.commands``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from edgeprobe import __version__, argtypes
from edgeprobe.agent.log import LEVELS as AGENT_LOG_LEVELS
from edgeprobe.cli_help import EXIT_STATUSES, describe
from edgeprobe.errors import EdgeprobeError, ReaderGone


class _Parser(argparse.ArgumentParser):
    """Argument errors: one line and exit code 2, without the usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"edgeprobe: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(2)


def _preset_names(**_: object) -> list[str]:
    """Shell completion of --models (argcomplete calls it with the word being completed)."""
    from edgeprobe.suite import list_presets

    return list_presets()


def _suite_names(**_: object) -> list[str]:
    from edgeprobe.suite import list_suites

    return list_suites()


def _add_run(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run a probe suite and write a bundle")
    run.add_argument("--suite", default="smoke", help="suite name or TOML path (default: smoke)"
                     ).completer = _suite_names  # type: ignore[attr-defined]
    run.add_argument("--models", nargs="+", metavar="MODEL", help="only these presets"
                     ).completer = _preset_names  # type: ignore[attr-defined]
    run.add_argument("--lengths", nargs="+", metavar="N", help="prompt lengths, e.g. 1K 4K 32768")
    run.add_argument("--variants", nargs="+", choices=("published", "lean"),
                     help="prefill variants: published = logits for every position, "
                          "lean = last position only")
    run.add_argument("--impl", choices=("study", "both", "hf", "mamba_ssm"),
                     help="implementation for SSM presets (default: the suite's)")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    run.add_argument("--dtype", choices=("float16", "bfloat16", "float32"),
                     help="weights and activations (default: the suite's, float16 on a GPU, "
                          "float32 on the CPU)")
    run.add_argument("--out", help="bundle path (default: the data folder, a new name)")
    run.add_argument("--resume", metavar="BUNDLE",
                     help="continue an unfinished run into its bundle: what it finished is "
                          "kept, the rest is measured with the run's own arguments")
    run.add_argument("--find-max-context", action="store_true",
                     help="after the sweep, search the largest prompt that fits per model")
    run.add_argument("--search-resolution", default="1K", metavar="N",
                     help="max-context resolution (default 1K tokens)")
    run.add_argument("--search-limit", default="1M", metavar="N",
                     help="largest prompt the search tries (default 1M tokens)")
    run.add_argument("--memory-budget", metavar="SIZE",
                     help="cap device memory to emulate a smaller device, e.g. 24GiB")
    run.add_argument("--decode-mode", choices=("eager", "graph", "both"),
                     help="eager: one forward per token, as a plain loop; graph: the step "
                          "captured as a CUDA graph (GPU only); both side by side "
                          "(default: the suite's, usually eager)")
    run.add_argument("--attention-backend", metavar="auto|flash|efficient|cudnn|math",
                     help="pin torch's attention kernel; several, comma-separated, are tried "
                          "in order (default: the suite's pin, else auto = torch's choice)")
    run.add_argument("--decode-tokens", type=argtypes.count, metavar="N",
                     help="tokens timed per decode pass; 0: no decode (default: the suite's, "
                          "256 in the study suites)")
    run.add_argument("--repeats", type=argtypes.repeats, metavar="N",
                     help="timed prefill passes per point (default: the suite's)")
    run.add_argument("--warmup", type=argtypes.count, metavar="N",
                     help="least warm-up passes before timing; more run until two agree "
                          "within 5%% (default: the suite's)")
    run.add_argument("--weights", action="append", metavar="[MODEL=]DIR",
                     help="load a local checkpoint instead of random weights")
    run.add_argument("--model-dir", action="append", metavar="DIR",
                     help="also run the model a local folder's config.json describes (random "
                          "weights, nothing downloaded); without --models, only such models")
    run.add_argument("--trust-remote-code", action="store_true",
                     help="let a --model-dir folder run its own modeling code (auto_map)")
    run.add_argument("--point-timeout", type=argtypes.seconds, default=3600.0, metavar="SECONDS",
                     help="give up a point that takes longer (default 3600)")
    run.add_argument("--threads", type=argtypes.threads, help="CPU threads for torch")
    run.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                     help="after each model's timed passes, profile one prefill per length with "
                          "torch.profiler: per-kernel table and category shares "
                          "(default: the suite's)")
    run.add_argument("--trace-dir", metavar="DIR",
                     help="also write a Chrome trace (.json.gz, opens in Perfetto) per profiled "
                          "point into DIR; implies --profile")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument("--json", action="store_true",
                     help="at the end, print the bundle's path, how the run ended and every "
                          "point's figures as JSON on stdout (progress goes to stderr)")
    power = run.add_argument_group("power and thermals")
    power.add_argument("--power-mode", metavar="NAME",
                       help="run in this power mode (Jetson nvpmodel name, or a named power "
                            "limit of the device profile); the original is restored after")
    power.add_argument("--power-modes", metavar="A,B,C",
                       help="sweep the suite across these Jetson power modes in one bundle")
    power.add_argument("--jetson-clocks", action="store_true",
                       help="pin clocks at their maximum with jetson_clocks (restored after)")
    power.add_argument("--power-limit", type=argtypes.watts, metavar="WATTS",
                       help="NVIDIA GPU power limit through NVML (needs root; restored after)")
    power.add_argument("--allow-reboot", action="store_true",
                       help="allow a power-mode switch that needs a reboot")
    power.add_argument("--device-profile", metavar="NAME",
                       help="device profile (default: detected)")
    power.add_argument("--retry-throttled", action="store_true",
                       help="measure a thermally throttled point again after cooling down")
    power.add_argument("--no-thermal-guard", action="store_true",
                       help="do not wait for the device to cool before each point")
    power.add_argument("--telemetry-rate", type=argtypes.rate_hz, default=10.0, metavar="HZ",
                       help="telemetry sampling rate during the run (default 10, up to 100)")
    power.add_argument("--no-telemetry", action="store_true", help="no power/thermal sampling")
    run.add_argument("--local", action="store_true",
                     help="run in this process even when an agent is running")
    run.add_argument("--detach", action="store_true",
                     help="hand the run to the agent and return at once")
    run.add_argument("--event-stream", action="store_true", help=argparse.SUPPRESS)


def _add_compare(sub: argparse._SubParsersAction) -> None:
    compare = sub.add_parser("compare", help="compare bundles: aligned figures, ratios, "
                             "crossover lengths, max context, warnings")
    compare.add_argument("bundles", nargs="+", metavar="BUNDLE", help="bundles (.epb) to compare")
    compare.add_argument("--baseline", metavar="BUNDLE",
                         help="bundle the ratios are against (default: the first)")
    compare.add_argument("--format", choices=("term", "md", "csv", "json"), default="term",
                         help="terminal report (default), Markdown, CSV of the aligned "
                              "figures, or JSON of everything")
    compare.add_argument("--variant", choices=("lean", "published"), default="lean",
                         help="prefill variant for TTFT, peak memory and crossovers: lean = "
                              "last-position logits (default), published = every position")
    compare.add_argument("--plot", metavar="PNG|term",
                         help="draw TTFT, peak memory and energy vs length (and kernel shares) "
                              "into an image, or 'term' for terminal plots")


def _add_export(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="export a bundle's points, models, max context, "
                            "kernels and telemetry as CSV, JSON or Parquet")
    export.add_argument("bundle", help="the bundle (.epb) to export")
    export.add_argument("--to", choices=("csv", "json", "parquet"), default="csv",
                        help="file format (default csv; parquet needs pyarrow)")
    export.add_argument("--out", metavar="PATH",
                        help="folder (ending in / or existing; made when missing) or file "
                             "prefix (default: the bundle's name here); '-' writes the points "
                             "(csv) or everything (json) to stdout")
    export.add_argument("--force", action="store_true", help="overwrite files that exist")


def _add_fidelity(sub: argparse._SubParsersAction) -> None:
    fidelity = sub.add_parser(
        "fidelity", help="time models with a plain loop and with edgeprobe, side by side in "
        "one process: medians, spread and ratios", description="Time chosen models with the "
        "plain loop a user would write (model(input_ids) with a synchronised clock; greedy "
        "decoding on the model's cache) and with edgeprobe's own measurement path, in one "
        "process, round by round in alternating order. Prints TTFT (all-position and "
        "last-position logits) and TPOT (cold and warm) of both, their spread and the ratio.",
        epilog="example: edgeprobe fidelity --models tiny-qwen2 tiny-mamba2 --lengths 256")
    fidelity.add_argument("--models", nargs="+", required=True, metavar="MODEL",
                          help="presets to time (see `edgeprobe models`)"
                          ).completer = _preset_names  # type: ignore[attr-defined]
    fidelity.add_argument("--lengths", nargs="+", required=True, metavar="N",
                          help="prompt lengths, e.g. 1K 8K 32K")
    fidelity.add_argument("--impl", choices=("study", "both", "hf", "mamba_ssm"),
                          default="study", help="implementation for SSM presets "
                          "(default: study)")
    fidelity.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    fidelity.add_argument("--dtype", choices=("float16", "bfloat16", "float32"),
                          help="default: float16 on a GPU, float32 on the CPU")
    fidelity.add_argument("--rounds", type=argtypes.integer(1, 1000), default=5, metavar="N",
                          help="prefill rounds per length (default 5)")
    # Decode on a busy host is timed best by many short rounds: a slow spell then spoils
    # few of them, and the per-round ratios stay paired.
    fidelity.add_argument("--decode-rounds", type=argtypes.integer(1, 1000), default=10,
                          metavar="N", help="decode rounds per length (default 10)")
    fidelity.add_argument("--decode-tokens", type=argtypes.count, default=32, metavar="N",
                          help="timed tokens per decode pass (default 32; 0: no decode)")
    fidelity.add_argument("--warmup", type=argtypes.count, default=2, metavar="N",
                          help="least warm-up passes of each prefill (default 2)")
    fidelity.add_argument("--attention-backend", default="auto",
                          metavar="auto|flash|efficient|cudnn|math",
                          help="pin torch's attention kernel (default auto)")
    fidelity.add_argument("--threads", type=argtypes.threads, help="CPU threads for torch")
    fidelity.add_argument("--json", action="store_true", help="the whole report as JSON")
    fidelity.add_argument("--out", metavar="FILE.json", help="also write the JSON report here")
    fidelity.add_argument("--markdown", metavar="FILE.md",
                          help="also write the report as a Markdown table")
    fidelity.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="edgeprobe", description="Long-context probes of Transformer, SSM and "
                     "hybrid language models on Jetson boards and NVIDIA GPUs.")
    parser.add_argument("--version", action="version", version=f"edgeprobe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    parser.add_argument("-V", action="version", version=f"edgeprobe {__version__}",
                        help=argparse.SUPPRESS)
    _add_run(sub)
    show = sub.add_parser("show", help="summarise a bundle")
    show.add_argument("bundles", nargs="+", metavar="BUNDLE",
                      help="bundles (.epb) to summarise, one after the other")
    show.add_argument("--json", action="store_true",
                      help="every point with its figures, as JSON (a list for several bundles)")
    _add_compare(sub)
    _add_export(sub)
    _add_fidelity(sub)
    show.add_argument("--kernels", action="store_true",
                      help="per-kernel latency: category shares and the top kernels per point")
    show.add_argument("--timing", action="store_true",
                      help="where the run's wall time went: model builds, warm-up, timed "
                           "passes, decode, profiling, searches, cool-down, idle")
    show.add_argument("--top", type=argtypes.integer(1, 1_000_000), default=10, metavar="N",
                      help="kernels listed per profiled point with --kernels (default 10)")
    models = sub.add_parser("models", help="list model presets")
    models.add_argument("--json", action="store_true", help="the list as JSON")
    suites = sub.add_parser("suites", help="list suites")
    suites.add_argument("--json", action="store_true", help="the list as JSON")
    modes = sub.add_parser("power-modes", help="list the power modes and the one in force")
    modes.add_argument("--json", action="store_true", help="the modes as JSON")
    modes.add_argument("--device-profile", metavar="NAME", help="use this device profile")
    agent = sub.add_parser("agent", help="serve telemetry and run jobs on a Unix socket")
    agent.add_argument("--socket", metavar="PATH", help="socket path (default: see README)")
    agent.add_argument("--group", help="give the socket to this group (mode 0660)")
    agent.add_argument("--rate", type=argtypes.rate_hz, default=10.0, metavar="HZ",
                       help="telemetry sampling rate (default 10 Hz)")
    agent.add_argument("--publish-rate", type=argtypes.rate_hz, default=2.0, metavar="HZ",
                       help="how often clients get a telemetry frame (default 2 Hz)")
    agent.add_argument("--max-clients", type=argtypes.integer(1, 10_000), default=64,
                       metavar="N", help="clients served at once (default 64)")
    agent.add_argument("--frame-timeout", type=argtypes.seconds, default=10.0, metavar="SECONDS",
                       help="time a client has to finish a request it started (default 10)")
    agent.add_argument("--metrics", metavar="[HOST:]PORT",
                       help="also serve Prometheus metrics over HTTP there (off by default; "
                            "HOST defaults to 127.0.0.1; needs prometheus-client)")
    agent.add_argument("--log-level", choices=AGENT_LOG_LEVELS,
                       default="info", help="least important log lines shown (default info)")
    agent.add_argument("--no-telemetry", action="store_true", help=argparse.SUPPRESS)
    jobs = sub.add_parser("jobs", help="the agent's jobs; cancel one")
    jobs.add_argument("--cancel", type=argtypes.job_id, metavar="ID",
                      help="cancel this job (its bundle keeps what it finished)")
    jobs.add_argument("--wait", type=argtypes.job_id, metavar="ID",
                      help="wait until this job has finished; the exit status says how it "
                           "ended (0 completed, 1 failed, 130 cancelled)")
    jobs.add_argument("--timeout", type=argtypes.seconds, metavar="SECONDS",
                      help="with --wait: give up waiting after this long (exit 1; the job "
                           "goes on)")
    jobs.add_argument("--json", action="store_true", help="the jobs (or the waited job) as JSON")
    tui = sub.add_parser("tui", help="live view of the device and the running suite "
                         "(keyboard only; works over SSH)")
    tui.add_argument("--socket", metavar="PATH", help="agent socket (default: see README)")
    tui.add_argument("--local", action="store_true",
                     help="sample this machine in the TUI even when an agent is running")
    tui.add_argument("--rate", type=argtypes.rate_hz, default=10.0, metavar="HZ",
                     help="sampling rate without an agent (default 10 Hz)")
    status = sub.add_parser("status", help="one snapshot of power, temperatures, memory, "
                            "clocks and the running job")
    status.add_argument("--json", action="store_true", help="the snapshot as JSON")
    status.add_argument("--socket", metavar="PATH", help="agent socket (default: see README)")
    status.add_argument("--local", action="store_true",
                        help="sample this machine even when an agent is running")
    info = sub.add_parser("info", help="this machine, its GPU and power state, and which "
                          "sensors work (and how to fix those that do not)")
    info.add_argument("--json", action="store_true", help="the same as JSON")
    info.add_argument("--gpu", metavar="INDEX|PCI_BUS_ID", help="NVML GPU to report (default 0)")
    doctor = sub.add_parser("doctor", help="check that this device is ready, with fixes")
    doctor.add_argument("--json", action="store_true", help="the checks as JSON")
    doctor.add_argument("--quick", action="store_true",
                        help="do not run the tiny models (kernels: import check only)")
    doctor.add_argument("--timeout", type=argtypes.seconds, default=600.0, metavar="SECONDS",
                        help="limit for loading each tiny model (default 600)")
    describe(sub)
    parser.epilog = EXIT_STATUSES
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


_COMMANDS = {
    "run": "edgeprobe.commands.run",
    "show": "edgeprobe.commands.show",
    "compare": "edgeprobe.commands.compare",
    "export": "edgeprobe.commands.export",
    "fidelity": "edgeprobe.commands.fidelity",
    "models": "edgeprobe.commands.catalog",
    "suites": "edgeprobe.commands.catalog",
    "power-modes": "edgeprobe.commands.power",
    "agent": "edgeprobe.commands.agent",
    "jobs": "edgeprobe.commands.jobs",
    "info": "edgeprobe.commands.info",
    "status": "edgeprobe.commands.status",
    "doctor": "edgeprobe.commands.doctor",
    "tui": "edgeprobe.commands.tui",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    if "_ARGCOMPLETE" in os.environ:  # the shell asks for completions (install.sh sets it up)
        import argcomplete

        argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    args.raw_argv = list(sys.argv[1:] if argv is None else argv)
    args.parse_again = parser.parse_args  # ``run --resume`` replays a bundle's arguments
    if not args.command:
        parser.print_help()
        return 2
    module = importlib.import_module(_COMMANDS[args.command])
    try:
        return int(module.main(args) or 0)
    except EdgeprobeError as exc:
        sys.stderr.write(f"edgeprobe: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("edgeprobe: interrupted\n")
        return 130
    except (BrokenPipeError, ReaderGone):
        _quiet_stdout()
        return 0


def _quiet_stdout() -> None:
    """After the reader of stdout left: the interpreter's last flush must not fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
