"""Where the agent's socket lives and where its jobs write bundles."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from platformdirs import user_data_dir

SOCKET_ENV = "EDGEPROBE_SOCKET"
SERVICE_SOCKET = Path("/run/edgeprobe/agent.sock")


def socket_path() -> Path:
    """``$EDGEPROBE_SOCKET``; else the system service's socket when it exists; else the
    user's runtime folder (a user-started agent)."""
    env = os.environ.get(SOCKET_ENV)
    if env:
        return Path(env)
    if SERVICE_SOCKET.exists():
        return SERVICE_SOCKET
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    # Without a session runtime folder (a plain `ssh host command`, cron), a per-user one in /tmp.
    base = Path(runtime) if runtime else Path(tempfile.gettempdir()) / f"edgeprobe-{os.getuid()}"
    return base / "edgeprobe" / "agent.sock"


def bundle_dir() -> Path:
    env = os.environ.get("EDGEPROBE_DATA_DIR")
    return Path(env) if env else Path(user_data_dir("edgeprobe"))
