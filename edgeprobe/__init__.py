"""edgeprobe: long-context probes of Transformer, SSM and hybrid language models on edge GPUs.

Importing this package (or ``edgeprobe.bundle`` / ``edgeprobe.analysis``) never imports torch,
so bundles can be read and compared on a laptop with neither torch nor a GPU.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
