"""Who the checks are for, and their groups, read from /etc/passwd and /etc/group in the
sensor root (so tests and reproductions can point at a recorded tree)."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

from edgeprobe import sysroot


@dataclass(frozen=True)
class Membership:
    group_exists: bool
    member: bool  # listed in /etc/group, or the group is the user's primary group
    active: bool | None  # in this process's groups; None when that cannot be told (via sudo)


def checked_user() -> str:
    """The person running doctor: under sudo, the one who called sudo."""
    if os.geteuid() == 0 and os.environ.get("SUDO_USER"):
        return os.environ["SUDO_USER"]
    return getpass.getuser()


def _entries(path: str) -> list[list[str]]:
    text = sysroot.read_text(path) or ""
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def membership(user: str, group: str) -> Membership:
    groups = [fields for fields in _entries("/etc/group") if len(fields) >= 4]
    entry = next((fields for fields in groups if fields[0] == group), None)
    if entry is None:
        return Membership(False, False, None)
    gid = entry[2]
    listed = user in [name.strip() for name in entry[3].split(",") if name.strip()]
    primary = any(fields[0] == user and len(fields) > 3 and fields[3] == gid
                  for fields in _entries("/etc/passwd"))
    active: bool | None = None
    if not os.environ.get("SUDO_USER") and user == getpass.getuser() and gid.isdigit():
        active = int(gid) in os.getgroups() or int(gid) == os.getegid()
    return Membership(True, listed or primary, active)


def membership_problem(user: str, group: str, purpose: str) -> tuple[str, str] | None:
    """(detail, fix) when ``user`` cannot use ``group`` yet, else None. Root needs no group."""
    if user == "root":
        return None
    found = membership(user, group)
    if not found.group_exists:
        return (f"group {group} does not exist ({purpose})",
                "run `sudo install/install.sh`, which creates it")
    if not found.member:
        return (f"{user} is not in group {group} ({purpose})",
                f"sudo usermod -aG {group} {user}, then log out and back in")
    if found.active is False:
        return (f"{user} was added to group {group} after this login ({purpose})",
                "log out and back in (or run `newgrp " + group + "`)")
    return None
