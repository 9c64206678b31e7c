"""Where the agent's socket lives and where its jobs write bundles."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from platformdirs import user_data_dir

from edgeprobe.errors import EdgeprobeError

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
    base = Path(runtime) if runtime else fallback_folder()
    return base / "edgeprobe" / "agent.sock"


def fallback_folder() -> Path:
    """``$TMPDIR/edgeprobe-<uid>``: where the socket goes without a session runtime folder.
    Anyone may create that name first, so it is used only when it is ours and private."""
    return Path(tempfile.gettempdir()) / f"edgeprobe-{os.getuid()}"


class UnsafeSocketFolder(EdgeprobeError):
    """The fallback socket folder exists but is not this user's private folder."""


def check_socket_folder(path: Path, create: bool = False) -> None:
    """For a socket under ``fallback_folder()``: make that folder (mode 0700) when ``create``,
    and refuse it unless it is a real folder, owned by this user, that no one else may enter.
    Another user who made it first would otherwise receive this user's runs."""
    folder = fallback_folder()
    if folder not in path.parents:
        return
    if create:
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise UnsafeSocketFolder(f"cannot create {folder} ({exc.strerror})") from None
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return  # nothing there yet: no agent either
    fix = "remove it, or set XDG_RUNTIME_DIR or EDGEPROBE_SOCKET"
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeSocketFolder(f"{folder} is not a folder (a link or a file): refusing to "
                                 f"use it for the agent's socket; {fix}")
    if info.st_uid != os.getuid():
        raise UnsafeSocketFolder(f"{folder} belongs to uid {info.st_uid}, not to you (uid "
                                 f"{os.getuid()}): refusing to use it for the agent's "
                                 f"socket; {fix}")
    if info.st_mode & 0o077:
        raise UnsafeSocketFolder(f"{folder} is open to other users (mode "
                                 f"{stat.S_IMODE(info.st_mode):04o}, not 0700): refusing to "
                                 f"use it for the agent's socket; {fix}")


def bundle_dir() -> Path:
    env = os.environ.get("EDGEPROBE_DATA_DIR")
    return Path(env) if env else Path(user_data_dir("edgeprobe"))
