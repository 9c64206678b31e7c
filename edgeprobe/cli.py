"""The ``edgeprobe`` command: parses arguments and delegates to ``edgeprobe.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from edgeprobe import __version__
from edgeprobe.errors import EdgeprobeError


class _Parser(argparse.ArgumentParser):
    """Argument errors: one line and exit code 2, without the usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"edgeprobe: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(2)


def _add_run(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run a probe suite and write a bundle")
    run.add_argument("--suite", default="smoke", help="suite name or TOML path (default: smoke)")
    run.add_argument("--models", nargs="+", metavar="MODEL", help="only these presets")
    run.add_argument("--lengths", nargs="+", metavar="N", help="prompt lengths, e.g. 1K 4K 32768")
    run.add_argument("--variants", nargs="+", choices=("published", "lean"),
                     help="prefill variants: published = logits for every position, "
                          "lean = last position only")
    run.add_argument("--impl", choices=("study", "both", "hf", "mamba_ssm"),
                     help="implementation for SSM presets (default: the suite's)")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    run.add_argument("--dtype", choices=("float16", "bfloat16", "float32"))
    run.add_argument("--out", help="bundle path (default: the data folder, a new name)")
    run.add_argument("--find-max-context", action="store_true",
                     help="after the sweep, search the largest prompt that fits per model")
    run.add_argument("--search-resolution", default="1K", metavar="N",
                     help="max-context resolution (default 1K tokens)")
    run.add_argument("--search-limit", default="1M", metavar="N",
                     help="largest prompt the search tries (default 1M tokens)")
    run.add_argument("--memory-budget", metavar="SIZE",
                     help="cap device memory to emulate a smaller device, e.g. 24GiB")
    run.add_argument("--decode-tokens", type=int, metavar="N")
    run.add_argument("--repeats", type=int, metavar="N")
    run.add_argument("--warmup", type=int, metavar="N")
    run.add_argument("--weights", action="append", metavar="[MODEL=]DIR",
                     help="load a local checkpoint instead of random weights")
    run.add_argument("--point-timeout", type=float, default=3600.0, metavar="SECONDS")
    run.add_argument("--threads", type=int, help="CPU threads for torch")
    run.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                     help="after each model's timed passes, profile one prefill per length with "
                          "torch.profiler: per-kernel table and category shares "
                          "(default: the suite's)")
    run.add_argument("--trace-dir", metavar="DIR",
                     help="also write a Chrome trace (.json.gz, opens in Perfetto) per profiled "
                          "point into DIR; implies --profile")
    run.add_argument("--quiet", action="store_true", help="no progress output")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="edgeprobe", description="Long-context probes of Transformer, SSM and "
                     "hybrid language models on Jetson boards and NVIDIA GPUs.")
    parser.add_argument("--version", action="version", version=f"edgeprobe {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_run(sub)
    show = sub.add_parser("show", help="summarise a bundle")
    show.add_argument("bundle")
    show.add_argument("--json", action="store_true", help="every point with its figures, as JSON")
    show.add_argument("--kernels", action="store_true",
                      help="per-kernel latency: category shares and the top kernels per point")
    show.add_argument("--top", type=int, default=10, metavar="N",
                      help="kernels listed per profiled point with --kernels (default 10)")
    models = sub.add_parser("models", help="list model presets")
    models.add_argument("--json", action="store_true")
    suites = sub.add_parser("suites", help="list suites")
    suites.add_argument("--json", action="store_true")
    return parser


_COMMANDS = {
    "run": "edgeprobe.commands.run",
    "show": "edgeprobe.commands.show",
    "models": "edgeprobe.commands.catalog",
    "suites": "edgeprobe.commands.catalog",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
