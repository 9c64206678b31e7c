"""Real torch.profiler passes over tiny models on the CPU: rows, calls, scopes, traces."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pytest

torch = pytest.importorskip("torch")

from edgeprobe.models.build import build  # noqa: E402
from edgeprobe.probe.prefill import prompt  # noqa: E402
from edgeprobe.profiling.capture import capture, profile_prefill  # noqa: E402
from edgeprobe.profiling.scopes import module_scopes, scope_targets  # noqa: E402
from edgeprobe.profiling.spec import ProfileSchedule  # noqa: E402
from edgeprobe.profiling.table import TIME_BASIS_CPU  # noqa: E402
from edgeprobe.suite.presets import load_preset  # noqa: E402

pytestmark = pytest.mark.slow
SHORT = ProfileSchedule(skip_first=0, wait=0, warmup=1, active=3)
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def qwen():
    return build(load_preset("tiny-qwen2"), "hf", CPU, torch.float32)


@pytest.fixture(scope="module")
def mamba():
    return build(load_preset("tiny-mamba"), "hf", CPU, torch.float32)


def _layers(model) -> int:
    return int(model.preset.hf_config["num_hidden_layers"])


def _hooks(module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in module.modules())


def _calls(record, name, category=None) -> int:
    return sum(r["calls"] for r in record["rows"]
               if r["name"] == name and (category is None or r["category"] == category))


def test_scope_targets_of_a_transformer(qwen):
    targets = Counter(category for _, category in scope_targets(qwen.adapter.module))
    # Input embedding, the lm_head, and two RMSNorms per layer plus the final one.
    assert targets == {"embedding": 1, "logits": 1, "normalization": 2 * _layers(qwen) + 1}


def test_tiny_transformer_profile(qwen):
    ids = prompt(qwen, 64, seed=0)
    captured = profile_prefill(qwen, ids, 0, SHORT)
    table = captured.table
    record = table.as_record()
    assert table.time_basis == TIME_BASIS_CPU and table.steps == SHORT.active
    assert captured.trace_file is None and captured.trace_error is None
    layers, steps = _layers(qwen), SHORT.active
    # One attention call per layer and prefill; one logits GEMM per prefill.
    assert _calls(record, "aten::_scaled_dot_product_flash_attention_for_cpu",
                  "attention") == layers * steps
    logits = [r for r in record["rows"] if r["category"] == "logits"]
    assert _calls(record, "aten::mm", "logits") == steps
    assert all(r["scope"] == "logits" for r in logits)
    assert _calls(record, "aten::embedding", "embedding") == steps
    # Every RMSNorm computes one rsqrt, inside its normalization scope.
    assert _calls(record, "aten::rsqrt", "normalization") == (2 * layers + 1) * steps
    assert _calls(record, "aten::rsqrt", "arithmetic") == 0
    shares = {c: v["share"] for c, v in record["categories"].items()}
    assert sum(shares.values()) == pytest.approx(1.0)
    for category in ("GEMM", "attention", "logits", "embedding", "normalization"):
        assert shares[category] > 0, category
    assert shares["SSM_Scan"] == 0
    # Op self times nest inside the profiled steps.
    assert 0 < table.device_time_s <= table.active_wall_s * 1.01
    assert _hooks(qwen.adapter.module) == 0


def test_reference_mamba_profile(mamba):
    ids = prompt(mamba, 64, seed=0)
    record = profile_prefill(mamba, ids, 1, SHORT).table.as_record()
    layers, steps = _layers(mamba), SHORT.active
    # The reference path's causal conv1d is nn.Conv1d: one call per layer, counted as SSM_Scan.
    assert _calls(record, "aten::conv1d", "SSM_Scan") == layers * steps
    assert record["categories"]["SSM_Scan"]["share"] > 0
    assert record["categories"]["attention"]["share"] == 0
    assert _calls(record, "aten::mm", "logits") == steps


def test_trace_export(qwen, tmp_path):
    path = tmp_path / "traces" / "qwen.json.gz"
    captured = profile_prefill(qwen, prompt(qwen, 32, seed=0), 1, SHORT, str(path))
    assert captured.trace_file == str(path)
    with gzip.open(path, "rt") as handle:
        events = json.load(handle)["traceEvents"]
    names = {e.get("name") for e in events}
    assert "edgeprobe::logits" in names and "edgeprobe::embedding" in names
    assert sum(1 for n in names if str(n).startswith("ProfilerStep#")) == SHORT.active


def test_an_unwritable_trace_keeps_the_table(qwen, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    captured = profile_prefill(qwen, prompt(qwen, 32, seed=0), 1, SHORT,
                               str(blocker / "trace.json.gz"))
    assert captured.trace_file is None and captured.trace_error
    assert captured.table.rows


def test_a_failing_step_leaves_no_hooks(qwen):
    module = qwen.adapter.module
    calls = []

    def step():
        calls.append(1)
        with torch.inference_mode():
            module(input_ids=torch.zeros(1, 8, dtype=torch.long))
        if len(calls) == 2:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        capture(step, module, CPU, SHORT)
    assert _hooks(module) == 0
    with module_scopes(module) as targets:
        assert _hooks(module) == 2 * len(targets)
    assert _hooks(module) == 0
