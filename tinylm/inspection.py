"""Look inside a trained model: which tokens it gets wrong, how surprised it is by each token of
the validation text, where its embeddings sit, where its attention looks, and the shape of the
loss around its weights.

Every function takes a model (any of bigram, MLP, GPT: they share ``forward(idx, targets)``) and
returns plain numbers (tensors, numpy arrays, lists of dicts); the Inspect tab only draws them.

- ``score_tokens``: the loss and top predictions at every position of a text, the base of the
  confusion matrix (``confusion_matrix``), the error table (``token_errors``) and the coloured text
  (``surprisal_spans``).
- ``token_map`` (``pca_2d`` of ``model.token_embeddings()``): one vector per text token, projected on
  its two main directions.
- ``attention_maps``: the softmax(q k^T / sqrt(hs)) weights of every GPT layer and head.
- ``hidden_activations``: what the hidden units of an MLP (or a GPT block's feed-forward) output.
- ``iter_loss_surface``: the loss on a grid around the trained weights along two random,
  filter-normalised directions (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets").
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

MAX_SCORED_TOKENS = 5_000  # tokens of validation text scored for the views (0.1-0.7 s on the shipped models)


# ---------------------------------------------------------------------------------------------
# Scoring a text: loss and top predictions at every position


@dataclass
class TokenScores:
    ids: list[int]  # the text's tokens, N of them; position t predicts ids[t + 1]
    loss: torch.Tensor  # (N - 1,) cross-entropy of the true next token, nats (its surprisal)
    top_ids: torch.Tensor  # (N - 1, k) the k most likely next tokens, most likely first
    top_probs: torch.Tensor  # (N - 1, k) their probabilities

    @property
    def targets(self) -> torch.Tensor:
        return torch.tensor(self.ids[1:])  # (N - 1,) the tokens that came next

    @property
    def predicted(self) -> torch.Tensor:
        return self.top_ids[:, 0]  # (N - 1,) the model's first choice (argmax)


def _windows(model, n: int) -> list[tuple[int, int, int]]:
    """(lo, start, hi) windows that score every position of an n-token text once, as ``evaluate``.

    A GPT reads consecutive blocks of ``block_size``; the MLP and bigram read 512 at a time with
    ``block_size - 1`` tokens of overlap, so every position sees its full context.
    """
    gpt = hasattr(model, "transformer")
    overlap = 0 if gpt else model.block_size - 1
    stride = model.block_size if gpt else 512
    return [(max(start - overlap, 0), start, min(start + stride, n - 1)) for start in range(0, n - 1, stride)]


@torch.no_grad()
def score_tokens(model, ids, k: int = 5, max_tokens: int | None = MAX_SCORED_TOKENS) -> TokenScores:
    """Loss and top-k predictions at every position of ``ids`` (the first ``max_tokens`` + 1).

    The mean of ``loss`` equals ``tinylm.train.evaluate(model, ids)``: the same windows are read.

    >>> from tinylm.models.bigram import Bigram, BigramConfig
    >>> s = score_tokens(Bigram(BigramConfig(vocab_size=4)), [0, 1, 2, 3], k=2)
    >>> s.loss.shape, round(float(s.loss[0]), 4)  # uniform over 4 tokens: ln 4
    (torch.Size([3]), 1.3863)
    """
    ids = torch.as_tensor(ids, dtype=torch.long)
    if max_tokens is not None:
        ids = ids[: max_tokens + 1]
    if len(ids) < 2:
        raise ValueError("need at least two tokens to score a text")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    losses, tops, probs = [], [], []
    by_length: dict[int, list[tuple[int, int, int]]] = {}
    for w in _windows(model, len(ids)):
        by_length.setdefault(w[2] - w[0], []).append(w)
    results = {}
    for length, group in by_length.items():
        for i in range(0, len(group), 64):
            batch = group[i:i + 64]
            x = torch.stack([ids[lo:hi] for lo, _, hi in batch]).to(device)  # (B, T)
            y = torch.stack([ids[lo + 1:hi + 1] for lo, _, hi in batch]).to(device)  # (B, T)
            logits, _ = model(x)
            logp = F.log_softmax(logits.float(), dim=-1)  # (B, T, V)
            loss = -logp.gather(-1, y[..., None])[..., 0]  # (B, T)
            top_logp, top_ids = logp.topk(min(k, logp.size(-1)), dim=-1)  # (B, T, k)
            for b, (lo, start, _) in enumerate(batch):
                skip = start - lo  # context only: scored by the window before
                results[start] = (loss[b, skip:], top_ids[b, skip:], top_logp[b, skip:].exp())
    for start in sorted(results):
        loss, top, prob = results[start]
        losses.append(loss.cpu()), tops.append(top.cpu()), probs.append(prob.cpu())
    model.train(was_training)
    return TokenScores(ids.tolist(), torch.cat(losses), torch.cat(tops), torch.cat(probs))


# ---------------------------------------------------------------------------------------------
# Which tokens it gets wrong


@dataclass
class Confusion:
    tokens: list[int]  # the n most frequent next tokens, most frequent first: the rows and columns
    matrix: np.ndarray  # (n, n + 1) counts: row = true token, column = the model's first choice; last = any other
    counts: np.ndarray  # (n,) how often each token came next; row i of matrix sums to counts[i]


def confusion_matrix(scores: TokenScores, n: int = 20) -> Confusion:
    """Counts of (true next token, predicted next token) over the ``n`` most frequent true tokens.

    >>> s = TokenScores([0, 1, 1, 0], torch.zeros(3), torch.tensor([[1], [0], [0]]), torch.ones(3, 1))
    >>> c = confusion_matrix(s, n=2); c.tokens, c.matrix.tolist()  # 1 -> predicted 1 once and 0 once; 0 -> 0
    ([1, 0], [[1, 1, 0], [0, 1, 0]])
    """
    targets, predicted = scores.targets, scores.predicted
    tokens, counts = torch.unique(targets, return_counts=True)
    order = torch.argsort(counts, descending=True, stable=True)[:n]
    tokens, counts = tokens[order], counts[order]
    column = {int(t): i for i, t in enumerate(tokens)}
    matrix = np.zeros((len(tokens), len(tokens) + 1), dtype=np.int64)
    for t, p in zip(targets.tolist(), predicted.tolist()):
        row = column.get(t)
        if row is not None:
            matrix[row, column.get(p, len(tokens))] += 1
    return Confusion(tokens.tolist(), matrix, counts.numpy())


def token_errors(scores: TokenScores, tokenizer, top: int = 15, min_count: int = 3) -> list[dict]:
    """The tokens with the highest mean loss (seen at least ``min_count`` times), worst first.

    Each row: the token, how often it came next, its mean loss, how often the model's first choice
    was right, and its most frequent wrong guess with how often it was guessed instead.
    """
    targets, predicted, loss = scores.targets, scores.predicted, scores.loss
    rows = []
    for t in torch.unique(targets).tolist():
        here = targets == t
        count = int(here.sum())
        if count < min_count:
            continue
        wrong = predicted[here & (predicted != t)]
        guess, times = (None, 0)
        if len(wrong):
            values, n = torch.unique(wrong, return_counts=True)
            guess, times = int(values[n.argmax()]), int(n.max())
        rows.append({
            "token": tokenizer.token_text(t), "count": count, "mean_loss": float(loss[here].mean()),
            "accuracy": float((predicted[here] == t).float().mean()),
            "predicted_instead": None if guess is None else tokenizer.token_text(guess), "times": times,
        })
    rows.sort(key=lambda r: -r["mean_loss"])
    return rows[:top]


def surprisal_spans(scores: TokenScores, tokenizer, k: int = 5, max_spans: int = 2000) -> list[dict]:
    """The text token by token with its loss and the model's top-k guesses at that point.

    The first token has no prediction (loss None); token t + 1 carries the loss of predicting it.
    """
    spans = [{"text": tokenizer.token_text(scores.ids[0]), "loss": None, "top": []}]
    for t in range(min(len(scores.loss), max_spans - 1)):
        top = [(tokenizer.token_text(int(i)), float(p))
               for i, p in zip(scores.top_ids[t, :k], scores.top_probs[t, :k])]
        spans.append({"text": tokenizer.token_text(scores.ids[t + 1]), "loss": float(scores.loss[t]), "top": top})
    return spans


# ---------------------------------------------------------------------------------------------
# Embeddings


@dataclass
class Projection:
    coords: np.ndarray  # (n, 2) each token's position along the two main directions
    explained: tuple[float, float]  # share of the vectors' variance along each direction
    ids: list[int] | None = None  # the token id of each row (None: rows 0..n-1)


def pca_2d(vectors: torch.Tensor) -> Projection:
    """Principal component analysis: the two directions along which the vectors vary most.

    >>> p = pca_2d(torch.tensor([[0., 0., 0.], [2., 0., 0.], [0., 1., 0.], [2., 1., 0.]]))
    >>> [round(e, 2) for e in p.explained]  # spread 4x more along x than along y
    [0.8, 0.2]
    """
    x = vectors.detach().double() - vectors.detach().double().mean(0)
    u, s, _ = torch.linalg.svd(x, full_matrices=False)
    coords = (u[:, :2] * s[:2]).numpy()
    variance = s.pow(2)
    share = (variance[:2] / variance.sum().clamp_min(1e-12)).tolist()
    if coords.shape[1] < 2:  # a 1-wide embedding: nothing along the second direction
        coords, share = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1]))), share + [0.0]
    return Projection(coords, (share[0], share[1]))


def text_token_ids(tokenizer) -> list[int]:
    """The ids of the tokens that stand for text: the vocabulary a learner looks at (no specials)."""
    special = set(tokenizer.non_text_ids)
    return [i for i in range(tokenizer.vocab_size) if i not in special]


def token_map(model, tokenizer) -> Projection:
    """The text tokens' embeddings (``model.token_embeddings()``) on their two main directions."""
    ids = text_token_ids(tokenizer)
    projection = pca_2d(model.token_embeddings()[ids])
    projection.ids = ids
    return projection


