"""What a resumed run compares with its bundle, and how it names the first difference."""

from __future__ import annotations

from edgeprobe.runner.resume import DEVICE_AND_SETTINGS_FACTS, first_difference

HEADER = {
    "device": {"kind": "cuda", "name": "NVIDIA H200"},
    "software": {"torch": "2.11.0", "transformers": "5.17.0", "mamba_ssm": "2.3.2"},
    "settings": {"dtype": "float16", "memory_budget_bytes": 24 * 1024**3, "repeats": 5,
                 "decode_modes": ["eager"], "attention_backend": ["flash", "efficient", "math"]},
    "suite": {"sha256": "a" * 64},
    "plan": [{"model": "qwen2.5-0.5b", "implementation": "hf", "lengths": [1024, 2048]}],
}


def _changed(path, value):
    header = {key: (dict(value) if isinstance(value, dict) else value)
              for key, value in HEADER.items()}
    section, key = path
    header[section] = {**HEADER[section], key: value} if key else value
    return header


def test_the_same_run_has_no_difference():
    assert first_difference(HEADER, HEADER, DEVICE_AND_SETTINGS_FACTS) is None


def test_the_first_difference_is_named():
    def why(path, value):
        return first_difference(HEADER, _changed(path, value), DEVICE_AND_SETTINGS_FACTS)

    assert why(("settings", "dtype"), "float32") == "dtype differs (bundle float16, now float32)"
    assert why(("device", "kind"), "cpu") == "device kind differs (bundle cuda, now cpu)"
    assert why(("software", "transformers"), "5.24.0") == \
        "transformers version differs (bundle 5.17.0, now 5.24.0)"
    assert why(("settings", "attention_backend"), "auto") == \
        "attention pin differs (bundle ['flash', 'efficient', 'math'], now auto)"
    lengths = [{"model": "qwen2.5-0.5b", "implementation": "hf", "lengths": [1024]}]
    assert why(("plan", None), lengths) == \
        "lengths differ for qwen2.5-0.5b/hf (bundle [1024, 2048], now [1024])"
    assert why(("suite", "sha256"), "b" * 64).startswith("suite differs (bundle aaaa")
    # Device facts come first: a run on another machine is named as such.
    moved = _changed(("device", "name"), "NVIDIA RTX 4090")
    moved["settings"] = {**HEADER["settings"], "dtype": "float32"}
    assert first_difference(HEADER, moved, DEVICE_AND_SETTINGS_FACTS).startswith("device ")
