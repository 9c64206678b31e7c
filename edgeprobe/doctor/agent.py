"""Whether the agent answers on its socket, and whether it runs as root (so it can change
power modes for the runs it executes)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import psutil

from edgeprobe.agent.client import AgentClient, AgentUnavailable
from edgeprobe.agent.paths import socket_path
from edgeprobe.doctor.accounts import checked_user, membership_problem
from edgeprobe.doctor.result import OK, WARN, Check
from edgeprobe.errors import EdgeprobeError

START_FIX = ("sudo systemctl enable --now edgeprobe-agent (install/install.sh installs the "
             "service), or start one for yourself: `edgeprobe agent &`")


@dataclass(frozen=True)
class AgentState:
    path: Path
    answers: bool
    as_root: bool = False
    version: str | None = None
    error: str | None = None


def agent_state(timeout_s: float = 3.0) -> AgentState:
    path = socket_path()
    try:
        with AgentClient(path, name="doctor", timeout_s=timeout_s) as client:
            hello = client.server
    except (AgentUnavailable, EdgeprobeError, OSError) as exc:
        return AgentState(path, False, error=str(exc))
    as_root = False
    with contextlib.suppress(psutil.Error, ValueError):
        as_root = psutil.Process(int(hello.get("pid", -1))).uids().effective == 0
    return AgentState(path, True, as_root, hello.get("edgeprobe_version"))


def check_agent(state: AgentState) -> Check:
    title = "agent reachable"
    if state.answers:
        who = "as root" if state.as_root else "as a user (power changes through sudo -n)"
        return Check("agent", title, OK,
                     f"edgeprobe {state.version} agent at {state.path}, running {who}",
                     data={"socket": str(state.path), "as_root": state.as_root})
    error = state.error or ""
    fix = START_FIX
    if "ermission denied" in error:
        group = membership_problem(checked_user(), "edgeprobe", "the agent's socket")
        fix = group[1] if group else "sudo usermod -aG edgeprobe $USER, then log in again"
    elif state.path.exists():
        fix = "the socket is stale: sudo systemctl restart edgeprobe-agent"
    return Check("agent", title, WARN,
                 f"{error or 'no agent'}; runs and the TUI work without it (the TUI then samples "
                 "in its own process and shows no jobs; no --detach)",
                 fix, data={"socket": str(state.path)})
