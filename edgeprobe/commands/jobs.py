"""``edgeprobe jobs``: what the agent is running and has run; ``--cancel ID`` stops one."""

from __future__ import annotations

import argparse
import json
import time

from rich.table import Table

from edgeprobe.agent.client import AgentClient
from edgeprobe.commands.console import terminal


def main(args: argparse.Namespace) -> int:
    with AgentClient(name="jobs") as client:
        if args.cancel is not None:
            reply = client.request("cancel", job=args.cancel)
            if not reply.get("ok"):
                print(f"edgeprobe: job {args.cancel} is not running or queued")
                return 1
            print(f"job {args.cancel}: cancel requested (the run restores power settings and "
                  "closes its bundle)")
            return 0
        jobs = client.request("jobs")["jobs"]
    if args.json:
        print(json.dumps(jobs, indent=2))
        return 0
    table = Table(header_style="bold", pad_edge=False)
    for column in ("id", "state", "progress", "started", "bundle / error", "args"):
        table.add_column(column)
    for job in jobs:
        started = (time.strftime("%H:%M:%S", time.localtime(job["started_unix_s"]))
                   if job.get("started_unix_s") else "-")
        table.add_row(str(job["id"]), job["state"],
                      f"{job['points_done']}/{job['points_total']}", started,
                      job.get("error") or job.get("bundle") or "-", " ".join(job["argv"]))
    terminal().print(table)
    return 0
