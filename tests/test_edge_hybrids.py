"""Today's small hybrids: presets with their published sizes, the ``edge-hybrids`` suite, and
tiny twins that run on the CPU."""

from __future__ import annotations

import pytest

from edgeprobe.bundle import read_bundle
from edgeprobe.suite import load_preset, load_suite

EDGE_HYBRIDS = ["lfm2-350m", "lfm2-700m", "lfm2-1.2b", "granite-4.0-h-1b"]


def _built_params(preset) -> int:
    torch = pytest.importorskip("torch")
    from transformers import AutoModelForCausalLM
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    from edgeprobe.models.build import count_params, hf_config

    if preset.hf_model_type not in CONFIG_MAPPING_NAMES:
        pytest.skip(f"this transformers has no model type {preset.hf_model_type}")
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(hf_config(preset))
    return count_params(model)[0]


@pytest.mark.parametrize("name", EDGE_HYBRIDS)
def test_edge_hybrid_presets_match_their_published_size(name):
    preset = load_preset(name)
    built = _built_params(preset)
    assert preset.family == "hybrid" and preset.published_params
    assert abs(built - preset.published_params) / preset.published_params <= 0.03, (
        f"{name}: built {built:,} vs published {preset.published_params:,}")


def test_edge_hybrids_suite_and_its_tiny_twins():
    suite = load_suite("edge-hybrids")
    assert set(EDGE_HYBRIDS) <= set(suite.models)
    twins = {load_preset(n).hf_model_type for n in ("tiny-lfm2", "tiny-granite-h")}
    assert twins == {load_preset(n).hf_model_type for n in EDGE_HYBRIDS}


@pytest.mark.slow
def test_tiny_twins_run_on_the_cpu(cli, tmp_path):
    out = tmp_path / "twins.epb"
    result = cli("run", "--models", "tiny-lfm2", "tiny-granite-h", "--lengths", "128",
                 "--decode-tokens", "2", "--repeats", "1", "--warmup", "0", "--out", str(out),
                 "--device", "cpu", "--local", "--quiet")
    assert result.returncode == 0, result.stderr
    bundle = read_bundle(out)
    assert {p["model"] for p in bundle.points if p["status"] == "ok"} == {"tiny-lfm2",
                                                                          "tiny-granite-h"}
    assert all(p["status"] == "ok" for p in bundle.points)
    assert {m["kernel_path"]["summary"] for m in bundle.models} <= {"reference", "partial",
                                                                    "fused"}
