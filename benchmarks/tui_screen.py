"""Run a terminal program at a given size for a while and write its screen as text.

Uses tmux when it is installed; otherwise a pseudo-terminal read by the pyte terminal
emulator (pure Python). Then sends ``q`` and stops the program.

    python benchmarks/tui_screen.py --size 100x30 --wait 20 --out screen.txt -- \\
        python3 -m edgeprobe tui
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import select
import shlex
import shutil
import signal
import struct
import subprocess
import termios
import time
import uuid


def with_tmux(command: list[str], width: int, height: int, wait_s: float) -> str:
    server = f"edgeprobe-screen-{uuid.uuid4().hex[:8]}"

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-L", server, *args], capture_output=True, text=True,
                              timeout=30).stdout

    env = f"TERM=xterm-256color {' '.join(shlex.quote(c) for c in command)}"
    tmux("new-session", "-d", "-s", "screen", "-x", str(width), "-y", str(height), f"env {env}")
    try:
        time.sleep(wait_s)
        return tmux("capture-pane", "-p", "-t", "screen")
    finally:
        tmux("send-keys", "-t", "screen", "q")
        time.sleep(1.0)
        tmux("kill-server")


def with_pyte(command: list[str], width: int, height: int, wait_s: float) -> str:
    import pyte

    screen = pyte.Screen(width, height)
    stream = pyte.ByteStream(screen)
    pid, master = pty.fork()
    if pid == 0:  # the child: the program, on the pseudo-terminal
        os.environ["TERM"] = "xterm-256color"
        os.execvp(command[0], command)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    os.kill(pid, signal.SIGWINCH)
    deadline = time.monotonic() + wait_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    stream.feed(os.read(master, 65536))
                except OSError:  # the program ended
                    break
        return "\n".join(line.rstrip() for line in screen.display)
    finally:
        with contextlib.suppress(OSError):
            os.write(master, b"q")
        for _ in range(50):
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                break
            with contextlib.suppress(OSError):
                select.select([master], [], [], 0.1) and os.read(master, 65536)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(master)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="100x30")
    parser.add_argument("--wait", type=float, default=20.0, help="seconds before the capture")
    parser.add_argument("--out", required=True)
    parser.add_argument("--no-tmux", action="store_true", help="use pyte even with tmux")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    width, _, height = args.size.partition("x")
    use_tmux = shutil.which("tmux") is not None and not args.no_tmux
    capture = with_tmux if use_tmux else with_pyte
    text = capture(args.command, int(width), int(height), args.wait)
    with open(args.out, "w") as handle:
        handle.write(text.rstrip("\n") + "\n")
    print(f"captured with {'tmux' if use_tmux else 'pyte'}: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
