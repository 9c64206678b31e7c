"""Run every check in order and gather the report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgeprobe.doctor.agent import agent_state, check_agent
from edgeprobe.doctor.gpu import check_gpu, check_kernels, check_torch, probe_worker
from edgeprobe.doctor.jetson import check_jtop, check_power_readings
from edgeprobe.doctor.machine import detect_machine
from edgeprobe.doctor.power import check_power
from edgeprobe.doctor.result import Check, Report
from edgeprobe.doctor.storage import check_disk


def run_checks(run_models: bool = True, load_timeout_s: float = 600.0,
               on_machine: Callable[[dict[str, Any]], None] | None = None,
               on_check: Callable[[Check], None] | None = None,
               on_wait: Callable[[str], None] | None = None) -> Report:
    """Every check, in the report's order. The quick ones run first and each is handed to
    ``on_check`` as it finishes, so a person sees them while the slow one (a worker that
    imports torch and loads the tiny models) runs; ``on_wait`` says what that is."""
    machine = detect_machine()
    if on_machine:
        on_machine(machine.as_dict())
    agent = agent_state()
    quick: list[Callable[[], Check]] = [
        lambda: check_power_readings(machine), lambda: check_jtop(machine),
        lambda: check_power(machine, agent), check_disk, lambda: check_agent(agent)]
    done_quick = []
    for check in quick:
        done_quick.append(check())
        if on_check:
            on_check(done_quick[-1])
    if on_wait:
        on_wait("torch, GPU and kernels: " + ("loading the tiny models in a worker (up to "
                f"{load_timeout_s:.0f} s each)" if run_models else "importing in a worker"))
    findings = probe_worker(run_models=run_models, load_timeout_s=load_timeout_s)
    slow = [check_torch(findings), check_gpu(machine, findings),
            check_kernels(machine, findings)]
    for check in slow:
        if on_check:
            on_check(check)
    return Report(machine=machine.as_dict(), checks=[*slow, *done_quick])
