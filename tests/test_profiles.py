"""Model presets and suites: they load, they are what they claim, bad ones fail clearly."""

from __future__ import annotations

import pytest

from edgeprobe.errors import ProfileError
from edgeprobe.suite import list_presets, list_suites, load_preset, load_suite

STUDY_MODELS = {
    "transformer": ["qwen2.5-0.5b", "qwen2.5-1.5b", "llama-3.2-1b", "phi-3-mini"],
    "ssm": ["mamba-130m", "mamba-790m", "mamba-1.4b", "mamba2-130m", "mamba2-780m", "mamba2-1.3b"],
    "hybrid": ["falcon-h1-0.5b", "falcon-h1-1.5b", "zamba2-1.2b"],
}


def _built_params(preset) -> int:
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from transformers import AutoModelForCausalLM

    from edgeprobe.models.build import count_params, hf_config

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(hf_config(preset))
    return count_params(model)[0]


def _rounds_to_label(count: int, label: str) -> bool:
    """Is ``count`` what a rounded label such as "1.3B" or "130M" stands for?"""
    scale = {"B": 1e9, "M": 1e6}[label[-1]]
    digits = label[:-1]
    step = 10 ** -len(digits.split(".")[1]) if "." in digits else 1
    return abs(count / scale - float(digits)) <= step / 2


def test_every_study_model_has_a_preset():
    names = set(list_presets())
    for family, models in STUDY_MODELS.items():
        for name in models:
            assert name in names
            assert load_preset(name).family == family


def test_tiny_presets_cover_every_family():
    tiny = [load_preset(n) for n in list_presets() if load_preset(n).tiny]
    assert {p.family for p in tiny} == {"transformer", "ssm", "hybrid"}


@pytest.mark.parametrize("name", [m for models in STUDY_MODELS.values() for m in models])
def test_parameter_count_matches_published_size(name):
    preset = load_preset(name)
    built = _built_params(preset)
    published = preset.published_params
    assert published, f"{name} must say its published size"
    within = abs(built - published) / published <= 0.03
    label = preset.published_params_label
    assert within or (label and _rounds_to_label(built, label)), (
        f"{name}: built {built:,} vs published {published:,} ({label})")


def test_ssm_presets_offer_both_implementations():
    for name in STUDY_MODELS["ssm"]:
        preset = load_preset(name)
        assert preset.implementations == ("hf", "mamba_ssm")
        assert preset.study_implementation == "mamba_ssm"


def test_unknown_model_suggests_close_names():
    with pytest.raises(ProfileError, match="did you mean mamba2-130m"):
        load_preset("mamba2-13m")


def test_suites_load_and_hash(tmp_path):
    for name in list_suites():
        suite = load_suite(name)
        assert len(suite.content_hash()) == 64
    smoke = load_suite("smoke")
    assert {load_preset(m).family for m in smoke.models} == {"transformer", "ssm", "hybrid"}
    assert smoke.content_hash() == load_suite("smoke").content_hash()
    assert smoke.with_overrides(lengths=[64]).content_hash() != smoke.content_hash()


def test_paper_suites_use_the_study_models_and_lengths():
    desktop = load_suite("paper-desktop")
    assert set(desktop.models) == {m for models in STUDY_MODELS.values() for m in models}
    ssm_lengths = desktop.lengths_for(load_preset("mamba2-780m"))
    assert max(ssm_lengths) >= 220_000 and 1024 in ssm_lengths
    edge = load_suite("paper-edge")
    assert max(edge.lengths) <= 32768
    # Both pin the attention kernels torch tried on the study's GPUs (sm_87/sm_89), in order.
    for suite in (desktop, edge):
        assert suite.attention_backend == ("flash", "efficient", "math")
        assert suite.decode_modes == ("eager",)
    assert load_suite("smoke").attention_backend == ()


@pytest.mark.parametrize(("content", "message"), [
    ('name = "x"\nversion = 1\nlengths = [1]\n', "missing key 'models'"),
    ('name = "x"\nversion = 1\nmodels = ["tiny-qwen2"]\nlengths = []\n', "non-empty list"),
    ('name = "x"\nversion = 1\nmodels = ["nope"]\nlengths = [4]\n', "unknown model 'nope'"),
    ('name = "x"\nversion = 1\nmodels = ["tiny-qwen2"]\nlengths = [4]\nrepeats = 0\n', "repeats"),
    ('name = "x"\nversion = "one"\nmodels = ["tiny-qwen2"]\nlengths = [4]\n',
     "'version' must be an integer"),
    ("name = [unclosed\n", "not valid TOML"),
    ('name = "x"\nversion = 1\nmodels = ["tiny-qwen2"]\nlengths = [4]\n'
     'attention_backend = "fastest"\n', "attention backend 'fastest'"),
    ('name = "x"\nversion = 1\nmodels = ["tiny-qwen2"]\nlengths = [4]\n'
     'decode_mode = "turbo"\n', "decode mode 'turbo'"),
])
def test_bad_suites_fail_with_one_clear_line(tmp_path, content, message):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(ProfileError, match=message.replace("(", r"\(")) as info:
        load_suite(str(path))
    assert "\n" not in str(info.value)


def test_bad_model_preset(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "odd.toml").write_text(
        'name = "odd"\nfamily = "rnn"\nshape_source = "x"\n[hf]\nmodel_type = "qwen2"\n')
    monkeypatch.setenv("EDGEPROBE_PROFILES", str(tmp_path))
    with pytest.raises(ProfileError, match="family 'rnn'"):
        load_preset("odd")
