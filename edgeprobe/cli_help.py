"""What ``edgeprobe COMMAND --help`` says besides its options: a description, examples, and
the exit statuses every command shares."""

from __future__ import annotations

import argparse
import textwrap

EXIT_STATUSES = """exit status:
  0    done (also when a reader of the output stops early, e.g. `| head`)
  1    the command ran and failed (a run that errored, an unreachable agent)
  2    bad input (arguments, profile, suite, bundle); nothing was started
  3    this machine cannot do it (no such sensor, power control or GPU)
  4    a run stopped to protect the device (critical temperature)
  130  interrupted (Ctrl-C, SIGTERM, SIGHUP); a run keeps what it finished"""

# command -> (description, examples)
COMMANDS: dict[str, tuple[str, list[str]]] = {
    "run": ("Run a probe suite and write a bundle: for every model and prompt length, prefill "
            "time (TTFT), decode time per token (TPOT, warm and cold), peak memory and energy, "
            "with the device, power mode, thermal state and kernel path beside every figure. "
            "Power and clock changes are restored on success, error, Ctrl-C, SIGTERM and "
            "SIGHUP. With an agent running, the run goes to it unless --local is given.",
            ["edgeprobe run                   # the smoke suite, on this machine",
             "edgeprobe run --suite paper-edge --power-mode MAXN",
             "edgeprobe run --suite paper-desktop --memory-budget 24GiB --find-max-context",
             "edgeprobe run --resume ~/edgeprobe/run-20261129.epb"]),
    "show": ("Summarise bundles: device, suite, status and the results table with spread, "
             "energy per token and max context; --timing shows where the time went, "
             "--kernels the per-kernel table.",
             ["edgeprobe show run.epb", "edgeprobe show results/*.epb",
              "edgeprobe show run.epb --timing", "edgeprobe show run.epb --json | jq .points"]),
    "compare": ("Compare bundles copied off devices: figures aligned by model, implementation "
                "and length, ratios against a baseline (ties where the spreads overlap), "
                "crossover lengths, max context, and a warning for every difference in "
                "provenance (device, power mode, software, attention kernel, budget).",
                ["edgeprobe compare orin-maxn.epb orin-15w.epb",
                 "edgeprobe compare *.epb --format md > report.md",
                 "edgeprobe compare a.epb b.epb --plot term"]),
    "export": ("Export a bundle's points, models, max context, kernels and telemetry as CSV, "
               "JSON or Parquet files, one per table.",
               ["edgeprobe export run.epb --out results/",
                "edgeprobe export run.epb --to parquet --out results/run",
                "edgeprobe export run.epb --out - | head"]),
    "fidelity": ("Time chosen models with the plain loop a user would write (model(input_ids) "
                 "with a synchronised clock; greedy decoding on the model's cache) and with "
                 "edgeprobe's own measurement path, in one process, round by round in "
                 "alternating order. Prints TTFT (all-position and last-position logits) and "
                 "TPOT (cold and warm) of both, their spread and the ratio.",
                 ["edgeprobe fidelity --models tiny-qwen2 tiny-mamba2 --lengths 256",
                  "edgeprobe fidelity --models qwen2.5-0.5b --lengths 1K 32K --json"]),
    "models": ("List the model presets: family, size and the implementations each runs with.",
               ["edgeprobe models", "edgeprobe models --json"]),
    "suites": ("List the suites: models, lengths and what each is for.",
               ["edgeprobe suites"]),
    "power-modes": ("List the power modes this machine offers (Jetson nvpmodel modes, or the "
                    "named power limits of the device profile) and the one in force.",
                    ["edgeprobe power-modes", "edgeprobe power-modes --json"]),
    "agent": ("Serve live telemetry and run jobs for the TUI and `run` on a Unix socket "
              "(usually started by systemd: see README).",
              ["edgeprobe agent", "edgeprobe agent --socket /tmp/edgeprobe.sock"]),
    "jobs": ("The agent's jobs, running and finished; cancel one.",
             ["edgeprobe jobs", "edgeprobe jobs --cancel 3",
              "edgeprobe jobs --wait 3 --timeout 3600 --json"]),
    "tui": ("Live view of memory, power, temperatures and per-kernel latency, and of the "
            "running suite; keyboard only, works over SSH. Uses the agent when one runs, else "
            "samples this machine.",
            ["edgeprobe tui", "edgeprobe tui --local --rate 4"]),
    "status": ("One snapshot of the device: power, temperatures, memory, clocks, load, the "
               "power mode, the agent's running job and every edgeprobe run measuring on this "
               "host; from the agent when one runs, else sampled here. Where the TUI cannot "
               "run (a pipe, a script), this can.",
               ["edgeprobe status", "edgeprobe status --json | jq .readings.power"]),
    "info": ("This machine, its GPU and power state, and which sensors work (and how to fix "
             "those that do not).",
             ["edgeprobe info", "edgeprobe info --json"]),
    "doctor": ("Check that this device is ready to run suites: torch and CUDA, fused kernels, "
               "sensors, power control, disk; each failed check says how to fix it.",
               ["edgeprobe doctor", "edgeprobe doctor --quick --json"]),
}


def describe(sub: argparse._SubParsersAction) -> None:
    """Give every subcommand its description, examples and the exit statuses."""
    for name, parser in sub.choices.items():
        description, examples = COMMANDS.get(name, (None, []))
        if description and not parser.description:
            parser.description = description
        if parser.description:
            parser.description = textwrap.fill(parser.description, 78)
        lines = ["examples:", *(f"  {example}" for example in examples), ""] if examples else []
        parser.epilog = "\n".join([*lines, EXIT_STATUSES])
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
