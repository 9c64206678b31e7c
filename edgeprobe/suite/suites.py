"""Suites: which models, which lengths, how many repeats. Versioned and content-hashed."""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from edgeprobe.errors import ProfileError, UsageError
from edgeprobe.suite.presets import IMPLEMENTATIONS, ModelPreset, load_preset
from edgeprobe.suite.profiles import names_in, profiles_dir, read_toml, require

VARIANTS = ("published", "lean")
# "study": what the study ran for each model (mamba_ssm's own model for pure SSMs) where that
# can run on this device, else HF; "both": every implementation a preset offers.
IMPLEMENTATION_CHOICES = ("study", "both", *IMPLEMENTATIONS)
DTYPES = ("float16", "bfloat16", "float32")
DECODE_MODES = ("eager", "graph")
# SDPA backends a run may pin (torch.nn.attention.sdpa_kernel); several are tried in order.
ATTENTION_BACKENDS = ("flash", "efficient", "cudnn", "math")


def parse_decode_mode(text: str) -> tuple[str, ...]:
    """``eager``, ``graph`` or ``both``."""
    if text == "both":
        return DECODE_MODES
    if text not in DECODE_MODES:
        raise ValueError(f"decode mode {text!r}: use eager, graph or both")
    return (text,)


def parse_attention_backend(text: str) -> tuple[str, ...]:
    """``auto`` (torch chooses: ``()``), one backend, or several in order (``flash,efficient``)."""
    if text.strip() == "auto":
        return ()
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    bad = [n for n in names if n not in ATTENTION_BACKENDS]
    if bad or not names or len(set(names)) != len(names):
        raise ValueError(f"attention backend {text!r}: use auto, or one or more of "
                         f"{', '.join(ATTENTION_BACKENDS)} (comma-separated, in order)")
    return names


