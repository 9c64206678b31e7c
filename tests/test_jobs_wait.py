"""``edgeprobe jobs --wait``: a script (or a playbook) waits for a detached run through the
agent, and learns from the exit status how it ended."""

from __future__ import annotations

import json
import os
import re

from tests.conftest import write_suite
from tests.tui_helpers import agent_process


def _detach(cli, env, *args) -> int:
    result = cli("run", *args, "--device", "cpu", "--detach", env=env)
    assert result.returncode == 0, result.stderr
    return int(re.search(r"agent job (\d+) queued", result.stdout).group(1))


def test_wait_for_a_detached_run(cli, tmp_path):
    socket_path = tmp_path / "agent.sock"
    env = {"EDGEPROBE_DATA_DIR": str(tmp_path / "data"), "EDGEPROBE_SOCKET": str(socket_path)}
    suite = write_suite(tmp_path, models=["tiny-qwen2"], lengths=[64], decode_tokens=0,
                        prefill_variants=["lean"])
    with agent_process(socket_path, {**os.environ, **env}, "--no-telemetry"):
        long_job = _detach(cli, env, "--suite", "smoke", "--out", str(tmp_path / "long.epb"))
        short_job = _detach(cli, env, "--suite", str(suite), "--out", str(tmp_path / "s.epb"))
        # The smoke run takes far longer than a tenth of a second: the wait gives up.
        early = cli("jobs", "--wait", str(long_job), "--timeout", "0.1", env=env)
        assert early.returncode == 1
        assert re.fullmatch(rf"edgeprobe: job {long_job} is still (queued|running) after 0.1 s "
                            r"\(\d+ of \d+ points\)", early.stderr.strip())
        assert cli("jobs", "--cancel", str(long_job), env=env).returncode == 0
        cancelled = cli("jobs", "--wait", str(long_job), env=env)
        assert cancelled.returncode == 130 and "cancelled" in cancelled.stdout

        done = cli("jobs", "--wait", str(short_job), "--json", env=env)
        assert done.returncode == 0, done.stderr
        job = json.loads(done.stdout)
        assert job["state"] == "completed" and job["bundle"] == str(tmp_path / "s.epb")
        assert (tmp_path / "s.epb").exists()

        missing = cli("jobs", "--wait", "999", env=env)
        assert missing.returncode == 2
        assert missing.stderr.strip() == ("edgeprobe: the agent has no job 999 (see "
                                          "`edgeprobe jobs`)")
