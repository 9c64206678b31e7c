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

from edgeprobe.agent.limits import Limits
from edgeprobe.agent.paths import check_socket_folder, socket_path
from edgeprobe.agent.server import AgentServer


async def _serve(server: AgentServer) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(server.serve_forever())
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if serving in done:
        serving.result()  # re-raise why the server stopped
    serving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await serving


def main(args: argparse.Namespace) -> int:
    # One line per message on stderr (the journal under systemd): re-attached jobs, jobs
    # found ended, clients refused.
    logging.basicConfig(level=logging.INFO, format="edgeprobe agent: %(message)s",
                        stream=sys.stderr)
    path = Path(args.socket) if args.socket else socket_path()
    check_socket_folder(path, create=True)
    feed = None
    if not args.no_telemetry:
        from edgeprobe.agent.feed import make_feed

        feed = make_feed(args.rate)
    limits = Limits(max_clients=args.max_clients, frame_timeout_s=args.frame_timeout)
    server = AgentServer(path, telemetry=feed, group=args.group, rate_hz=args.publish_rate,
                         limits=limits)
    print(f"edgeprobe agent on {path} (pid {os.getpid()})", file=sys.stderr,
          flush=True)
    asyncio.run(_serve(server))
    return 0
