"""What the runner asks the worker for one prompt length, and how the answer splits into
one outcome per prefill variant."""

from __future__ import annotations

from typing import Any

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


def crash_reply(crash: str, timed_out: bool, log_tail: str) -> dict[str, Any]:
    """A worker that died or hung, as a failed reply: a device fault when its last words say
    so (a CUDA error line anywhere in the tail of its log), else a crash or a timeout."""
    fault = next((line.strip() for line in log_tail.splitlines()
                  if "illegal memory access" in line or "CUDA error" in line), None)
    status = "timeout" if timed_out else ("kernel_error" if fault else "crashed")
    detail = fault or (log_tail.splitlines()[-1].strip() if log_tail else "")
    return {"ok": False, "status": status,
            "error": crash + (f": {detail[:300]}" if detail else "")}
