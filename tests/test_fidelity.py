"""``edgeprobe fidelity`` on the CPU with tiny presets: every ratio, independent plain loops."""

from __future__ import annotations

import ast
import json
import statistics

import pytest

from edgeprobe.analysis.fidelity import FidelityReport, markdown, metric_summary, text_lines
from tests.conftest import REPO

pytestmark = pytest.mark.slow

METRICS = ("ttft_published", "ttft_lean", "tpot_cold", "tpot_warm")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from tests.conftest import run_cli

    folder = tmp_path_factory.mktemp("fidelity")
    result = run_cli("fidelity", "--models", "tiny-qwen2", "tiny-mamba2", "--lengths", "256",
                     "--device", "cpu", "--rounds", "3", "--decode-rounds", "2",
                     "--decode-tokens", "8", "--threads", "1", "--json",
                     "--out", str(folder / "f.json"), "--markdown", str(folder / "f.md"))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), folder


def test_every_metric_of_every_model_has_both_sides_and_a_ratio(report):
    document, _ = report
    assert document["format"] == "edgeprobe-fidelity"
    assert document["device"]["kind"] == "cpu"
    assert document["settings"]["rounds"] == 3 and document["settings"]["dtype"] == "float32"
    assert [(r["model"], r["implementation"]) for r in document["results"]] == [
        ("tiny-qwen2", "hf"), ("tiny-mamba2", "hf")]
    for result in document["results"]:
        assert result["status"] == "ok" and result["length_tokens"] == 256
        assert result["prefill_path"] == "hf-forward"
        assert set(result["metrics"]) == set(METRICS)
        for name, metric in result["metrics"].items():
            rounds = 2 if name.startswith("tpot") else 3
            for side in ("bare", "edgeprobe"):
                figures = metric[side]
                assert len(figures["samples_s"]) == rounds
                assert figures["min_s"] <= figures["q1_s"] <= figures["median_s"] \
                    <= figures["q3_s"] <= figures["max_s"]
                assert figures["iqr_s"] == pytest.approx(figures["q3_s"] - figures["q1_s"])
            assert metric["ratio_of_medians"] == pytest.approx(
                metric["edgeprobe"]["median_s"] / metric["bare"]["median_s"])
            pairs = zip(metric["bare"]["samples_s"], metric["edgeprobe"]["samples_s"],
                        strict=True)
            assert metric["round_ratios"] == pytest.approx([e / b for b, e in pairs])
            assert metric["ratio_q1"] <= metric["ratio"] <= metric["ratio_q3"]
            assert isinstance(metric["within_noise"], bool)
        # Every cold decode started from a prompt length of its own (KV lengths new to the
        # process), the two sides alternating.
        prompts = result["decode_prompt_tokens"]
        assert len(prompts) == len(set(prompts)) == 4 and prompts[0] == 256


def test_the_report_files_match_the_printed_json(report):
    document, folder = report
    assert json.loads((folder / "f.json").read_text()) == document
    text = (folder / "f.md").read_text()
    assert "| tiny-qwen2 | hf | 256 | TPOT warm |" in text
    assert "Command: `edgeprobe fidelity --models tiny-qwen2 tiny-mamba2" in text


def test_the_plain_loops_owe_nothing_to_edgeprobe():
    """The reference loops import torch and the model's own library, never edgeprobe."""
    tree = ast.parse((REPO / "edgeprobe" / "probe" / "bare.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not [name for name in imported if name.startswith("edgeprobe")]
    assert "torch" in imported


def test_ratio_and_noise_of_known_samples():
    metric = metric_summary([1.0, 1.1, 0.9, 1.0], [1.2, 1.3, 1.2, 1.25])
    assert metric["bare"]["median_s"] == pytest.approx(1.0)
    assert metric["ratio_of_medians"] == pytest.approx(1.225)
    assert metric["ratio_of_minimums"] == pytest.approx(1.2 / 0.9)
    assert metric["ratio"] == pytest.approx(statistics.median([1.2, 1.3 / 1.1, 1.2 / 0.9, 1.25]))
    assert metric["within_noise"] is False
    close = metric_summary([1.0, 1.2, 0.8], [1.05, 1.25, 0.85])
    assert close["within_noise"] is False  # every round has edgeprobe 4-6 % slower
    mixed = metric_summary([1.0, 1.2, 0.8, 1.0], [1.05, 1.14, 0.84, 0.97])
    assert mixed["within_noise"] is True and mixed["ratio"] == pytest.approx(1.0, abs=0.03)


def test_rounds_pair_the_sides_so_a_slow_spell_cancels():
    """The host slows by half for the second two rounds: medians of each side straddle the
    spell differently, the per-round ratios do not."""
    bare = [0.040, 0.041, 0.060, 0.062]
    ours = [seconds * 1.01 for seconds in bare]  # 1 % slower in every round
    metric = metric_summary(bare, ours)
    assert metric["ratio"] == pytest.approx(1.01)
    assert metric["within_noise"] is False
    few = metric_summary([0.040, 0.060], [0.060, 0.040])  # two rounds: medians, spreads
    assert few["ratio"] == pytest.approx((1.5 + 0.040 / 0.060) / 2)
    assert few["within_noise"] is True


    report = FidelityReport(["edgeprobe", "fidelity"], {"kind": "cpu", "threads": 2}, {},
                            {"rounds": 4, "decode_rounds": 4}, [{
                                "model": "m", "implementation": "hf", "length_tokens": 1024,
                                "status": "ok", "metrics": {"ttft_lean": metric}}])
    lines = text_lines(report)
    assert all(len(line) <= 80 for line in lines)
    row = next(line for line in lines if line.startswith("m "))
    assert "TTFT last" in row and f"{metric['ratio']:.3f}" in row and "tie" not in row
    assert "| m | hf | 1,024 | TTFT last |" in markdown(report)


@pytest.mark.parametrize("args, message", [
    (["--lengths", "256", "--rounds", "0"], "argument --rounds: '0': use a whole number"),
    (["--lengths", "256", "--attention-backend", "fast"], "attention backend 'fast'"),
    (["--lengths", "lots"], "cannot read length"),
])
def test_bad_fidelity_input_gets_one_line(cli, args, message):
    result = cli("fidelity", "--models", "tiny-qwen2", "--device", "cpu", *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_unknown_model_is_refused_before_any_work(cli):
    result = cli("fidelity", "--models", "tiny-qwen", "--lengths", "256", "--device", "cpu")
    assert result.returncode == 2 and "did you mean" in result.stderr
    assert "Traceback" not in result.stderr
