"""Jobs outlive the agent: an agent killed with SIGKILL leaves its run going, the next agent
on the same socket and data folder lists it, relays its new events and cancels it; jobs
that ended while no agent ran keep their last known state; a pid now held by another
process is not taken for the job; finished jobs stay listed, the newest 100."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from edgeprobe.agent.client import AgentClient
from edgeprobe.agent.jobs import JobQueue
from edgeprobe.bundle import read_bundle
from tests.conftest import REPO, write_suite
from tests.tui_helpers import (
    REPLAY_PROGRAM,
    job_events,
    recorded_events,
    stop_agent,
    stop_jobs,
    use_recordings,
    wait_for_socket,
)

TIMEOUT_S = 120.0


def wait_until(predicate: Callable[[], object], what: str, timeout_s: float = TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def job_record(data: Path, job_id: int) -> dict:
    """``<data>/jobs/<id>/job.json``."""
    return json.loads((data / "jobs" / str(job_id) / "job.json").read_text())


class Agents:
    """``edgeprobe agent`` processes on one socket and data folder, started one after the
    other; whatever they started is stopped at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "agent.sock"
        self.data = tmp_path / "data"
        self.env = {**os.environ, "EDGEPROBE_DATA_DIR": str(self.data),
                    "EDGEPROBE_SOCKET": str(self.path), "PYTHONUNBUFFERED": "1"}
        self.processes: list[subprocess.Popen[str]] = []

    def start(self) -> subprocess.Popen[str]:
        process = subprocess.Popen([sys.executable, "-m", "edgeprobe", "agent",
                                    "--no-telemetry"], cwd=REPO, env=self.env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.processes.append(process)
        wait_for_socket(self.path, process)
        return process

    def client(self, name: str = "test") -> AgentClient:
        return AgentClient(self.path, name=name, timeout_s=30)

    def close(self) -> None:
        for process in self.processes:
            stop_agent(process)
        stop_jobs(self.data)


@pytest.fixture
def agents(tmp_path) -> Iterator[Agents]:
    agents = Agents(tmp_path)
    yield agents
    agents.close()


@pytest.mark.slow
def test_a_run_outlives_a_killed_agent_and_the_next_agent_follows_and_cancels_it(
        agents, tmp_path):
    # Far more work than the test waits for (it cancels the run after a few points), so
    # that no machine finishes it first; the first points are the quick ones.
    suite = write_suite(tmp_path, models=["tiny-qwen2", "tiny-mamba2", "tiny-mamba"],
                        lengths=[64 << i for i in range(10)])
    out = tmp_path / "outlives.epb"
    first = agents.start()
    with agents.client() as client:
        client.request("subscribe", topics=["run"])
        failed = client.request("start", argv=["--lengths", "zero"])["job"]
        assert job_events(client, failed["id"], lambda e: e["kind"] == "job_finished",
                          TIMEOUT_S)[-1]["state"] == "failed"
        job = client.request("start", argv=["--suite", str(suite), "--out", str(out),
                                            "--device", "cpu"])["job"]
        job_events(client, job["id"], lambda e: e["kind"] == "point", TIMEOUT_S)
    record = job_record(agents.data, job["id"])
    pid = record["pid"]
    assert record["state"] == "running" and running(pid)

    first.kill()  # SIGKILL: no chance to tidy up
    first.wait(timeout=30)
    events = agents.data / "jobs" / str(job["id"]) / "events.jsonl"
    sizes = (out.stat().st_size, events.stat().st_size)
    wait_until(lambda: out.stat().st_size > sizes[0] and events.stat().st_size > sizes[1],
               "the bundle and the event file to grow with no agent")
    assert running(pid)

    agents.start()
    with agents.client() as client:
        listed = {j["id"]: j for j in client.request("jobs")["jobs"]}
        assert listed[failed["id"]]["state"] == "failed"
        assert "zero" in (listed[failed["id"]]["error"] or "")
        assert listed[job["id"]]["state"] == "running"
        assert listed[job["id"]]["points_done"] >= 1
        assert client.request("status")["job"]["id"] == job["id"]
        assert client.request("recent", job=job["id"])["events"][0]["kind"] == "started"
        client.request("subscribe", topics=["run"])
        done_before = listed[job["id"]]["points_done"]
        fresh = job_events(client, job["id"], lambda e: e["kind"] == "point", TIMEOUT_S)
        assert fresh[-1]["record"]["seq"] > done_before
        assert client.request("cancel", job=job["id"])["ok"]
        finished = job_events(client, job["id"], lambda e: e["kind"] == "job_finished",
                              TIMEOUT_S)[-1]
    assert finished["state"] == "cancelled"
    assert not running(pid)
    bundle = read_bundle(out)
    assert bundle.footer["status"] == "interrupted" and len(bundle.points) >= 2
    assert job_record(agents.data, job["id"])["state"] == "cancelled"


# -- the job queue alone, with the recorded run played in place of `edgeprobe run` -----------

class Queues:
    """Job queues on one folder, one after the other, as agents restarted would hold them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.relayed: list[dict] = []

    async def broadcast(self, topic: str, data: dict) -> None:
        self.relayed.append(data)

    def start(self) -> JobQueue:
        queue = JobQueue(self.broadcast, python=str(REPLAY_PROGRAM), root=self.root)
        queue.start()
        return queue


async def until(predicate: Callable[[], object], what: str, timeout_s: float = TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def _kill_and_wait(job, sig: signal.Signals) -> None:
    os.killpg(job.pid, sig)
    wait_until(lambda: not running(job.pid), f"job {job.id} to end")


def test_jobs_that_ended_while_no_agent_ran_keep_their_last_known_state(tmp_path, monkeypatch):
    use_recordings(monkeypatch, tmp_path, delay_s=0.05, kernels=False)
    queues = Queues(tmp_path / "jobs")
    sleeper = subprocess.Popen(["sleep", "300"])

    async def scenario() -> None:
        first = queues.start()
        done = first.submit(["--suite", "smoke"])
        await until(lambda: done.state == "completed", "the first job to complete")
        signalled = first.submit(["--suite", "smoke"])
        await until(lambda: signalled.points_done >= 2, "the second job's points")
        queued = first.submit(["--suite", "smoke"])
        await first.stop()  # the agent goes; its running job and the queue stay on disk
        assert running(signalled.pid)
        _kill_and_wait(signalled, signal.SIGTERM)  # ends cleanly, with no agent to see it

        second = queues.start()
        assert second.jobs[done.id].state == "completed"
        assert len(second.recent(done.id)) == len(recorded_events())
        assert second.jobs[signalled.id].state == "interrupted"
        assert second.jobs[signalled.id].points_done >= signalled.points_done
        rerun = second.jobs[queued.id]
        await until(lambda: rerun.state == "running" and rerun.points_done >= 1,
                    "the queued job to run under the next agent")
        await second.stop()
        _kill_and_wait(rerun, signal.SIGKILL)  # no finished event: nobody knows how it ended

        third = queues.start()
        lost = third.jobs[queued.id]
        assert lost.state == "lost" and "no finished event" in (lost.error or "")
        reused = third.submit(["--suite", "smoke"])
        assert reused.id == queued.id + 1
        await until(lambda: reused.points_done >= 1, "the fourth job's points")
        await third.stop()
        _kill_and_wait(reused, signal.SIGKILL)
        # Its pid now names another process (as after pid reuse): not the job.
        record = job_record(tmp_path, reused.id)
        record["pid"] = sleeper.pid
        (tmp_path / "jobs" / str(reused.id) / "job.json").write_text(json.dumps(record))

        fourth = queues.start()
        assert fourth.jobs[reused.id].state == "lost"
        assert not await fourth.cancel(reused.id)
        assert fourth.running() is None
        await fourth.stop()

    try:
        asyncio.run(scenario())
        assert sleeper.poll() is None  # never signalled
    finally:
        sleeper.kill()
        sleeper.wait()
    states = {record["id"]: record["state"] for record in
              (json.loads(p.read_text()) for p in (tmp_path / "jobs").glob("*/job.json"))}
    assert states == {1: "completed", 2: "interrupted", 3: "lost", 4: "lost"}
    assert not list((tmp_path / "jobs").glob("*/tmp"))  # each job's temporary folder went


def test_history_keeps_the_newest_finished_jobs(tmp_path, monkeypatch):
    use_recordings(monkeypatch, tmp_path)
    root = tmp_path / "jobs"
    for job_id in range(1, 106):
        folder = root / str(job_id)
        folder.mkdir(parents=True)
        (folder / "job.json").write_text(json.dumps(
            {"id": job_id, "argv": ["--suite", "smoke"], "state": "completed",
             "submitted_unix_s": 1.0e9 + job_id, "points_done": 12, "points_total": 12}))
    (root / "notes").mkdir()  # not a job's folder: left alone

    async def scenario() -> None:
        queue = Queues(root).start()
        assert sorted(queue.jobs) == list(range(6, 106))
        assert queue.jobs[105].summary()["points_done"] == 12
        assert queue.submit(["--suite", "smoke"]).id == 106
        assert await queue.cancel(106)
        await queue.stop()

    asyncio.run(scenario())
    assert sorted(int(p.name) for p in root.iterdir() if p.name.isdigit()) == \
        list(range(6, 107))
    assert (root / "notes").is_dir()


def test_one_agent_at_a_time_uses_a_jobs_folder(agents, tmp_path):
    agents.start()
    env = {**agents.env, "EDGEPROBE_SOCKET": str(tmp_path / "other.sock")}
    second = subprocess.run([sys.executable, "-m", "edgeprobe", "agent", "--no-telemetry"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    assert second.stderr.strip().splitlines()[-1] == \
        f"edgeprobe: another agent is using {agents.data / 'jobs'} for its jobs"
    assert "Traceback" not in second.stderr
