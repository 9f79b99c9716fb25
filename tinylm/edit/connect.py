"""Connections: how strongly each context token pushes each next token, and making one stronger.

All three models end the same way (the model contract): ``logits = W @ h + b``, where
``h = model.hidden(idx)`` at the last position and W is the output layer, one row per next token
(``tables.readout``). The bigram's h is a one-hot of the current token and W its table
transposed; the MLP's h is its last tanh layer; the GPT's h is the final LayerNorm's output.

The edge from a context token to a next token is what that token adds to the next token's
logit: W[next] . (h - h'), with h' what the model reads without it (the MLP reads its blank in
its place, the GPT the context without it, the bigram nothing at all, h' = 0, so its edge is the
table entry itself). A logit is linear in W's row for that token, which makes ``connect_at``
exact: it adds to one edge by changing one row of the output layer, the least it can.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

import torch
import torch.nn.functional as F
from torch import nn

from ..sample import prompt_ids
from ..tokenizer import Tokenizer
from .history import Change, parse_value, record
from .tables import EditError, readout, reads, token_id, token_label, window

MAX_STRENGTH = 100.0  # a connection or imprint stronger than 100 nats is certainty many times over


def by_length(windows: list[list[int]]):
    """(indices, (n, T) ids) for each length T of the windows: each batch one forward pass. Empty ones are left out."""
    order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
    for length, group in groupby(order, key=lambda i: len(windows[i])):
        rows = list(group)
        if length:
            yield rows, torch.tensor([windows[i] for i in rows])


@torch.no_grad()
def features(model: nn.Module, windows: list[list[int]]) -> torch.Tensor:
    """h, the vector the output layer reads after each window: (len(windows), H). An empty window gives zeros."""
    model.eval()
    out = torch.zeros(len(windows), readout(model)[1].size(1))
    for rows, batch in by_length(windows):
        out[rows] = model.hidden(batch)[:, -1]  # (n, H): the last position of each
    return out


def without(model: nn.Module, win: list[int], position: int) -> list[int]:
    """The window with one token taken out: the blank in its place where the model has one, else deleted."""
    if model.blank is not None:
        return win[:position] + [model.blank] + win[position + 1:]
    return win[:position] + win[position + 1:]


@dataclass(frozen=True)
class Connections:
    """The network picture for one context: context tokens (left), next tokens (right), edges.

    ``strengths[i][j]`` is how much token ``inputs[i]`` raises the logit of ``outputs[j]``: the
    logit with the context as it is minus the logit without that token (see the module's
    docstring). For a bigram, which reads one token, it is the table entry ``logits[current, next]``.
    """

    inputs: list[tuple[int, int]]  # (position in the window, token id), oldest first; blanks left out
    outputs: list[int]  # next-token ids
    probs: list[float]  # the model's probability of each output
    strengths: list[list[float]]  # (len(inputs), len(outputs))


@torch.no_grad()
def connection_strengths(model: nn.Module, ids: list[int], outputs: list[int]) -> Connections:
    """How strongly each token of the context pushes each of ``outputs`` (see ``Connections``).

    One batch of forward passes: the window as it is, and once without each of its tokens.
    """
    win, positions = window(model, ids), reads(model, ids)
    h, *h_without = features(model, [win] + [without(model, win, p) for p in positions])
    _, W, bias = readout(model)
    rows = W[outputs]  # (n_out, H)
    strengths = (h[None] - torch.stack(h_without)) @ rows.T if h_without else torch.zeros(0, len(outputs))
    logits = W @ h + (0 if bias is None else bias)  # (vocab_size,)
    probs = F.softmax(logits, dim=-1)[outputs]
    return Connections([(p, win[p]) for p in positions], list(outputs), probs.tolist(), strengths.tolist())


def edge(model: nn.Module, win: list[int], position: int, to_id: int) -> tuple[float, torch.Tensor]:
    """(the edge from ``win[position]`` to ``to_id``, d = h - h without that token): edge = W[to_id] . d."""
    h, h_without = features(model, [win, without(model, win, position)])
    d = h - h_without  # (H,)
    return float(readout(model)[1][to_id] @ d), d


def connect_at(model: nn.Module, ids: list[int], position: int, to_id: int, strength,
               tokenizer: Tokenizer | None = None) -> Change:
    """Add ``strength`` to the edge from the token at ``position`` of the window to ``to_id``.

    The edge is W[to] . d (d = h - h without that token), so adding strength * d / |d|^2 to row
    ``to_id`` of the output layer adds exactly ``strength`` to it: the smallest change to the
    weights that does, touching no other next token. For a bigram d is one-hot and this adds
    ``strength`` to ``logits[current, to_id]``, so after the current token ``to_id``'s odds
    against every other token grow e^strength times. A GPT's lm_head is also its input
    embedding (weight tying), so when ``to_id`` is itself in the context the write moves d a
    little; three rounds of the same write settle it.
    """
    strength = parse_value(strength, "the strength", MAX_STRENGTH)
    win = window(model, ids)
    if not 0 <= position < len(win) or win[position] == model.blank:
        raise EditError(f"position {position} is not a token of the context the model reads")
    if not 0 <= to_id < model.config.vocab_size:
        raise EditError(f"token id {to_id} is out of range: the vocabulary has ids 0..{model.config.vocab_size - 1}")
    name, W, _ = readout(model)
    start, _ = edge(model, win, position, to_id)
    target = start + strength

    def write():
        for _ in range(3):
            current, d = edge(model, win, position, to_id)
            if abs(current - target) < 1e-4:
                return
            if float(d.norm()) < 1e-6:
                raise EditError("this token makes no difference to the model's output here, so no weight can "
                                "connect it (try another context)")
            W[to_id] += ((target - current) * d / d.dot(d)).to(W.dtype)

    label = (lambda t: token_label(tokenizer, t)) if tokenizer else (lambda t: f"#{t}")
    what = f"connect {label(win[position])} → {label(to_id)} {strength:+g} (edge {start:.2f} → {target:.2f})"
    return record(model, [name], what, write)


def connect(model: nn.Module, tokenizer: Tokenizer, from_token, to_token, strength,
            context: str | None = None) -> Change:
    """Draw a connection: after ``from_token``, push ``to_token`` ``strength`` logits harder (see ``connect_at``).

    ``context`` is the text whose picture the connection is drawn on; ``from_token`` is its last
    occurrence in what the model reads. Without a context it is ``from_token`` alone (for the
    MLP, blanks and then that token: "right after the start"). Tokens are given as text or ids.

    >>> from tinylm.models import Bigram, BigramConfig
    >>> from tinylm.tokenizer import CharTokenizer
    >>> tok = CharTokenizer.from_corpus("abc")
    >>> model = Bigram(BigramConfig(vocab_size=tok.vocab_size))
    >>> _ = connect(model, tok, "a", "c", 5.0); _ = connect(model, tok, "a", "c", 1.5)
    >>> model.logits[tok.token_to_id("a"), tok.token_to_id("c")].item()
    6.5
    """
    from_id, to_id = token_id(tokenizer, from_token, "the from token"), token_id(tokenizer, to_token, "the to token")
    ids = prompt_ids(tokenizer, context) if context else [from_id]
    win = window(model, ids)
    positions = [p for p in reads(model, ids) if win[p] == from_id][-1:]
    if not positions:
        shown = ", ".join(repr(token_label(tokenizer, win[p])) for p in reads(model, ids))
        raise EditError(f"{token_label(tokenizer, from_id)!r} is not in the context the model reads ({shown})")
    return connect_at(model, ids, positions[0], to_id, strength, tokenizer)
