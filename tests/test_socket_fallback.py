"""Without XDG_RUNTIME_DIR the socket lives in $TMPDIR/edgeprobe-<uid>/: created private, and
refused (one line) when someone else made it first, or made it open to others."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.tui_helpers import start_agent, stop_agent


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("XDG_RUNTIME_DIR", "EDGEPROBE_SOCKET")}
    return {**env, "TMPDIR": str(tmp_path), "EDGEPROBE_DATA_DIR": str(tmp_path / "data"),
            "PYTHONUNBUFFERED": "1"}


def _edgeprobe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgeprobe", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgeprobe: "), result.stderr
    return lines[0]


def test_the_fallback_folder_is_made_private_and_used(tmp_path):
    env = _env(tmp_path)
    folder = tmp_path / f"edgeprobe-{os.getuid()}"
    socket_path = folder / "edgeprobe" / "agent.sock"
    agent = start_agent(socket_path, env, "--no-telemetry")
    try:
        info = os.lstat(folder)
        assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.getuid()
        result = _edgeprobe(env, "jobs", "--json")
        assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr
    finally:
        stop_agent(agent)


def _plant(folder: Path, owner: int, mode: int) -> tuple[socket.socket, list[bytes]]:
    """What an attacker does: the folder first, and a listener where the agent would be."""
    (folder / "edgeprobe").mkdir(parents=True)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(folder / "edgeprobe" / "agent.sock"))
    listener.listen(4)
    listener.settimeout(0.2)
    os.chmod(folder / "edgeprobe" / "agent.sock", 0o777)
    os.chmod(folder, mode)
    os.chown(folder, owner, -1)
    received: list[bytes] = []

    def serve() -> None:
        while listener.fileno() != -1:
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.settimeout(1)
            with contextlib.suppress(OSError):
                received.append(conn.recv(65536))
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener, received


@pytest.mark.skipif(os.getuid() != 0, reason="making a folder owned by another user needs root")
def test_a_folder_made_first_by_another_user_is_refused(tmp_path):
    env = _env(tmp_path)
    folder = tmp_path / f"edgeprobe-{os.getuid()}"
    listener, received = _plant(folder, owner=os.getuid() + 4242, mode=0o777)
    try:
        line = _one_line(_edgeprobe(env, "jobs"))
        assert f"{folder} belongs to uid {os.getuid() + 4242}, not to you" in line
        line = _one_line(_edgeprobe(env, "agent", "--no-telemetry"))
        assert "refusing to use it for the agent's socket" in line
        # A run does not hand its argv and output path to the planted listener either.
        result = _edgeprobe(env, "run", "--detach", "--suite", "smoke")
        assert "--detach needs a running agent" in _one_line(result)
        assert received == []
    finally:
        listener.close()


@pytest.mark.parametrize("kind", ["open", "link"])
def test_our_own_folder_open_to_others_or_a_link_is_refused(tmp_path, kind):
    env = _env(tmp_path)
    folder = tmp_path / f"edgeprobe-{os.getuid()}"
    if kind == "open":
        folder.mkdir(mode=0o700)
        os.chmod(folder, 0o755)
        expected = "is open to other users (mode 0755, not 0700)"
    else:
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        folder.symlink_to(tmp_path / "elsewhere")
        expected = "is not a folder (a link or a file)"
    assert expected in _one_line(_edgeprobe(env, "agent", "--no-telemetry"))
    assert expected in _one_line(_edgeprobe(env, "jobs"))
