"""What one client may cost the agent: pipelined requests all answered without stalling
others, slow and half-sent frames closed, a cap on clients, bounded requests, running out
of file descriptors, and a dangling bundle link."""

from __future__ import annotations

import os
import resource
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from edgeprobe.agent.client import AgentClient
from edgeprobe.agent.protocol import encode, recv_frame
from edgeprobe.errors import EdgeprobeError
from tests.conftest import REPO
from tests.tui_helpers import stop_agent, wait_for_socket


def _start(tmp_path, *extra: str, preexec=None) -> tuple[os.PathLike, subprocess.Popen]:
    path = tmp_path / "agent.sock"
    env = {**os.environ, "EDGEPROBE_DATA_DIR": str(tmp_path / "data"),
           "EDGEPROBE_SOCKET": str(path), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "edgeprobe", "agent", "--no-telemetry",
                                *extra], cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
    wait_for_socket(path, process)
    return path, process


@pytest.fixture
def agent(tmp_path):
    path, process = _start(tmp_path, "--max-clients", "12", "--frame-timeout", "1")
    yield path, process
    stop_agent(process)


def _raw(path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(30)
    sock.connect(str(path))
    return sock


def _closed_by_server(sock: socket.socket) -> dict | None:
    """Read until the server hangs up; the last error frame it sent, if any."""
    last = None
    try:
        while True:
            frame = recv_frame(sock)
            if frame is None:
                return last
            last = frame
    except OSError:
        return last


def test_two_thousand_pipelined_requests_are_all_answered_and_others_are_not_stalled(agent):
    path, _ = agent
    pipelined = _raw(path)
    requests = b"".join(encode({"op": "ping", "id": i}) for i in range(1, 2001))
    sender = threading.Thread(target=pipelined.sendall, args=(requests,))
    sender.start()
    # Another client is answered while the first has read none of its 2,000 replies.
    with AgentClient(path, timeout_s=10) as other:
        assert other.request("status")["op"] == "status"
    ids = []
    while len(ids) < 2000:
        frame = recv_frame(pipelined)
        assert frame is not None and frame["op"] == "pong"
        ids.append(frame["id"])
    sender.join(30)
    assert ids == list(range(1, 2001))
    pipelined.close()


def test_half_sent_frames_are_closed(agent):
    """Each declares a 60 kB frame and sends 3 bytes of it: closed, with an error, once the
    frame timeout (1 s) passes; everyone else is served meanwhile and after."""
    path, process = agent
    slow = []
    for _ in range(10):
        sock = _raw(path)
        sock.sendall(struct.pack(">I", 60_000) + b"\x81\xa2o")
        slow.append(sock)
    with AgentClient(path, timeout_s=10) as client:
        assert client.request("ping")["op"] == "pong"
    for sock in slow:
        frame = _closed_by_server(sock)
        assert frame is not None and "frame not complete within 1 s" in frame["error"]
        sock.close()
    with AgentClient(path, timeout_s=10) as client:
        assert client.request("ping")["op"] == "pong"
    assert process.poll() is None


def test_clients_past_the_cap_are_refused_with_an_error(agent):
    path, _ = agent
    clients = [AgentClient(path, timeout_s=10) for _ in range(12)]  # the cap, all idle
    extra = _raw(path)
    refused = _closed_by_server(extra)
    assert refused is not None and refused["error"] == "too many clients (at most 12)"
    clients.pop().close()
    time.sleep(0.1)
    deadline = time.monotonic() + 30
    while True:  # a place is free again once the agent has seen that client go
        try:
            with AgentClient(path, timeout_s=10) as client:
                assert client.request("ping")["op"] == "pong"
            break
        except EdgeprobeError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    for client in clients:
        client.close()


def test_requests_are_bounded_per_op(agent):
    path, _ = agent
    big = _raw(path)
    big.sendall(struct.pack(">I", 600_000))
    frame = _closed_by_server(big)
    assert frame is not None and "exceeds 65536" in frame["error"]
    with AgentClient(path, timeout_s=10) as client:
        with pytest.raises(EdgeprobeError, match="argv longer than 64 arguments or 4096 bytes"):
            client.request("start", argv=["--models", "x" * 5000])
        with pytest.raises(EdgeprobeError, match="argv longer than"):
            client.request("start", argv=["-q"] * 65)
        assert client.request("jobs")["jobs"] == []


def test_a_dangling_bundle_link_does_not_break_bundles(agent, tmp_path):
    path, _ = agent
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "real.epb").write_bytes(b"x")
    (data / "gone.epb").symlink_to(tmp_path / "nowhere.epb")
    with AgentClient(path, timeout_s=10) as client:
        found = client.request("bundles")["bundles"]
    assert [os.path.basename(b["path"]) for b in found] == ["real.epb"]


def test_running_out_of_file_descriptors_logs_one_line_and_recovers(tmp_path):
    limit = 64
    path, process = _start(tmp_path, "--max-clients", "1000", preexec=lambda: resource.setrlimit(
        resource.RLIMIT_NOFILE, (limit, limit)))
    try:
        held = []
        for _ in range(limit + 32):  # past the agent's descriptors, within its backlog
            held.append(_raw(path))
        time.sleep(2.5)  # the agent retries accepting once a second
        for sock in held:
            sock.close()
        deadline = time.monotonic() + 30
        while True:  # it serves again once descriptors are free
            try:
                with AgentClient(path, timeout_s=5) as client:
                    assert client.request("ping")["op"] == "pong"
                break
            except EdgeprobeError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        # Out of descriptors again, and stopped meanwhile: the accept retries still pending
        # then find the socket closed, quietly.
        held = [_raw(path) for _ in range(limit)]
        time.sleep(0.5)
        stop_agent(process)
        for sock in held:
            sock.close()
    finally:
        stop_agent(process)
    stderr = process.stderr.read()
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if "cannot accept clients" in line]
    assert len(lines) == 1 and "Too many open files" in lines[0], stderr
