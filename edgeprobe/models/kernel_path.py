"""Which kernels really run: fused (mamba_ssm, causal_conv1d, fused attention) or reference.

Availability is read from imports; the path a model really takes is observed by profiling a
short prefill and two decode steps (``models.build.detect_kernel_path``) and looking for the
fused kernels' names here. No torch import: the runner and ``doctor`` use this module too.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import asdict, dataclass, field
from typing import Any

FUSED_PACKAGES = ("mamba_ssm", "causal_conv1d", "flash_attn")

# Lower-case substrings of CUDA kernel / op names that only the fused SSM code emits.
SSM_SCAN_MARKERS = (
    "selective_scan",
    "selective_state_update",
    "_selective_scan_update",
    "_chunk_scan_fwd",
    "_chunk_state_fwd",
    "_state_passing_fwd",
    "_bmm_chunk_fwd",
    "_chunk_cumsum_fwd",
    "mamba_chunk_scan",
    "mamba_split_conv1d",
    "mambainnerfn",
)
CONV1D_MARKERS = ("causal_conv1d",)

# SDPA backends, most specific first (the CPU flash op name contains the CUDA one's).
ATTENTION_OPS = (
    ("aten::_scaled_dot_product_flash_attention_for_cpu", "sdpa-cpu-flash"),
    ("aten::_scaled_dot_product_flash_attention", "sdpa-flash"),
    ("aten::_scaled_dot_product_efficient_attention", "sdpa-efficient"),
    ("aten::_scaled_dot_product_cudnn_attention", "sdpa-cudnn"),
    ("aten::_scaled_dot_product_attention_math", "sdpa-math"),
    ("flash_attn", "flash-attn"),
)
# Short names of the SDPA backends, as ``--attention-backend`` and the records spell them.
BACKEND_OF_LABEL = {"sdpa-flash": "flash", "sdpa-efficient": "efficient", "sdpa-cudnn": "cudnn",
                    "sdpa-math": "math", "sdpa-cpu-flash": "cpu-flash", "flash-attn": "flash-attn"}
FUSED_ATTENTION = frozenset({"sdpa-cpu-flash", "sdpa-flash", "sdpa-efficient", "sdpa-cudnn",
                             "flash-attn"})

FIX_HINT = (
    "install the fused kernels for this GPU: `install/install.sh --kernels-only` "
    "or `pip install edgeprobe[kernels]` (builds mamba-ssm and causal-conv1d from source)"
)


def missing_ssm_kernels(families: set[str], available: dict[str, Any],
                        device_kind: str) -> list[str]:
    """The fused SSM packages a CUDA run of these model families needs and cannot import
    (none for Transformers alone, or off CUDA, where nothing fused would run)."""
    if device_kind != "cuda" or not families - {"transformer"}:
        return []
    return [name for name in ("mamba_ssm", "causal_conv1d")
            if not available.get(name, {}).get("importable")]


@dataclass
class KernelPath:
    ssm_scan: str = "n/a"  # fused | reference | n/a
    conv1d: str = "n/a"  # fused | reference | n/a
    attention: str = "n/a"  # sdpa-flash | sdpa-efficient | sdpa-cudnn | sdpa-math | eager | ...
    summary: str = "reference"  # fused | partial | reference
    evidence: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def package_availability() -> dict[str, dict[str, Any]]:
    """Whether each fused-kernel package imports here, with its version or the import error."""
    result: dict[str, dict[str, Any]] = {}
    for name in FUSED_PACKAGES:
        if importlib.util.find_spec(name) is None:
            result[name] = {"importable": False, "error": "not installed"}
            continue
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # broken builds raise anything from ImportError to OSError
            result[name] = {"importable": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
        else:
            result[name] = {"importable": True, "version": getattr(module, "__version__", None)}
    return result


def classify(names: set[str], has_ssm: bool, has_attention: bool) -> KernelPath:
    """Decide the kernel path from the op and kernel names seen in a profile."""
    lowered = {n.lower() for n in names}
    path = KernelPath()
    evidence: list[str] = []

    def seen(markers: tuple[str, ...]) -> list[str]:
        return sorted(n for n in lowered if any(m in n for m in markers))

    if has_ssm:
        scan_hits = seen(SSM_SCAN_MARKERS)
        conv_hits = seen(CONV1D_MARKERS)
        path.ssm_scan = "fused" if scan_hits else "reference"
        path.conv1d = "fused" if conv_hits else "reference"
        evidence += scan_hits[:4] + conv_hits[:2]
    if has_attention:
        path.attention = "eager"
        for op, label in ATTENTION_OPS:
            if any(op in n for n in lowered):
                path.attention = label
                evidence.append(op)
                break
    parts = [p for p in (path.ssm_scan, path.conv1d) if p != "n/a"]
    if has_attention:
        parts.append("fused" if path.attention in FUSED_ATTENTION else "reference")
    if parts and all(p == "fused" for p in parts):
        path.summary = "fused"
    elif any(p == "fused" for p in parts):
        path.summary = "partial"
    else:
        path.summary = "reference"
    path.evidence = evidence
    return path


def attention_backends(names: set[str]) -> list[str]:
    """Every SDPA backend whose op appears among ``names`` (exact op names from a profile,
    ``flash_attn`` kernels by substring), as short names: ``cudnn``, ``flash``, ...

    Several can appear in one pass: torch chooses per call, by shapes and masks."""
    found: list[str] = []
    for op, label in ATTENTION_OPS:
        hit = any(op in n for n in names) if label == "flash-attn" else op in names
        if hit:
            found.append(BACKEND_OF_LABEL[label])
    return found
