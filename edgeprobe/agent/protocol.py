"""Wire format of the agent socket.

Each frame is a 4-byte big-endian length followed by that many bytes of msgpack encoding one
map. Every map carries ``v`` (the protocol version) and ``op``. Frames over
``MAX_FRAME_BYTES`` are refused: the peer is disconnected, nothing is read into memory.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

import msgpack

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 1 << 20
_LENGTH = struct.Struct(">I")


class FrameError(Exception):
    """A frame that breaks the protocol: the connection it came on is closed."""


def encode(message: dict[str, Any]) -> bytes:
    body = msgpack.packb({"v": PROTOCOL_VERSION, **message}, use_bin_type=True, default=str)
    if len(body) > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {len(body)} bytes exceeds {MAX_FRAME_BYTES}")
    return _LENGTH.pack(len(body)) + body


def decode(body: bytes) -> dict[str, Any]:
    try:
        message = msgpack.unpackb(body, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException):
        raise FrameError("frame is not msgpack") from None
    if not isinstance(message, dict):
        raise FrameError("frame is not a map")
    if message.get("v") != PROTOCOL_VERSION:
        raise FrameError(f"protocol version {message.get('v')!r} not supported "
                         f"(this side speaks {PROTOCOL_VERSION})")
    if not isinstance(message.get("op"), str):
        raise FrameError("frame has no op")
    return message


def _check_length(length: int, max_bytes: int = MAX_FRAME_BYTES) -> None:
    if length > max_bytes:
        raise FrameError(f"frame of {length} bytes exceeds {max_bytes}")


async def read_frame(reader: asyncio.StreamReader, max_bytes: int = MAX_FRAME_BYTES,
                     idle_timeout_s: float | None = None,
                     frame_timeout_s: float | None = None) -> dict[str, Any] | None:
    """The next message, or None when the peer closed the connection cleanly. FrameError
    when no frame starts within ``idle_timeout_s``, or one that started is not complete
    within ``frame_timeout_s`` (a client that trickles bytes holds nothing for long)."""
    try:
        first = await asyncio.wait_for(reader.readexactly(1), idle_timeout_s)
    except asyncio.IncompleteReadError:
        return None
    except asyncio.TimeoutError:
        raise FrameError(f"no request for {idle_timeout_s:g} s") from None
    try:
        return await asyncio.wait_for(_rest_of_frame(reader, first, max_bytes),
                                      frame_timeout_s)
    except asyncio.TimeoutError:
        raise FrameError(f"frame not complete within {frame_timeout_s:g} s") from None


async def _rest_of_frame(reader: asyncio.StreamReader, first: bytes,
                         max_bytes: int) -> dict[str, Any]:
    try:
        header = first + await reader.readexactly(_LENGTH.size - 1)
    except asyncio.IncompleteReadError:
        raise FrameError("connection closed inside a frame header") from None
    (length,) = _LENGTH.unpack(header)
    _check_length(length, max_bytes)
    try:
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise FrameError("connection closed inside a frame") from None
    return decode(body)


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            if chunks:
                raise FrameError("connection closed inside a frame")
            return None
        chunks.extend(chunk)
    return bytes(chunks)


def recv_frame(sock: socket.socket) -> dict[str, Any] | None:
    """Blocking twin of ``read_frame`` for plain sockets (the CLI client)."""
    header = _recv_exactly(sock, _LENGTH.size)
    if header is None:
        return None
    (length,) = _LENGTH.unpack(header)
    _check_length(length)
    body = _recv_exactly(sock, length)
    if body is None:
        raise FrameError("connection closed inside a frame")
    return decode(body)
