"""Models beyond the presets: a local folder with a ``config.json`` (``--model-dir DIR``).

The architecture comes from the folder's config.json, built with random weights as presets
are; nothing is downloaded. A config whose ``auto_map`` names the folder's own modeling code
runs that code only when the user says so (``--trust-remote-code``). The preset's definition
carries a sha256 of config.json and every Python file beside it, so a suite hash (and a
resumed run) notices a changed model. Neither torch nor transformers is imported here.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from edgeprobe.errors import UsageError
from edgeprobe.suite.presets import ModelPreset

_SSM_TYPES = frozenset({"mamba", "mamba2", "falcon_mamba"})
# Config keys that only hybrids of attention with SSM or convolution layers carry.
_HYBRID_HINTS = ("mamba", "ssm", "conv_l_cache", "hybrid_override_pattern", "layers_block_type",
                 "linear_attention", "attn_layer")
_ATTENTION_LAYERS = frozenset({"attention", "full_attention", "sliding_attention"})
_CONFIG_MAX_BYTES = 4 * 1024 * 1024


def _family(config: dict[str, Any]) -> str:
    if config.get("model_type") in _SSM_TYPES:
        return "ssm"
    if any(hint in key.lower() for key in config for hint in _HYBRID_HINTS):
        return "hybrid"
    layer_types = config.get("layer_types")
    if isinstance(layer_types, list) and set(map(str, layer_types)) - _ATTENTION_LAYERS:
        return "hybrid"
    return "transformer"


def _read_config(folder: Path, flag: str) -> dict[str, Any]:
    path = folder / "config.json"
    if not path.is_file():
        raise UsageError(f"{flag}: {folder} has no config.json")
    if path.stat().st_size > _CONFIG_MAX_BYTES:
        raise UsageError(f"{flag}: {path} is larger than a model config")
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"{flag}: {path} is not readable JSON ({str(exc)[:80]})") from None
    if not isinstance(config, dict) or not (config.get("model_type") or config.get("auto_map")):
        raise UsageError(f"{flag}: {path} names no model_type (and no auto_map)")
    return config


def _own_code(config: dict[str, Any], folder: Path, flag: str) -> list[str]:
    """The folder's modeling code that ``auto_map`` names (module files), checked present."""
    auto_map = config.get("auto_map")
    if not auto_map:
        return []
    if not isinstance(auto_map, dict):
        raise UsageError(f"{flag}: auto_map in {folder / 'config.json'} is not a map")
    modules = []
    for reference in auto_map.values():
        target = reference[0] if isinstance(reference, list) else reference
        if not isinstance(target, str) or "--" in target or "." not in target:
            raise UsageError(f"{flag}: auto_map entry {str(target)[:60]!r} does not name code "
                             f"in {folder}")
        module = target.rsplit(".", 1)[0]
        if not (folder / f"{module}.py").is_file():
            raise UsageError(f"{flag}: auto_map names {module}.py, which {folder} lacks")
        modules.append(f"{module}.py")
    return sorted(set(modules))


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in [folder / "config.json", *sorted(folder.glob("*.py"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def preset_name(folder: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", folder.name).strip("-") or "model"


def preset_from_model_dir(folder: Path, trust_remote_code: bool,
                          flag: str = "--model-dir") -> ModelPreset:
    """The preset of a model folder; refused in one line when the folder cannot be run (no
    config, or its own code without ``trust_remote_code``)."""
    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        raise UsageError(f"{flag}: {folder} is not a folder")
    config = _read_config(folder, flag)
    code = _own_code(config, folder, flag)
    if code and not trust_remote_code:
        raise UsageError(f"{flag}: {folder} runs its own modeling code ({', '.join(code)}, "
                         "named by auto_map in config.json): pass --trust-remote-code to "
                         "allow it")
    digest = _digest(folder)
    model_type = str(config.get("model_type") or "custom")
    return ModelPreset(
        name=preset_name(folder), family=_family(config), display_name=folder.name,
        hf_model_type=model_type, hf_config=config,
        shape_source=f"config.json of the local folder {folder} (model_type {model_type}"
                     + (f", own code {', '.join(code)}" if code else "") + ")",
        model_dir=str(folder), trust_remote_code=bool(code), code_sha256=digest, path=folder)
