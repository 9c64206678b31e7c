"""The agent on a real Unix socket: framing, bad and vanishing clients, jobs that outlive them."""

from __future__ import annotations

import os
import socket
import stat
import struct
import subprocess
import sys
import time

import msgpack
import pytest

from edgeprobe.agent.client import AgentClient
from edgeprobe.agent.protocol import MAX_FRAME_BYTES, encode, recv_frame
from edgeprobe.bundle import read_bundle
from edgeprobe.errors import EdgeprobeError
from tests.conftest import REPO, write_suite
from tests.tui_helpers import agent_process, job_events


@pytest.fixture
def agent(tmp_path):
    path = tmp_path / "agent.sock"
    env = {"EDGEPROBE_DATA_DIR": str(tmp_path / "data"), "EDGEPROBE_SOCKET": str(path),
           "PYTHONUNBUFFERED": "1"}
    with agent_process(path, env, "--no-telemetry") as process:
        yield path, {**os.environ, **env}, process


def _raw(path):
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(10)
    sock.connect(str(path))
    return sock


def _closed(sock) -> bool:
    """True when the server hung up (after possibly sending a last error frame)."""
    try:
        while True:
            frame = recv_frame(sock)
            if frame is None:
                return True
    except (ConnectionResetError, OSError):
        return True


def test_socket_mode_and_handshake(agent):
    path, _, _ = agent
    assert stat.S_IMODE(path.stat().st_mode) == 0o660
    with AgentClient(path) as client:
        assert client.server["server"] == "edgeprobe-agent"
        status = client.request("status")
        assert status["job"] is None and status["clients"] >= 1
        assert client.request("ping")["op"] == "pong"
        with pytest.raises(Exception, match="unknown op"):
            client.request("frobnicate")


@pytest.mark.parametrize("payload", [
    struct.pack(">I", 5) + b"\xc1\xc1\xc1\xc1\xc1",                       # not msgpack
    struct.pack(">I", 3) + msgpack.packb([1, 2]),                          # not a map
    struct.pack(">I", 9) + msgpack.packb({"v": 1, "x": 1}).ljust(9, b"\x00"),  # no op
    struct.pack(">I", MAX_FRAME_BYTES + 1) + b"x" * 64,                     # oversized
    struct.pack(">I", 1000) + b"cut short",                                 # vanishes mid-frame
])
def test_bad_frames_close_that_client_only(agent, payload):
    path, _, process = agent
    with AgentClient(path, name="bystander") as bystander:
        bystander.request("subscribe", topics=["run"])
        bad = _raw(path)
        bad.sendall(payload)
        if payload.endswith(b"cut short"):
            bad.shutdown(socket.SHUT_WR)
        assert _closed(bad)
        bad.close()
        assert bystander.request("ping")["op"] == "pong"
    assert process.poll() is None


def test_wrong_protocol_version_is_refused(agent):
    path, _, _ = agent
    sock = _raw(path)
    body = msgpack.packb({"v": 99, "op": "hello"})
    sock.sendall(struct.pack(">I", len(body)) + body)
    reply = recv_frame(sock)
    assert reply["op"] == "error" and "protocol version 99" in reply["error"]
    assert _closed(sock)


def test_clients_that_vanish_do_not_hurt(agent):
    path, _, process = agent
    for _ in range(5):
        sock = _raw(path)
        sock.sendall(encode({"op": "subscribe", "topics": ["telemetry", "run"]}))
        sock.close()
    with AgentClient(path) as client:
        assert client.request("status")["op"] == "status"
    assert process.poll() is None


def _events_until_finished(client, job_id):
    return job_events(client, job_id, lambda event: event.get("kind") == "job_finished")


@pytest.mark.slow
def test_a_run_survives_its_client_and_two_clients_watch(agent, tmp_path):
    path, _, _ = agent
    suite = write_suite(tmp_path, models=["tiny-qwen2", "tiny-mamba2"], lengths=[64, 128])
    out = tmp_path / "agent-run.epb"
    starter = AgentClient(path, name="starter")
    job = starter.request("start", argv=["--suite", str(suite), "--out", str(out),
                                         "--device", "cpu"])["job"]
    starter.close()  # the SSH session drops right after starting the run
    with AgentClient(path, name="watcher-1") as first, AgentClient(path, name="w2") as second:
        first.request("subscribe", topics=["run"])
        second.request("subscribe", topics=["run"])
        seen_first = _events_until_finished(first, job["id"])
        seen_second = _events_until_finished(second, job["id"])
        assert seen_first[-1]["state"] == "completed"
        points = [e for e in seen_first if e.get("kind") == "point"]
        assert points and len(points) == len([e for e in seen_second if e.get("kind") == "point"])
        jobs = first.request("jobs")["jobs"]
        assert jobs[0]["points_done"] == jobs[0]["points_total"] == 8
        bundles = first.request("bundles")
    bundle = read_bundle(out)
    assert bundle.complete and len(bundle.points) == 8
    assert bundles["op"] == "bundles"


@pytest.mark.slow
def test_cancel_stops_the_run_cleanly(agent, tmp_path):
    path, _, _ = agent
    suite = write_suite(tmp_path, models=["tiny-mamba"], lengths=[256, 512, 1024, 2048, 4096],
                        repeats=3)
    out = tmp_path / "cancelled.epb"
    with AgentClient(path) as client:
        client.request("subscribe", topics=["run"])
        job = client.request("start", argv=["--suite", str(suite), "--out", str(out),
                                            "--device", "cpu"])["job"]
        for message in client.events(timeout_s=120):
            if message["data"].get("kind") == "point":
                break
        assert client.request("cancel", job=job["id"])["ok"]
        seen = _events_until_finished(client, job["id"])
    assert seen[-1]["state"] == "cancelled"
    bundle = read_bundle(out)
    assert bundle.footer["status"] == "interrupted" and bundle.points


