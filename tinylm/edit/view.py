"""What the Weights tab shows, as data: one ``WeightsView`` per redraw.

``weights_view`` reads the model for one context and returns everything the tab draws: the slice
of the chosen weight as a table (which rows and columns, which rows to mark), the next-token bars
before and after the last change, a greedy and a sampled continuation, the network picture and
the menus that suit the weight. The tab only renders it, so tests check this data, not HTML.

The next-token probabilities are computed once per redraw (``predict``); the picture's edges
come from one batch of forward passes (``connection_strengths``); the continuations generate.

>>> from tinylm.pretrained import load_pretrained
>>> ckpt = load_pretrained("alphabet-gpt")
>>> view = weights_view(ckpt.model, ckpt.tokenizer, "KLM")
>>> view.table.name, view.bars[0].label, view.after.greedy[:5]
('lm_head.weight', 'N', 'NOPQR')
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..sample import UnknownTokenError, continue_text, next_token_probs, prompt_ids
from ..tokenizer import Tokenizer
from .connect import connection_strengths
from .history import Change, EditSession, changed_cells
from .tables import (
    MAX_TABLE_COLS,
    TOKEN_AXES,
    EditError,
    axis_kinds,
    axis_label,
    cell_name,
    readout,
    reads,
    table_slice,
    token_label,
    weight,
    weight_names,
    weight_table,
    window,
)

TOP_BARS = 20  # next tokens in the bar chart
TOP_ROWS = 8  # likeliest next tokens that get rows in the tables and circles in the picture
CONTINUATION_TOKENS = {"char": 40}  # length of each continuation by tokenizer kind (words and pieces: 12)
SAMPLE_SEED = 0  # the sampled continuation always uses this seed: only an edit changes it
MAX_CHOICES = 2000  # a vocabulary bigger than this is searched instead of listed in a menu
MOVED = 0.0005  # a probability that moved less than this did not move
SHOWN_DIGITS = 3  # decimals a table shows; what comes back from it is compared with that, not the float


@dataclass(frozen=True)
class Prediction:
    """What the model says after a context: the next-token distribution and two continuations."""

    probs: torch.Tensor  # (vocab_size,)
    greedy: str  # always the likeliest token
    sampled: str  # temperature 1, seed SAMPLE_SEED


def predict(model: nn.Module, tokenizer: Tokenizer, context: str) -> Prediction:
    """The model's next-token probabilities after ``context`` and how it goes on (UnknownTokenError
    names what the vocabulary lacks)."""
    probs = next_token_probs(model, prompt_ids(tokenizer, context))
    n = CONTINUATION_TOKENS.get(tokenizer.kind, 12)

    def text(**sampling) -> str:
        return "".join(t.token for t in continue_text(model, tokenizer, context, n, **sampling))

    return Prediction(probs, text(temperature=0), text(temperature=1.0, seed=SAMPLE_SEED))


@dataclass(frozen=True)
class Bar:
    """A next token's probability before the last change and after it."""

    id: int
    label: str
    before: float
    after: float


@dataclass(frozen=True)
class Table:
    """The slice of one weight on screen."""

    name: str  # its state_dict name
    rows: list[int] | None  # indices along axis 0; None: a 1-D weight, drawn as one row
    cols: list[int]  # indices along the last axis
    row_labels: list[str]
    col_labels: list[str]
    values: list[list[float]]  # values[i][j] = weight at (rows[i], cols[j])
    marked: list[int]  # row positions to mark: the tokens the model reads, or the likeliest next token

    def index(self, i: int, j: int) -> tuple[int, ...]:
        """The weight's index behind the cell in row ``i``, column ``j`` of the table."""
        return (self.cols[j],) if self.rows is None else (self.rows[i], self.cols[j])

    def shown(self) -> list[list[float]]:
        """The values as a table shows them, rounded to SHOWN_DIGITS decimals."""
        return [[round(v, SHOWN_DIGITS) for v in row] for row in self.values]


