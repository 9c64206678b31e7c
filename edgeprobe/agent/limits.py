"""What one client may cost the agent, and the per-client outbox that enforces it.

Replies are never dropped: a client that sends requests faster than it reads the replies
is slowed down (the agent stops reading from it until its outbox has room), and one that
stops reading altogether is closed after ``reply_timeout_s``. Event frames (telemetry, run
events) are skipped for a client whose outbox is full: they are a live view, and the next
one replaces them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from edgeprobe.agent.protocol import FrameError


@dataclass(frozen=True)
class Limits:
    max_clients: int = 64
    # A frame whose first byte has arrived must be complete within this.
    frame_timeout_s: float = 10.0
    # A client that neither sends a request nor subscribes to anything is closed after this.
    idle_timeout_s: float = 3600.0
    # Requests are small; replies may be larger (protocol.MAX_FRAME_BYTES).
    max_request_bytes: int = 64 * 1024
    # Bytes waiting to be sent to one client.
    max_pending_bytes: int = 4 * 1024 * 1024
    reply_timeout_s: float = 30.0
    # `start`: the run's arguments.
    max_argv_items: int = 64
    max_argv_bytes: int = 4096
    max_queued_jobs: int = 32
    # Jobs listed by the `jobs` op (the newest).
    max_listed_jobs: int = 100


class SlowClient(FrameError):
    """The client did not read its replies in time."""


class Outbox:
    """Frames waiting for one client, at most ``max_bytes`` of them."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.frames: deque[bytes | None] = deque()
        self.bytes = 0
        self.skipped_events = 0
        self._changed = asyncio.Event()

    def _append(self, frame: bytes | None) -> None:
        self.frames.append(frame)
        self.bytes += len(frame) if frame else 0
        self._changed.set()

    def _room(self, size: int) -> bool:
        return not self.frames or self.bytes + size <= self.max_bytes

    def offer(self, frame: bytes) -> bool:
        """Queue an event frame if there is room; False (and counted) when there is not."""
        if not self._room(len(frame)):
            self.skipped_events += 1
            return False
        self._append(frame)
        return True

    async def put(self, frame: bytes, timeout_s: float) -> None:
        """Queue a reply, waiting for room; SlowClient when none comes in ``timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self._room(len(frame)):
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SlowClient("client does not read its replies")
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                continue
        self._append(frame)

    def close(self) -> None:
        """No more frames: the pump ends after sending what is queued."""
        self._append(None)

    async def get(self) -> bytes | None:
        while not self.frames:
            self._changed.clear()
            await self._changed.wait()
        frame = self.frames.popleft()
        self.bytes -= len(frame) if frame else 0
        self._changed.set()
        return frame
