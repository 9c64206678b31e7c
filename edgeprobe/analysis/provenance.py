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
    complete: bool = True
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
        kernel_paths=_kernel_paths(bundle), complete=bundle.complete, damage=bundle.damage,
        damaged=bundle.damaged, verified=bundle.verified,
        points=len(bundle.points), created_unix_s=header.get("created_unix_s"))


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
    for model in sorted({m for i in infos for m in i.kernel_paths}):
        present = {i.label: i.kernel_paths[model] for i in infos if model in i.kernel_paths}
        if len(present) > 1:
            checks.append(_differs(f"kernel path of {model}", present))
    return warnings + [c for c in checks if c]
