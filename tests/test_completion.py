"""Shell completion (argcomplete): what bash gets for a partly typed edgeprobe command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edgeprobe.suite import list_presets
from tests.conftest import REPO


def _complete(tmp_path, line: str) -> list[str]:
    out = tmp_path / "completions.txt"
    env = {"COMP_LINE": line, "COMP_POINT": str(len(line)), "_ARGCOMPLETE": "1",
           "_ARGCOMPLETE_STDOUT_FILENAME": str(out), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "edgeprobe"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60, pass_fds=())
    assert done.returncode == 0, done.stderr
    return sorted(out.read_text().replace("\x0b", "\n").split()) if out.exists() else []


@pytest.mark.parametrize(("line", "expected"), [
    ("edgeprobe sta", ["status"]),
    ("edgeprobe run --sui", ["--suite"]),
    ("edgeprobe run --suite paper-", ["paper-desktop", "paper-edge"]),
    ("edgeprobe fidelity --models mamba2-", ["mamba2-1.3b", "mamba2-130m", "mamba2-780m"]),
])
def test_commands_options_suites_and_presets_complete(tmp_path, line, expected):
    assert _complete(tmp_path, line) == expected


def test_every_preset_completes_after_models(tmp_path):
    assert _complete(tmp_path, "edgeprobe run --models ") == sorted(list_presets())
