"""``edgeprobe run`` when an agent is running: the agent owns the run, this terminal follows.

The run survives this terminal: a dropped SSH session (SIGHUP) only stops the following;
Ctrl-C cancels the job; ``--detach`` hands it over and returns at once.
"""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path
from typing import Any

from rich.console import Console

from edgeprobe.agent.client import AgentClient, AgentUnavailable
from edgeprobe.bundle import BundleError
from edgeprobe.commands.console import terminal
from edgeprobe.commands.progress import ProgressView
from edgeprobe.commands.run import print_run_summary, run_document
from edgeprobe.runner import RunSettings, events

_CLIENT_ONLY = {"--detach", "--local", "--quiet", "--json"}


def job_argv(args: argparse.Namespace, settings: RunSettings) -> list[str]:
    """The run's arguments for the agent, with paths made absolute (its cwd differs)."""
    raw = list(args.raw_argv)
    if raw and raw[0] == "run":
        raw = raw[1:]
    argv: list[str] = []
    skip_next = False
    for index, item in enumerate(raw):
        if skip_next:
            skip_next = False
            continue
        if item in _CLIENT_ONLY:
            continue
        if item in ("--out", "--suite", "--resume", "--model-dir") and index + 1 < len(raw):
            value = raw[index + 1]
            candidate = Path(value).expanduser()
            if item != "--suite" or candidate.suffix == ".toml" or candidate.exists():
                value = str(candidate.resolve())
            argv += [item, value]
            skip_next = True
            continue
        if item.startswith(("--out=", "--suite=", "--resume=", "--model-dir=")):
            flag, value = item.split("=", 1)
            argv.append(f"{flag}={Path(value).expanduser().resolve()}")
            continue
        argv.append(item)
    return argv


def run_with_agent(args: argparse.Namespace, settings: RunSettings) -> int:
    console = terminal() if not args.json else Console(stderr=True)
    with AgentClient(name="run") as client:
        if not args.detach:
            client.request("subscribe", topics=["run"])
        job = client.request("start", argv=job_argv(args, settings))["job"]
        console.print(f"agent job {job['id']} queued "
                      f"(follow with `edgeprobe tui`, stop with `edgeprobe jobs --cancel "
                      f"{job['id']}`)", highlight=False)
        if args.detach:
            return 0
        return _follow(client, job["id"], ProgressView(console, quiet=args.quiet), console,
                       json_out=args.json)


def _follow(client: AgentClient, job_id: int, view: ProgressView, console: Console,
            json_out: bool = False) -> int:
    hung_up = False

    def on_hangup(signum: int, frame: Any) -> None:
        nonlocal hung_up
        hung_up = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGHUP, on_hangup)
    finished: dict[str, Any] = {}
    try:
        for message in client.events():
            data = message.get("data") or {}
            if data.get("job") != job_id:
                continue
            kind = data.pop("kind", None)
            data.pop("job", None)
            if kind == "job_finished":
                finished = data
                break
            event = events.from_message({"kind": kind, **data})
            if event is not None:
                view(event)
    except KeyboardInterrupt:
        view.stop()
        if hung_up:
            return 0  # the terminal went away; the job goes on in the agent
        client.request("cancel", job=job_id)
        console.print(f"[yellow]job {job_id} cancelled; its completed points stay in its "
                      "bundle[/]")
        return 130
    except AgentUnavailable:
        view.stop()
        console.print(f"[red]lost the agent; job {job_id} goes on without it (see `edgeprobe "
                      "jobs` once an agent runs again)[/]", highlight=False)
        return 1
    finally:
        signal.signal(signal.SIGHUP, previous)
    view.stop()
    state = finished.get("state")
    if state != "completed":
        console.print(f"[red]job {job_id} {state}: {finished.get('error') or ''}[/]",
                      highlight=False)
        return 130 if state in ("cancelled", "interrupted") else 1
    if finished.get("bundle"):
        try:
            if json_out:
                print(json.dumps(run_document(Path(finished["bundle"])), indent=2, default=str))
            else:
                print_run_summary(console, Path(finished["bundle"]), "run")
        except BundleError as exc:
            console.print(f"bundle written by the agent: {finished['bundle']} ({exc})")
    return 0
