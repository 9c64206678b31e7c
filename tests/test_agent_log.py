"""What ``edgeprobe agent`` tells the field engineer: a second agent refuses before anything
else, the log on standard error (plain or for the journal), systemd readiness through
NOTIFY_SOCKET, and job history that survives a restart."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeprobe import __version__
from edgeprobe.agent.client import AgentClient
from edgeprobe.agent.jobfiles import ProcessIdentity
from edgeprobe.agent.protocol import recv_frame
from tests.conftest import REPO, wait_for, write_suite
from tests.tui_helpers import stop_agent, stop_jobs, wait_for_socket

TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d (debug|info|warning|error|critical) +\S")


class Agent:
    """``edgeprobe agent`` on a socket in ``tmp_path``; its standard error is collected line by
    line as it comes (from a pipe of the test's own when ``stderr_fd`` is given)."""

    def __init__(self, tmp_path: Path, *extra: str, env: dict[str, str] | None = None,
                 stderr_pipe: tuple[int, int] | None = None) -> None:
        self.path = tmp_path / "agent.sock"
        self.data = tmp_path / "data"
        self.env = {**os.environ, "EDGEPROBE_DATA_DIR": str(self.data),
                    "EDGEPROBE_SOCKET": str(self.path), "PYTHONUNBUFFERED": "1", **(env or {})}
        read_fd, write_fd = stderr_pipe or os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edgeprobe", "agent", "--no-telemetry", *extra], cwd=REPO,
            env=self.env, stdout=subprocess.DEVNULL, stderr=write_fd)
        os.close(write_fd)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(read_fd,), daemon=True)
        self._reader.start()

    def _read(self, fd: int) -> None:
        with open(fd, encoding="utf-8", errors="replace") as stream:
            for line in stream:
                self.lines.append(line.rstrip("\n"))

    def wait_until_serving(self) -> None:
        wait_for_socket(self.path, self.process)  # type: ignore[arg-type]

    def line(self, *parts: str) -> str:
        """The first line holding every part, waited for."""
        try:
            return wait_for(lambda: next((line for line in self.lines
                                          if all(part in line for part in parts)), None),
                            timeout_s=60)
        except AssertionError:
            raise AssertionError(f"no line with {parts} in {self.lines}") from None

    def stop(self, signalled: bool = True) -> list[str]:
        """SIGTERM (unless not ``signalled``), the end, then every line it wrote."""
        if signalled and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        self._reader.join(timeout=30)
        return self.lines

    def client(self, name: str = "test") -> AgentClient:
        return AgentClient(self.path, name=name, timeout_s=30)


@pytest.fixture
def agents(tmp_path) -> Iterator[list[Agent]]:
    started: list[Agent] = []
    yield started
    for agent in started:
        if agent.process.poll() is None:
            stop_agent(agent.process)  # type: ignore[arg-type]
    stop_jobs(tmp_path / "data")


def start(agents: list[Agent], tmp_path: Path, *extra: str, **kwargs) -> Agent:
    agent = Agent(tmp_path, *extra, **kwargs)
    agents.append(agent)
    agent.wait_until_serving()
    return agent


