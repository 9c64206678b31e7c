"""Every everyday command on an 80x24 terminal (a pseudo-terminal, read back through a
terminal emulator) and into a pipe: no line wider than the terminal, no name, path or number
broken across lines, no escape code in a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

import pyte
import pytest

from tests.bundle_factory import DEVICE_RESULTS
from tests.conftest import REPO

BOARD = REPO / "tests" / "fixtures" / "sysfs" / "orin-nano-jp6"
SLICE = str(DEVICE_RESULTS / "h200-paper-slice.epb")
MAXCTX = str(DEVICE_RESULTS / "h200-maxctx-24GiB.epb")
ENV = {"EDGEPROBE_SYSFS_ROOT": str(BOARD),
       "PATH": f"{REPO / 'tests' / 'fixtures' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")

# command -> words that must each show whole on one line
COMMANDS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("models",): ("falcon-h1-0.5b", "granite-4.0-h-1b", "mamba2-780m", "tiny-falcon-h1"),
    ("suites",): ("paper-desktop", "edge-hybrids"),
    ("info",): ("/sys/class/thermal/thermal_zone8/temp", "MAXN_SUPER"),
    ("status", "--local"): ("MAXN_SUPER",),
    ("power-modes",): ("MAXN_SUPER",),
    ("show", SLICE): (SLICE, "mamba2-780m/mamba_ssm", "falcon-h1-0.5b"),
    ("show", SLICE, "--timing"): (SLICE, "5m"),
    ("compare", SLICE, MAXCTX): ("h200-maxctx-24GiB", "mamba2-780m/mamba_ssm", "~20,552",
                                 "433,152"),
    ("doctor", "--quick"): ("ready",),
    ("run", "--help"): ("--memory-budget", "--attention-backend"),
}


EXIT = {"doctor": 1}  # on the recorded board torch sees no GPU: "not ready" is the answer


def _terminal(argv: tuple[str, ...], columns: int = 80, rows: int = 24) -> list[str]:
    """What a person sees: the command on a pseudo-terminal of that size, its output read
    back through a terminal emulator (tall enough to hold all of it)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen([sys.executable, "-m", "edgeprobe", *argv], cwd=REPO,
                               env={**env, **ENV, "TERM": "xterm-256color"},
                               stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the other side closed
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    os.close(leader)
    assert process.wait(timeout=60) == EXIT.get(argv[0], 0)
    raw = b"".join(chunks).decode("utf-8", "replace")
    for line in ANSI.sub("", raw).replace("\r", "").split("\n"):
        # The program laid it out, not the terminal; a one-line message on stderr naming a
        # path stays one line.
        assert len(line) <= columns or line.startswith("edgeprobe: "), line
    screen = pyte.Screen(columns, 2000)
    pyte.Stream(screen).feed(raw.replace("\n", "\r\n").replace("\r\r\n", "\r\n"))
    return [line.rstrip() for line in screen.display if line.strip()]


@pytest.mark.parametrize("argv", list(COMMANDS), ids=" ".join)
def test_on_an_80_column_terminal_nothing_is_cut(argv):
    lines = _terminal(argv)
    assert lines
    for word in COMMANDS[argv]:
        assert any(word in line for line in lines), word


@pytest.mark.parametrize("argv", list(COMMANDS), ids=" ".join)
def test_into_a_pipe_no_escape_codes_and_whole_lines(cli, argv):
    env = {**ENV, "COLUMNS": ""}
    result = cli(*argv, env=env)
    assert result.returncode == EXIT.get(argv[0], 0), result.stderr
    assert "\x1b" not in result.stdout and "\x1b" not in result.stderr
    for word in COMMANDS[argv]:
        assert any(word in line for line in result.stdout.splitlines()), word
