"""Pinning torch's scaled-dot-product-attention backend for a whole worker.

Names as ``--attention-backend`` spells them (see ``suite.suites.ATTENTION_BACKENDS``). One
name allows only that backend; several allow those, tried in the order given. An empty pin
leaves torch's own choice (``auto``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch.nn.attention import SDPBackend, sdpa_kernel

_BACKENDS = {
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "math": SDPBackend.MATH,
}


@contextlib.contextmanager
def pinned(backends: tuple[str, ...]) -> Iterator[None]:
    if not backends:
        yield
        return
    chosen = [_BACKENDS[name] for name in backends]
    with sdpa_kernel(chosen, set_priority=len(chosen) > 1):
        yield

