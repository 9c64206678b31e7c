"""Per-kernel latency: a torch.profiler pass per (model, length), kept apart from the timed passes.

``categories`` (the operator categories, one data table), ``table`` (rows and shares), ``spec``
(schedule and request) and ``names`` (name listings for fixtures) never import torch; ``capture``
and ``scopes`` run inside the probe worker.
"""
