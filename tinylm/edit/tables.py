"""Weights as tables: their names, what each axis counts, labels, slices worth showing, token search.

Every weight is named by its ``state_dict`` key (``logits``, ``lm_head.weight``,
``transformer.h.0.attn.c_proj.weight``); the model says what each axis counts
(``model.weight_axes(name)``), so a table can label a row "e" or "n12" or "q·h1·3" and choose
which rows matter for a context, without asking which kind of model it is.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

import torch
from torch import nn

from ..compare import show_whitespace
from ..tokenizer import Tokenizer, ordinary_tokens

MAX_PICTURE_INPUTS = 8  # context tokens drawn in the network picture (a GPT may read hundreds)
MAX_TABLE_COLS = 32  # columns shown at once; a wider weight is read through a window of them
WHOLE_TABLE_VOCAB = 80  # a (token, next) table with at most this many ordinary tokens is shown whole
BLANK = "⟨blank⟩"  # how the MLP's blank row (context before the start of the text) is shown
TOKEN_AXES = ("token", "next")  # axes that count the vocabulary: the token read, the token predicted


class EditError(ValueError):
    """An edit was refused; the message says why, and the model is unchanged."""


class WeightTable(NamedTuple):
    """A slice of one weight tensor as a table: labels for its rows and columns, and the values."""

    row_labels: list[str]
    col_labels: list[str]
    values: list[list[float]]  # values[i][j] = weight at (rows[i], cols[j])


# ---------------------------------------------------------------------------------------------
# Names and axes


def weight_names(model: nn.Module) -> list[str]:
    """The editable weights, by ``state_dict`` name (a GPT lists both names of its tied wte/lm_head).

    >>> from tinylm.models import Bigram, BigramConfig
    >>> weight_names(Bigram(BigramConfig(vocab_size=5)))
    ['logits']
    """
    return list(model.state_dict().keys())


def weight(model: nn.Module, name: str) -> torch.Tensor:
    """The tensor behind a state_dict name (the parameter itself: writing to it changes the model)."""
    if not isinstance(name, str) or not name:
        raise EditError(f"a weight is named by its state_dict key, like 'lm_head.weight'; got {name!r}")
    try:
        return model.get_parameter(name)
    except AttributeError:
        names = weight_names(model)
        close = [n for n in names if name.split(".")[-1] in n][:3] or names[:3]
        raise EditError(f"this {type(model).__name__} has no weight named {name!r}; try {', '.join(close)}") from None


def axis_kinds(model: nn.Module, name: str) -> tuple[str, ...]:
    """What each axis of a weight counts (the model's ``weight_axes``), after checking the name.

    >>> from tinylm.models import build_model
    >>> axis_kinds(build_model("mlp", vocab_size=5), "lm_head.weight")
    ('next', 'neuron')
    """
    weight(model, name)
    return model.weight_axes(name)


def readout(model: nn.Module) -> tuple[str, torch.Tensor, torch.Tensor | None]:
    """The output layer: (state_dict name, W, bias) with logits = W @ hidden + bias, W (vocab, H).

    It is the weight with a "next" axis. W is a view into the weights: writing to it changes the
    model. The bigram's table is (current, next), so its W is the table transposed; a one-hot
    hidden vector then picks the current token's row.

    >>> from tinylm.models import Bigram, BigramConfig
    >>> name, W, bias = readout(Bigram(BigramConfig(vocab_size=3)))
    >>> name, tuple(W.shape), bias
    ('logits', (3, 3), None)
    """
    axes = {name: model.weight_axes(name) for name in weight_names(model)}
    name = next(n for n, a in axes.items() if len(a) == 2 and "next" in a)
    W = weight(model, name) if axes[name][0] == "next" else weight(model, name).T
    bias = next((weight(model, n) for n, a in axes.items() if a == ("next",)), None)
    return name, W, bias


def window(model: nn.Module, ids: list[int]) -> list[int]:
    """The part of ``ids`` the model reads to predict what follows (padded with blanks if it has them).

    >>> from tinylm.models import build_model
    >>> window(build_model("mlp", vocab_size=5, block_size=3), [2])
    [5, 5, 2]
    """
    ids = list(ids)[-model.block_size:]
    if model.blank is not None:
        ids = [model.blank] * (model.block_size - len(ids)) + ids
    return ids


def reads(model: nn.Module, ids: list[int]) -> list[int]:
    """Positions in ``window(model, ids)`` of the real tokens drawn in a picture (no blanks), the last few."""
    return [p for p, t in enumerate(window(model, ids)) if t != model.blank][-MAX_PICTURE_INPUTS:]


# ---------------------------------------------------------------------------------------------
# Labels


def token_label(tokenizer: Tokenizer, token_id: int) -> str:
    """A token as a table or picture shows it: whitespace visible (· space, ↵ line break).

    >>> from tinylm.tokenizer import CharTokenizer
    >>> token_label(CharTokenizer.from_corpus("a b"), 6)
    '·'
    """
    if token_id == tokenizer.vocab_size:  # the MLP's extra wte row
        return BLANK
    return show_whitespace(tokenizer.token_text(token_id)) or "∅"


def axis_label(model: nn.Module, name: str, axis: int, i: int, tokenizer: Tokenizer | None = None) -> str:
    """The label of entry ``i`` along ``axis`` of weight ``name`` ("e", "n12", "q·h1·3", "pos 4")."""
    kind = axis_kinds(model, name)[axis]
    if kind in TOKEN_AXES:
        if tokenizer is None:
            return BLANK if i == model.config.vocab_size else str(i)
        return token_label(tokenizer, i)
    if kind in ("embd", "neuron", "channel", "position"):
        return {"embd": "e", "neuron": "n", "channel": "c", "position": "pos "}[kind] + str(i)
    if kind == "input":  # which context slot (0 = oldest) and which of its embedding dimensions
        return f"t{i // model.config.n_embd}·e{i % model.config.n_embd}"
    head_size = model.config.n_embd // model.config.n_head
    if kind == "qkv":
        part, rest = divmod(i, model.config.n_embd)
        return f"{'qkv'[part]}·h{rest // head_size}·{rest % head_size}"
    return f"h{i // head_size}·{i % head_size}"  # head


def cell_name(model: nn.Module, tokenizer: Tokenizer, name: str, index: tuple[int, ...]) -> str:
    """``logits[e, m]``: a weight's index with token labels where the axis is the vocabulary."""
    return f"{name}[{', '.join(axis_label(model, name, axis, i, tokenizer) for axis, i in enumerate(index))}]"


def head_columns(model: nn.Module, head: int) -> list[int]:
    """The columns of an ``attn.c_proj.weight`` that read attention head ``head``'s output.

    Each head writes ``n_embd // n_head`` numbers; c_proj mixes all heads back into the residual
    stream, so its columns for one head are that head's whole say in the block's output.
    """
    n_head = getattr(model.config, "n_head", None)
    if n_head is None:
        raise EditError(f"a {type(model).__name__} has no attention heads")
    if not 0 <= head < n_head:
        raise EditError(f"head {head} is out of range: this model has heads 0..{n_head - 1}")
    size = model.config.n_embd // n_head
    return list(range(head * size, (head + 1) * size))


# ---------------------------------------------------------------------------------------------
# Tables and the slices of them worth showing


def weight_table(model: nn.Module, name: str, rows: Iterable[int] | None = None, cols: Iterable[int] | None = None,
                 tokenizer: Tokenizer | None = None) -> WeightTable:
    """Rows ``rows`` and columns ``cols`` (None: all) of weight ``name`` as labelled lists.

    A 1-D weight (a bias, a LayerNorm gain) is one row named after it. With a tokenizer,
    vocabulary axes are labelled by token; without one, by index.

    >>> from tinylm.models import Bigram, BigramConfig
    >>> weight_table(Bigram(BigramConfig(vocab_size=3)), "logits", rows=[1], cols=[0, 2])
    WeightTable(row_labels=['1'], col_labels=['0', '2'], values=[[0.0, 0.0]])
    """
    tensor = weight(model, name).detach()
    if tensor.dim() == 1:
        if rows is not None and list(rows) not in ([], [0]):
            raise EditError(f"{name} is one row of {tensor.numel()} numbers; it has no row {list(rows)}")
        tensor, row_ids, row_labels = tensor[None], [0], [name.split(".")[-1]]
        col_axis = 0
    else:
        row_ids = list(range(tensor.size(0))) if rows is None else [int(r) for r in rows]
        _check_range(name, tensor, 0, row_ids, "row")
        row_labels = [axis_label(model, name, 0, r, tokenizer) for r in row_ids]
        col_axis = 1
    col_ids = list(range(tensor.size(1))) if cols is None else [int(c) for c in cols]
    _check_range(name, tensor, 1, col_ids, "column" if col_axis else "entry")
    col_labels = [axis_label(model, name, col_axis, c, tokenizer) for c in col_ids]
    return WeightTable(row_labels, col_labels, tensor[row_ids][:, col_ids].tolist())


def _check_range(name: str, tensor: torch.Tensor, axis: int, ids: list[int], what: str) -> None:
    size = tensor.size(axis)
    bad = [i for i in ids if not 0 <= i < size]
    if bad:
        plural = "entries" if what == "entry" else what + "s"
        raise EditError(f"{what} {bad[0]} is out of range: {name} has {plural} 0..{size - 1}")


def table_slice(model: nn.Module, tokenizer: Tokenizer, name: str, ids: list[int], top: list[int],
                chosen: list[int] | None = None, head: int = 0,
                first_col: int = 0) -> tuple[list[int] | None, list[int]]:
    """The rows and columns of weight ``name`` worth showing for the context ``ids``.

    ``top`` are the likeliest next tokens; ``chosen`` are rows (entries, for a 1-D weight) a
    person picked instead of the suggestion. Rows that count the tokens read: the context's
    tokens, then the top ones (a small (token, next) table: all of it, the current token's row
    first); rows that count the next token: the top tokens; positions: those of the context;
    anything else: its first rows. Columns: the top tokens for a "next" axis, one attention head
    for ``attn.c_proj``, else ``MAX_TABLE_COLS`` from ``first_col``. Returns (rows, cols), rows
    None for a 1-D weight.

    >>> from tinylm.models import Bigram, BigramConfig
    >>> from tinylm.tokenizer import CharTokenizer
    >>> tok = CharTokenizer.from_corpus("ab")
    >>> table_slice(Bigram(BigramConfig(vocab_size=tok.vocab_size)), tok, "logits", [6], [7])
    ([6, 7], [6, 7])
    """
    tensor = weight(model, name)
    kinds = axis_kinds(model, name)
    has_blank_row = tensor.size(0) > model.config.vocab_size  # the MLP's wte
    # the tokens it reads, latest last, each once (a GPT's window can be hundreds of tokens: the last few)
    read = window(model, ids)[-MAX_PICTURE_INPUTS:]
    context = list(dict.fromkeys(t for t in read if t != model.blank or has_blank_row))
    whole = kinds == TOKEN_AXES and len(ordinary_tokens(tokenizer)) <= WHOLE_TABLE_VOCAB
    if whole:  # the whole table, the current token's row first
        suggested = list(dict.fromkeys(context[-1:] + ordinary_tokens(tokenizer)))
    elif kinds[0] == "token":
        suggested = list(dict.fromkeys(context + list(top)))
    elif kinds[0] == "next":
        suggested = list(top)
    elif kinds[0] == "position":
        suggested = list(range(min(len(ids), tensor.size(0))))[-MAX_TABLE_COLS:]
    elif tensor.dim() == 1:
        suggested = list(range(first_col, min(first_col + MAX_TABLE_COLS, tensor.size(0))))
    else:
        suggested = list(range(min(16, tensor.size(0))))
    entries = list(chosen) if chosen else suggested
    if tensor.dim() == 1:
        return None, entries
    if kinds[1] == "next":
        cols = ordinary_tokens(tokenizer) if whole else list(dict.fromkeys(list(top) + entries))
    elif kinds[1] == "head":
        cols = head_columns(model, head)
    else:
        first_col = max(0, min(first_col, tensor.size(1) - MAX_TABLE_COLS))
        cols = list(range(first_col, min(first_col + MAX_TABLE_COLS, tensor.size(1))))
    return entries, cols


# ---------------------------------------------------------------------------------------------
# Finding tokens by what they look like


@lru_cache(maxsize=8)
def _vocab_labels(tokenizer: Tokenizer) -> tuple[str, ...]:
    return tuple(token_label(tokenizer, i) for i in range(tokenizer.vocab_size))


def search_tokens(tokenizer: Tokenizer, query: str, limit: int = 40) -> list[int]:
    """Token ids whose text matches ``query``: exact matches first, then prefixes, then substrings.

    Whitespace may be typed as itself or as the marks the tables show (· for a space).

    >>> from tinylm.tokenizer import CharTokenizer
    >>> search_tokens(CharTokenizer.from_corpus("a b"), " ")
    [6]
    """
    labels = _vocab_labels(tokenizer)
    q = show_whitespace(query)
    if not q:
        return []
    exact = [i for i, t in enumerate(labels) if t == q]
    prefix = [i for i, t in enumerate(labels) if t.startswith(q) and t != q]
    inside = [i for i, t in enumerate(labels) if q in t and not t.startswith(q)]
    return (exact + prefix + inside)[:limit]


def token_id(tokenizer: Tokenizer, token, what: str = "the token") -> int:
    """A token given as an id (``12`` or ``"#12"``), as its text, or as a table shows it ("·" a space).

    >>> from tinylm.tokenizer import CharTokenizer
    >>> tok = CharTokenizer.from_corpus("a b")
    >>> token_id(tok, "a"), token_id(tok, "#6"), token_id(tok, "·")
    (7, 6, 6)
    """
    if isinstance(token, str) and token.startswith("#") and token[1:].isdigit():
        token = int(token[1:])
    if isinstance(token, numbers.Integral) and not isinstance(token, bool):
        if not 0 <= int(token) < tokenizer.vocab_size:
            raise EditError(f"{what} id {token} is out of range: the vocabulary has ids 0..{tokenizer.vocab_size - 1}")
        return int(token)
    found = tokenizer.token_to_id(token) if isinstance(token, str) and token else None
    if found is None and isinstance(token, str) and token:
        exact = search_tokens(tokenizer, token, limit=1)
        found = exact[0] if exact and token_label(tokenizer, exact[0]) == show_whitespace(token) else None
    if found is None:
        raise EditError(f"{what} {token!r} is not one token of this {tokenizer.kind} vocabulary "
                        f"(type it as the tables show it, or #id)")
    return found
