"""Editing a language model by hand: weight tables, drawn connections, sequences written into memory.

Training changes the weights a little at a time, by gradient descent on a whole data set. Here
a person changes them directly and watches the softmax move:

- ``weight_table`` / ``set_weight``: read and write single weights, keyed by ``state_dict``
  names (``logits``, ``lm_head.weight``, ``transformer.h.0.attn.c_proj.weight``).
- ``connection_strengths`` / ``connect``: how strongly each context token pushes each next
  token, and a way to set that strength ("draw a connection").
- ``imprint``: write a few sequences ("abc", "hello") into the weights in closed form, with no
  gradient step, so that greedy generation from each sequence's first token reproduces it.

Every edit changes the model in place and returns a ``Change``: the list of ``Edit`` records
it made (weight name, index, old value, new value). ``EditSession`` keeps the changes for undo,
redo and reset. Bad input raises ``EditError`` and leaves the model exactly as it was.

    >>> from tinylm.tokenizer import CharTokenizer
    >>> tok = CharTokenizer.from_corpus("ab ac")
    >>> model = bigram_from_counts(tok, "ab ab ab ac", smoothing=0.1)
    >>> a, b, c = (tok.token_to_id(ch) for ch in "abc")
    >>> round(float(next_token_probs(model, [a])[b]), 2)   # after "a": mostly "b"
    0.62
    >>> edit = set_weight(model, "logits", (a, c), 4.0)       # a much stronger a -> c
    >>> round(float(next_token_probs(model, [a])[c]), 2)
    0.93
"""

from __future__ import annotations

import itertools
import numbers
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable, NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import Checkpoint
from .compare import show_whitespace
from .fields import parse_number
from .models import Bigram, BigramConfig, model_kind
from .sample import generate, next_token_probs, prompt_ids
from .tokenizer import SPECIAL_TOKENS, UNK, Tokenizer, build_tokenizer
from .train import evaluate

# A weight beyond +-1000 is always a typo: trained weights of these models stay within about +-20,
# and a logit 1000 above the others already takes all of the softmax (e^-1000 is 0 in float32).
MAX_ABS_WEIGHT = 1e3
MAX_STRENGTH = 100.0  # a connection or imprint stronger than 100 nats is certainty many times over
DEFAULT_IMPRINT_STRENGTH = 4.0  # nats: e^4 = 55 times likelier than the runner-up
MAX_IMPRINT_PAIRS = 256  # (context -> next token) pairs one imprint writes: its solve grows with their cube
MAX_PICTURE_INPUTS = 8  # context tokens drawn in the network picture (a GPT may read hundreds)
BLANK = "⟨blank⟩"  # how the MLP's blank row (context before the start of the text) is shown


class EditError(ValueError):
    """An edit was refused; the message says why, and the model is unchanged."""


@dataclass(frozen=True)
class Edit:
    """One weight changed: ``state_dict()[name][index]`` went from ``old`` to ``new``."""

    name: str  # a state_dict key, e.g. "logits" or "lm_head.weight"
    index: tuple[int, ...]  # one int per axis of that tensor
    old: float
    new: float


@dataclass(frozen=True)
class Change:
    """What one action did (a typed value, a connection, an imprint, a reset): a list of edits."""

    what: str  # for people: "logits[e, m] = 2.5", "connect 'e' → 'm' at 4", "imprint 'abc'"
    edits: tuple[Edit, ...]


class WeightTable(NamedTuple):
    """A slice of one weight tensor as a table: labels for its rows and columns, and the values."""

    row_labels: list[str]
    col_labels: list[str]
    values: list[list[float]]  # values[i][j] = weight at (rows[i], cols[j])


# ---------------------------------------------------------------------------------------------
# Naming: which weights exist, and what each of their axes counts


