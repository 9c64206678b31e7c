"""Client library for the agent socket: blocking (CLI) and asyncio (TUI) flavours."""

from __future__ import annotations

import asyncio
import collections
import itertools
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edgeprobe.agent.paths import UnsafeSocketFolder, check_socket_folder, socket_path
from edgeprobe.agent.protocol import FrameError, encode, read_frame, recv_frame
from edgeprobe.errors import EdgeprobeError


class AgentUnavailable(EdgeprobeError):
    """No agent answers on the socket."""


def _check_folder(path: Path) -> None:
    try:
        check_socket_folder(path)
    except UnsafeSocketFolder as exc:
        raise AgentUnavailable(str(exc)) from None


class AgentClient:
    def __init__(self, path: Path | None = None, name: str = "cli",
                 timeout_s: float = 10.0) -> None:
        self.path = path or socket_path()
        _check_folder(self.path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout_s)
        try:
            self._sock.connect(str(self.path))
        except OSError as exc:
            self._sock.close()
            raise AgentUnavailable(f"no agent at {self.path} ({exc.strerror or exc})") from None
        self._ids = itertools.count(1)
        self._events: collections.deque[dict[str, Any]] = collections.deque()
        self.server = self.request("hello", client=name)

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        request_id = next(self._ids)
        self._sock.sendall(encode({"op": op, "id": request_id, **fields}))
        while True:
            message = self._recv()
            if message.get("op") == "event":
                self._events.append(message)
                continue
            if message.get("id") == request_id or message.get("fatal"):
                if message.get("op") == "error":
                    raise EdgeprobeError(f"agent: {message.get('error')}")
                return message

    def _recv(self, timeout_s: float | None = None) -> dict[str, Any]:
        if timeout_s is not None:
            self._sock.settimeout(timeout_s)
        try:
            message = recv_frame(self._sock)
        except FrameError as exc:
            raise EdgeprobeError(f"agent sent a bad frame: {exc}") from None
        if message is None:
            raise AgentUnavailable("the agent closed the connection")
        return message

    def events(self, timeout_s: float | None = None) -> Iterator[dict[str, Any]]:
        """Event frames as they arrive (after ``request("subscribe", ...)``)."""
        while True:
            while self._events:
                yield self._events.popleft()
            yield self._recv(timeout_s)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def agent_running(path: Path | None = None) -> bool:
    try:
        with AgentClient(path, timeout_s=2.0):
            return True
    except (AgentUnavailable, EdgeprobeError, OSError):
        return False


class AsyncAgentClient:
    """asyncio client: requests are answered in order; events go to ``events`` queue."""

    def __init__(self, path: Path | None = None, name: str = "tui") -> None:
        self.path = path or socket_path()
        self.name = name
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self.server: dict[str, Any] = {}
        self.closed = asyncio.Event()

    async def connect(self) -> dict[str, Any]:
        _check_folder(self.path)
        try:
            self._reader, self._writer = await asyncio.open_unix_connection(str(self.path))
        except OSError as exc:
            raise AgentUnavailable(f"no agent at {self.path} ({exc.strerror or exc})") from None
        self._task = asyncio.create_task(self._read_loop())
        self.server = await self.request("hello", client=self.name)
        return self.server

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            while True:
                message = await read_frame(self._reader)
                if message is None:
                    break
                if message.get("op") == "event":
                    if self.events.full():
                        self.events.get_nowait()
                    self.events.put_nowait(message)
                    continue
                future = self._pending.pop(message.get("id", -1), None)
                if future is not None and not future.done():
                    future.set_result(message)
        except (FrameError, ConnectionError):
            pass
        finally:
            self.closed.set()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(AgentUnavailable("the agent closed the connection"))

    async def request(self, op: str, timeout_s: float = 10.0, **fields: Any) -> dict[str, Any]:
        if self._writer is None or self.closed.is_set():
            raise AgentUnavailable("not connected")
        request_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self._writer.write(encode({"op": op, "id": request_id, **fields}))
        await self._writer.drain()
        reply = await asyncio.wait_for(future, timeout_s)
        if reply.get("op") == "error":
            raise EdgeprobeError(f"agent: {reply.get('error')}")
        return reply

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
