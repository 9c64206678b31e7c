"""CPU share of ``edgeprobe tui`` and of ``edgeprobe agent``, idle and while a run streams.

Both run as the user runs them: the agent as ``edgeprobe agent`` (real sensors of this
machine, or a recorded tree with ``EDGEPROBE_SYSFS_ROOT``), the TUI in a pseudo-terminal of
--size (TERM=xterm-256color) whose output this script reads and throws away. CPU time
(user + system, from psutil) over a window, divided by the window: percent of one core.

Phases:
  agent idle        agent alone
  agent+tui idle    agent and one TUI, no run
  streaming         a run's events flowing to the TUI. --stream replay (default) starts a
                    second agent whose job queue plays the recorded run of
                    tests/fixtures/runs at one event per --event-interval; --stream real starts
                    ``edgeprobe run --detach`` (ARGS after --) on the real agent: that run's own
                    processes are not counted.

    python benchmarks/tui_cpu.py                       # replayed run, 20 s windows
    python benchmarks/tui_cpu.py --stream real -- --suite smoke --device cuda

Aims: the TUI under 5 % of one core at its refresh rate (the agent's publish rate,
default 2 Hz), the agent under 1 % idle. Writes $OUT/tui_cpu.json (default ./out).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import pty
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
REPLAY = REPO / "tests" / "fixtures" / "bin" / "run-replay"
RECORDING = REPO / "tests" / "fixtures" / "runs" / "cpu-oom-400MiB.jsonl"
KERNELS = REPO / "tests" / "fixtures" / "runs" / "kernels-event.jsonl"

# An agent whose job queue plays a recorded run instead of starting one (benchmarks only).
REPLAY_AGENT = """
import asyncio, sys
from pathlib import Path
from edgeprobe.agent.feed import make_feed
from edgeprobe.agent.jobs import JobQueue
from edgeprobe.agent.server import AgentServer
server = AgentServer(Path(sys.argv[1]), telemetry=make_feed(float(sys.argv[3])),
                     rate_hz=float(sys.argv[4]))
