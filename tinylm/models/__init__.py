"""Three language models behind one contract (as in makemore).

Each has a config dataclass, ``block_size`` (how many tokens of context it reads) and
``forward(idx, targets=None) -> (logits, loss)`` with idx (B, T) ids, logits (B, T, vocab_size),
and targets of -1 ignored by the loss. One trainer, one sampler and one weight editor serve all.
"""

from dataclasses import asdict, fields

import torch.nn as nn

from .bigram import Bigram, BigramConfig
from .gpt import GPT, GPTConfig, KVCache
from .mlp import MLP, MLPConfig

MODELS = {"bigram": (Bigram, BigramConfig), "mlp": (MLP, MLPConfig), "gpt": (GPT, GPTConfig)}


def make_config(kind: str, **overrides):
    """The config dataclass of ``kind`` with ``overrides``; an unknown field fails with its name.

    >>> make_config("mlp", vocab_size=33, block_size=4).n_embd
    48
    """
    if kind not in MODELS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(MODELS)}")
    config_cls = MODELS[kind][1]
    known = {f.name for f in fields(config_cls)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"{config_cls.__name__} has no field {unknown[0]!r}; its fields are {', '.join(sorted(known))}")
    return config_cls(**overrides)


def build_model(kind: str, **config) -> nn.Module:
    """A freshly initialised model: ``build_model("gpt", vocab_size=65, n_layer=2)``."""
    config = make_config(kind, **config)  # checks the kind and the fields first
    return MODELS[kind][0](config)


def model_kind(model: nn.Module) -> str:
    for kind, (cls, _) in MODELS.items():
        if isinstance(model, cls):
            return kind
    raise TypeError(f"{type(model).__name__} is not a tinylm model")


def model_config(model: nn.Module) -> dict:
    return asdict(model.config)


def count_params(model: nn.Module) -> int:
    """Number of distinct parameters (a tied matrix counts once)."""
    return sum(p.numel() for p in model.parameters())


__all__ = ["Bigram", "BigramConfig", "MLP", "MLPConfig", "GPT", "GPTConfig", "KVCache", "MODELS",
           "make_config", "build_model", "model_kind", "model_config", "count_params"]