def edit_table(session: EditSession, tokenizer: Tokenizer, table: Table, typed: list[list]) -> Change | None:
    """The cells a person typed into ``table`` (drawn as ``table.shown()``), as one change; None if none differs.

    ``typed`` is what came back, numbers or text, without the row labels; a cell still holding the
    rounded value it was drawn with is not an edit. All cells or none: a value that is not a number
    within ±1000 raises EditError and nothing is written.
    """
    cells = changed_cells(table.shown(), typed, table.rows, table.cols)
    if not cells:
        return None
    model = session.model
    what = "; ".join(f"{cell_name(model, tokenizer, table.name, index)} = {value}" for index, value in cells[:3])
    change = session.set_many(table.name, cells, what + ("; …" if len(cells) > 3 else ""))
    return change if change.edits else None


@dataclass(frozen=True)
class Node:
    """A circle of the network picture."""

    id: int  # token id
    label: str  # as tables show it
    note: str  # where it sits ("current token", "2 before") or its probability ("12.3%")
    position: int | None = None  # its place in the window, for a context token
    prob: float = 0.0  # the model's probability of it, for a next token


@dataclass(frozen=True)
class Picture:
    """Context tokens (left), likeliest next tokens (right), and the edge between each pair."""

    inputs: list[Node]
    outputs: list[Node]
    strengths: list[list[float]]  # strengths[i][j]: how much inputs[i] adds to the logit of outputs[j]


@dataclass(frozen=True)
class Menus:
    """The choices that suit the weight shown: which weight, rows, head and columns."""

    weights: list[tuple[str, str]]  # (name with its shape, name)
    rows: list[tuple[str, int]]  # (label, index); empty when there are too many tokens to list
    row_word: str  # "rows", or "entries" for a 1-D weight
    searchable: bool  # too many tokens to list: they are searched for instead
    heads: list[int]  # the attention heads to choose from (attn.c_proj), else []
    max_first_col: int  # the last column a window of MAX_TABLE_COLS may start at (0: all fit)


@dataclass(frozen=True)
class WeightsView:
    """Everything the Weights tab shows for one model, context and weight."""

    context: str
    error: str  # why nothing is predicted (a token the vocabulary lacks), else ""
    warning: str  # a choice that could not be followed (a row out of range), else ""
    table: Table
    menus: Menus
    after: Prediction | None  # None when the context cannot be read
    before: Prediction | None  # before the last change; None when nothing changed
    bars: list[Bar]  # the likeliest next tokens, after the change first
    moved: Bar | None  # the next token the last change moved most
    picture: Picture | None
    connect_from: list[tuple[str, int]]  # menu of context tokens: (label, position in the window)
    connect_to: list[tuple[str, str]]  # menu of next tokens, likeliest first: (label, "#id")


def weights_view(model: nn.Module, tokenizer: Tokenizer, context: str, name: str | None = None,
                 rows: list[int] | None = None, head: int = 0, first_col: int = 0,
                 before: Prediction | None = None, extra_outputs: list[int] = ()) -> WeightsView:
    """What the Weights tab shows: weight ``name`` (default: the output layer) for ``context``.

    ``rows``, ``head`` and ``first_col`` are what a person chose (see ``table_slice``); ``before``
    is ``predict`` from before the last change, for the before/after bars; ``extra_outputs`` are
    next tokens the picture must show besides the likeliest (the one just connected).
    """
    context = context or ""
    name = name if name in weight_names(model) else readout(model)[0]
    try:
        ids, error = prompt_ids(tokenizer, context), ""
        after = predict(model, tokenizer, context)
    except UnknownTokenError as err:
        ids, error, after, before = None, f"{err}. Change or remove them to see predictions.", None, None
    top = torch.topk(after.probs, min(TOP_ROWS, tokenizer.vocab_size)).indices.tolist() if after else []
    table, warning = _table(model, tokenizer, name, ids or [], top, rows, head, first_col)
    bars = _bars(tokenizer, after, before)
    outputs = top + [t for t in extra_outputs if t not in top and 0 <= t < tokenizer.vocab_size]
    return WeightsView(context, error, warning, table, weight_menus(model, tokenizer, name), after, before, bars,
                       _moved(tokenizer, after, before), _picture(model, tokenizer, ids, outputs) if ids else None,
                       _connect_from(model, tokenizer, ids) if ids else [], _connect_to(tokenizer, after))


