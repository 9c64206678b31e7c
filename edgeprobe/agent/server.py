"""The agent's socket server: clients ask for status, start and cancel jobs, and subscribe to
live telemetry and run events. A client that sends a bad frame, sends too much, or vanishes
is closed alone; every other client and the running job carry on."""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import socket
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from edgeprobe import __version__
from edgeprobe.agent.accept import quiet_accept_errors
from edgeprobe.agent.jobs import JobQueue
from edgeprobe.agent.limits import Limits, Outbox, SlowClient
from edgeprobe.agent.log import Throttle
from edgeprobe.agent.paths import bundle_dir, check_socket_folder
from edgeprobe.agent.peer import Peer, peer_of
from edgeprobe.agent.protocol import FrameError, encode, read_frame
from edgeprobe.errors import EdgeprobeError

TOPICS = frozenset({"telemetry", "run"})
log = logging.getLogger("edgeprobe.agent")


class TelemetryFeed(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def latest(self) -> dict[str, Any] | None: ...
    def sources(self) -> list[dict[str, Any]]: ...
    def history(self, seconds: float, columns: list[str] | None,
                step_s: float) -> dict[str, Any]: ...


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 limits: Limits, number: int = 0) -> None:
        self.reader = reader
        self.writer = writer
        self.limits = limits
        self.topics: set[str] = set()
        self.name = "?"
        self.outbox = Outbox(limits.max_pending_bytes)
        self.number = number
        self.peer: Peer | None = peer_of(writer)
        self.connected_monotonic_s = time.monotonic()

    def __str__(self) -> str:
        """``client 3 (tui)``: how the log names it."""
        return f"client {self.number}" + (f" ({self.name})" if self.name != "?" else "")

    def send_event(self, message: dict[str, Any]) -> None:
        """An event frame: skipped when this client's outbox is full (it reads slowly)."""
        self.outbox.offer(encode(message))

    async def reply(self, message: dict[str, Any]) -> None:
        """A reply: waits for room in the outbox, never dropped (SlowClient after
        ``reply_timeout_s``)."""
        try:
            frame = encode(message)
        except FrameError as exc:
            frame = encode({"op": "error", "error": f"reply too large: {exc}",
                            **({"id": message["id"]} if "id" in message else {})})
        await self.outbox.put(frame, self.limits.reply_timeout_s)

    async def pump(self) -> None:
        while True:
            frame = await self.outbox.get()
            if frame is None:
                return
            self.writer.write(frame)
            await self.writer.drain()


