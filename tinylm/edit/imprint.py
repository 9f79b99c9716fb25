"""Imprinting: sequences written into one linear layer in closed form, with no gradient step.

Each sequence gives (context -> next token) pairs: "abc" gives "a" -> "b" and "ab" -> "c". One
linear layer, the "memory", is treated as a key -> value store (Kohonen 1972's linear
associative memory, the write ROME uses, Meng et al. 2022): a key is what the layer reads after
a context, a value the change its output needs there, and the smallest change to its weight that
gives every pair its value at once is solved for. ``imprint_report`` adds the price: the loss on
held-out text before and after.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import nn

from ..sample import generate, prompt_ids
from ..tokenizer import Tokenizer
from ..train import evaluate
from .connect import MAX_STRENGTH, by_length, features
from .history import Change, parse_value, record
from .tables import EditError, readout, token_label, weight, weight_names, window

DEFAULT_IMPRINT_STRENGTH = 4.0  # nats: e^4 = 55 times likelier than the runner-up
MAX_IMPRINT_PAIRS = 256  # (context -> next token) pairs one imprint writes: its solve grows with their cube
BACKGROUND_TOKENS = 4096  # tokens of background text whose keys estimate C
VAL_CHARS = 20_000  # characters of val text scored before and after an imprint (fast on a CPU)


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


@dataclass(frozen=True)
class ImprintReport:
    """An imprint and its price: the loss on held-out text before and after (None without text)."""

    imprint: Imprint
    val_loss_before: float | None
    val_loss_after: float | None
    val_tokens: int  # how many tokens the losses were measured on


def parse_sequences(tokenizer: Tokenizer, sequences) -> list[tuple[str, list[int]]]:
    """[(text, ids)] for sequences given one per line (or as a list), or an EditError saying what is wrong."""
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


# ---------------------------------------------------------------------------------------------
# The memory layer, its keys, and the values each pair needs


def _tied(model: nn.Module) -> bool:
    """Is the output layer also the token embedding (one tensor under two names, as in the GPT)?"""
    name, W, _ = readout(model)
    return any(n != name and weight(model, n).data_ptr() == W.data_ptr() for n in weight_names(model))


def memory(model: nn.Module) -> tuple[str, torch.Tensor]:
    """The linear layer ``imprint`` writes into: (state_dict name, weight as (outputs, inputs)).

    The output layer (the bigram's table, transposed; the MLP's lm_head), unless it is tied to
    the token embedding (the GPT): writing a token's output row would then also change how the
    model reads that token everywhere, so the write goes one layer down, into the last block's
    MLP output projection (its input: ``model.last_mlp_activations``).
    """
    if not _tied(model):
        name, W, _ = readout(model)
        return name, W
    name = [n for n in weight_names(model) if n.endswith("mlp.c_proj.weight")][-1]
    return name, weight(model, name)


def _missing_margin(logits: torch.Tensor, goals: torch.Tensor, strength: float) -> torch.Tensor:
    """(m,) how many nats each goal token still lacks to beat every other token by ``strength``."""
    goal = logits.gather(1, goals[:, None])[:, 0]
    runner_up = logits.scatter(1, goals[:, None], float("-inf")).max(dim=1).values
    return (runner_up + strength - goal).clamp(min=0)


@torch.no_grad()
def _keys_and_values(model: nn.Module, windows: list[list[int]], goals: torch.Tensor, strength: float):
    """For each window: the key (what the memory layer reads), and the value: how its output
    must change for the goal token to beat the runner-up by ``strength`` (zero when it already does).

    Returns keys (m, H) and values (m, outputs) in float64.
    """
    if not _tied(model):  # the memory is the output layer: its output is the logits themselves
        _, W, bias = readout(model)
        keys = features(model, windows).double()  # (m, H)
        logits = keys @ W.double().T + (0 if bias is None else bias.double())  # (m, V)
        values = torch.zeros(len(windows), W.size(0), dtype=torch.float64)
        values[torch.arange(len(windows)), goals] = _missing_margin(logits, goals, strength)  # only the goal moves
        return keys, values
    return _residual_keys_and_values(model, windows, goals, strength)


def _residual_keys_and_values(model: nn.Module, windows: list[list[int]], goals: torch.Tensor, strength: float):
    """The GPT's memory, the last MLP's c_proj, writes into the residual stream x; logits = lm_head(ln_f(x))."""
    model.eval()
    keys, xs = torch.zeros(len(windows), memory(model)[1].size(1)), torch.zeros(len(windows), model.config.n_embd)
    for rows, batch in by_length(windows):
        act, x = model.last_mlp_activations(batch)
        keys[rows], xs[rows] = act[:, -1], x[:, -1]  # the last position of each window
    ln_f = model.transformer.ln_f
    keys, xs, logits = keys.double(), xs.double(), model.lm_head(ln_f(xs)).double()
    need = _missing_margin(logits, goals, strength)
    runner_up = logits.scatter(1, goals[:, None], float("-inf")).argmax(dim=1)
    # the margin is (W[goal] - W[runner_up]) . ln_f(x); to first order a step dx changes it by u . dx,
    # with u = J^T (W[goal] - W[runner_up]) and J the LayerNorm's Jacobian, written out:
    # J^T w = (g - mean(g) - xhat (xhat . g) / C) / sigma, where g = gain * w
    W = model.lm_head.weight.double()
    mean, var = xs.mean(dim=1, keepdim=True), xs.var(dim=1, unbiased=False, keepdim=True)
    sigma = (var + ln_f.eps).sqrt()
    xhat = (xs - mean) / sigma
    g = ln_f.weight.double() * (W[goals] - W[runner_up])  # (m, C)
    u = (g - g.mean(dim=1, keepdim=True) - xhat * (xhat * g).sum(dim=1, keepdim=True) / xs.size(1)) / sigma
    values = need[:, None] * u / (u * u).sum(dim=1, keepdim=True).clamp(min=1e-12)  # (m, C): dx per window
    return keys, values


@torch.no_grad()
def _inverse_key_covariance(model: nn.Module, tokenizer: Tokenizer, text: str | None) -> torch.Tensor | None:
    """C^-1 for the memory layer's keys on ``text`` (C = mean k k^T, plus a little ridge), or None without text."""
    if not text:
        return None
    ids = torch.tensor(tokenizer.encode(text[: 8 * BACKGROUND_TOKENS], allow_special=False))[:BACKGROUND_TOKENS]
    if len(ids) < model.block_size:
        return None
    model.eval()
    if _tied(model):  # the GPT reads at most block_size tokens: whole blocks, as in training
        T = model.block_size
        keys = model.last_mlp_activations(ids[: len(ids) // T * T].view(-1, T))[0]  # (B, T, 4 * n_embd)
    else:  # the output layer's keys: hidden at every position (the bigram and the MLP read a sequence of any length)
        keys = model.hidden(ids[None])  # (1, T, H)
    keys = keys.reshape(-1, keys.size(-1)).double()
    cov = keys.T @ keys / len(keys)
    # a direction text never uses would cost nothing and could be written without limit: keep a floor
    cov += 1e-3 * float(cov.diagonal().mean()) * torch.eye(cov.size(0), dtype=torch.float64)
    return torch.linalg.inv(cov)


# ---------------------------------------------------------------------------------------------
# The write


def _targets(model: nn.Module, tokenizer: Tokenizer, parsed) -> tuple[dict[tuple[int, ...], int], list[str]]:
    """{window: next token} for every pair of every sequence (a later sequence overwrites), and the conflicts."""
    targets: dict[tuple[int, ...], int] = {}
    conflicts = []
    for _, ids in parsed:
        for j in range(1, len(ids)):
            key = tuple(window(model, ids[:j]))
            if key in targets and targets[key] != ids[j]:
                shown = "".join(token_label(tokenizer, t) for t in key if t != model.blank)
                conflicts.append(f"after {shown!r}: {token_label(tokenizer, targets[key])!r} or "
                                 f"{token_label(tokenizer, ids[j])!r} (the last one wins)")
            targets[key] = ids[j]
    return targets, conflicts


@torch.no_grad()
def imprint(model: nn.Module, tokenizer: Tokenizer, sequences, strength=DEFAULT_IMPRINT_STRENGTH,
            background: str | None = None, rounds: int = 8) -> Imprint:
    """Write ``sequences`` into the weights so greedy generation from each first token reproduces it.

    K holds the keys, one row per (context -> next token) pair (each context as the model reads
    it), V the values, and

        ΔW = V^T (K K^T + λI)^-1 K

    is the smallest change to W (Frobenius norm) that gives every pair exactly its value at once.
    A value asks for the next token's logit to beat the best other token by ``strength`` nats,
    and for nothing at all where it already does. Biases are left alone: a bias would move the
    token after every context.

    With ``background`` text (the model's training text), "smallest" is measured where it
    matters, on the keys that text produces (ROME's covariance C = E[k k^T]):

        ΔW = V^T (K C^-1 K^T)^-1 K C^-1

    which puts the write in directions ordinary text rarely uses, so predictions on ordinary
    text move much less (on alphabet-gpt, imprinting "HELLO" at strength 4 costs 0.32 nats of
    val loss instead of 4.7, measured with ``imprint_report`` on the alphabet val split).

    - bigram: K is one-hot, so this raises ``logits[current, next]`` just enough (like adding counts);
    - MLP: K is the last tanh layer, and only ``lm_head`` rows of the imprinted tokens change;
    - GPT: K is the last block's MLP activation and V the step of the residual stream that
      raises the margin through the final LayerNorm (to first order), written into that block's
      ``mlp.c_proj`` (see ``memory``). First order is not exact, so the write repeats
      (``rounds``) until every margin is met, and the token embeddings stay untouched.

    A context that two sequences continue differently ("abc" and "abd" share "ab") cannot be
    reproduced both ways by greedy generation: the last sequence wins and ``conflicts`` says so.

    >>> from tinylm.models import Bigram, BigramConfig
    >>> from tinylm.tokenizer import CharTokenizer
    >>> tok = CharTokenizer.from_corpus("abcxyz")
    >>> model = Bigram(BigramConfig(vocab_size=tok.vocab_size))
    >>> [r.ok for r in imprint(model, tok, ["abc", "xyz"]).reproduced]
    [True, True]
    """
    strength = parse_value(strength, "the strength", MAX_STRENGTH)
    if strength <= 0:
        raise EditError(f"the strength must be more than 0, got {strength:g}")
    parsed = parse_sequences(tokenizer, sequences)
    targets, conflicts = _targets(model, tokenizer, parsed)
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


def imprint_report(model: nn.Module, tokenizer: Tokenizer, sequences, strength=DEFAULT_IMPRINT_STRENGTH,
                   val_text: str | None = None, background: str | None = None) -> ImprintReport:
    """``imprint``, with the validation loss on (the first VAL_CHARS characters of) ``val_text``
    before and after: the trade-off between remembering the sequences and predicting text the
    model learned from. ``background`` (the training text) goes to ``imprint``. A bad input
    raises before anything is measured or changed."""
    ids = torch.tensor(tokenizer.encode(val_text[:VAL_CHARS], allow_special=False)) if val_text else torch.tensor([])
    scored = len(ids) >= 2
    parse_sequences(tokenizer, sequences)  # refuse bad input before spending time on the loss
    parse_value(strength, "the strength", MAX_STRENGTH)
    before = evaluate(model, ids) if scored else None
    result = imprint(model, tokenizer, sequences, strength, background)
    after = evaluate(model, ids) if scored else None
    return ImprintReport(result, before, after, len(ids) - 1 if scored else 0)
