"""Model presets: an architecture (HF config, optionally mamba_ssm's own) with provenance."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeprobe.errors import ProfileError
from edgeprobe.suite.profiles import names_in, profiles_dir, read_toml, require

FAMILIES = ("transformer", "ssm", "hybrid")
IMPL_HF = "hf"
IMPL_MAMBA_SSM = "mamba_ssm"
IMPLEMENTATIONS = (IMPL_HF, IMPL_MAMBA_SSM)


@dataclass(frozen=True)
class ModelPreset:
    name: str
    family: str
    display_name: str
    hf_model_type: str
    hf_config: dict[str, Any]
    shape_source: str
    study_implementation: str = IMPL_HF
    checkpoint: str | None = None
    published_params: int | None = None
    published_params_source: str | None = None
    # Where the published size is only a rounded label ("1.3B"), that label.
    published_params_label: str | None = None
    mamba_ssm_config: dict[str, Any] | None = None
    tiny: bool = False
    path: Path | None = field(default=None, compare=False)
    # A model from a local folder (``--model-dir``): the folder, whether its own modeling
    # code runs, and a sha256 of its config.json and code.
    model_dir: str | None = None
    trust_remote_code: bool = False
    code_sha256: str | None = None

    @property
    def implementations(self) -> tuple[str, ...]:
        if self.mamba_ssm_config is not None:
            return (IMPL_HF, IMPL_MAMBA_SSM)
        return (IMPL_HF,)

    @property
    def vocab_size(self) -> int:
        return int(self.hf_config.get("vocab_size", 0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "display_name": self.display_name,
            "checkpoint": self.checkpoint,
            "shape_source": self.shape_source,
            "published_params": self.published_params,
            "study_implementation": self.study_implementation,
            "hf": {"model_type": self.hf_model_type, "config": self.hf_config},
            "mamba_ssm": {"config": self.mamba_ssm_config} if self.mamba_ssm_config else None,
            "tiny": self.tiny,
            **({"model_dir": self.model_dir, "trust_remote_code": self.trust_remote_code,
                "code_sha256": self.code_sha256} if self.model_dir else {}),
        }


def _parse(data: dict[str, Any], where: Path) -> ModelPreset:
    name = require(data, "name", str, where)
    family = require(data, "family", str, where)
    if family not in FAMILIES:
        raise ProfileError(f"{where}: family {family!r} is not one of {', '.join(FAMILIES)}")
    hf = require(data, "hf", dict, where)
    model_type = require(hf, "model_type", str, where)
    config = hf.get("config", {})
    if not isinstance(config, dict):
        raise ProfileError(f"{where}: [hf.config] must be a table")
    study_impl = data.get("study_implementation", IMPL_HF)
    if study_impl not in IMPLEMENTATIONS:
        raise ProfileError(f"{where}: study_implementation must be one of {IMPLEMENTATIONS}")
    mamba = data.get("mamba_ssm", {}).get("config")
    if study_impl == IMPL_MAMBA_SSM and mamba is None:
        raise ProfileError(
            f"{where}: study_implementation is mamba_ssm but [mamba_ssm.config] is missing")
    published = data.get("published_params")
    if published is not None and (not isinstance(published, int) or published <= 0):
        raise ProfileError(f"{where}: published_params must be a positive integer")
    return ModelPreset(
        name=name,
        family=family,
        display_name=data.get("display_name", name),
        hf_model_type=model_type,
        hf_config=config,
        shape_source=require(data, "shape_source", str, where),
        study_implementation=study_impl,
        checkpoint=data.get("checkpoint"),
        published_params=published,
        published_params_source=data.get("published_params_source"),
        published_params_label=data.get("published_params_label"),
        mamba_ssm_config=mamba,
        tiny=bool(data.get("tiny", False)),
        path=where,
    )


def list_presets() -> list[str]:
    return names_in("models")


def load_preset(name: str) -> ModelPreset:
    path = profiles_dir() / "models" / f"{name}.toml"
    if not path.is_file():
        known = list_presets()
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else " (see `edgeprobe models`)"
        raise ProfileError(f"unknown model {name!r}{hint}")
    preset = _parse(read_toml(path), path)
    if preset.name != name:
        raise ProfileError(f"{path}: name {preset.name!r} does not match its file name")
    return preset
