"""Where profiles live, and reading one TOML file with a clear error."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from edgeprobe.errors import ProfileError
from edgeprobe.files import open_regular

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ENV_VAR = "EDGEPROBE_PROFILES"


def profiles_dir() -> Path:
    """``$EDGEPROBE_PROFILES``, else the checkout's ``profiles/``, else the installed copy."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2] / "profiles"
    if checkout.is_dir():
        return checkout
    installed = Path(sys.prefix) / "share" / "edgeprobe" / "profiles"
    if installed.is_dir():
        return installed
    raise ProfileError(f"no profiles found: set {ENV_VAR} to a folder with models/ and suites/")


# Profiles are a few kB; a larger file is not one.
MAX_PROFILE_BYTES = 1 << 20


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open_regular(path, "a TOML profile", ProfileError, MAX_PROFILE_BYTES) as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not a TOML file (it is not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML ({exc})") from None


_KIND_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
               list: "a list", dict: "a table"}


def _kind_words(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(_KIND_WORDS.get(k, k.__name__) for k in kinds)


def require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: Path) -> Any:
    if key not in data:
        raise ProfileError(f"{where}: missing key {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProfileError(f"{where}: {key!r} must be {_kind_words(kind)}, "
                           f"not {_kind_words(type(value))}")
    return value


def names_in(folder: str) -> list[str]:
    directory = profiles_dir() / folder
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.glob("*.toml"))
