"""User-facing errors: one clear line and an exit code, never a traceback."""

from __future__ import annotations


class EdgeprobeError(Exception):
    """A problem the user can fix (bad flag, unknown model, unreadable file).

    The CLI prints ``edgeprobe: <message>`` and exits with ``exit_code``.
    """

    exit_code: int = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(EdgeprobeError):
    """Bad command-line input."""

    exit_code = 2


class ProfileError(EdgeprobeError):
    """A suite, model or device profile that cannot be read or is invalid."""

    exit_code = 2


class ReaderGone(Exception):
    """The reader of stdout went away (``edgeprobe compare a b | head -1``): exit 0."""
