"""docs/results/study-report.md is what its own command makes from the committed bundles."""

from __future__ import annotations

import importlib.util

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
