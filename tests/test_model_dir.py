"""Models beyond the presets: ``--model-dir`` folders, their own code only with
``--trust-remote-code``."""

from __future__ import annotations

import json

import pytest

from edgeprobe.bundle import read_bundle
from edgeprobe.errors import UsageError
from edgeprobe.suite.model_dir import preset_from_model_dir
from tests.custom_model import write_model_folder


def test_a_folder_with_its_own_code_needs_consent(tmp_path):
    folder = write_model_folder(tmp_path / "toy")
    with pytest.raises(UsageError, match="pass --trust-remote-code") as refused:
        preset_from_model_dir(folder, trust_remote_code=False)
    assert "modeling_toyhybrid.py" in str(refused.value) and "\n" not in str(refused.value)
    preset = preset_from_model_dir(folder, trust_remote_code=True)
    assert (preset.name, preset.family, preset.trust_remote_code) == ("toy", "hybrid", True)
    before = preset.code_sha256
    (folder / "modeling_toyhybrid.py").write_text("# changed\n")
    assert preset_from_model_dir(folder, True).code_sha256 != before  # a resume would see it


@pytest.mark.parametrize(("config", "message"), [
    (None, "has no config.json"),
    ("{not json", "not readable JSON"),
    ({"hidden_size": 8}, "names no model_type"),
    ({"model_type": "x", "auto_map": {"AutoModelForCausalLM": "modeling_x.X"}}, "lacks"),
    ({"model_type": "x", "auto_map": {"AutoModelForCausalLM": "org/repo--modeling_x.X"}},
     "does not name code"),
])
def test_unusable_folders_are_refused_in_one_line(tmp_path, config, message):
    folder = tmp_path / "m"
    folder.mkdir()
    if config is not None:
        (folder / "config.json").write_text(config if isinstance(config, str)
                                            else json.dumps(config))
    with pytest.raises(UsageError, match=message) as refused:
        preset_from_model_dir(folder, trust_remote_code=True)
    assert "\n" not in str(refused.value)


def test_family_from_the_config(tmp_path):
    def family(config):
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(config))
        return preset_from_model_dir(folder, False).family

    assert family({"model_type": "qwen2", "layer_types": ["full_attention"] * 2}) == \
        "transformer"
    assert family({"model_type": "mamba2"}) == "ssm"
    assert family({"model_type": "lfm2", "conv_L_cache": 3}) == "hybrid"
    assert family({"model_type": "hymba", "mamba_expand": 2}) == "hybrid"


@pytest.mark.slow
def test_run_a_model_folder_with_its_own_code(cli, tmp_path):
    folder = write_model_folder(tmp_path / "toyhybrid")
    out = tmp_path / "toy.epb"
    env = {"HF_HOME": str(tmp_path / "hf")}  # transformers copies the code there
    refused = cli("run", "--model-dir", str(folder), "--out", str(out), "--device", "cpu",
                  "--local", env=env)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "--trust-remote-code" in refused.stderr and not out.exists()
    result = cli("run", "--model-dir", str(folder), "--trust-remote-code", "--lengths", "64",
                 "--decode-tokens", "2", "--repeats", "1", "--warmup", "0", "--out", str(out),
                 "--device", "cpu", "--local", "--quiet", env=env)
    assert result.returncode == 0, result.stderr
    bundle = read_bundle(out)
    assert [p["model"] for p in bundle.points] == ["toyhybrid", "toyhybrid"]
    assert all(p["status"] == "ok" for p in bundle.points)
    lean = next(p for p in bundle.points if p["variant"] == "lean")
    assert lean["prefill"]["logits_positions"] == 1 and lean["decode"]["status"] == "ok"
    preset = bundle.header["suite"]["definition"]["presets"]["toyhybrid"]
    assert preset["model_dir"] == str(folder) and len(preset["code_sha256"]) == 64
    assert "--model-dir" in bundle.header["run_argv"]
