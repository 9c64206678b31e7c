"""Run every check in order and gather the report."""

from __future__ import annotations

from edgeprobe.doctor.agent import agent_state, check_agent
from edgeprobe.doctor.gpu import check_gpu, check_kernels, check_torch, probe_worker
from edgeprobe.doctor.jetson import check_jtop, check_power_readings
from edgeprobe.doctor.machine import detect_machine
from edgeprobe.doctor.power import check_power
from edgeprobe.doctor.result import Report
from edgeprobe.doctor.storage import check_disk


def run_checks(run_models: bool = True, load_timeout_s: float = 600.0) -> Report:
    machine = detect_machine()
    findings = probe_worker(run_models=run_models, load_timeout_s=load_timeout_s)
    agent = agent_state()
    checks = [
        check_torch(findings),
        check_gpu(machine, findings),
        check_kernels(machine, findings),
        check_power_readings(machine),
        check_jtop(machine),
        check_power(machine, agent),
        check_disk(),
        check_agent(agent),
    ]
    return Report(machine=machine.as_dict(), checks=checks)