@dataclass(frozen=True)
class Suite:
    name: str
    version: int
    description: str
    models: tuple[str, ...]
    lengths: tuple[int, ...]
    variants: tuple[str, ...] = VARIANTS
    decode_tokens: int = 32
    warmup: int = 1
    repeats: int = 3
    implementation: str = "study"
    dtype: dict[str, str] = field(default_factory=lambda: {"cuda": "float16", "cpu": "float32"})
    lengths_by_family: dict[str, tuple[int, ...]] = field(default_factory=dict)
    lengths_by_model: dict[str, tuple[int, ...]] = field(default_factory=dict)
    seed: int = 0
    # Repeat timed prefills until they span this long (energy needs >= 1 s of samples).
    min_prefill_window_s: float = 0.0
    # A torch.profiler pass per (model, length) after the timed passes: per-kernel tables.
    profile: bool = False
    decode_modes: tuple[str, ...] = ("eager",)
    # SDPA backends allowed, in order; () leaves torch's choice. Suites that re-run a study pin
    # what that study's software chose on its hardware (see the suite files).
    attention_backend: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()
    # Models from local folders (``--model-dir``), by name, beside the named presets.
    local_presets: tuple[ModelPreset, ...] = ()

    def lengths_for(self, preset: ModelPreset) -> tuple[int, ...]:
        if preset.name in self.lengths_by_model:
            return self.lengths_by_model[preset.name]
        return self.lengths_by_family.get(preset.family, self.lengths)

    def presets(self) -> list[ModelPreset]:
        local = {p.name: p for p in self.local_presets}
        return [local.get(name) or load_preset(name) for name in self.models]

    def definition(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("local_presets")
        data["presets"] = {p.name: p.as_dict() for p in self.presets()}
        return data

    def content_hash(self) -> str:
        """sha256 of the suite and every preset it uses, in canonical JSON."""
        canonical = json.dumps(self.definition(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def with_overrides(
        self,
        models: list[str] | None = None,
        lengths: list[int] | None = None,
        variants: list[str] | None = None,
        decode_tokens: int | None = None,
        repeats: int | None = None,
        warmup: int | None = None,
        implementation: str | None = None,
        profile: bool | None = None,
        decode_modes: tuple[str, ...] | None = None,
        attention_backend: tuple[str, ...] | None = None,
        local_presets: list[ModelPreset] | None = None,
    ) -> Suite:
        changes: dict[str, Any] = {}
        if models:
            for name in models:
                load_preset(name)  # fail early, with the did-you-mean hint
            changes["models"] = tuple(models)
        if local_presets:
            names = [*changes.get("models", ()), *(p.name for p in local_presets)]
            clash = next((name for name in names if names.count(name) > 1), None)
            if clash:
                raise UsageError(f"--model-dir {clash}: a model of that name is already in "
                                 "the run; rename the folder")
            changes["models"] = (*changes.get("models", ()), *(p.name for p in local_presets))
            changes["local_presets"] = tuple(local_presets)
        if lengths:
            changes.update(lengths=tuple(lengths), lengths_by_family={}, lengths_by_model={})
        if variants:
            changes["variants"] = tuple(variants)
        if decode_tokens is not None:
            changes["decode_tokens"] = decode_tokens
        if repeats is not None:
            changes["repeats"] = repeats
        if warmup is not None:
            changes["warmup"] = warmup
        if implementation is not None:
            changes["implementation"] = implementation
        if profile is not None:
            changes["profile"] = profile
        if decode_modes is not None:
            changes["decode_modes"] = decode_modes
        if attention_backend is not None:
            changes["attention_backend"] = attention_backend
        if not changes:
            return self
        named = sorted("model_dir" if key == "local_presets" else key for key in changes)
        return replace(self, overrides=tuple(named), **changes)


def _lengths(value: Any, where: Path, key: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value
    ):
        raise ProfileError(f"{where}: {key} must be a non-empty list of positive token counts")
    return tuple(sorted(set(value)))


def _parse(data: dict[str, Any], where: Path) -> Suite:
    models = require(data, "models", list, where)
    if not models or not all(isinstance(m, str) for m in models):
        raise ProfileError(f"{where}: models must be a non-empty list of preset names")
    variants = tuple(data.get("prefill_variants", VARIANTS))
    bad = [v for v in variants if v not in VARIANTS]
    if bad or not variants:
        raise ProfileError(f"{where}: prefill_variants must be drawn from {', '.join(VARIANTS)}")
    implementation = data.get("implementation", "study")
    if implementation not in IMPLEMENTATION_CHOICES:
        raise ProfileError(f"{where}: implementation must be one of {IMPLEMENTATION_CHOICES}")
    dtype = data.get("dtype", {"cuda": "float16", "cpu": "float32"})
    if not isinstance(dtype, dict) or any(v not in DTYPES for v in dtype.values()):
        raise ProfileError(f"{where}: [dtype] maps device kinds to one of {', '.join(DTYPES)}")
    counts = {}
    for key, default, low in (("decode_tokens", 32, 0), ("warmup", 1, 0), ("repeats", 3, 1)):
        value = data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ProfileError(f"{where}: {key} must be an integer >= {low}")
        counts[key] = value
    window = data.get("min_prefill_window_s", 0.0)
    if not isinstance(window, (int, float)) or isinstance(window, bool) or window < 0:
        raise ProfileError(f"{where}: min_prefill_window_s must be a number >= 0")
    profile = data.get("profile", False)
    if not isinstance(profile, bool):
        raise ProfileError(f"{where}: profile must be true or false")
    try:
        decode_modes = parse_decode_mode(str(data.get("decode_mode", "eager")))
        attention = parse_attention_backend(str(data.get("attention_backend", "auto")))
    except ValueError as exc:
        raise ProfileError(f"{where}: {exc}") from None
    return Suite(
        name=require(data, "name", str, where),
        version=require(data, "version", int, where),
        description=data.get("description", ""),
        models=tuple(models),
        lengths=_lengths(require(data, "lengths", list, where), where, "lengths"),
        variants=variants,
        implementation=implementation,
        dtype=dict(dtype),
        lengths_by_family={
            k: _lengths(v, where, f"lengths_by_family.{k}")
            for k, v in data.get("lengths_by_family", {}).items()
        },
        lengths_by_model={
            k: _lengths(v, where, f"lengths_by_model.{k}")
            for k, v in data.get("lengths_by_model", {}).items()
        },
        seed=int(data.get("seed", 0)),
        min_prefill_window_s=float(window),
        profile=profile,
        decode_modes=decode_modes,
        attention_backend=attention,
        **counts,
    )


def list_suites() -> list[str]:
    return names_in("suites")


def load_suite(name_or_path: str) -> Suite:
    """A suite by name (``smoke``) or by path to a TOML file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file():
        path = candidate
    else:
        path = profiles_dir() / "suites" / f"{name_or_path}.toml"
        if not path.is_file():
            close = difflib.get_close_matches(name_or_path, list_suites(), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else " (see `edgeprobe suites`)"
            raise ProfileError(f"unknown suite {name_or_path!r}{hint}")
    suite = _parse(read_toml(path), path)
    for model in suite.models:
        load_preset(model)
    return suite