def nearest_tokens(vectors: torch.Tensor, token: int, k: int = 8, among: list[int] | None = None) -> list[tuple[int, float]]:
    """The ``k`` tokens (of ``among``, or all) whose vectors point most nearly the same way (cosine similarity)."""
    vectors = vectors.detach()
    sims = F.cosine_similarity(vectors, vectors[token][None], dim=-1)  # (V,)
    if among is not None:
        outside = torch.ones_like(sims, dtype=torch.bool)
        outside[among] = False
        sims[outside] = -2.0
    sims[token] = -2.0  # not itself
    best = sims.topk(min(k, len(sims) - 1))
    return [(int(i), float(s)) for i, s in zip(best.indices, best.values)]


# ---------------------------------------------------------------------------------------------
# Attention (GPT)


@torch.no_grad()
def attention_maps(model, idx) -> torch.Tensor:
    """Attention weights of every layer and head for one sequence: (n_layer, n_head, T, T).

    ``att[l, h, i, j]`` is how much position i reads position j in head h of block l: row i is a
    softmax over positions 0..i (a causal model never looks ahead), so rows sum to one and the
    part above the diagonal is zero. Computed as ``reference_attention`` does, from the q and k
    that ``c_attn`` makes of ``ln_1(x)`` in each block; sequences longer than ``block_size`` keep
    their last ``block_size`` tokens.
    """
    if not hasattr(model, "transformer"):
        raise ValueError("only the GPT has attention; the bigram and the MLP read a fixed window")
    idx = torch.as_tensor(idx, dtype=torch.long).view(1, -1)[:, -model.block_size:]  # (1, T)
    if idx.size(1) == 0:
        raise ValueError("give at least one token")
    was_training = model.training
    model.eval()
    T = idx.size(1)
    tr = model.transformer
    x = tr.wte(idx) + tr.wpe(torch.arange(T, device=idx.device))  # (1, T, C)
    C = x.size(-1)
    mask = torch.ones(T, T, dtype=torch.bool, device=idx.device).tril()  # (T, T) True where allowed
    maps = []
    for block in tr.h:
        nh = block.attn.n_head
        q, k, _ = block.attn.c_attn(block.ln_1(x)).split(C, dim=2)  # each (1, T, C)
        q, k = (t.view(1, T, nh, C // nh).transpose(1, 2) for t in (q, k))  # (1, nh, T, hs)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))  # (1, nh, T, T)
        maps.append(F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)[0])  # (nh, T, T)
        x = block(x)  # on to the next block with the real forward pass
    model.train(was_training)
    return torch.stack(maps)  # (n_layer, n_head, T, T)


# ---------------------------------------------------------------------------------------------
# Hidden activations (MLP, or a GPT block's feed-forward)


@torch.no_grad()
def hidden_activations(model, idx) -> list[torch.Tensor]:
    """The hidden units' outputs for one sequence, one (T, n_hidden) tensor per layer.

    MLP: the tanh of each hidden layer (values in -1..1; units stuck near +-1 are "saturated" and
    learn slowly). GPT: the GELU of each block's feed-forward ``c_fc``. Bigram: none ([]).
    """
    idx = torch.as_tensor(idx, dtype=torch.long).view(1, -1)  # (1, T)
    if hasattr(model, "transformer"):
        idx = idx[:, -model.block_size:]  # the MLP reads any length; the GPT at most block_size
    was_training = model.training
    model.eval()
    outputs = []
    if hasattr(model, "transformer"):
        hooks = [block.mlp.c_fc.register_forward_hook(
            lambda _m, _i, out, act=block.mlp.act: outputs.append(act(out)[0])) for block in model.transformer.h]
        try:
            model(idx)
        finally:
            for h in hooks:
                h.remove()
    elif hasattr(model, "h"):
        B, T = idx.shape
        x = model.wte(model.contexts(idx)).view(B, T, -1)  # (1, T, block_size * n_embd)
        for layer in model.h:
            x = torch.tanh(layer(x))  # (1, T, n_hidden)
            outputs.append(x[0])
    model.train(was_training)
    return outputs


# ---------------------------------------------------------------------------------------------
# The loss surface around the trained weights


def random_direction(model, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A random direction in weight space, filter-normalised (Li et al. 2018).

    Each row ("filter") of each weight matrix gets a Gaussian direction rescaled to that row's own
    norm, so a step of 1 moves every row by as much as it is long, whatever the layer's scale.
    Biases and LayerNorm vectors stay put (direction 0), as in the paper.
    """
    direction = {}
    for name, p in model.named_parameters():  # tied weights (GPT's wte = lm_head) are listed once
        if p.dim() < 2:
            direction[name] = torch.zeros_like(p)
            continue
        d = torch.randn(p.shape, generator=generator, dtype=torch.float32).to(p)
        w, dd = p.detach().flatten(1), d.flatten(1)  # (rows, fan_in)
        d = (dd * (w.norm(dim=1, keepdim=True) / dd.norm(dim=1, keepdim=True).clamp_min(1e-12))).view_as(p)
        direction[name] = d
    return direction


@dataclass
class LossSurface:
    alphas: np.ndarray  # (n,) steps along the first direction; 0 is the trained model
    betas: np.ndarray  # (n,) steps along the second direction
    losses: np.ndarray  # (n, n) losses[i, j] at alphas[i], betas[j]; NaN where not computed yet
    done: int  # grid points computed so far
    center_loss: float  # the trained model's loss on the same tokens

    @property
    def total(self) -> int:
        return self.losses.size


@torch.no_grad()
def iter_loss_surface(model, ids, steps: int = 11, span: float = 1.0, max_tokens: int = 512,
                      generator: torch.Generator | None = None) -> Iterator[LossSurface]:
    """The validation loss on a ``steps`` x ``steps`` grid around the trained weights.

    The point (a, b) is ``weights + a * d1 + b * d2`` for two filter-normalised random directions,
    a and b in [-span, span]. Yields the partly filled surface after each grid row, so a UI can
    show progress and stop early; the last one is complete. The model itself is not changed (a
    copy is moved). With odd ``steps`` the centre is exactly the trained model.
    """
    from .train import evaluate  # noqa: PLC0415 (train imports torch.distributed; only this view needs it)

    if steps < 2:
        raise ValueError(f"the grid needs at least 2 steps a side, got {steps}")
    generator = generator or torch.Generator().manual_seed(0)
    ids = torch.as_tensor(ids, dtype=torch.long)[: max_tokens + 1]
    probe = copy.deepcopy(model).eval()
    params = dict(probe.named_parameters())
    start = {name: p.detach().clone() for name, p in params.items()}
    d1, d2 = random_direction(probe, generator), random_direction(probe, generator)
    alphas = betas = np.linspace(-span, span, steps)
    if steps % 2:
        alphas[steps // 2] = 0.0  # exactly, not 1e-17: the centre is the trained model
    losses = np.full((steps, steps), np.nan)
    center = evaluate(probe, ids)
    for i, a in enumerate(alphas):
        for j, b in enumerate(betas):
            for name, p in params.items():
                p.copy_(start[name] + float(a) * d1[name] + float(b) * d2[name])
            losses[i, j] = evaluate(probe, ids)
        yield LossSurface(alphas, betas, losses.copy(), (i + 1) * steps, center)


def loss_surface(model, ids, **kwargs) -> LossSurface:
    """The whole surface of ``iter_loss_surface`` at once."""
    for surface in iter_loss_surface(model, ids, **kwargs):
        pass
    return surface