server.jobs = JobQueue(server.broadcast, python=sys.argv[2])
asyncio.run(server.serve_forever())
"""


def wait_socket(path: Path, process: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"agent exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as probe:
            probe.connect(str(path))
            return
        time.sleep(0.1)
    raise RuntimeError("agent socket never appeared")


def start_agent(path: Path, env: dict[str, str], args: argparse.Namespace,
                replay: bool) -> subprocess.Popen[bytes]:
    if replay:
        argv = [sys.executable, "-c", REPLAY_AGENT, str(path), str(REPLAY), str(args.rate),
                str(args.publish_rate)]
    else:
        argv = [sys.executable, "-m", "edgeprobe", "agent", "--socket", str(path), "--rate",
                str(args.rate), "--publish-rate", str(args.publish_rate)]
    process = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    wait_socket(path, process)
    return process


class TuiInPty:
    """``edgeprobe tui`` in a pseudo-terminal; a thread drains what it draws."""

    def __init__(self, socket_path: Path, env: dict[str, str], size: tuple[int, int]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        self.master = master
        self.bytes_drawn = 0
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edgeprobe", "tui", "--socket", str(socket_path)],
            cwd=REPO, env={**env, "TERM": "xterm-256color"}, stdin=slave, stdout=slave,
            stderr=slave, start_new_session=True)
        os.close(slave)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.bytes_drawn += len(chunk)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self.master, b"q")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        with contextlib.suppress(OSError):
            os.close(self.master)


def cpu_share(processes: dict[str, psutil.Process], window_s: float) -> dict[str, float]:
    """Percent of one core each process used over the window (children not included)."""
    def total(process: psutil.Process) -> float:
        times = process.cpu_times()
        return times.user + times.system

    before = {name: total(p) for name, p in processes.items()}
    start = time.monotonic()
    time.sleep(window_s)
    elapsed = time.monotonic() - start
    return {name: 100.0 * (total(p) - before[name]) / elapsed for name, p in processes.items()}


def request(path: Path, message: dict[str, Any]) -> dict[str, Any]:
    sys.path.insert(0, str(REPO))
    from edgeprobe.agent.client import AgentClient

    with AgentClient(path, name="benchmark") as client:
        return client.request(message.pop("op"), **message)


def run_phases(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    env = {**os.environ, "EDGEPROBE_DATA_DIR": str(workdir / "data"), "PYTHONUNBUFFERED": "1"}
    results: list[dict[str, Any]] = []

    def record(phase: str, shares: dict[str, float], note: str = "") -> None:
        for name, share in shares.items():
            results.append({"phase": phase, "process": name, "cpu_pct_of_one_core": share,
                            "note": note})
            print(f"  {phase:<16} {name:<6} {share:6.2f} % {note}", flush=True)

    agent_path = workdir / "agent.sock"
    agent = start_agent(agent_path, env, args, replay=False)
    tui: TuiInPty | None = None
    try:
        time.sleep(args.settle)
        record("agent idle", cpu_share({"agent": psutil.Process(agent.pid)}, args.window))
        tui = TuiInPty(agent_path, env, args.size)
        time.sleep(args.settle)
        drawn = tui.bytes_drawn
        shares = cpu_share({"agent": psutil.Process(agent.pid),
                            "tui": psutil.Process(tui.process.pid)}, args.window)
        record("agent+tui idle", shares,
               f"(TUI drew {(tui.bytes_drawn - drawn) / args.window:.0f} B/s)")
        if args.stream == "real":
            reply = request(agent_path, {"op": "start", "argv": list(args.run_args)})
            print(f"  started job {reply['job']['id']}: edgeprobe run {' '.join(args.run_args)}")
            time.sleep(args.settle)
            drawn = tui.bytes_drawn
            shares = cpu_share({"agent": psutil.Process(agent.pid),
                                "tui": psutil.Process(tui.process.pid)}, args.window)
            record("streaming", shares, f"(real run; TUI drew "
                   f"{(tui.bytes_drawn - drawn) / args.window:.0f} B/s)")
    finally:
        if tui is not None:
            tui.stop()
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=30)
    if args.stream == "replay":
        replay_phase(args, workdir, env, record)
    return results


def replay_phase(args: argparse.Namespace, workdir: Path, env: dict[str, str],
                 record: Any) -> None:
    path = workdir / "replay.sock"
    events = sum(1 for line in RECORDING.read_text().splitlines() if line.strip())
    loops = max(1, int((args.window + 2 * args.settle) / (args.event_interval * events)) + 1)
    recording = workdir / "long-run.jsonl"
    lines = [line for line in RECORDING.read_text().splitlines() if line.strip()]
    kernels = KERNELS.read_text().strip()
    recording.write_text("\n".join([*lines[:-1], kernels] * loops + [lines[-1]]) + "\n")
    env = {**env, "EDGEPROBE_REPLAY": str(recording),
           "EDGEPROBE_REPLAY_DELAY_S": str(args.event_interval)}
    agent = start_agent(path, env, args, replay=True)
    tui: TuiInPty | None = None
    try:
        tui = TuiInPty(path, env, args.size)
        time.sleep(args.settle)
        request(path, {"op": "start", "argv": ["--suite", "smoke"]})
        time.sleep(args.settle)
        drawn = tui.bytes_drawn
        shares = cpu_share({"agent": psutil.Process(agent.pid),
                            "tui": psutil.Process(tui.process.pid)}, args.window)
        record("streaming", shares, f"(replayed run, one event per {args.event_interval:g} s; "
               f"TUI drew {(tui.bytes_drawn - drawn) / args.window:.0f} B/s)")
    finally:
        if tui is not None:
            tui.stop()
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured per phase")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--rate", type=float, default=10.0, help="agent sampling rate, Hz")
    parser.add_argument("--publish-rate", type=float, default=2.0,
                        help="telemetry frames per second to clients (the TUI's refresh)")
    parser.add_argument("--size", default="80x24", help="terminal size, e.g. 100x30")
    parser.add_argument("--stream", choices=("replay", "real"), default="replay")
    parser.add_argument("--event-interval", type=float, default=0.25,
                        help="replay: seconds between run events")
    parser.add_argument("run_args", nargs="*", help="real: arguments of edgeprobe run")
    args = parser.parse_args()
    width, _, height = args.size.partition("x")
    args.size = (int(width), int(height))
    out = Path(os.environ.get("OUT", "out"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"edgeprobe tui/agent CPU share: {args.window:g} s windows, sampling {args.rate:g} Hz, "
          f"publishing {args.publish_rate:g} Hz, terminal {width}x{height}, "
          f"{psutil.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="edgeprobe-bench-") as workdir:
        results = run_phases(args, Path(workdir))
    (out / "tui_cpu.json").write_text(json.dumps({"settings": {
        "window_s": args.window, "rate_hz": args.rate, "publish_rate_hz": args.publish_rate,
        "size": args.size, "stream": args.stream}, "results": results}, indent=2))
    print("\nphase             process  CPU (% of one core)")
    for row in results:
        print(f"{row['phase']:<17} {row['process']:<8} {row['cpu_pct_of_one_core']:6.2f}")
    print(f"written: {out / 'tui_cpu.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
