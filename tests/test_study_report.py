"""docs/results/study-report.md is what its own command makes from the committed bundles."""

from __future__ import annotations

import importlib.util

from tests.bundle_factory import point, write_bundle
from tests.conftest import REPO


def test_the_committed_report_is_reproduced_byte_for_byte(tmp_path):
    spec = importlib.util.spec_from_file_location("study_report",
                                                  REPO / "benchmarks" / "study_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (REPO / "docs" / "results" / "study-report.md").read_text()
    command = "python benchmarks/study_report.py"
    assert f"Made by `{command}`" in committed
    report, _ = module.build_report(module._default_paths(), tmp_path, "study-report", command)
    assert report.read_text() == committed


def _module():
    spec = importlib.util.spec_from_file_location("study_report",
                                                  REPO / "benchmarks" / "study_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_figure_a_cut_off_sweep_has_yet_to_reach_names_that_sweep(tmp_path):
    plan = [{"model": "qwen2.5-0.5b", "implementation": "hf", "lengths": [1024, 57344],
             "variants": ["published", "lean"]},
            {"model": "mamba2-780m", "implementation": "mamba_ssm", "lengths": [1024, 57344],
             "variants": ["published", "lean"]},
            {"model": "mamba2-1.3b", "implementation": "mamba_ssm", "lengths": [57344],
             "variants": ["published"]}]
    points = []
    # The SSM is slower at 1K and faster at 8K and 16K: one crossover between 1K and 8K.
    for length, qwen_s, mamba_s in ((1024, 0.010, 0.030), (8192, 0.080, 0.040),
                                    (16384, 0.200, 0.080)):
        for variant in ("published", "lean"):
            points.append(point("qwen2.5-0.5b", length, qwen_s, variant=variant))
            points.append(point("mamba2-780m", length, mamba_s, variant=variant,
                                family="ssm", implementation="mamba_ssm"))
    sweep = write_bundle(tmp_path / "sweep.epb", points, complete=False, plan=plan,
                         suite={"name": "paper-desktop"})
    report, _ = _module().build_report([sweep], tmp_path / "out", "report")
    text = report.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| TTFT at 57,344"))
    # qwen2.5-1.5b is in no plan: not run; mamba2-1.3b is planned and not reached.
    assert "not run: no bundle here has this length" in row
    assert "not reached yet: sweep stopped before it (run --resume measures it)" in row
    claim = next(line for line in text.splitlines() if line.startswith("| 3 |"))
    assert "crossover: 1 pairs, 1 cross over, from ~" in claim
    assert "(mamba2-780m/mamba_ssm vs qwen2.5-0.5b, sweep)" in claim