class AgentServer:
    def __init__(self, path: Path, telemetry: TelemetryFeed | None = None,
                 group: str | None = None, rate_hz: float = 2.0,
                 env: dict[str, str] | None = None, limits: Limits | None = None) -> None:
        self.path = path
        self.limits = limits or Limits()
        self.telemetry = telemetry
        self.group = group
        self.rate_hz = rate_hz
        self.clients: set[Client] = set()
        self.jobs = JobQueue(self.broadcast, env=env)
        self.refused_clients = 0
        self.started_unix_s = time.time()
        self._server: asyncio.AbstractServer | None = None
        self._clients_seen = 0
        # A client that floods, or many at once, cannot flood the journal.
        self._client_lines = Throttle(log, burst=100)
        self._bad_frames = Throttle(log)
        self._refused_requests = Throttle(log)

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
        self.jobs.start()  # first: it refuses a jobs folder that another agent uses
        quiet_accept_errors(asyncio.get_running_loop())
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

    async def serve_forever(self, on_ready: Callable[[], None] | None = None) -> None:
        """Serve until cancelled; ``on_ready`` runs once the socket listens (it is not
        called when another agent serves the socket, or the start fails otherwise)."""
        await self.start()
        ticker = asyncio.create_task(self._telemetry_loop())
        try:
            assert self._server is not None
            if on_ready is not None:
                on_ready()
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
        self._client_lines.flush("client connections")
        self._bad_frames.flush("bad frames")
        self._refused_requests.flush("refused requests")

    # -- fan-out --------------------------------------------------------------------------
    async def broadcast(self, topic: str, data: dict[str, Any]) -> None:
        for client in list(self.clients):
            if topic in client.topics:
                try:
                    client.send_event({"op": "event", "topic": topic, "data": data})
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
        if client in self.clients:
            self.clients.discard(client)
            client.outbox.close()

    async def _serve_client(self, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> None:
        self._clients_seen += 1
        client = Client(reader, writer, self.limits, self._clients_seen)
        if len(self.clients) >= self.limits.max_clients:
            await self._refuse(client)
            return
        self.clients.add(client)
        self._client_lines.log(logging.INFO, "%s connected (%s)", client,
                               client.peer or "peer unknown")
        pump = asyncio.create_task(client.pump())
        why = "closed by the client"
        try:
            await self._requests(client)
        except FrameError as exc:
            why = f"closed by the agent: {exc}"
            if isinstance(exc, SlowClient):
                log.warning("closing %s: %s", client, exc)
            else:
                self._bad_frames.log(logging.WARNING, "%s sent a bad frame: %s", client, exc)
            with contextlib.suppress(FrameError):
                client.send_event({"op": "error", "error": str(exc), "fatal": True})
        except (ConnectionError, asyncio.IncompleteReadError):
            why = "connection lost"
        except Exception:
            why = "closed by the agent after an error"
            log.error("%s: unexpected error while serving it; closing it", client,
                      exc_info=True)
        finally:
            self._drop(client)
            self._client_lines.log(
                logging.INFO, "%s disconnected after %.1f s: %s", client,
                time.monotonic() - client.connected_monotonic_s, why)
            try:
                await asyncio.wait_for(pump, timeout=1.0)
            except (Exception, asyncio.CancelledError):
                pump.cancel()
            writer.close()

    async def _requests(self, client: Client) -> None:
        limits = self.limits
        while True:
            message = await read_frame(
                client.reader, limits.max_request_bytes,
                idle_timeout_s=None if client.topics else limits.idle_timeout_s,
                frame_timeout_s=limits.frame_timeout_s)
            if message is None:
                return
            reply = await self._handle(client, message)
            if reply["op"] == "error":
                self._refused_requests.log(logging.WARNING, "%s: refused %r request: %s",
                                           client, str(message["op"])[:40], reply["error"])
            if "id" in message:
                reply["id"] = message["id"]
            await client.reply(reply)  # waits while the client is behind on its replies

    async def _refuse(self, client: Client) -> None:
        """Over the connection cap: one error frame, then closed."""
        self.refused_clients += 1
        if self.refused_clients == 1 or self.refused_clients % 1000 == 0:
            log.warning("refusing clients over the cap of %d (%d so far)",
                        self.limits.max_clients, self.refused_clients)
        with contextlib.suppress(Exception):
            client.writer.write(encode({"op": "error", "fatal": True,
                                        "error": f"too many clients (at most "
                                                 f"{self.limits.max_clients})"}))
            await asyncio.wait_for(client.writer.drain(), 1.0)
        client.writer.close()

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
        log.debug("client %d is %s", client.number, client.name)
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
        limits = self.limits
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise ValueError("argv must be a list of strings")
        if len(argv) > limits.max_argv_items or \
                sum(len(a.encode()) for a in argv) > limits.max_argv_bytes:
            raise ValueError(f"argv longer than {limits.max_argv_items} arguments or "
                             f"{limits.max_argv_bytes} bytes")
        if sum(j.state == "queued" for j in self.jobs.jobs.values()) >= limits.max_queued_jobs:
            raise ValueError(f"{limits.max_queued_jobs} jobs are already queued")
        try:
            job = self.jobs.submit(argv)
        except OSError as exc:
            return {"op": "error", "error": f"cannot record the job in {self.jobs.root} "
                                            f"({exc.strerror or exc})"}
        log.info("%s submitted %s: %s", client, job.describe(), " ".join(argv)[:400])
        return {"op": "started", "job": job.summary()}

    async def _op_cancel(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        job_id = int(message["job"])
        log.info("%s asks to cancel job %d", client, job_id)
        return {"op": "cancelled", "job": job_id, "ok": await self.jobs.cancel(job_id)}

    async def _op_jobs(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        newest = list(self.jobs.jobs.values())[-self.limits.max_listed_jobs:]
        return {"op": "jobs", "jobs": [j.summary() for j in newest]}

    async def _op_recent(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        return {"op": "recent", "events": self.jobs.recent(int(message["job"]))}

    async def _op_bundles(self, client: Client, message: dict[str, Any]) -> dict[str, Any]:
        found = []
        for path in bundle_dir().glob("*.epb"):
            try:
                info = path.stat()  # a dangling link, or a file removed meanwhile: skipped
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                found.append({"path": str(path), "bytes": info.st_size,
                              "modified_unix_s": info.st_mtime})
        found.sort(key=lambda entry: entry["modified_unix_s"], reverse=True)
        return {"op": "bundles", "bundles": found[:200]}
