"""What the runner asks the worker for one prompt length, and how the answer splits into
one outcome per prefill variant."""

from __future__ import annotations

from typing import Any

from edgeprobe.probe.faults import classify_log
from edgeprobe.suite.suites import Suite

_FAILURE_KEYS = ("status", "error", "memory")


def point_spec(suite: Suite, length: int, variants: list[str], decode_in: str | None,
               search: bool, energy_window_s: float) -> dict[str, Any]:
    """The worker's ``point`` request. A max-context trial is one untimed-warm-up pass per
    variant: it asks whether the prompt fits, not how fast it runs."""
    spec: dict[str, Any] = {"length_tokens": length, "variants": list(variants),
                            "seed": suite.seed}
    if search:
        return {**spec, "warmup": 0, "repeats": 1, "decode_tokens": 0, "min_window_s": 0.0,
                "observe": False}
    decode = decode_in if decode_in in variants and suite.decode_tokens > 0 else None
    return {**spec, "warmup": suite.warmup, "repeats": suite.repeats,
            "decode_tokens": suite.decode_tokens if decode else 0, "decode_variant": decode,
            "decode_modes": list(suite.decode_modes), "min_window_s": energy_window_s}


def split_reply(reply: dict[str, Any], variants: list[str],
                decode_in: str | None) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """(outcome per variant, variants to measure again).

    A failed request fails every variant, except where the worker says which variant (or the
    decode after which variant's prefill) a fatal fault hit: that one fails, and the others,
    whose figures died with the worker, are measured again in a fresh one.
    """
    if reply.get("ok"):
        return dict(reply.get("variants") or {}), []
    failure = {k: reply[k] for k in _FAILURE_KEYS if k in reply}
    failure.setdefault("status", "error")
    culprit = reply.get("variant")
    if culprit is None and reply.get("phase") in ("decode", "decode_graph"):
        culprit = decode_in
        failure["error"] = f"{failure.get('error')} (in the decode after this prefill)"
    if culprit in variants and reply.get("fatal") and len(variants) > 1:
        return {culprit: failure}, [v for v in variants if v != culprit]
    return {v: dict(failure) for v in variants}, []


def crash_reply(crash: str, timed_out: bool, log_text: str,
                oom_killed: str | None = None) -> dict[str, Any]:
    """A worker that died or hung, as a failed reply: out of memory when the kernel's OOM
    killer ended it or its log says so (``CUBLAS_STATUS_ALLOC_FAILED`` included), a device
    fault when a CUDA error line appears anywhere in what it logged during the request,
    else a crash or a timeout."""
    if timed_out:
        return {"ok": False, "status": "timeout", "error": crash}
    if oom_killed:
        return {"ok": False, "status": "oom",
                "error": f"{crash}: killed by the kernel's OOM killer ({oom_killed})"[:500]}
    kind, line = classify_log(log_text)
    lines = log_text.strip().splitlines()
    detail = line or (lines[-1].strip() if lines else "")
    return {"ok": False, "status": kind or "crashed",
            "error": crash + (f": {detail[:300]}" if detail else "")}
