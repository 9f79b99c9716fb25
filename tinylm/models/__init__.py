"""Three language models behind one contract (as in makemore).

Each has a config dataclass, ``block_size`` (how many tokens of context it reads) and
``forward(idx, targets=None) -> (logits, loss)`` with idx (B, T) ids, logits (B, T, vocab_size),
and targets of -1 ignored by the loss. Each also splits its forward pass in two,
``logits = lm_head(hidden(idx))``: ``hidden`` is everything up to the last layer (a bigram's
one-hot row, the MLP's last tanh layer, the GPT's final LayerNorm) and ``lm_head`` the linear
read-out to the vocabulary. One trainer, one sampler and one weight editor serve all three.

For the weight editor each model also says two things about itself: ``weight_axes(name)``, what
each axis of a weight counts ("token", "next" token, "neuron", "channel", ...; the output layer is
the weight with a "next" axis), and ``blank``, the id it reads for "no token here" (the MLP's
extra embedding row) or None (a bigram always reads a token; a GPT reads a shorter context).
"""

from dataclasses import asdict, fields

import torch
import torch.nn as nn

from .bigram import Bigram, BigramConfig, bigram_from_counts
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
    config = config_cls(**overrides)
    check_config(config)
    return config


def config_fields(kind: str, **values) -> dict:
    """The ``values`` that ``kind``'s config has, None meaning "not given".

    A form or a command line offers every size; each model takes the ones its config has (the
    vocabulary comes from the tokenizer, and a bigram's context is always one token).

    >>> config_fields("mlp", block_size=3, n_embd=48, n_head=4, n_layer=None)
    {'block_size': 3, 'n_embd': 48}
    >>> config_fields("bigram", block_size=8, n_embd=16)
    {}
    """
    if kind not in MODELS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(MODELS)}")
    settable = {f.name for f in fields(MODELS[kind][1]) if f.name != "vocab_size" and not f.metadata.get("fixed")}
    return {k: v for k, v in values.items() if k in settable and v is not None}


def check_config(config) -> None:
    """Refuse a config no model can be built from, naming the field (a config may come from a file).

    Every whole-number field is a size or a count (at least 1), every fraction a dropout
    probability (0 to 1), and a GPT's heads must split its width evenly.

    >>> check_config(GPTConfig(n_embd=130, n_head=4))
    Traceback (most recent call last):
    ...
    ValueError: n_embd (130) must be a multiple of n_head (4): each head gets n_embd / n_head numbers
    """
    name = type(config).__name__
    for f in fields(config):
        value, default = getattr(config, f.name), f.default
        if isinstance(default, bool):
            ok, wanted = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok, wanted = isinstance(value, int) and not isinstance(value, bool) and value >= 1, "a whole number, at least 1"
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
            wanted = "a probability from 0 to 1"
        else:
            ok, wanted = isinstance(value, str), "text"
        if not ok:
            raise ValueError(f"{name}.{f.name} must be {wanted}, got {value!r}")
    if isinstance(config, GPTConfig):
        if config.n_embd % config.n_head:
            raise ValueError(f"n_embd ({config.n_embd}) must be a multiple of n_head ({config.n_head}): "
                             f"each head gets n_embd / n_head numbers")


def size_of(kind: str, **config) -> int:
    """The number of parameters ``build_model(kind, **config)`` would have, allocating nothing.

    The model is built on PyTorch's "meta" device: shapes without storage, so a config that
    asks for billions of parameters is measured in a millisecond and refused before it costs memory.

    >>> size_of("bigram", vocab_size=1000)
    1000000
    """
    with torch.device("meta"):
        return count_params(MODELS[kind][0](make_config(kind, **config)))


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


__all__ = ["Bigram", "BigramConfig", "bigram_from_counts", "MLP", "MLPConfig", "GPT", "GPTConfig", "KVCache", "MODELS",
           "make_config", "config_fields", "check_config", "size_of", "build_model", "model_kind", "model_config",
           "count_params"]
