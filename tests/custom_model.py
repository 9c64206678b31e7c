"""A small model with its own modeling code, as a model folder holds it (config.json with an
``auto_map``, ``configuration_toyhybrid.py`` and ``modeling_toyhybrid.py``), written by tests
into a temporary folder for ``edgeprobe run --model-dir``."""

from __future__ import annotations

import json
from pathlib import Path

CONFIGURATION = '''
from transformers import PretrainedConfig


class ToyHybridConfig(PretrainedConfig):
    model_type = "toyhybrid"

    def __init__(self, vocab_size=512, hidden_size=64, num_hidden_layers=2, mamba_d_state=8,
                 **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.mamba_d_state = mamba_d_state
        super().__init__(**kwargs)
'''

MODELING = '''
import torch
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

from .configuration_toyhybrid import ToyHybridConfig


class ToyHybridForCausalLM(PreTrainedModel):
    """Embedding, a causal depthwise convolution and a linear recurrence per layer, and a head.
    The cache is the recurrent state and the convolution's last inputs: constant in length."""

    config_class = ToyHybridConfig

    def __init__(self, config):
        super().__init__(config)
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        self.convs = nn.ModuleList(nn.Conv1d(config.hidden_size, config.hidden_size, 4,
                                             groups=config.hidden_size)
                                   for _ in range(config.num_hidden_layers))
        self.decay = nn.Parameter(torch.full((config.hidden_size,), 0.9))
        self.head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding, nn.Conv1d)):
            nn.init.normal_(module.weight, std=0.02)

    def forward(self, input_ids, past_key_values=None, use_cache=True, logits_to_keep=0,
                **kwargs):
        x = self.embed(input_ids).transpose(1, 2)
        states = []
        for index, conv in enumerate(self.convs):
            before = (past_key_values[index][0] if past_key_values is not None
                      else torch.zeros_like(x[..., :3]))
            padded = torch.cat([before, x], dim=-1)
            h = conv(padded)
            state = past_key_values[index][1] if past_key_values is not None \\
                else torch.zeros_like(h[..., 0])
            out = []
            for t in range(h.shape[-1]):
                state = self.decay * state + h[..., t]
                out.append(state)
            x = torch.stack(out, dim=-1)
            states.append((padded[..., -3:].clone(), state))
        hidden = x.transpose(1, 2)
        if logits_to_keep:
            hidden = hidden[:, -logits_to_keep:]
        return CausalLMOutputWithPast(logits=self.head(hidden),
                                      past_key_values=tuple(states) if use_cache else None)
'''


def write_model_folder(folder: Path, with_code: bool = True) -> Path:
    """A model folder: its config.json (and, with code, the modeling files it names)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {"model_type": "toyhybrid", "vocab_size": 512, "hidden_size": 64,
              "num_hidden_layers": 2, "mamba_d_state": 8,
              "architectures": ["ToyHybridForCausalLM"]}
    if with_code:
        config["auto_map"] = {"AutoConfig": "configuration_toyhybrid.ToyHybridConfig",
                              "AutoModelForCausalLM": "modeling_toyhybrid.ToyHybridForCausalLM"}
        (folder / "configuration_toyhybrid.py").write_text(CONFIGURATION)
        (folder / "modeling_toyhybrid.py").write_text(MODELING)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return folder
