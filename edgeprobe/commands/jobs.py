"""``edgeprobe jobs``: what the agent is running and has run; ``--cancel ID`` stops one."""

from __future__ import annotations

import argparse
import json
import sys
import time

from edgeprobe.agent.client import AgentClient
from edgeprobe.analysis.textlayout import Grid, layout
from edgeprobe.commands.console import terminal


def main(args: argparse.Namespace) -> int:
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
