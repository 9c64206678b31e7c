"""A run's arguments as its bundle records them, and as ``edgeprobe run --resume`` replays them.

The header keeps ``run_argv``: the arguments of ``edgeprobe run`` without the bundle path and
the flags that only steer this terminal, with every path made absolute, so a resumed run
started from another folder (or by the agent) runs the same command.
"""

from __future__ import annotations

from pathlib import Path

# Flags that change how a run is shown or where it runs, not what it measures.
_CLIENT_FLAGS = frozenset({"--local", "--event-stream", "--detach", "--quiet"})
# Options whose value names this run's bundle: a resumed run writes the bundle it resumes.
_BUNDLE_OPTIONS = frozenset({"--out", "--resume"})
_PATH_OPTIONS = frozenset({"--suite", "--weights", "--trace-dir", "--model-dir"})


def _absolute(option: str, value: str) -> str:
    if option == "--weights" and "=" in value:
        model, folder = value.split("=", 1)
        return f"{model}={Path(folder).expanduser().resolve()}"
    path = Path(value).expanduser()
    if option == "--suite" and path.suffix != ".toml" and not path.exists():
        return value  # a suite by name
    return str(path.resolve())


def _split(argv: list[str]) -> list[tuple[str, str | None]]:
    """(option or argument, its value where it takes one of the options handled here)."""
    items: list[tuple[str, str | None]] = []
    index = 0
    while index < len(argv):
        item = argv[index]
        flag, equals, value = item.partition("=")
        if equals and flag in _BUNDLE_OPTIONS | _PATH_OPTIONS:
            items.append((flag, value))
        elif item in _BUNDLE_OPTIONS | _PATH_OPTIONS and index + 1 < len(argv):
            items.append((item, argv[index + 1]))
            index += 1
        else:
            items.append((item, None))
        index += 1
    return items


def recorded_argv(raw_argv: list[str]) -> list[str]:
    """``edgeprobe run`` ARGS as the header records them (``raw_argv`` may start with
    ``run``)."""
    argv = raw_argv[1:] if raw_argv[:1] == ["run"] else list(raw_argv)
    recorded: list[str] = []
    for item, value in _split(argv):
        if item in _CLIENT_FLAGS or item in _BUNDLE_OPTIONS:
            continue
        recorded += [item] if value is None else [item, _absolute(item, value)]
    return recorded


def without_resume(raw_argv: list[str]) -> list[str]:
    """The options given beside ``--resume PATH`` (which a resumed run adds to the replayed
    ones), without it."""
    argv = raw_argv[1:] if raw_argv[:1] == ["run"] else list(raw_argv)
    kept: list[str] = []
    for item, value in _split(argv):
        if item == "--resume":
            continue
        kept += [item] if value is None else [item, value]
    return kept


def from_command(command: object) -> list[str] | None:
    """ARGS of ``edgeprobe run`` from a header's ``command`` (a process's argv), for bundles
    written before ``run_argv`` was recorded; None when it is not a run's command."""
    if not isinstance(command, list) or "run" not in command:
        return None
    return recorded_argv([str(c) for c in command[command.index("run") + 1:]])
