"""The commands README.md shows, run in order on this CPU machine, behave as written.

Every ``edgeprobe ...`` line of README.md's shell blocks parses with today's arguments. The
ones that only read (bundles, presets, this machine) run against the committed device
bundles and must succeed; those that need a GPU or a Jetson must refuse in one line before
any work; the long suite runs are only parsed (they would take hours here).
"""

from __future__ import annotations

import re
import shlex
import shutil

import pytest

from edgeprobe.cli import build_parser
from tests.bundle_factory import DEVICE_RESULTS
from tests.conftest import REPO

README = (REPO / "README.md").read_text()
SLICE = DEVICE_RESULTS / "h200-paper-slice.epb"
BUNDLE_NAMES = ("run.epb", "a.epb", "b.epb", "c.epb", "orin-15w.epb", "orin-maxn.epb")


def readme_commands() -> list[str]:
    """``edgeprobe`` lines of the bash blocks, without comments, pipes, redirections or a
    trailing ``&``."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].split(" | ")[0].split(" > ")[0]
            line = line.strip().removesuffix("&").strip()
            if line.startswith("edgeprobe "):
                commands.append(line)
    return commands


COMMANDS = readme_commands()
# How each command must behave here: it reads and succeeds, or it needs hardware this
# machine lacks and must refuse at once. Commands not listed are long runs, only parsed.
SUCCEEDS = ("edgeprobe models", "edgeprobe suites", "edgeprobe info", "edgeprobe status",
            "edgeprobe power-modes", "edgeprobe show", "edgeprobe compare", "edgeprobe export",
            "edgeprobe fidelity --models tiny-")
REFUSED = ("edgeprobe run --decode-mode both", "edgeprobe run --power-mode ",
           "edgeprobe run --power-modes ", "edgeprobe run --power-limit ", "edgeprobe tui")


def test_the_readme_shows_commands_of_every_kind():
    assert len(COMMANDS) > 25
    for prefix in (*SUCCEEDS, *REFUSED):
        assert any(c.startswith(prefix) for c in COMMANDS), prefix


@pytest.mark.parametrize("command", COMMANDS)
def test_every_readme_command_parses(command):
    build_parser().parse_args(shlex.split(command)[1:])  # SystemExit(2) on a stale flag


def _in_folder(command: str, folder) -> list[str]:
    for name in BUNDLE_NAMES:
        if not (folder / name).exists():
            shutil.copy(SLICE, folder / name)
    argv = []
    for arg in shlex.split(command.replace("~", str(folder)))[1:]:
        if "*" in arg and arg.endswith(".epb"):  # a shell glob: one bundle that matches it
            target = folder / arg.replace("*", "x")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(SLICE, target)
            arg = str(target)
        argv.append(arg)
    return argv


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith(SUCCEEDS)])
def test_readme_commands_that_read_succeed_here(cli, tmp_path, command):
    result = cli(*_in_folder(command, tmp_path), cwd=tmp_path,
                 env={"EDGEPROBE_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and result.stdout


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.startswith(REFUSED)])
def test_readme_commands_that_need_a_gpu_or_a_board_refuse_here(cli, tmp_path, command):
    out = tmp_path / "never.epb"
    argv = _in_folder(command, tmp_path) + (["--out", str(out)] if "run" in command else [])
    result = cli(*argv, cwd=tmp_path, env={"EDGEPROBE_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode in (2, 3), result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgeprobe: ") and not out.exists()