def weight_names(model: nn.Module) -> list[str]:
    """The editable weights, by ``state_dict`` name (a GPT lists both names of its tied wte/lm_head).

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
        raise EditError(f"this {model_kind(model)} has no weight named {name!r}; try {', '.join(close)}") from None


def axis_kinds(model: nn.Module, name: str) -> tuple[str, ...]:
    """What each axis of a weight counts, for labels and for choosing slices by token.

    "token" (the vocabulary; the MLP's ``wte`` has one more row, the blank), "embd" (an embedding
    dimension), "input" (the MLP's first layer reads block_size embeddings side by side),
    "neuron" (a hidden unit), "channel" (the GPT's residual stream), "position", "qkv" (the query,
    key and value rows of ``c_attn``) and "head" (the heads' outputs that ``attn.c_proj`` reads).

    >>> from tinylm.models import build_model
    >>> axis_kinds(build_model("mlp", vocab_size=5), "lm_head.weight")
    ('token', 'neuron')
    """
    shape = tuple(weight(model, name).shape)
    kind = model_kind(model)
    last = name.split(".")
    if kind == "bigram":
        return ("token", "token")
    if kind == "mlp":
        if name == "wte.weight":
            return ("token", "embd")
        if name.startswith("lm_head"):
            return ("token", "neuron")[: len(shape)]
        layer = int(last[1])
        return ("neuron", "input" if layer == 0 else "neuron")[: len(shape)]
    # gpt
    if name in ("transformer.wte.weight", "lm_head.weight"):
        return ("token", "channel")
    if name == "transformer.wpe.weight":
        return ("position", "channel")
    if "attn.c_attn" in name:
        return ("qkv", "channel")[: len(shape)]
    if "attn.c_proj.weight" in name:
        return ("channel", "head")
    if "mlp.c_fc" in name:
        return ("neuron", "channel")[: len(shape)]
    if "mlp.c_proj.weight" in name:
        return ("channel", "neuron")
    return ("channel",) * len(shape)  # LayerNorm gains and biases, projection biases


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
    if kind == "token":
        if tokenizer is None:
            return BLANK if i == model.config.vocab_size else str(i)
        return token_label(tokenizer, i)
    if kind == "embd":
        return f"e{i}"
    if kind == "neuron":
        return f"n{i}"
    if kind == "channel":
        return f"c{i}"
    if kind == "position":
        return f"pos {i}"
    if kind == "input":  # which context slot (0 = oldest) and which of its embedding dimensions
        return f"t{i // model.config.n_embd}·e{i % model.config.n_embd}"
    head_size = model.config.n_embd // model.config.n_head
    if kind == "qkv":
        part, rest = divmod(i, model.config.n_embd)
        return f"{'qkv'[part]}·h{rest // head_size}·{rest % head_size}"
    return f"h{i // head_size}·{i % head_size}"  # head


def head_columns(model: nn.Module, head: int) -> list[int]:
    """The columns of an ``attn.c_proj.weight`` that read attention head ``head``'s output.

    Each head writes ``n_embd // n_head`` numbers; c_proj mixes all heads back into the residual
    stream, so its columns for one head are that head's whole say in the block's output.
    """
    if model_kind(model) != "gpt":
        raise EditError("only a GPT has attention heads")
    if not 0 <= head < model.config.n_head:
        raise EditError(f"head {head} is out of range: this GPT has heads 0..{model.config.n_head - 1}")
    size = model.config.n_embd // model.config.n_head
    return list(range(head * size, (head + 1) * size))


def weight_table(model: nn.Module, name: str, rows: Iterable[int] | None = None, cols: Iterable[int] | None = None,
                 tokenizer: Tokenizer | None = None) -> WeightTable:
    """Rows ``rows`` and columns ``cols`` (None: all) of weight ``name`` as labelled lists.

    A 1-D weight (a bias, a LayerNorm gain) is one row named after it. With a tokenizer,
    vocabulary axes are labelled by token; without one, by index.

    >>> model = Bigram(BigramConfig(vocab_size=3))
    >>> weight_table(model, "logits", rows=[1], cols=[0, 2])
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
        _check_range(name, tensor, 0, row_ids)
        row_labels = [axis_label(model, name, 0, r, tokenizer) for r in row_ids]
        col_axis = 1
    col_ids = list(range(tensor.size(1))) if cols is None else [int(c) for c in cols]
    _check_range(name, tensor, 1, col_ids, shown_axis=col_axis)
    col_labels = [axis_label(model, name, col_axis, c, tokenizer) for c in col_ids]
    values = tensor[row_ids][:, col_ids].tolist()
    return WeightTable(row_labels, col_labels, values)


def _check_range(name, tensor, axis, ids, shown_axis=None) -> None:
    size = tensor.size(axis)
    bad = [i for i in ids if not 0 <= i < size]
    if bad:
        what = ("row", "column")[axis if shown_axis is None else min(shown_axis, 1)]
        raise EditError(f"{what} {bad[0]} is out of range: {name} has {what}s 0..{size - 1}")


MAX_TABLE_COLS = 32  # columns shown at once; a wider weight is read through a window of them
WHOLE_TABLE_VOCAB = 80  # a bigram with at most this many ordinary tokens shows its whole table


def table_slice(model: nn.Module, tokenizer: Tokenizer, name: str, ids: list[int], top: list[int],
                chosen: list[int] | None = None, head: int = 0, first_col: int = 0) -> tuple[list[int] | None, list[int]]:
    """The rows and columns of weight ``name`` worth showing for the context ``ids``.

    ``top`` are the likeliest next tokens; ``chosen`` are rows (entries, for a 1-D weight) a
    person picked, instead of the suggestion: the whole table of a small bigram, current row
    first (else its current token's row and the top tokens), the context's tokens for an
    embedding, the top tokens for an output layer, and the first rows of anything else. Columns
    are the top tokens for a bigram, one attention head for ``attn.c_proj``, else
    ``MAX_TABLE_COLS`` from ``first_col``.
    Returns (rows, cols), rows None for a 1-D weight.

    >>> from tinylm.tokenizer import CharTokenizer
    >>> tok = CharTokenizer.from_corpus("ab")
    >>> table_slice(Bigram(BigramConfig(vocab_size=tok.vocab_size)), tok, "logits", [6], [7])
    ([6, 7], [6, 7])
    """
    tensor = weight(model, name)
    kinds = axis_kinds(model, name)
    blank = model.config.vocab_size if model_kind(model) == "mlp" else None
    # the tokens it reads, latest last, each once (a GPT's window can be hundreds of tokens: the last few)
    context = list(dict.fromkeys(t for t in window(model, ids)[-MAX_PICTURE_INPUTS:] if t != blank or name == "wte.weight"))
    small_bigram = model_kind(model) == "bigram" and len(ordinary_tokens(tokenizer)) <= WHOLE_TABLE_VOCAB
    if kinds[0] == "token":
        if small_bigram:  # the whole table, the current token's row first
            suggested = list(dict.fromkeys(context[-1:] + ordinary_tokens(tokenizer)))
        elif name.startswith("lm_head") and model_kind(model) == "mlp":
            suggested = list(top)
        else:
            suggested = list(dict.fromkeys(context + list(top)))
    elif kinds[0] == "position":
        suggested = list(range(min(len(ids), tensor.size(0))))[-MAX_TABLE_COLS:]
    else:
        suggested = list(range(first_col, min(first_col + MAX_TABLE_COLS, tensor.size(0)))) if tensor.dim() == 1 else \
            list(range(min(16, tensor.size(0))))
    entries = list(chosen) if chosen else suggested
    if tensor.dim() == 1:
        return None, entries
    if kinds[1] == "token":
        cols = ordinary_tokens(tokenizer) if small_bigram else list(dict.fromkeys(list(top) + entries))
    elif kinds[1] == "head":
        cols = head_columns(model, head)
    else:
        first_col = max(0, min(first_col, tensor.size(1) - MAX_TABLE_COLS))
        cols = list(range(first_col, min(first_col + MAX_TABLE_COLS, tensor.size(1))))
    return entries, cols


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


# ---------------------------------------------------------------------------------------------
# Changing weights: one value, or anything, recorded as edits and checked before it stays


def parse_value(value, what: str = "the new value", bound: float = MAX_ABS_WEIGHT) -> float:
    """A number a person typed, within ±``bound``, or an EditError saying what is wrong with it.

    >>> parse_value(" 2.5 ")
    2.5
    >>> parse_value("nan")
    Traceback (most recent call last):
    ...
    tinylm.edit.EditError: the new value must be a finite number, got 'nan'
    """
    try:
        return parse_number(value, what, -bound, bound, integer=False)
    except ValueError as err:
        typo = isinstance(value, (int, float, str)) and bound == MAX_ABS_WEIGHT and "between" in str(err)
        why = ": a weight that large is always a typo (trained weights stay within about ±20)" if typo else ""
        raise EditError(f"{err}{why}") from None


def parse_index(index, tensor: torch.Tensor, name: str) -> tuple[int, ...]:
    """An index into ``tensor``: an int for a 1-D weight, a (row, col) pair, or text like "3, 5"."""
    if isinstance(index, str):
        text = index.strip().strip("[]()")
        try:
            index = tuple(int(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise EditError(f"an index is whole numbers separated by commas, like '3, 5'; got {index!r}") from None
    if isinstance(index, numbers.Integral) and not isinstance(index, bool):
        index = (int(index),)
    try:
        index = tuple(index)
    except TypeError:
        raise EditError(f"an index is one whole number per axis, got {index!r}") from None
    if any(isinstance(i, bool) or not isinstance(i, numbers.Integral) for i in index):
        raise EditError(f"an index is one whole number per axis, got {index!r}")
    shape = " × ".join(str(s) for s in tensor.shape)
    if len(index) != tensor.dim():
        raise EditError(f"{name} has {tensor.dim()} ax{'i' if tensor.dim() == 1 else 'e'}s ({shape}): give "
                        f"{tensor.dim()} ind{'ex' if tensor.dim() == 1 else 'ices'}, got {len(index)}")
    for axis, (i, size) in enumerate(zip(index, tensor.shape)):
        if not 0 <= i < size:
            raise EditError(f"index {i} on axis {axis} is out of range: {name} is {shape}, so it goes 0..{size - 1}")
    return tuple(int(i) for i in index)


@torch.no_grad()
def record(model: nn.Module, names: Iterable[str], what: str, change: Callable[[], None]) -> Change:
    """Run ``change()`` (which writes to the weights ``names``) and return the edits it made.

    If the result holds a NaN, an infinity or a weight beyond ``MAX_ABS_WEIGHT``, the weights
    are put back and EditError says so: whatever an edit computes, the model stays usable.
    """
    names = list(dict.fromkeys(names))
    tensors = {n: weight(model, n) for n in names}
    before = {n: t.detach().clone() for n, t in tensors.items()}
    try:
        change()
        for n, t in tensors.items():
            if not torch.isfinite(t).all():
                raise EditError(f"this edit would put NaN or infinity into {n}")
            if t.abs().max() > MAX_ABS_WEIGHT and before[n].abs().max() <= MAX_ABS_WEIGHT:
                raise EditError(f"this edit would need a weight of {float(t.abs().max()):.3g} in {n}, beyond "
                                f"±{MAX_ABS_WEIGHT:g}: ask for a smaller strength")
    except BaseException:
        for n, t in tensors.items():
            t.copy_(before[n])
        raise
    edits = []
    seen = set()
    for n, t in tensors.items():
        if t.data_ptr() in seen:  # a GPT's wte and lm_head are one tensor: report it once
            continue
        seen.add(t.data_ptr())
        changed = (t != before[n]).nonzero().tolist()
        old, new = before[n], t.detach()
        edits += [Edit(n, tuple(i), float(old[tuple(i)]), float(new[tuple(i)])) for i in changed]
    return Change(what, tuple(edits))


def set_weight(model: nn.Module, name: str, index, value) -> Edit:
    """Set one weight, ``state_dict()[name][index] = value``, and return the Edit.

    Refuses (EditError, model unchanged) an unknown name, an index out of range, a value that
    is not a number, NaN, infinity, or beyond ±MAX_ABS_WEIGHT.

    >>> model = Bigram(BigramConfig(vocab_size=3))
    >>> set_weight(model, "logits", (0, 2), "1.5")
    Edit(name='logits', index=(0, 2), old=0.0, new=1.5)
    >>> set_weight(model, "logits", (0, 3), 1.0)
    Traceback (most recent call last):
    ...
    tinylm.edit.EditError: index 3 on axis 1 is out of range: logits is 3 × 3, so it goes 0..2
    """
    tensor = weight(model, name)
    index = parse_index(index, tensor, name)
    value = parse_value(value)
    with torch.no_grad():
        old = float(tensor[index])
        tensor[index] = value
        new = float(tensor[index])  # what float32 kept of it
    return Edit(name, index, old, new)


def changed_cells(shown: list[list[float]], typed: list[list], rows: list[int] | None, cols: list[int]) -> list[tuple]:
    """The cells of a table a person changed: [(index, typed value), ...].

    ``shown`` holds the values the table was drawn with, ``typed`` what came back (numbers or
    text); ``rows`` None means a 1-D weight drawn as one row. Anything that does not read as the
    number shown counts as changed, so that ``set_weight`` can refuse it with a reason.

    >>> changed_cells([[0.5, 1.0]], [["0.5", "abc"]], rows=[4], cols=[7, 9])
    [((4, 9), 'abc')]
    """
    out = []
    for i, (before, after) in enumerate(zip(shown, typed)):
        for j, (old, value) in enumerate(zip(before, after)):
            try:
                same = abs(float(value) - old) <= 1e-9  # False for NaN
            except (TypeError, ValueError):
                same = False
            if not same:
                out.append(((cols[j],) if rows is None else (rows[i], cols[j]), value))
    return out


@torch.no_grad()
def apply_edits(model: nn.Module, edits: Iterable[Edit], undo: bool = False) -> None:
    """Write each edit's new value (or, with ``undo``, its old value, last edit first)."""
    edits = list(edits)
    for e in reversed(edits) if undo else edits:
        weight(model, e.name)[e.index] = e.old if undo else e.new


def copy_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every weight, by state_dict name: the "original" that edits are measured against."""
    copies, by_storage = {}, {}
    for name, tensor in model.state_dict().items():
        key = tensor.data_ptr()
        if key not in by_storage:  # tied weights share one copy, as they share one tensor
            by_storage[key] = tensor.detach().clone()
        copies[name] = by_storage[key]
    return copies


def diff(model: nn.Module, original: dict[str, torch.Tensor]) -> list[Edit]:
    """Every weight that differs from ``original`` (a ``copy_weights``), as Edits from old to now.

    >>> model = Bigram(BigramConfig(vocab_size=3))
    >>> original = copy_weights(model)
    >>> _ = set_weight(model, "logits", (1, 1), 2.0)
    >>> diff(model, original)
    [Edit(name='logits', index=(1, 1), old=0.0, new=2.0)]
    """
    edits, seen = [], set()
    for name, tensor in model.state_dict().items():
        if tensor.data_ptr() in seen:
            continue
        seen.add(tensor.data_ptr())
        old = original[name]
        for i in (tensor != old).nonzero().tolist():
            edits.append(Edit(name, tuple(i), float(old[tuple(i)]), float(tensor[tuple(i)])))
    return edits


@dataclass
class EditSession:
    """A model being edited by hand: the weights it started from, the changes made, undo and redo.

    >>> s = EditSession.start(Bigram(BigramConfig(vocab_size=3)))
    >>> _ = s.set("logits", (0, 1), 3.0); _ = s.set("logits", (0, 2), -1.0)
    >>> [e.new for e in s.edits()]
    [3.0, -1.0]
    >>> _ = s.undo(); s.model.logits[0, 2].item()
    0.0
    >>> _ = s.redo(); s.model.logits[0, 2].item()
    -1.0
    >>> _ = s.reset_all(); diff(s.model, s.original)
    []
    """

    model: nn.Module
    original: dict[str, torch.Tensor]  # copy_weights(model) when editing started
    history: list[Change] = field(default_factory=list)  # changes in force, oldest first
    undone: list[Change] = field(default_factory=list)  # the redo stack, most recently undone last

    @classmethod
    def start(cls, model: nn.Module) -> EditSession:
        return cls(model, copy_weights(model))

    def record(self, change: Change) -> Change:
        """Add a change already made to the model; a new change empties the redo stack."""
        if change.edits:
            self.history.append(change)
            self.undone.clear()
        return change

    def set(self, name: str, index, value, what: str | None = None) -> Change:
        edit = set_weight(self.model, name, index, value)
        return self.record(Change(what or f"{name}[{', '.join(map(str, edit.index))}] = {edit.new:g}", (edit,)))

    def set_many(self, name: str, cells: list[tuple], what: str | None = None) -> Change:
        """Set several weights of one tensor as one change: [(index, value), ...], all or none."""
        tensor = weight(self.model, name)
        parsed = [(parse_index(index, tensor, name), parse_value(value)) for index, value in cells]  # refuse first

        def write():
            for index, value in parsed:
                tensor[index] = value

        shown = "; ".join(f"{name}[{', '.join(map(str, i))}] = {v:g}" for i, v in parsed[:3])
        return self.record(record(self.model, [name], what or shown + ("; …" if len(parsed) > 3 else ""), write))

    def undo(self) -> Change | None:
        """Take back the last change (None when there is nothing to undo)."""
        if not self.history:
            return None
        change = self.history.pop()
        apply_edits(self.model, change.edits, undo=True)
        self.undone.append(change)
        return change

    def redo(self) -> Change | None:
        if not self.undone:
            return None
        change = self.undone.pop()
        apply_edits(self.model, change.edits)
        self.history.append(change)
        return change

    def _reset(self, name: str, where, what: str) -> Change:
        tensor, original = weight(self.model, name), self.original[name]
        return self.record(record(self.model, [name], what, lambda: tensor.__setitem__(where, original[where])))

    def reset_cell(self, name: str, index) -> Change:
        """Put one weight back to its original value (recorded, so it can be undone)."""
        index = parse_index(index, weight(self.model, name), name)
        return self._reset(name, index, f"reset {name}[{', '.join(map(str, index))}]")

    def reset_row(self, name: str, row: int) -> Change:
        """Put one row of a weight back (a 1-D weight: all of it)."""
        tensor = weight(self.model, name)
        if tensor.dim() == 1:
            return self._reset(name, slice(None), f"reset {name}")
        row = parse_index((row, 0), tensor, name)[0]
        return self._reset(name, row, f"reset {name}[{row}]")

    def reset_all(self) -> Change:
        """Every weight back to the original (one change: undo brings the edits back)."""
        names = list(dict.fromkeys(e.name for e in diff(self.model, self.original)))

        def put_back():
            for name in names:
                weight(self.model, name).copy_(self.original[name])

        return self.record(record(self.model, names, "reset everything", put_back))

    def edits(self) -> list[Edit]:
        """Every edit in force, oldest first."""
        return [e for change in self.history for e in change.edits]


# ---------------------------------------------------------------------------------------------
# What the output layer reads: features, and the paths from context tokens to next tokens
#
# All three models end the same way: logits = W @ f (+ b), where f is a feature vector of the
# context and W has one row per next token. The bigram's f is a one-hot of the current token
# and W is its table transposed (W[next, current] = logits[current, next]); the MLP's f is its
# last tanh layer and W is lm_head; the GPT's f is the final LayerNorm's output and W is lm_head
# (tied to wte). A logit is linear in W's row for that token, which is what makes setting a
# connection (``connect_at``) exact.


def readout(model: nn.Module) -> tuple[str, torch.Tensor, torch.Tensor | None]:
    """(state_dict name, W, bias) with logits = W @ features + bias; W is a view into the weights."""
    if model_kind(model) == "bigram":
        return "logits", model.logits.T, None  # (next, current): writing to it writes the table
    return "lm_head.weight", model.lm_head.weight, getattr(model.lm_head, "bias", None)


def window(model: nn.Module, ids: list[int]) -> list[int]:
    """The part of ``ids`` the model reads to predict what follows (the MLP's is padded with blanks).

    >>> from tinylm.models import build_model
    >>> window(build_model("mlp", vocab_size=5, block_size=3), [2])
    [5, 5, 2]
    """
    ids = list(ids)[-model.block_size:]
    if model_kind(model) == "mlp":
        ids = [model.config.vocab_size] * (model.block_size - len(ids)) + ids
    return ids


@torch.no_grad()
def features(model: nn.Module, windows: list[list[int]]) -> torch.Tensor:
    """The vector the output layer reads after each window: (len(windows), H) floats.

    An empty GPT window (no context at all) gives zeros.
    """
    model.eval()
    kind = model_kind(model)
    if kind == "bigram":
        return F.one_hot(torch.tensor([w[-1] for w in windows]), model.config.vocab_size).float()
    if kind == "mlp":
        return model.hidden(torch.tensor(windows))[:, -1]  # (N, n_hidden)
    out = torch.zeros(len(windows), model.config.n_embd)
    captured = []
    hook = model.transformer.ln_f.register_forward_hook(lambda module, args, output: captured.append(output))
    try:
        for i, w in enumerate(windows):
            if w:
                captured.clear()
                model(torch.tensor([w]))
                out[i] = captured[0][0, -1]
    finally:
        hook.remove()
    return out


def _without(model: nn.Module, win: list[int], position: int) -> list[int]:
    """The window with one token taken out: blanked for the MLP, deleted for the GPT, gone for a bigram."""
    kind = model_kind(model)
    if kind == "mlp":
        return win[:position] + [model.config.vocab_size] + win[position + 1:]
    return win[:position] + win[position + 1:]


@dataclass(frozen=True)
class Connections:
    """The network picture for one context: context tokens (left), next tokens (right), edges.

    ``strengths[i][j]`` is how much token ``inputs[i]`` raises the logit of ``outputs[j]``: the
    logit with the context as it is minus the logit without that token (the MLP reads a blank in
    its place, the GPT reads the context without it). For a bigram, which reads one token, it is
    the table entry itself, ``logits[current, next]``.
    """

    inputs: list[tuple[int, int]]  # (position in the window, token id), oldest first; blanks left out
    outputs: list[int]  # next-token ids
    probs: list[float]  # the model's probability of each output
    strengths: list[list[float]]  # (len(inputs), len(outputs))


@torch.no_grad()
def connection_strengths(model: nn.Module, ids: list[int], outputs: list[int]) -> Connections:
    """How strongly each token of the context pushes each of ``outputs`` (see ``Connections``)."""
    win = window(model, ids)
    blank = model.config.vocab_size if model_kind(model) == "mlp" else None
    positions = [p for p, t in enumerate(win) if t != blank][-MAX_PICTURE_INPUTS:]
    _, W, _ = readout(model)
    f = features(model, [win])[0]
    base = features(model, [_without(model, win, p) for p in positions]) if model_kind(model) != "bigram" else \
        torch.zeros(len(positions), f.numel())
    rows = W[outputs]  # (n_out, H)
    strengths = (f[None] - base) @ rows.T  # (n_in, n_out): W_o . (f - f_without_i); a bias cancels
    probs = next_token_probs(model, ids)[outputs].tolist()
    return Connections([(p, win[p]) for p in positions], list(outputs), probs, strengths.tolist())


def _token_id(tokenizer: Tokenizer, token, what: str) -> int:
    """A token given as an id or as its text."""
    if isinstance(token, numbers.Integral) and not isinstance(token, bool):
        if not 0 <= int(token) < tokenizer.vocab_size:
            raise EditError(f"{what} id {token} is out of range: the vocabulary has ids 0..{tokenizer.vocab_size - 1}")
        return int(token)
    token_id = tokenizer.token_to_id(token) if isinstance(token, str) and token else None
    if token_id is None:
        raise EditError(f"{what} {token!r} is not one token of this {tokenizer.kind} vocabulary")
    return token_id


def connect_at(model: nn.Module, ids: list[int], position: int, to_id: int, strength, what: str = "") -> Change:
    """Make the edge from the token at ``position`` of the window to ``to_id`` equal ``strength``.

    Bigram: ``logits[current, to_id] = strength``. MLP and GPT: the edge is W[to] . d with
    d = f(context) - f(context without that token), so adding (strength - edge) * d / |d|^2 to
    row ``to_id`` of the output layer sets it exactly; that is the smallest change to the weights
    that does it, and it touches no other next token. A GPT's lm_head is also its input
    embedding (weight tying), so when ``to_id`` is itself in the context the write moves d a
    little; three rounds of the same write settle it.
    """
    strength = parse_value(strength, "the strength", MAX_STRENGTH)
    win = window(model, ids)
    if not 0 <= position < len(win) or (model_kind(model) == "mlp" and win[position] == model.config.vocab_size):
        raise EditError(f"position {position} is not a token of the context the model reads")
    if not 0 <= to_id < model.config.vocab_size:
        raise EditError(f"token id {to_id} is out of range: the vocabulary has ids 0..{model.config.vocab_size - 1}")
    name, W, _ = readout(model)
    what = what or f"connect #{win[position]} → #{to_id} at {strength:g}"
    if model_kind(model) == "bigram":
        return record(model, [name], what, lambda: W[to_id].__setitem__(win[position], strength))

    def write():
        for _ in range(3):
            edge = connection_strengths(model, ids, [to_id])
            current = edge.strengths[[p for p, _ in edge.inputs].index(position)][0]
            if abs(current - strength) < 1e-4:
                return
            d = features(model, [win])[0] - features(model, [_without(model, win, position)])[0]
            if float(d.norm()) < 1e-6:
                raise EditError("this token makes no difference to the model's output here, so no weight can "
                                "connect it (try another context)")
            W[to_id] += (strength - current) * d / d.dot(d)

    return record(model, [name], what, write)


def connect(model: nn.Module, tokenizer: Tokenizer, from_token, to_token, strength, context: str | None = None) -> Change:
    """Draw a connection: after ``from_token``, push ``to_token`` with ``strength`` (in logits).

    ``context`` is the text whose picture the connection is drawn on; ``from_token`` is its last
    occurrence in what the model reads. Without a context it is ``from_token`` alone (for the
    MLP, blanks and then that token: "right after the start").

    >>> from tinylm.tokenizer import CharTokenizer
    >>> tok = CharTokenizer.from_corpus("abc")
    >>> model = Bigram(BigramConfig(vocab_size=tok.vocab_size))
    >>> change = connect(model, tok, "a", "c", 5.0)
    >>> model.logits[tok.token_to_id("a"), tok.token_to_id("c")].item()
    5.0
    """
    from_id, to_id = _token_id(tokenizer, from_token, "the from token"), _token_id(tokenizer, to_token, "the to token")
    ids = prompt_ids(tokenizer, context) if context else [from_id]
    win = window(model, ids)
    blank = model.config.vocab_size if model_kind(model) == "mlp" else None
    positions = [p for p, t in enumerate(win) if t == from_id and t != blank][-1:]
    if not positions or positions[0] < len(win) - MAX_PICTURE_INPUTS:
        shown = ", ".join(repr(token_label(tokenizer, t)) for t in win[-MAX_PICTURE_INPUTS:] if t != blank)
        raise EditError(f"{token_label(tokenizer, from_id)!r} is not in the context the model reads ({shown})")
    what = f"connect {token_label(tokenizer, from_id)} → {token_label(tokenizer, to_id)} at {parse_value(strength, 'the strength', MAX_STRENGTH):g}"
    return connect_at(model, ids, positions[0], to_id, strength, what)


# ---------------------------------------------------------------------------------------------
# Imprinting: sequences written into the output layer in closed form


@dataclass(frozen=True)
class Reproduction:
    sequence: str  # as typed
    greedy: str  # what greedy generation writes after the first token (as many tokens as the rest)
    ok: bool  # greedy == the rest of the sequence


@dataclass(frozen=True)
class Imprint:
    change: Change
    pairs: int  # distinct (context -> next token) pairs written
    conflicts: list[str]  # contexts that different sequences continue differently (the last wins)
    reproduced: list[Reproduction]


def _parse_sequences(tokenizer: Tokenizer, sequences) -> list[tuple[str, list[int]]]:
    if isinstance(sequences, str):
        sequences = sequences.split("\n")
    out = []
    for text in itertools.islice(sequences, MAX_IMPRINT_PAIRS + 1):  # more lines than pairs cannot fit anyway
        if not isinstance(text, str):
            raise EditError(f"a sequence is text, got {text!r}")
        text = text.strip("\r")
        if not text.strip():
            continue
        ids = prompt_ids(tokenizer, text)  # UnknownTokenError (a ValueError) names unknown pieces
        if len(ids) < 2:
            raise EditError(f"{text!r} is a single token: a sequence needs a second token to follow the first")
        out.append((text, ids))
    if not out:
        raise EditError("type at least one sequence, one per line (e.g. abc)")
    pairs = sum(len(ids) - 1 for _, ids in out)
    if pairs > MAX_IMPRINT_PAIRS:
        raise EditError(f"these sequences hold {pairs:,} (context, next token) pairs, more than the "
                        f"{MAX_IMPRINT_PAIRS} one imprint writes: use fewer or shorter sequences")
    return out


def memory(model: nn.Module) -> tuple[str, torch.Tensor]:
    """The linear layer ``imprint`` writes into: (state_dict name, weight as (outputs, inputs)).

    Bigram and MLP: the output layer (the bigram's table, transposed). GPT: the last block's MLP
    output projection, not lm_head, because lm_head *is* the token embedding (tied): writing a
    token's output row would also change how the model reads that token everywhere.
    """
    kind = model_kind(model)
    if kind == "gpt":
        name = f"transformer.h.{len(model.transformer.h) - 1}.mlp.c_proj.weight"
        return name, weight(model, name)
    name, W, _ = readout(model)
    return name, W


@torch.no_grad()
def _keys_and_values(model: nn.Module, windows: list[list[int]], goals: torch.Tensor, strength: float):
    """For each window: the key (what the memory layer reads), and the value: how its output
    must change for the goal token to beat the runner-up by ``strength`` (zero when it already does).

    Returns keys (m, H) and values (m, outputs) in float64.
    """
    if model_kind(model) != "gpt":
        _, W, bias = readout(model)
        keys = features(model, windows).double()  # (m, H)
        logits = keys @ W.double().T + (0 if bias is None else bias.double())  # (m, V)
        need = _missing_margin(logits, goals, strength)  # (m,)
        values = torch.zeros(len(windows), W.size(0), dtype=torch.float64)
        values[torch.arange(len(windows)), goals] = need  # only the goal's logit moves
        return keys, values
    # GPT: the key is what the last MLP's c_proj reads; x is the residual stream entering ln_f
    keys, xs, logits = [], [], []
    c_proj, ln_f = model.transformer.h[-1].mlp.c_proj, model.transformer.ln_f
    hooks = [c_proj.register_forward_pre_hook(lambda module, args: keys.append(args[0][0, -1])),
             ln_f.register_forward_pre_hook(lambda module, args: xs.append(args[0][0, -1]))]
    try:
        model.eval()
        for w in windows:
            logits.append(model(torch.tensor([w]))[0][0, -1])
    finally:
        for hook in hooks:
            hook.remove()
    keys, xs, logits = (torch.stack(t).double() for t in (keys, xs, logits))
    need = _missing_margin(logits, goals, strength)
    runner_up = logits.scatter(1, goals[:, None], float("-inf")).argmax(dim=1)
    # the margin is (W[goal] - W[runner_up]) . ln_f(x); to first order a step dx changes it by u . dx,
    # with u = J^T (W[goal] - W[runner_up]) and J the LayerNorm's Jacobian, written out:
    # J^T w = (g - mean(g) - xhat (xhat . g) / C) / sigma, where g = gain * w
    W = model.lm_head.weight.double()
    gain = ln_f.weight.double()
    mean, var = xs.mean(dim=1, keepdim=True), xs.var(dim=1, unbiased=False, keepdim=True)
    sigma = (var + ln_f.eps).sqrt()
    xhat = (xs - mean) / sigma
    g = gain * (W[goals] - W[runner_up])  # (m, C)
    u = (g - g.mean(dim=1, keepdim=True) - xhat * (xhat * g).sum(dim=1, keepdim=True) / xs.size(1)) / sigma
    values = need[:, None] * u / (u * u).sum(dim=1, keepdim=True).clamp(min=1e-12)  # (m, C): dx per window
    return keys, values


BACKGROUND_TOKENS = 4096  # tokens of background text whose keys estimate C


@torch.no_grad()
def _inverse_key_covariance(model: nn.Module, tokenizer: Tokenizer, text: str | None) -> torch.Tensor | None:
    """C^-1 for the memory layer's keys on ``text`` (C = mean k k^T, plus a little ridge), or None.

    A bigram's keys are one-hot, so C is diagonal and changes nothing: None.
    """
    if not text or model_kind(model) == "bigram":
        return None
    ids = torch.tensor(tokenizer.encode(text[: 8 * BACKGROUND_TOKENS], allow_special=False))[:BACKGROUND_TOKENS]
    if len(ids) < model.block_size:
        return None
    model.eval()
    if model_kind(model) == "mlp":
        keys = model.hidden(ids[None])[0]  # (T, n_hidden): every position's context
    else:
        captured = []
        hook = model.transformer.h[-1].mlp.c_proj.register_forward_pre_hook(lambda module, args: captured.append(args[0]))
        try:
            T = model.block_size
            model(ids[: len(ids) // T * T].view(-1, T))  # (B, T) whole blocks, as in training
        finally:
            hook.remove()
        keys = captured[0].reshape(-1, captured[0].size(-1))  # (B * T, 4 * n_embd)
    keys = keys.double()
    cov = keys.T @ keys / len(keys)
    # a direction text never uses would cost nothing and could be written without limit: keep a floor
    cov += 1e-3 * float(cov.diagonal().mean()) * torch.eye(cov.size(0), dtype=torch.float64)
    return torch.linalg.inv(cov)


def _missing_margin(logits: torch.Tensor, goals: torch.Tensor, strength: float) -> torch.Tensor:
    """(m,) how many nats each goal token still lacks to beat every other token by ``strength``."""
    goal = logits.gather(1, goals[:, None])[:, 0]
    runner_up = logits.scatter(1, goals[:, None], float("-inf")).max(dim=1).values
    return (runner_up + strength - goal).clamp(min=0)


@torch.no_grad()
def imprint(model: nn.Module, tokenizer: Tokenizer, sequences, strength=DEFAULT_IMPRINT_STRENGTH,
            background: str | None = None, rounds: int = 8) -> Imprint:
    """Write ``sequences`` into the weights so greedy generation from each first token reproduces it.

    No gradient, no data set. Each sequence gives (context -> next token) pairs: "abc" gives
    "a" -> "b" and "ab" -> "c" (each context as the model reads it). One linear layer, the
    "memory" (see ``memory``), is treated as a key -> value store (Kohonen 1972's linear
    associative memory, the write ROME uses, Meng et al. 2022): K holds the input the layer
    reads after each context (one row per pair), V the change its output needs there, and

        ΔW = V^T (K K^T + λI)^-1 K

    is the smallest change to W (Frobenius norm) that gives every pair exactly its value at once.
    A value asks for the next token's logit to beat the best other token by ``strength`` nats,
    and for nothing at all where it already does. Biases are left alone: a bias would move the
    token after every context.

    With ``background`` text (the model's training text), "smallest" is measured where it
    matters, on the keys that text produces (ROME's covariance C = E[k k^T]):

        ΔW = V^T (K C^-1 K^T)^-1 K C^-1

    which puts the write in directions ordinary text rarely uses, so predictions on ordinary
    text move much less (on alphabet-gpt, imprinting "HELLO" costs 0.14 nats of val loss
    instead of 4).

    - bigram: K is one-hot, so this raises ``logits[current, next]`` just enough (like adding counts);
    - MLP: K is the last tanh layer, and only ``lm_head`` rows of the imprinted tokens change;
    - GPT: K is the last block's MLP activation and V the step of the residual stream that
      raises the margin through the final LayerNorm (to first order), written into that block's
      ``mlp.c_proj``. First order is not exact, so the write repeats (``rounds``) until every
      margin is met, and the token embeddings (tied to lm_head) stay untouched.

    A context that two sequences continue differently ("abc" and "abd" share "ab") cannot be
    reproduced both ways by greedy generation: the last sequence wins and ``conflicts`` says so.

    >>> from tinylm.tokenizer import CharTokenizer
    >>> tok = CharTokenizer.from_corpus("abcxyz")
    >>> model = Bigram(BigramConfig(vocab_size=tok.vocab_size))
    >>> [r.ok for r in imprint(model, tok, ["abc", "xyz"]).reproduced]
    [True, True]
    """
    strength = parse_value(strength, "the strength", MAX_STRENGTH)
    if strength <= 0:
        raise EditError(f"the strength must be more than 0, got {strength:g}")
    parsed = _parse_sequences(tokenizer, sequences)
    targets: dict[tuple[int, ...], int] = {}  # window -> next token; a later sequence overwrites
    conflicts = []
    for _, ids in parsed:
        for j in range(1, len(ids)):
            key = tuple(window(model, ids[:j]))
            if key in targets and targets[key] != ids[j]:
                shown = "".join(token_label(tokenizer, t) for t in key if t < tokenizer.vocab_size)
                conflicts.append(f"after {shown!r}: {token_label(tokenizer, targets[key])!r} or "
                                 f"{token_label(tokenizer, ids[j])!r} (the last one wins)")
            targets[key] = ids[j]
    windows, goals = [list(k) for k in targets], torch.tensor(list(targets.values()))
    name, W = memory(model)
    c_inv = _inverse_key_covariance(model, tokenizer, background)  # (H, H), or None: plain least norm

    def write():
        for _ in range(rounds):
            keys, values = _keys_and_values(model, windows, goals, strength)  # (m, H), (m, out)
            if float(values.abs().max()) < 1e-6:
                return  # every margin is met
            weighted = keys if c_inv is None else keys @ c_inv  # K C^-1, (m, H)
            gram = weighted @ keys.T  # (m, m)
            ridge = 1e-9 * float(gram.diagonal().mean()) + 1e-12
            delta = values.T @ torch.linalg.solve(gram + ridge * torch.eye(len(windows), dtype=torch.float64), weighted)
            rows = values.abs().sum(dim=0).nonzero()[:, 0]  # only outputs that must move (bigram/MLP: the goals)
            W[rows] += delta[rows].to(W.dtype)

    shown = ", ".join(repr(text) for text, _ in parsed[:3]) + (", ..." if len(parsed) > 3 else "")
    change = record(model, [name], f"imprint {shown} at {strength:g}", write)
    return Imprint(change, len(windows), conflicts, reproductions(model, tokenizer, parsed))


def reproductions(model: nn.Module, tokenizer: Tokenizer, parsed: list[tuple[str, list[int]]]) -> list[Reproduction]:
    """Greedy generation from each sequence's first token, as long as the rest of the sequence."""
    out = []
    for text, ids in parsed:
        written = [t.id for t in generate(model, ids[:1], len(ids) - 1, temperature=0)]
        rest = tokenizer.decode(ids[1:])
        greedy = tokenizer.decode(written)
        if tokenizer.kind == "split":  # words are joined by spaces; the first one follows a space too
            rest, greedy = " " + rest, " " + greedy
        out.append(Reproduction(text, greedy, written == ids[1:]))
    return out


@dataclass(frozen=True)
class ImprintReport:
    """An imprint and its price: the loss on held-out text before and after (None without text)."""

    imprint: Imprint
    val_loss_before: float | None
    val_loss_after: float | None
    val_tokens: int  # how many tokens the losses were measured on


VAL_CHARS = 20_000  # characters of val text scored before and after an imprint (fast on a CPU)


def imprint_report(model: nn.Module, tokenizer: Tokenizer, sequences, strength=DEFAULT_IMPRINT_STRENGTH,
                   val_text: str | None = None, background: str | None = None) -> ImprintReport:
    """``imprint``, with the validation loss on (the first VAL_CHARS characters of) ``val_text``
    before and after: the trade-off between remembering the sequences and predicting text the
    model learned from. ``background`` (the training text) goes to ``imprint``. A bad input
    raises before anything is measured or changed."""
    ids = torch.tensor(tokenizer.encode(val_text[:VAL_CHARS], allow_special=False)) if val_text else torch.tensor([])
    scored = len(ids) >= 2
    _parse_sequences(tokenizer, sequences)  # refuse bad input before spending time on the loss
    parse_value(strength, "the strength", MAX_STRENGTH)
    before = evaluate(model, ids) if scored else None
    result = imprint(model, tokenizer, sequences, strength, background)
    after = evaluate(model, ids) if scored else None
    return ImprintReport(result, before, after, len(ids) - 1 if scored else 0)


@lru_cache(maxsize=8)
def dataset_texts(dataset: str | None) -> tuple[str, str] | None:
    """(train, val) text of a shipped dataset (cached), or None when it cannot be loaded.

    Only a shipped dataset's name is looked up: a checkpoint's info may come from an upload,
    and a path there must never be opened.
    """
    from .data import list_datasets, load_corpus  # noqa: PLC0415 (datasets is slow to import; only imprint needs it)

    if dataset not in list_datasets():
        return None
    try:
        corpus = load_corpus(dataset)
    except (ValueError, OSError):
        return None
    return corpus.train, corpus.val


# ---------------------------------------------------------------------------------------------
# A bigram without training: count, add smoothing, take logs


def bigram_from_counts(tokenizer: Tokenizer, text: str, smoothing: float = 1.0) -> Bigram:
    """A bigram whose table is ``log(count(current, next) + smoothing)``: no training needed.

    Softmax of a row of log-counts is the row's counts normalised, so this is exactly the
    counting bigram of makemore; ``smoothing`` (add-k) keeps unseen pairs possible. The table
    reads as "how often did next follow current", which is what a learner then edits.

    >>> import math
    >>> from tinylm.tokenizer import CharTokenizer
    >>> tok = CharTokenizer.from_corpus("ab")
    >>> model = bigram_from_counts(tok, "abab", smoothing=1.0)
    >>> a, b = tok.token_to_id("a"), tok.token_to_id("b")
    >>> round(math.exp(model.logits[a, b].item()))   # "ab" twice, plus the smoothing
    3
    """
    smoothing = parse_value(smoothing, "smoothing", MAX_ABS_WEIGHT)
    if smoothing <= 0:
        raise EditError(f"smoothing must be more than 0 (log of a zero count is -infinity), got {smoothing:g}")
    ids = torch.tensor(tokenizer.encode(text, allow_special=False), dtype=torch.long)
    if len(ids) < 2:
        raise EditError("the text needs at least two tokens to count a pair")
    V = tokenizer.vocab_size
    counts = torch.bincount(ids[:-1] * V + ids[1:], minlength=V * V).view(V, V).float()  # (current, next)
    model = Bigram(BigramConfig(vocab_size=V))
    with torch.no_grad():
        model.logits.copy_(torch.log(counts + smoothing))
    return model.eval()


def bigram_checkpoint(dataset: str, smoothing: float = 1.0) -> Checkpoint:
    """A counted bigram of a shipped dataset (char, or words for the phrase lists), as a Checkpoint.

    Counts come from the train split; ``info["val_loss"]`` is measured on the val split.
    """
    from .data import load_corpus  # noqa: PLC0415

    corpus = load_corpus(dataset)
    kind = corpus.config.tokenizer if corpus.config and corpus.config.tokenizer in ("char", "split") else "char"
    vocab_text = corpus.train + corpus.val + corpus.test if kind == "char" else corpus.train
    tokenizer = build_tokenizer(kind, vocab_text)
    model = bigram_from_counts(tokenizer, corpus.train, smoothing)
    val_ids = torch.tensor(tokenizer.encode(corpus.val, allow_special=False))
    info = {"name": f"{dataset}-bigram-counts", "dataset": dataset, "val_loss": evaluate(model, val_ids),
            "smoothing": smoothing, "steps": 0, "made_by": "tinylm.edit.bigram_checkpoint (counted, not trained)"}
    return Checkpoint(model, tokenizer, info)


def ordinary_tokens(tokenizer: Tokenizer) -> list[int]:
    """Ids of the tokens text is made of: everything but the special tokens and <|unk|>."""
    special = {tokenizer.token_to_id(s) for s in (*SPECIAL_TOKENS, UNK)}
    return [i for i in range(tokenizer.vocab_size) if i not in special]
