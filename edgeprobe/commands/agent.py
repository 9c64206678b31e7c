"""``edgeprobe agent``: serve telemetry and run jobs on a Unix socket until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from edgeprobe import __version__
from edgeprobe.agent import log as agent_log
from edgeprobe.agent.limits import Limits
from edgeprobe.agent.notify import notify
from edgeprobe.agent.paths import check_socket_folder, socket_path
from edgeprobe.agent.server import AgentServer
from edgeprobe.errors import EdgeprobeError, UsageError

log = logging.getLogger("edgeprobe.agent")


def _ready(path: Path) -> None:
    log.info("agent on %s: serving (edgeprobe %s, pid %d)", path, __version__, os.getpid())
    notify("READY=1", f"STATUS=serving {path}")


async def _serve(server: AgentServer) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    ready = asyncio.Event()

    def on_ready() -> None:
        ready.set()
        _ready(server.path)

    serving = asyncio.create_task(server.serve_forever(on_ready))
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if ready.is_set():
        notify("STOPPING=1", "STATUS=stopping")
    if serving in done:
        serving.result()  # re-raise why the server stopped
    log.info("stopping; jobs still running go on, and the next agent follows them")
    serving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await serving
    log.info("agent stopped")


def main(args: argparse.Namespace) -> int:
    agent_log.setup(args.log_level)
    try:
        return _run(args)
    except EdgeprobeError as exc:
        # The one line a refusing agent prints; under systemd the journal files it as an error.
        print(agent_log.fatal_line(f"edgeprobe: {exc}"), file=sys.stderr, flush=True)
        return exc.exit_code
    except Exception:
        log.critical("agent stopped by an unexpected error", exc_info=True)
        return 1


def _run(args: argparse.Namespace) -> int:
    path = Path(args.socket) if args.socket else socket_path()
    check_socket_folder(path, create=True)
    feed = None
    if not args.no_telemetry:
        from edgeprobe.agent.feed import make_feed

        feed = make_feed(args.rate)
    limits = Limits(max_clients=args.max_clients, frame_timeout_s=args.frame_timeout)
    server = AgentServer(path, telemetry=feed, group=args.group, rate_hz=args.publish_rate,
                         limits=limits)
    metrics = _start_metrics(args.metrics, server) if args.metrics else None
    try:
        asyncio.run(_serve(server))
    finally:
        if metrics is not None:
            metrics.shutdown()
    return 0


def _start_metrics(address: str, server: AgentServer) -> Any:
    try:
        from edgeprobe.agent.metrics import AgentCollector, serve_metrics
    except ImportError:
        raise UsageError("--metrics needs prometheus-client: pip install "
                         "'edgeprobe[metrics]'") from None

    def running_job() -> dict[str, Any] | None:
        job = server.jobs.running()
        return job.summary() if job else None

    feed = server.telemetry
    collector = AgentCollector(lambda: feed.latest() if feed else None, running_job)
    return serve_metrics(address, collector)[2]
