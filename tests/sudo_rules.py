"""The sudo rule install/install.sh writes, read back from a dry run, and matched as sudo
matches a command against it (checked against sudo 1.9 itself: see the README)."""

from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path

from tests.conftest import REPO

UNIT = REPO / "systemd" / "edgeprobe-agent.service"
MACHINES = REPO / "tests" / "fixtures" / "machines"


def dry_run_rule(tmp_path: Path, machine: str) -> list[tuple[str, str]]:
    """The rule ``install.sh --dry-run`` prints on a recorded machine (programs found in the
    test fixtures: tests/fixtures/bin for a Jetson, tests/fixtures/machines/bin)."""
    env = {**os.environ, "EDGEPROBE_SYSFS_ROOT": str(MACHINES / machine),
           "HOME": str(tmp_path / "home"),
           "PATH": os.pathsep.join([str(REPO / "tests/fixtures/bin"), str(MACHINES / "bin"),
                                    os.environ["PATH"]])}
    done = subprocess.run(["bash", str(REPO / "install" / "install.sh"), "--dry-run",
                           "--prefix", str(tmp_path / "opt"), "--torch-wheel", "/srv/t.whl",
                           "--no-kernels", "--log-dir", str(tmp_path / "logs")],
                          capture_output=True, text=True, env=env, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return sudo_rule(done.stdout)


def sudo_rule(output: str) -> list[tuple[str, str]]:
    """The commands of the sudo rule a dry run prints, as (program, argument pattern)."""
    lines = output.split("<the rule below>", 1)[1].splitlines()[1:]
    text = "".join(line.strip().removesuffix("\\") for line in lines
                   if line.startswith("    ")).replace("\\", "")
    alias = text.split("Cmnd_Alias EDGEPROBE_POWER = ", 1)[1].split("%edgeprobe ")[0]
    assert "%edgeprobe ALL=(root) NOPASSWD: EDGEPROBE_POWER" in text
    rule = []
    for command in alias.split(","):
        path, _, pattern = command.strip().partition(" ")
        rule.append((path, pattern))
    return rule


def sudo_allows(rule: list[tuple[str, str]], path: str, args: list[str]) -> bool:
    """As sudoers matches a command: the same program, and the arguments joined by spaces
    matching the pattern (fnmatch wildcards; \"\" means no arguments at all)."""
    joined = " ".join(args)
    return any(path == allowed and (joined == "" if pattern == '""'
                                    else fnmatch.fnmatchcase(joined, pattern))
               for allowed, pattern in rule)


def unit_environment() -> dict[str, str]:
    """The service's ``Environment=`` settings."""
    found = {}
    for line in UNIT.read_text().splitlines():
        if line.startswith("Environment="):
            key, value = line.removeprefix("Environment=").split("=", 1)
            found[key] = value
    return found
