"""``edgeprobe tui`` in a real terminal: tmux runs it as a user would over SSH
(TERM=xterm-256color, 80x24), keys go in with send-keys, the screen comes back with
capture-pane. Telemetry comes from a real agent reading the recorded Orin Nano tree."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import REPO
from tests.tui_helpers import ORIN_NANO, agent_process

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

SGR = re.compile(r"\x1b\[([0-9;]*)m")
GREY_CUBE = {16, 59, 102, 145, 188, 231}


class Terminal:
    """One tmux session of its own (own socket) running one command."""

    def __init__(self, command: str, env: dict[str, str], width: int = 80,
                 height: int = 24) -> None:
        self.name = f"ep-{uuid.uuid4().hex[:8]}"
        self.socket = f"edgeprobe-test-{self.name}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        self.tmux("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                  f"cd {shlex.quote(str(REPO))} && env {exports} {command}")
        self.tmux("set-option", "-t", self.name, "remain-on-exit", "on")

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=30)
        return done.stdout

    def screen(self, escapes: bool = False) -> str:
        return self.tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", self.name)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys)

    def wait_for(self, text: str, timeout_s: float = 60.0) -> str:
        deadline = time.monotonic() + timeout_s
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{screen}")

    def exited(self, timeout_s: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.tmux("display-message", "-p", "-t", self.name, "#{pane_dead}").strip() == "1":
                return True
            time.sleep(0.2)
        return False

    def close(self) -> None:
        self.tmux("kill-server")


@pytest.fixture
def agent(tmp_path):
    socket = tmp_path / "agent.sock"
    env = {"EDGEPROBE_SYSFS_ROOT": str(ORIN_NANO), "EDGEPROBE_DATA_DIR": str(tmp_path / "data")}
    with agent_process(socket, env):
        yield socket, env


def tui_command(socket) -> str:
    return f"{shlex.quote(sys.executable)} -m edgeprobe tui --socket {shlex.quote(str(socket))}"


def base_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "TERM": "xterm-256color", "PATH": os.environ["PATH"],
            "LANG": "C.UTF-8", "HOME": os.environ.get("HOME", "/tmp")}


def test_tui_in_a_terminal_at_80x24_keyboard_only(agent):
    socket, env = agent
    term = Terminal(tui_command(socket), base_env(env))
    try:
        screen = term.wait_for("agent (edgeprobe")
        assert "MAXN_SUPER" in screen and "6.1 W board" in term.wait_for("6.1 W board")
        assert "hottest  47.8 °C" in screen or "hottest  47.8 °C" in term.wait_for("hottest")
        lines = screen.splitlines()
        assert len(lines) <= 24 and max(len(line) for line in lines) <= 80
        assert "s start" in term.wait_for("? help")  # the keys, in the footer
        term.keys("?")
        term.wait_for("browse bundles")
        term.keys("Escape")
        term.wait_for("no run yet")
        term.keys("s")
        screen = term.wait_for("start a run")
        assert "power mode" in screen and "MAXN_SUPER" in screen
        term.keys("Escape")
        term.wait_for("no run yet")
        term.keys("b")
        term.wait_for("no bundles yet")
        term.keys("Escape")
        term.wait_for("no run yet")
        time.sleep(0.5)  # a lone Escape followed at once by q reads as alt+q
        term.keys("q")
        assert term.exited(), term.screen()
    finally:
        term.close()


def _grey(params: list[int]) -> bool:
    """Whether an SGR sequence's colours (if any) are shades of grey."""
    index = 0
    while index < len(params):
        code = params[index]
        if code in (38, 48) and index + 1 < len(params):
            if params[index + 1] == 5:
                colour = params[index + 2]
                if not (colour >= 232 or colour in GREY_CUBE or colour in (0, 7, 8, 15)):
                    return False
                index += 3
                continue
            if params[index + 1] == 2:
                r, g, b = params[index + 2:index + 5]
                if max(r, g, b) - min(r, g, b) > 2:
                    return False
                index += 5
                continue
        if 31 <= code <= 36 or 41 <= code <= 46 or 91 <= code <= 96 or 101 <= code <= 106:
            return False
        index += 1
    return True


def test_no_color_leaves_only_shades_of_grey_and_the_words_that_matter(agent):
    socket, env = agent
    coloured = Terminal(tui_command(socket), base_env(env))
    plain = Terminal(tui_command(socket), {**base_env(env), "NO_COLOR": "1"})
    try:
        for term in (coloured, plain):
            term.wait_for("6.1 W board")
        sequences = {m.group(1) for m in SGR.finditer(plain.screen(escapes=True))}
        assert sequences  # it still draws bold and shades
        hues = [s for s in sequences if not _grey([int(p) for p in s.split(";") if p])]
        assert hues == []
        coloured_sequences = {m.group(1) for m in SGR.finditer(coloured.screen(escapes=True))}
        assert any(not _grey([int(p) for p in s.split(";") if p]) for s in coloured_sequences)
        # the same words either way (the panels; the tab underline may be mid-animation)
        assert plain.screen().splitlines()[2:15] == coloured.screen().splitlines()[2:15]
    finally:
        coloured.close()
        plain.close()


def test_a_stale_columns_variable_does_not_widen_the_screen(agent):
    # Scripts often export COLUMNS for other programs; the live view must still fit the
    # terminal it is in (seen on a GPU machine: panels laid out for 120 columns in 100).
    socket, env = agent
    terminal = Terminal(tui_command(socket), {**base_env(env), "COLUMNS": "140", "LINES": "50"},
                        width=100, height=30)
    try:
        screen = terminal.wait_for("°C")
        top = next(line for line in screen.splitlines() if "memory" in line)
        assert top.rstrip().endswith("╮") and len(top.rstrip()) <= 100
        assert "temperatures" in top
        terminal.keys("q")
        assert terminal.exited()
    finally:
        terminal.close()
