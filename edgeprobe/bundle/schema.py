"""Record types and version of the bundle format (docs/bundle-format.md is the spec)."""

from __future__ import annotations

FORMAT_NAME = "edgeprobe-bundle"
SCHEMA_VERSION = 1
FILE_SUFFIX = ".epb"

# Largest single record the reader accepts: a corrupt length prefix must not make it
# allocate gigabytes. Telemetry chunks are written well under this.
MAX_RECORD_BYTES = 64 * 1024 * 1024

HEADER = "header"
MODEL = "model"
POINT = "point"
MAX_CONTEXT = "max_context"
EVENT = "event"
TELEMETRY = "telemetry"
KERNELS = "kernels"
FOOTER = "footer"

RECORD_TYPES = frozenset({HEADER, MODEL, POINT, MAX_CONTEXT, EVENT, TELEMETRY, KERNELS, FOOTER})

# Event kinds readers act on.
EVENT_RESUMED = "resumed"  # a later process continued the run (``edgeprobe run --resume``)

# Point status values.
STATUS_OK = "ok"
STATUS_OOM = "oom"
STATUS_KERNEL_ERROR = "kernel_error"
STATUS_ERROR = "error"
STATUS_SKIPPED = "skipped"
STATUS_TIMEOUT = "timeout"
# The worker died without saying why (a segfault, the kernel's OOM killer, a kill signal).
STATUS_CRASHED = "crashed"
POINT_STATUSES = frozenset(
    {STATUS_OK, STATUS_OOM, STATUS_KERNEL_ERROR, STATUS_ERROR, STATUS_SKIPPED, STATUS_TIMEOUT,
     STATUS_CRASHED}
)
# Statuses after which the worker is replaced, and larger prompts of that variant skipped.
WORKER_LOST = frozenset({STATUS_KERNEL_ERROR, STATUS_TIMEOUT, STATUS_CRASHED})

# Prefill variants: logits for every prompt position (as the study measured) or only the last.
VARIANT_PUBLISHED = "published"
VARIANT_LEAN = "lean"
VARIANTS = (VARIANT_PUBLISHED, VARIANT_LEAN)
