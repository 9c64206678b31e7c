"""Suites, model presets and device profiles, loaded from ``profiles/*.toml``."""

from edgeprobe.suite.presets import ModelPreset, list_presets, load_preset
from edgeprobe.suite.profiles import profiles_dir
from edgeprobe.suite.suites import Suite, list_suites, load_suite

__all__ = [
    "ModelPreset",
    "Suite",
    "list_presets",
    "list_suites",
    "load_preset",
    "load_suite",
    "profiles_dir",
]
