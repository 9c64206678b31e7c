"""What each bundle was measured with, and warnings where compared bundles differ."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeprobe.bundle.reader import Bundle
from edgeprobe.units import format_bytes

# Software whose version changes the numbers.
COMPARED_SOFTWARE = ("edgeprobe", "torch", "cuda", "transformers", "mamba_ssm", "causal_conv1d",
                     "jetpack")


@dataclass
class BundleInfo:
    label: str
    path: str
    device: str
    device_kind: str
    dtype: str | None
    power_mode: str | None
    suite: str | None
    suite_sha256: str | None
    memory_budget_bytes: int | None
    software: dict[str, str | None]
    kernel_paths: dict[str, str] = field(default_factory=dict)  # model/impl -> summary
    # The SDPA pin of the run ("auto", or the backends allowed in order), and the attention
    # kernel each model was seen to run (model/impl -> e.g. "cudnn").
    attention_pin: str = "auto"
    attention_seen: dict[str, str] = field(default_factory=dict)
    decode_method: str = "eager"  # the decode modes, or "single-pass" (bundles before 0.2)
    launch_bound_points: int = 0
    complete: bool = True
    run_status: str | None = None  # the footer's: completed, interrupted, failed
    resumable: bool = False
    damage: str | None = None
    damaged: bool = False  # not as written (see Bundle.damaged); records before it were used
    verified: bool = True  # False: written before bundles carried checksums
    points: int = 0
    created_unix_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _kernel_paths(bundle: Bundle) -> dict[str, str]:
    paths: dict[str, str] = {}
    for record in [*bundle.models, *bundle.points]:
        value = record.get("kernel_path")
        summary = value.get("summary") if isinstance(value, dict) else value
        if isinstance(summary, str) and record.get("model"):
            paths.setdefault(f"{record['model']}/{record.get('implementation') or 'hf'}", summary)
    footer_paths = (bundle.footer or {}).get("kernel_paths")
    if isinstance(footer_paths, dict):
        paths.update({str(k): str(v) for k, v in footer_paths.items()})
    return paths


def _attention_seen(bundle: Bundle) -> dict[str, str]:
    seen: dict[str, set[str]] = {}
    for point in bundle.points:
        for section in (point.get("prefill"), point.get("decode")):
            backend = section.get("attention_backend") if isinstance(section, dict) else None
            if isinstance(backend, str) and point.get("model"):
                key = f"{point['model']}/{point.get('implementation') or 'hf'}"
                seen.setdefault(key, set()).update(backend.split("+"))
    return {model: "+".join(sorted(names)) for model, names in seen.items()}


def _decode_method(settings: dict[str, Any]) -> str:
    modes = settings.get("decode_modes")
    if not isinstance(modes, list):
        return "single-pass"  # one cold pass, as bundles before edgeprobe 0.2 timed it
    return "+".join(str(m) for m in modes)


def _launch_bound(point: dict[str, Any]) -> bool:
    return any(isinstance(point.get(k), dict) and point[k].get("launch_bound") is True
               for k in ("prefill", "decode"))


def bundle_info(label: str, bundle: Bundle) -> BundleInfo:
    header = bundle.header
    device = header.get("device") or {}
    host = header.get("host") or {}
    settings = header.get("settings") or {}
    suite = header.get("suite") or {}
    software = dict(header.get("software") or {})
    software["jetpack"] = (host.get("jetson") or {}).get("jetpack")
    software.setdefault("edgeprobe", header.get("edgeprobe_version"))
    name = device.get("name") or (f"CPU: {host['cpu']}" if host.get("cpu") else "unknown device")
    return BundleInfo(
        label=label, path=str(bundle.path), device=name, device_kind=device.get("kind") or "?",
        dtype=settings.get("dtype"), power_mode=(header.get("power") or {}).get("mode"),
        suite=suite.get("name"), suite_sha256=suite.get("sha256"),
        memory_budget_bytes=settings.get("memory_budget_bytes"),
        software={k: (str(software[k]) if software.get(k) is not None else None)
                  for k in COMPARED_SOFTWARE},
        kernel_paths=_kernel_paths(bundle), attention_pin=_pin(settings),
        attention_seen=_attention_seen(bundle), decode_method=_decode_method(settings),
        launch_bound_points=sum(_launch_bound(p) for p in bundle.points),
        complete=bundle.complete, run_status=(bundle.footer or {}).get("status"),
        resumable=bundle.resumable, damage=bundle.damage,
        damaged=bundle.damaged, verified=bundle.verified,
        points=len(bundle.points), created_unix_s=header.get("created_unix_s"))


def _pin(settings: dict[str, Any]) -> str:
    value = settings.get("attention_backend")
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value) if value else "auto (not recorded)"


def bundle_labels(paths: list[str]) -> list[str]:
    """Short, distinct labels: the file name without ``.epb``, the parent folder added (or a
    number) where two names are the same."""
    stems = [Path(p).stem for p in paths]
    counts = Counter(stems)
    labels = [stem if counts[stem] == 1 else f"{Path(p).parent.name}/{stem}"
              for p, stem in zip(paths, stems, strict=True)]
    seen: Counter[str] = Counter()
    result = []
    for label in labels:
        seen[label] += 1
        result.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return result


def _differs(what: str, values: dict[str, Any], show=str) -> str | None:
    """``what differs: A x, B y`` (or, for many bundles, each value with the bundles that
    have it); None when every bundle has the same value."""
    groups: dict[str, list[str]] = {}
    for label, value in values.items():
        groups.setdefault(show(value) if value is not None else "none", []).append(label)
    if len(groups) <= 1:
        return None
    if len(values) <= 4:
        listed = ", ".join(f"{label} {shown}" for shown, labels in groups.items()
                           for label in labels)
    else:
        listed = "; ".join(
            f"{shown} in {', '.join(labels[:3])}"
            + (f" and {len(labels) - 3} more" if len(labels) > 3 else "")
            for shown, labels in groups.items())
    return f"{what} differs: {listed}"


def provenance_warnings(infos: list[BundleInfo]) -> list[str]:
    """One line per difference that makes figures of these bundles not directly comparable,
    and one per bundle that is incomplete."""
    warnings = [f"{i.label} is incomplete ({i.damage or 'no footer'}): "
                f"{i.points} points read" for i in infos if not i.complete]
    warnings += [f"{i.label}: its run ended {i.run_status} after {i.points} points"
                 + (" (edgeprobe run --resume continues it)" if i.resumable else "")
                 for i in infos if i.complete and i.run_status not in (None, "completed")]
    if len(infos) < 2:
        return warnings
    checks = [
        _differs("suite hash", {i.label: (i.suite, (i.suite_sha256 or "")[:12]) for i in infos},
                 lambda v: f"{v[0]} {v[1]}"),
        _differs("power mode", {i.label: i.power_mode for i in infos}),
        _differs("memory budget", {i.label: i.memory_budget_bytes for i in infos},
                 format_bytes),
        _differs("dtype", {i.label: i.dtype for i in infos}),
    ]
    for name in COMPARED_SOFTWARE:
        checks.append(_differs(f"{name} version", {i.label: i.software.get(name) for i in infos}))
    checks.append(_differs("attention pin", {i.label: i.attention_pin for i in infos}))
    checks.append(_differs("decode method", {i.label: i.decode_method for i in infos}))
    for what, field_name in (("kernel path", "kernel_paths"), ("attention kernel",
                                                               "attention_seen")):
        per_model: dict[str, dict[str, str]] = {}
        for info in infos:
            for model, value in getattr(info, field_name).items():
                per_model.setdefault(model, {})[info.label] = value
        for model in sorted(per_model):
            if len(per_model[model]) > 1:
                checks.append(_differs(f"{what} of {model}", per_model[model]))
    return warnings + [c for c in checks if c]


def launch_bound_notes(infos: list[BundleInfo]) -> list[str]:
    """One line per bundle with launch-bound points: their times follow the host."""
    return [f"{i.label}: {i.launch_bound_points} point(s) launch-bound (device busy under "
            "half the time): their times follow the host's speed and load, not the model's"
            for i in infos if i.launch_bound_points]