def _table(model, tokenizer, name, ids, top, rows, head, first_col) -> tuple[Table, str]:
    """The slice of ``name`` to show, and a warning if the rows asked for could not be shown."""
    warning = ""
    try:
        row_ids, cols = table_slice(model, tokenizer, name, ids, top, [int(r) for r in rows or []], int(head),
                                    int(first_col))
        table = weight_table(model, name, row_ids, cols, tokenizer)
    except EditError as err:  # a row or head from a stale menu: back to the suggestion
        warning = str(err)
        row_ids, cols = table_slice(model, tokenizer, name, ids, top)
        table = weight_table(model, name, row_ids, cols, tokenizer)
    kind = axis_kinds(model, name)[0]
    marked_ids = set(window(model, ids)) if kind == "token" else set(top[:1]) if kind == "next" else set()
    marked = [i for i, r in enumerate(row_ids or []) if r in marked_ids]
    return Table(name, row_ids, cols, table.row_labels, table.col_labels, table.values, marked), warning


def weight_menus(model: nn.Module, tokenizer: Tokenizer, name: str) -> Menus:
    """The row, head and column choices that suit weight ``name``."""
    tensor, kinds = weight(model, name), axis_kinds(model, name)
    n = tensor.size(0)
    if kinds[0] in TOKEN_AXES:
        rows = [(f"{axis_label(model, name, 0, i, tokenizer)}  #{i}", i) for i in range(n)] if n <= MAX_CHOICES else []
    else:
        rows = [(axis_label(model, name, 0, i, tokenizer), i) for i in range(min(n, 4096))]
    heads = list(range(model.config.n_head)) if kinds[-1] == "head" else []
    wide = tensor.dim() == 2 and kinds[1] not in ("next", "head") and tensor.size(1) > MAX_TABLE_COLS
    weights = [(f"{w}  ({' × '.join(map(str, weight(model, w).shape))})", w) for w in weight_names(model)]
    return Menus(weights, rows, "entries" if tensor.dim() == 1 else "rows", kinds[0] in TOKEN_AXES and n > MAX_CHOICES,
                 heads, tensor.size(1) - MAX_TABLE_COLS if wide else 0)


def _bars(tokenizer: Tokenizer, after: Prediction | None, before: Prediction | None) -> list[Bar]:
    """The TOP_BARS tokens likeliest before or after the change, likeliest after first."""
    if after is None:
        return []
    p_before = before.probs if before is not None else after.probs
    top = torch.topk(torch.maximum(after.probs, p_before), min(TOP_BARS, after.probs.numel())).indices.tolist()
    top.sort(key=lambda i: -float(after.probs[i]))
    return [Bar(i, token_label(tokenizer, i), float(p_before[i]), float(after.probs[i])) for i in top]


def _moved(tokenizer: Tokenizer, after: Prediction | None, before: Prediction | None) -> Bar | None:
    """The next token whose probability the change moved most, if any moved by MOVED or more."""
    if after is None or before is None:
        return None
    i = int(torch.argmax((after.probs - before.probs).abs()))
    bar = Bar(i, token_label(tokenizer, i), float(before.probs[i]), float(after.probs[i]))
    return bar if abs(bar.after - bar.before) >= MOVED else None


def _picture(model: nn.Module, tokenizer: Tokenizer, ids: list[int], outputs: list[int]) -> Picture:
    conn = connection_strengths(model, ids, outputs)
    last = len(window(model, ids)) - 1
    inputs = [Node(t, token_label(tokenizer, t), "current token" if p == last else f"{last - p} before", position=p)
              for p, t in conn.inputs]
    outs = [Node(t, token_label(tokenizer, t), f"{p:.1%}", prob=p) for t, p in zip(conn.outputs, conn.probs)]
    return Picture(inputs, outs, conn.strengths)


def _connect_from(model: nn.Module, tokenizer: Tokenizer, ids: list[int]) -> list[tuple[str, int]]:
    win, last = window(model, ids), len(window(model, ids)) - 1
    return [(f"{token_label(tokenizer, win[p])}  ({'current' if p == last else f'{last - p} before'})", p)
            for p in reads(model, ids)]


def _connect_to(tokenizer: Tokenizer, after: Prediction | None) -> list[tuple[str, str]]:
    if after is None:
        return []
    order = torch.argsort(after.probs, descending=True).tolist()[:MAX_CHOICES]
    return [(f"{token_label(tokenizer, i)}  ({float(after.probs[i]):.1%})", f"#{i}") for i in order]
