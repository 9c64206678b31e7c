"""Shared helpers for the telemetry tests: recorded sensor trees and a sampler over them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edgeprobe.telemetry import BackgroundSampler

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sysfs"


def use_tree(monkeypatch: pytest.MonkeyPatch, root: Path) -> Path:
    monkeypatch.setenv("EDGEPROBE_SYSFS_ROOT", str(root))
    return root


def copy_tree(name: str, destination: Path) -> Path:
    """A writable copy of a recorded tree, for tests that change sensor files."""
    target = destination / name
    shutil.copytree(FIXTURES / name, target)
    return target


def statuses(sampler: BackgroundSampler) -> dict[tuple[str, str], object]:
    return {(s.source, s.sensor): s for s in sampler.availability()}
