"""``edgeprobe jobs``: what the agent is running and has run; ``--cancel ID`` stops one."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from edgeprobe.agent.client import AgentClient, AgentUnavailable
from edgeprobe.analysis.textlayout import Grid, layout
from edgeprobe.commands.console import terminal
from edgeprobe.errors import UsageError

FINISHED_EXIT = {"completed": 0, "failed": 1, "lost": 1, "cancelled": 130, "interrupted": 130}
POLL_S = 1.0


def _job(client: AgentClient, job_id: int) -> dict[str, Any] | None:
    jobs = client.request("jobs")["jobs"]
    return next((job for job in jobs if job["id"] == job_id), None)


def wait(job_id: int, timeout_s: float | None, as_json: bool) -> int:
    """Until the job has finished (or ``timeout_s`` passed): its summary, and an exit status
    that says how it ended (0 completed, 1 failed or lost, 130 cancelled or interrupted).
    One connection serves every poll; when the agent restarts, its successor is asked."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    client = AgentClient(name="jobs")
    try:
        while True:
            try:
                job = _job(client, job_id)
            except AgentUnavailable:
                client.close()
                client = AgentClient(name="jobs")
                job = _job(client, job_id)
            if job is None:
                raise UsageError(f"the agent has no job {job_id} (see `edgeprobe jobs`)")
            if job["state"] in FINISHED_EXIT:
                break
            if deadline is not None and time.monotonic() >= deadline:
                sys.stderr.write(f"edgeprobe: job {job_id} is still {job['state']} after "
                                 f"{timeout_s:g} s ({job['points_done']} of "
                                 f"{job['points_total']} points)\n")
                return 1
            time.sleep(POLL_S)
    finally:
        client.close()
    if as_json:
        print(json.dumps(job, indent=2))
    else:
        print(f"job {job_id} {job['state']}: {job['points_done']} of {job['points_total']} "
              f"points, bundle {job.get('bundle') or '-'}"
              + (f" ({job['error']})" if job.get("error") else ""))
    return FINISHED_EXIT[job["state"]]


def main(args: argparse.Namespace) -> int:
    if args.wait is not None:
        return wait(args.wait, args.timeout, args.json)
    if args.timeout is not None:
        raise UsageError("--timeout goes with --wait JOB")
    with AgentClient(name="jobs") as client:
        if args.cancel is not None:
            reply = client.request("cancel", job=args.cancel)
            if not reply.get("ok"):
                sys.stderr.write(f"edgeprobe: job {args.cancel} is not running or queued\n")
                return 1
            print(f"job {args.cancel}: cancel requested (the run restores power settings and "
                  "closes its bundle)")
            return 0
        jobs = client.request("jobs")["jobs"]
    if args.json:
        print(json.dumps(jobs, indent=2))
        return 0
    rows = []
    for job in jobs:
        started = (time.strftime("%H:%M:%S", time.localtime(job["started_unix_s"]))
                   if job.get("started_unix_s") else "-")
        rows.append([str(job["id"]), job["state"], f"{job['points_done']}/{job['points_total']}",
                     started, job.get("error") or job.get("bundle") or "-",
                     " ".join(job["argv"])])
    # Bundle paths show whole: the arguments, then the start time, give way first.
    grid = Grid("", ["id", "state", "progress", "started", "bundle / error", "args"], rows,
                right_aligned={0, 2}, droppable=(5, 3))
    console = terminal()
    for line in layout(grid, console.width) if rows else ["no jobs yet"]:
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    return 0
