"""Tell systemd how the agent is doing (``Type=notify``): ``READY=1`` once the socket listens,
``STOPPING=1`` when it stops. The sd_notify protocol is one datagram to the AF_UNIX socket
named by ``NOTIFY_SOCKET``; a name starting with ``@`` is in the abstract namespace."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("edgeprobe.agent")


def notify_address(env: Mapping[str, str] = os.environ) -> str | None:
    address = env.get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        return "\0" + address[1:]
    return address if address.startswith("/") else None


def notify(*assignments: str, env: Mapping[str, str] = os.environ) -> bool:
    """Send ``KEY=value`` lines to the service manager; False when none listens (no
    ``NOTIFY_SOCKET``) or the datagram could not be sent (logged)."""
    address = notify_address(env)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(assignments).encode())
    except OSError as exc:
        log.warning("cannot notify systemd at %s (%s)", env.get("NOTIFY_SOCKET"),
                    exc.strerror or exc)
        return False
    return True