def _bad_client(path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(str(path))
        sock.sendall(struct.pack(">I", 5) + b"\xc1\xc1\xc1\xc1\xc1")  # not msgpack
        while recv_frame(sock) is not None:  # the error frame, then the hang-up
            pass


# -- a second agent ---------------------------------------------------------------------------

def test_a_second_agent_refuses_in_one_line_before_it_says_it_serves(agents, tmp_path):
    first = start(agents, tmp_path)
    second = subprocess.run([sys.executable, "-m", "edgeprobe", "agent", "--no-telemetry"],
                            cwd=REPO, env=first.env, capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    assert second.stderr.strip().splitlines() == \
        [f"edgeprobe: an agent is already serving {first.path}"]
    with first.client() as client:
        assert client.request("ping")["op"] == "pong"  # the first one serves on


# -- the log ----------------------------------------------------------------------------------

def test_the_log_names_start_clients_bad_frames_and_refusals(agents, tmp_path):
    agent = start(agents, tmp_path)
    start_line = agent.line("serving")
    assert TIMESTAMP.match(start_line), start_line
    assert f"agent on {agent.path}" in start_line and f"edgeprobe {__version__}" in start_line
    assert f"pid {agent.process.pid}" in start_line

    with agent.client(name="field-laptop") as client:
        for _ in range(25):  # a client that keeps sending what the agent refuses
            with pytest.raises(Exception, match="unknown op"):
                client.request("frobnicate")
    number = int(re.search(r"client (\d+) \(field-laptop\)", agent.line("field-laptop"))[1])
    with agent.client(name="\x1b[31mred\nline"):  # a name with an escape sequence
        pass
    agent.line("client", "(?[31mred | line) disconnected")
    agent.line(f"client {number} connected (uid {os.getuid()}, pid {os.getpid()})")
    gone = agent.line(f"client {number} (field-laptop) disconnected")
    assert "closed by the client" in gone

    for _ in range(30):  # clients that each send one bad frame
        _bad_client(agent.path)
    agent.line("sent a bad frame")
    lines = agent.stop()
    assert all(TIMESTAMP.match(line) for line in lines), lines
    assert not any("\x1b" in line or "Traceback" in line for line in lines)
    refused = [line for line in lines if "refused 'frobnicate' request" in line]
    assert len(refused) == 10 and " warning " in refused[0]
    assert f"client {number} (field-laptop): refused 'frobnicate' request: unknown op" \
        in refused[0]
    bad = [line for line in lines if "sent a bad frame: frame is not msgpack" in line]
    assert len(bad) == 10, lines
    assert any(line.endswith("warning 15 more refused requests not logged") for line in lines)
    assert any(line.endswith("warning 20 more bad frames not logged") for line in lines)
    assert lines[-1].endswith("info    agent stopped"), lines


def _journal_pipe() -> tuple[tuple[int, int], str]:
    """A pipe for the agent's standard error and the JOURNAL_STREAM value that names it, as
    systemd sets it for a service whose output goes to the journal."""
    read_fd, write_fd = os.pipe()
    info = os.fstat(write_fd)
    return (read_fd, write_fd), f"{info.st_dev}:{info.st_ino}"


def test_under_the_journal_lines_carry_priorities_and_no_time(agents, tmp_path):
    pipe, stream = _journal_pipe()
    agent = start(agents, tmp_path, "--log-level", "debug", stderr_pipe=pipe,
                  env={"JOURNAL_STREAM": stream})
    assert agent.line("serving").startswith(f"<6>agent on {agent.path}: serving")
    with agent.client(name="tui"):
        assert re.match(r"^<7>client \d+ is tui$", agent.line(" is tui"))
    _bad_client(agent.path)
    assert re.match(r"^<4>client \d+ sent a bad frame", agent.line("sent a bad frame"))
    lines = agent.stop()
    assert all(re.match(r"^<[3-7]>\S", line) for line in lines), lines


def test_a_refusing_agent_under_the_journal_logs_an_error(agents, tmp_path):
    first = start(agents, tmp_path)
    pipe, stream = _journal_pipe()
    second = Agent(tmp_path, stderr_pipe=pipe, env={"JOURNAL_STREAM": stream})
    assert second.stop(signalled=False) == \
        [f"<3>edgeprobe: an agent is already serving {first.path}"]
    assert second.process.returncode != 0


def test_journal_stream_of_another_stream_keeps_the_plain_format(agents, tmp_path):
    """A child that inherited JOURNAL_STREAM while its standard error goes elsewhere: the
    plain format, not priorities."""
    _, stream = _journal_pipe()
    agent = start(agents, tmp_path, env={"JOURNAL_STREAM": stream})
    assert TIMESTAMP.match(agent.line("serving"))


def test_log_level_warning_leaves_out_clients_but_keeps_bad_frames(agents, tmp_path):
    agent = start(agents, tmp_path, "--log-level", "warning")
    with agent.client():
        pass
    _bad_client(agent.path)
    agent.line("sent a bad frame")
    lines = agent.stop()
    assert not any("connected" in line or " info " in line for line in lines), lines


# -- systemd readiness --------------------------------------------------------------------------

def _notify_socket(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(60)
    return sock


@pytest.mark.parametrize("abstract", [False, True])
def test_ready_once_the_socket_listens_and_stopping_at_the_end(agents, tmp_path, abstract):
    if abstract:
        name = f"edgeprobe-test-{os.getpid()}-{tmp_path.name}"
        notify, address = _notify_socket("\0" + name), "@" + name
    else:
        address = str(tmp_path / "notify.sock")
        notify = _notify_socket(address)
    with notify:
        agent = Agent(tmp_path, env={"NOTIFY_SOCKET": address})
        agents.append(agent)
        ready = notify.recv(4096).decode().splitlines()
        assert ready == ["READY=1", f"STATUS=serving {agent.path}"]
        with agent.client() as client:  # no wait: it listens when it says so
            assert client.request("ping")["op"] == "pong"
        agent.process.send_signal(signal.SIGTERM)
        assert notify.recv(4096).decode().splitlines()[0] == "STOPPING=1"
        assert agent.process.wait(timeout=60) == 0

        # An agent that refuses to start never says it is ready.
        first = start(agents, tmp_path)
        second = subprocess.run([sys.executable, "-m", "edgeprobe", "agent", "--no-telemetry"],
                                cwd=REPO, env={**first.env, "NOTIFY_SOCKET": address},
                                capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        notify.setblocking(False)
        with pytest.raises(BlockingIOError):
            notify.recv(4096)


# -- jobs in the log and after a restart -------------------------------------------------------

def _job_record(agent: Agent, job_id: int) -> dict:
    try:
        return json.loads((agent.data / "jobs" / str(job_id) / "job.json").read_text())
    except (OSError, ValueError):
        return {}


def test_jobs_are_logged_and_listed_after_a_restart_lost_when_they_died(agents, tmp_path):
    suite = write_suite(tmp_path, models=["tiny-mamba"], lengths=[64 << i for i in range(8)])
    out = tmp_path / "long.epb"
    first = start(agents, tmp_path)
    with first.client(name="cli") as client:
        failed = client.request("start", argv=["--suite", "smoke", "--out", str(out),
                                               "--lengths", "zero"])["job"]["id"]
        described = f"job {failed} (suite smoke, bundle {out})"
        assert re.search(r"client \d+ \(cli\) submitted " + re.escape(described),
                         first.line("submitted", described))
        first.line(described, "started (pid")
        assert " warning " in first.line(described, "failed after")
        long_run = client.request("start", argv=["--suite", str(suite), "--out", str(out),
                                                 "--device", "cpu"])["job"]["id"]
        first.line(f"job {long_run} (suite {suite}, bundle {out}) started")
        queued = client.request("start", argv=["--suite", "smoke"])["job"]["id"]
        assert client.request("cancel", job=queued)["ok"]
        first.line(f"job {queued} (suite smoke, bundle not named yet) cancelled before it "
                   "started")
    pid = wait_for(lambda: _job_record(first, long_run).get("pid"))

    first.process.kill()  # the agent dies with its run going
    first.process.wait(timeout=30)
    identity = ProcessIdentity.of(pid)
    assert identity is not None and identity.alive()
    os.killpg(pid, signal.SIGKILL)  # then the run dies too, with no one to see how
    wait_for(lambda: not identity.alive())

    second = start(agents, tmp_path)
    assert "while no agent watched it: the run ended without saying how" in \
        second.line(f"job {long_run} ", "lost")
    listing = subprocess.run([sys.executable, "-m", "edgeprobe", "jobs", "--json"], cwd=REPO,
                             env=second.env, capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    states = {job["id"]: job["state"] for job in json.loads(listing.stdout)}
    assert states == {failed: "failed", long_run: "lost", queued: "cancelled"}
