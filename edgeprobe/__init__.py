"""edgeprobe: long-context probes of Transformer, SSM and hybrid language models on edge GPUs.

Importing this package (or ``edgeprobe.bundle`` / ``edgeprobe.analysis``) never imports torch,
so bundles can be read and compared on a laptop with neither torch nor a GPU.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from edgeprobe.analysis.frames import BundleFrames

__all__ = ["__version__", "load_bundle"]


def load_bundle(path: str | os.PathLike[str]) -> BundleFrames:
    """Read a bundle for analysis with pandas (``pip install 'edgeprobe[analysis]'``).

    The result has ``points``, ``models``, ``max_context``, ``kernels``, ``categories`` and
    ``telemetry`` DataFrames (built on first use), and ``header``, ``complete``,
    ``truncated`` and ``damage`` as the bundle says them. Needs neither torch nor a GPU.
    """
    from edgeprobe.analysis.frames import load_bundle as load
    from edgeprobe.analysis.frames import require

    require("pandas", "edgeprobe.load_bundle")
    return load(path)
