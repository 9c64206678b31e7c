"""The TUI's line to an agent: the running one on its socket, or, when none answers, a private
agent inside the TUI (same telemetry feed and job queue) whose runs end with the TUI."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeprobe.agent.client import AgentUnavailable, AsyncAgentClient
from edgeprobe.agent.paths import socket_path
from edgeprobe.agent.server import AgentServer

LOCAL_PUBLISH_HZ = 2.0


@dataclass
class LinkInfo:
    local: bool
    socket: Path
    server: dict[str, Any]
    why_local: str | None = None  # why no agent was used


class AgentLink:
    """Connect with :meth:`open`; then ``client`` answers requests and queues events."""

    def __init__(self, path: Path | None = None, force_local: bool = False,
                 sample_rate_hz: float = 10.0) -> None:
        self.path = path or socket_path()
        self.force_local = force_local
        self.sample_rate_hz = sample_rate_hz
        self.client: AsyncAgentClient | None = None
        self.info: LinkInfo | None = None
        self._local_server: AgentServer | None = None
        self._local_task: asyncio.Task[None] | None = None
        self._local_dir: Path | None = None

    async def open(self, allow_local: bool = True) -> LinkInfo:
        """The agent; else (``allow_local``) a private one in this process."""
        why = "asked for a local session (--local)"
        if not self.force_local:
            client = AsyncAgentClient(self.path, name="tui")
            try:
                server = await client.connect()
            except (AgentUnavailable, OSError) as exc:
                if not allow_local:
                    raise AgentUnavailable(str(exc)) from None
                why = str(exc)
            else:
                self.client = client
                self.info = LinkInfo(False, self.path, server)
                return self.info
        return await self._open_local(why)

    async def _open_local(self, why: str) -> LinkInfo:
        from edgeprobe.agent.feed import make_feed

        self._local_dir = Path(tempfile.mkdtemp(prefix="edgeprobe-tui-"))  # mode 0700
        path = self._local_dir / "agent.sock"
        self._local_server = AgentServer(path, telemetry=make_feed(self.sample_rate_hz),
                                         rate_hz=LOCAL_PUBLISH_HZ)
        self._local_task = asyncio.create_task(self._local_server.serve_forever())
        client = AsyncAgentClient(path, name="tui")
        for _ in range(200):
            if self._local_task.done():
                self._local_task.result()  # raise why the private agent did not start
            if path.exists():
                with contextlib.suppress(AgentUnavailable):
                    server = await client.connect()
                    break
            await asyncio.sleep(0.025)
        else:
            raise AgentUnavailable("the TUI's own telemetry service did not start")
        self.client = client
        self.info = LinkInfo(True, path, server, why_local=why)
        return self.info

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None
        if self._local_task is not None:
            await asyncio.sleep(0.05)  # the private agent sees this client leave first
            self._local_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._local_task
            self._local_task = None
        if self._local_dir is not None:
            shutil.rmtree(self._local_dir, ignore_errors=True)
            self._local_dir = None

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        """The agent's event messages, in order, until it goes away (then what was queued)."""
        client = self.client
        if client is None:
            raise AgentUnavailable("not connected")
        closed = asyncio.ensure_future(client.closed.wait())
        try:
            while not client.closed.is_set() or not client.events.empty():
                if not client.events.empty():
                    yield client.events.get_nowait()
                    continue
                get = asyncio.ensure_future(client.events.get())
                try:
                    await asyncio.wait({get, closed}, return_when=asyncio.FIRST_COMPLETED)
                except asyncio.CancelledError:
                    get.cancel()
                    raise
                if get.done():
                    yield get.result()
                else:
                    get.cancel()  # the agent went away; whatever is queued comes next
        finally:
            closed.cancel()

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        if self.client is None:
            raise AgentUnavailable("not connected")
        return await self.client.request(op, **fields)
