"""One prompt length of one model: every prefill variant, then the decode modes asked for."""

from __future__ import annotations

import time
from typing import Any

from edgeprobe.models.build import LoadedModel
from edgeprobe.probe import clock
from edgeprobe.probe.decode import eager_record
from edgeprobe.probe.graph_decode import graph_record
from edgeprobe.probe.memory import release
from edgeprobe.probe.prefill import PointSpec, measure_prefills, prefill_record, prompt


def measure_point(model: LoadedModel, spec: PointSpec) -> dict[str, Any]:
    """``{"variants": {variant: record}}``; each record has ``status`` and, where it ran, the
    prefill figures; the decode variant's record also carries ``decode`` (eager) and
    ``decode_graph``. ``phases`` hold the energy windows (monotonic clock) of each record."""
    start = time.monotonic()
    ids = prompt(model, spec.length_tokens, spec.seed)
    try:
        runs = measure_prefills(model, spec, ids)
        records = {v: prefill_record(run, model, spec) for v, run in runs.items()}
        target = records.get(spec.decode_variant or "")
        if spec.decode_tokens > 0 and target is not None and target["status"] == "ok":
            release(model.device)
            _decode(model, spec, ids, target)
    finally:
        del ids
        release(model.device)
    # The whole request, for the thermal verdict and the energy of the point as a whole.
    whole = {"start_monotonic_s": start, "end_monotonic_s": time.monotonic()}
    for record in records.values():
        if record["status"] == "ok":
            record.setdefault("phases", {})["point"] = whole
    return {"variants": records}


def _decode(model: LoadedModel, spec: PointSpec, ids: Any, target: dict[str, Any]) -> None:
    ttft_s = target["prefill"]["ttft_s"]
    phases = target.setdefault("phases", {})
    if "eager" in spec.decode_modes:
        with clock.phase(clock.DECODE):
            target["decode"], phase = eager_record(model, ids, spec.decode_tokens, ttft_s)
        if phase:
            phases["decode"] = phase
        release(model.device)
    if "graph" in spec.decode_modes:
        with clock.phase(clock.DECODE_GRAPH):
            target["decode_graph"], phase = graph_record(model, ids, spec.decode_tokens,
                                                         ttft_s)
        if phase:
            phases["decode_graph"] = phase