@pytest.mark.slow
def test_cli_run_goes_through_the_agent(agent, tmp_path):
    _, env, _ = agent
    suite = write_suite(tmp_path, models=["tiny-qwen2"], lengths=[64])
    out = tmp_path / "via-agent.epb"
    done = subprocess.run([sys.executable, "-m", "edgeprobe", "run", "--suite", str(suite),
                           "--out", str(out), "--device", "cpu"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "agent job" in done.stdout and "results" in done.stdout
    assert read_bundle(out).complete
    detached = subprocess.run([sys.executable, "-m", "edgeprobe", "run", "--suite", str(suite),
                               "--out", str(tmp_path / "d.epb"), "--detach"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60)
    assert detached.returncode == 0 and "queued" in detached.stdout
    listing = subprocess.run([sys.executable, "-m", "edgeprobe", "jobs", "--json"], cwd=REPO,
                             env=env, capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and '"argv"' in listing.stdout


# -- live telemetry: the feed over a recorded Orin Nano tree ----------------------------------

ORIN_NANO = REPO / "tests" / "fixtures" / "sysfs" / "orin-nano-jp6"


@pytest.fixture
def telemetry_agent(tmp_path):
    path = tmp_path / "agent.sock"
    env = {"EDGEPROBE_DATA_DIR": str(tmp_path / "data"), "EDGEPROBE_SYSFS_ROOT": str(ORIN_NANO)}
    with agent_process(path, env, "--rate", "20", "--publish-rate", "10") as process:
        yield path, process


def _telemetry_frames(client, count):
    frames = []
    for message in client.events(timeout_s=10):
        if message["topic"] == "telemetry":
            frames.append(message["data"])
            if len(frames) == count:
                return frames
    return frames


def test_telemetry_frames_carry_the_recorded_board(telemetry_agent):
    path, _ = telemetry_agent
    with AgentClient(path) as client:
        client.request("subscribe", topics=["telemetry"])
        frames = _telemetry_frames(client, 3)
        status = client.request("status")
    frame = frames[-1]
    assert frame["board_power_w"] == pytest.approx(6.117312)
    assert frame["rail_vdd_soc_power_w"] == pytest.approx(2.471232)
    assert frame["gpu_sm_clock_mhz"] == 306.0 and frame["zones_max_temp_c"] == pytest.approx(47.843)
    assert frame["facts"] == {"power_mode": "MAXN_SUPER", "jetson_clocks": False,
                              "board_power_from": "VDD_IN", "jetson_backend": "sysfs",
                              "device_name": "NVIDIA Jetson Orin Nano Engineering Reference "
                                             "Developer Kit Super", "platform": "jetson"}
    assert frames[0]["monotonic_s"] < frames[1]["monotonic_s"] < frames[2]["monotonic_s"]
    assert len(encode({"op": "event", "topic": "telemetry", "data": frame})) < 1024
    sensors = {(s["source"], s["sensor"]): s for s in status["sources"]}
    assert sensors[("jetson", "rail VDD_IN")]["available"]
    assert not sensors[("jtop", "service")]["available"]


def test_history_gives_the_last_minute_of_power_downsampled(telemetry_agent):
    path, _ = telemetry_agent
    with AgentClient(path) as client:
        time.sleep(1.5)
        history = client.request("history", seconds=60, step_s=0.5)
        assert history["step_s"] == 0.5
        series = history["series"]
        assert set(series) == {"board_power_w", "rail_vdd_in_power_w",
                               "rail_vdd_cpu_gpu_cv_power_w", "rail_vdd_soc_power_w"}
        board = series["board_power_w"]
        assert len(board) == 120
        filled = [v for v in board if v is not None]
        assert len(filled) >= 2 and set(filled) == {6.117}  # a static tree, bucket means
        assert board[-1] == 6.117 and board[0] is None  # the agent is younger than a minute
        temps = client.request("history", seconds=2, step_s=1, columns=["gpu_temp_c", "nope"])
        assert temps["series"]["gpu_temp_c"][-1] == pytest.approx(46.281)
        assert temps["series"]["nope"] == [None, None]
        for bad in ({"seconds": 0}, {"seconds": 1e6}, {"step_s": 0}, {"step_s": 0.001},
                    {"columns": "board_power_w"}, {"seconds": "soon"}):
            with pytest.raises(EdgeprobeError, match="bad history request"):
                client.request("history", **bad)
        assert client.request("ping")["op"] == "pong"  # a bad request is not a bad frame


def test_a_subscriber_that_stops_reading_does_not_stall_the_others(telemetry_agent):
    path, process = telemetry_agent
    stuck = _raw(path)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(encode({"op": "subscribe", "topics": ["telemetry", "run"]}))
    with AgentClient(path, name="reader") as reader:
        reader.request("subscribe", topics=["telemetry"])
        frames = _telemetry_frames(reader, 40)  # ~4 s at 10 Hz while the other reads nothing
        assert len(frames) == 40
        assert reader.request("status")["clients"] == 2
    stuck.close()
    with AgentClient(path) as late:
        assert late.request("ping")["op"] == "pong"
    assert process.poll() is None
