"""The agent's socket server: clients ask for status, start and cancel jobs, and subscribe to
live telemetry and run events. A client that sends a bad frame, sends too much, or vanishes
is closed alone; every other client and the running job carry on."""

from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import socket
import time
from pathlib import Path
from typing import Any, Protocol

from edgeprobe import __version__
from edgeprobe.agent.jobs import JobQueue
from edgeprobe.agent.paths import bundle_dir, check_socket_folder
from edgeprobe.agent.protocol import FrameError, encode, read_frame
from edgeprobe.errors import EdgeprobeError

TOPICS = frozenset({"telemetry", "run"})
CLIENT_QUEUE_FRAMES = 256


class TelemetryFeed(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def latest(self) -> dict[str, Any] | None: ...
    def sources(self) -> list[dict[str, Any]]: ...
    def history(self, seconds: float, columns: list[str] | None,
                step_s: float) -> dict[str, Any]: ...


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.topics: set[str] = set()
        self.name = "?"
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(CLIENT_QUEUE_FRAMES)
        self.dropped = 0

    def send(self, message: dict[str, Any]) -> None:
        frame = encode(message)
        if self.queue.full():  # a slow reader loses the oldest frames, not the agent
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
                self.dropped += 1
        self.queue.put_nowait(frame)

    async def pump(self) -> None:
        while True:
            frame = await self.queue.get()
            if frame is None:
                return
            self.writer.write(frame)
            await self.writer.drain()


class AgentServer:
    def __init__(self, path: Path, telemetry: TelemetryFeed | None = None,
                 group: str | None = None, rate_hz: float = 2.0,
                 env: dict[str, str] | None = None) -> None:
        self.path = path
        self.telemetry = telemetry
        self.group = group
        self.rate_hz = rate_hz
        self.clients: set[Client] = set()
        self.jobs = JobQueue(self.broadcast, env=env)
        self.started_unix_s = time.time()
        self._server: asyncio.AbstractServer | None = None

    # -- life cycle -------------------------------------------------------------------------
    def _claim_socket(self) -> None:
        check_socket_folder(self.path, create=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_symlink():
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(self.path))
            except OSError:
                self.path.unlink()  # left behind by an agent that died
            else:
                raise EdgeprobeError(f"an agent is already serving {self.path}")
            finally:
                probe.close()

    async def start(self) -> None:
        self._claim_socket()
        old_umask = os.umask(0o117)  # the socket is born 0660: no window where others can connect
        try:
            self._server = await asyncio.start_unix_server(self._serve_client, path=str(self.path))
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o660)
        if self.group:
            try:
                os.chown(self.path, -1, grp.getgrnam(self.group).gr_gid)
            except (KeyError, PermissionError) as exc:
                raise EdgeprobeError(f"cannot give {self.path} to group {self.group}: {exc}") \
                    from None
        if self.telemetry is not None:
            self.telemetry.start()
        self.jobs.start()

    async def serve_forever(self) -> None:
        await self.start()
        ticker = asyncio.create_task(self._telemetry_loop())
        try:
            assert self._server is not None
            await self._server.serve_forever()
        finally:
            ticker.cancel()
            await self.close()

    async def close(self) -> None:
        await self.jobs.stop()
        for client in list(self.clients):
            self._drop(client)
            client.writer.close()
        if self._server is not None:
            self._server.close()
        if self.telemetry is not None:
            self.telemetry.stop()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    # -- fan-out --------------------------------------------------------------------------
    async def broadcast(self, topic: str, data: dict[str, Any]) -> None:
        for client in list(self.clients):
            if topic in client.topics:
                try:
                    client.send({"op": "event", "topic": topic, "data": data})
                except FrameError:
                    continue

    async def _telemetry_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0 / self.rate_hz)
            if self.telemetry is None:
                continue
            sample = self.telemetry.latest()
            if sample is not None:
                await self.broadcast("telemetry", sample)

    # -- one client -----------------------------------------------------------------------
    def _drop(self, client: Client) -> None:
        """Stop sending to a client: its pump writes what is queued, then ends."""
        self.clients.discard(client)
        if client.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                client.queue.get_nowait()
        client.queue.put_nowait(None)

    async def _serve_client(self, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> None:
        client = Client(reader, writer)
        self.clients.add(client)
        pump = asyncio.create_task(client.pump())
        try:
            while True:
                message = await read_frame(reader)
                if message is None:
                    break
                reply = await self._handle(client, message)
                if "id" in message:
                    reply["id"] = message["id"]
                client.send(reply)
        except FrameError as exc:
            with contextlib.suppress(FrameError):
                client.send({"op": "error", "error": str(exc), "fatal": True})
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._drop(client)
            try:
                await asyncio.wait_for(pump, timeout=1.0)
            except (Exception, asyncio.CancelledError):
                pump.cancel()
            writer.close()

    async def _handle(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        op = message["op"]
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            return {"op": "error", "error": f"unknown op {op!r}"}
        try:
            return await handler(client, message)
        except (KeyError, TypeError, ValueError) as exc:
            return {"op": "error", "error": f"bad {op} request: {exc}"}

    async def _op_hello(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        client.name = str(message.get("client", "?"))[:40]
        return {"op": "hello", "server": "edgeprobe-agent", "edgeprobe_version": __version__,
                "pid": os.getpid(), "started_unix_s": self.started_unix_s,
                "telemetry_hz": self.rate_hz}

    async def _op_ping(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        return {"op": "pong"}

    async def _op_status(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        running = self.jobs.running()
        queued = [j.id for j in self.jobs.jobs.values() if j.state == "queued"]
        return {"op": "status", "job": running.summary() if running else None,
                "queued": queued, "clients": len(self.clients),
                "telemetry": self.telemetry.latest() if self.telemetry else None,
                "sources": self.telemetry.sources() if self.telemetry else []}

    async def _op_history(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        """The last ``seconds`` of some telemetry columns (default: power), for sparklines."""
        if self.telemetry is None:
            return {"op": "history", "step_s": None, "series": {}}
        columns = message.get("columns")
        return {"op": "history", **self.telemetry.history(
            float(message.get("seconds", 60.0)), columns or None,
            float(message.get("step_s", 0.5)))}

    async def _op_subscribe(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        topics = set(message.get("topics") or TOPICS)
        unknown = topics - TOPICS
        if unknown:
            return {"op": "error", "error": f"unknown topics {sorted(unknown)}"}
        client.topics |= topics
        return {"op": "subscribed", "topics": sorted(client.topics)}

    async def _op_start(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        argv = message["argv"]
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise ValueError("argv must be a list of strings")
        job = self.jobs.submit(argv)
        return {"op": "started", "job": job.summary()}

    async def _op_cancel(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        job_id = int(message["job"])
        return {"op": "cancelled", "job": job_id, "ok": await self.jobs.cancel(job_id)}

    async def _op_jobs(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        return {"op": "jobs", "jobs": [j.summary() for j in self.jobs.jobs.values()]}

    async def _op_recent(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        job = self.jobs.jobs.get(int(message["job"]))
        return {"op": "recent", "events": list(job.recent) if job else []}

    async def _op_bundles(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        folder = bundle_dir()
        found = []
        for path in sorted(folder.glob("*.epb"), key=lambda p: p.stat().st_mtime, reverse=True):
            stat = path.stat()
            found.append({"path": str(path), "bytes": stat.st_size,
                          "modified_unix_s": stat.st_mtime})
        return {"op": "bundles", "bundles": found[:200]}
