"""Sampling: turn next-token logits into text, one token at a time.

``sample_next_token`` is the whole decoding policy in one pure function: temperature (0 means
greedy), top-k (keep the k likeliest) and top-p (keep the smallest set whose probability reaches
p, Holtzman et al. 2019). ``generate`` runs the model in a loop and yields each token with the
probability the model gave it, so a UI can stream and colour the text as it appears.

On top of that, the two questions a learner asks of a model, in text rather than ids. *What could
come next?* ``top_next_tokens`` reads the context the model actually sees (its last
``block_size`` tokens) and returns the k likeliest next tokens with their probabilities. *What
does it write?* ``continue_text`` samples a continuation and yields each token's text.

    >>> from tinylm.pretrained import load_pretrained
    >>> ckpt = load_pretrained("alphabet-gpt")
    >>> [c.token for c in top_next_tokens(ckpt.model, ckpt.tokenizer, "KLM", k=2)][0]
    'N'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, NamedTuple

import torch
import torch.nn.functional as F

from .fields import parse_number
from .models import KVCache


class UnknownTokenError(ValueError):
    """The prompt has pieces the model's vocabulary does not know (they would read as <|unk|>)."""


@dataclass(frozen=True)
class SampledToken:
    id: int  # the token chosen
    prob: float  # the model's probability for it (softmax of the raw logits, temperature 1)
    alternatives: tuple[tuple[int, float], ...] = ()  # the likeliest (id, prob) pairs, when asked for


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> torch.Tensor:
    """The logits the sampler draws from: scaled by 1/temperature, outside top-k/top-p set to -inf.

    >>> filter_logits(torch.tensor([2.0, 1.0, 0.0]), top_k=2)
    tensor([2., 1., -inf])
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    logits = logits / max(temperature, 1e-8)
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = F.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
        # drop a token when the tokens before it already reach top_p (the first one always stays)
        drop_sorted = (cumulative - F.softmax(sorted_logits, dim=-1)) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next_ids(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                    top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Choose one id from each row of (B, vocab_size) logits: (B,) ids.

    >>> sample_next_ids(torch.tensor([[0.1, 3.0, 0.2], [5.0, 0.0, 0.0]]), temperature=0)
    tensor([1, 0])
    """
    filtered = filter_logits(logits, temperature, top_k, top_p)  # also validates the knobs
    if temperature == 0:
        return torch.argmax(logits, dim=-1)
    probs = F.softmax(filtered, dim=-1)  # (B, vocab_size)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


def sample_next_token(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                      top_p: float | None = None, generator: torch.Generator | None = None) -> int:
    """Choose one id from a (vocab_size,) row of logits.

    >>> sample_next_token(torch.tensor([0.1, 3.0, 0.2]), temperature=0)
    1
    """
    return int(sample_next_ids(logits[None], temperature, top_k, top_p, generator)[0])


def sampling_settings(max_new_tokens, temperature, top_k, top_p, seed, max_tokens: int) -> dict:
    """The sampler's keyword arguments from the fields a person typed, or a ValueError naming one.

    top_k 0 and top_p 1 switch those filters off, and a seed of -1 (or none) draws at random.

    >>> sampling_settings(50, 0.8, 0, 1, -1, max_tokens=500)
    {'max_new_tokens': 50, 'temperature': 0.8, 'top_k': None, 'top_p': None, 'seed': None}
    """
    top_k = parse_number(top_k, "top-k", 0, 100_000)
    top_p = parse_number(top_p, "top-p", 0.0, 1.0, integer=False)
    seed = parse_number(seed, "seed", -1, 2**63 - 1) if seed not in (None, "") else -1
    if top_p == 0:
        raise ValueError("top-p must be more than 0 (1 keeps every token)")
    return dict(max_new_tokens=parse_number(max_new_tokens, "max new tokens", 1, max_tokens),
                temperature=parse_number(temperature, "temperature", 0.0, 10.0, integer=False),
                top_k=top_k or None, top_p=None if top_p >= 1 else top_p, seed=None if seed < 0 else seed)


class TextStream:
    """Turn ids arriving one by one into text pieces that concatenate to ``decode(all ids)``.

    Decoding each id alone is wrong twice over: word tokens need the space the tokenizer puts
    between them, and a byte-level token may hold half of a character (an emoji is 2-4 tokens).
    So each new id is decoded together with the id before it, and a piece ending in half a
    character is held back until the rest arrives.

    >>> from tinylm.tokenizer import SplitTokenizer
    >>> tok = SplitTokenizer.from_corpus("eu gosto de comer pão")
    >>> stream = TextStream(tok, tok.encode("eu gosto"))
    >>> [stream.push(i) for i in tok.encode("de comer")]
    [' de', ' comer']
    """

    def __init__(self, tokenizer, prompt_ids: list[int]):
        self.tokenizer = tokenizer
        self.ids = list(prompt_ids)
        self.start = max(len(self.ids) - 1, 0)  # the window decoded: ids[start:]
        self.emitted = len(tokenizer.decode(self.ids[self.start:]))  # characters of it already out

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        text = self.tokenizer.decode(self.ids[self.start:])
        if text.endswith("\ufffd"):  # half a character: wait for the rest
            return ""
        piece = text[self.emitted:]
        self.start = len(self.ids) - 1  # keep one id of context for the next piece
        self.emitted = len(self.tokenizer.decode(self.ids[self.start:]))
        return piece


def prompt_ids(tokenizer, text: str, allow_unknown: bool = False) -> list[int]:
    """Encode a prompt; an empty one starts at a line break (or end of text if there is none).

    Pieces the vocabulary lacks raise ``UnknownTokenError`` naming them, unless
    ``allow_unknown`` (then they read as <|unk|>, which the model may never have seen).
    """
    if not text:
        newline = tokenizer.encode("\n")
        return newline if len(newline) == 1 and tokenizer.decode(newline) == "\n" else [tokenizer.eot_id]
    unknown = tokenizer.unknown_pieces(text)
    if unknown and not allow_unknown:
        raise UnknownTokenError(f"not in this model's {tokenizer.kind} vocabulary: {', '.join(map(repr, unknown))}")
    return tokenizer.encode(text)


@torch.no_grad()
def next_token_probs(model, ids: list[int]) -> torch.Tensor:
    """The model's distribution over the token after ``ids``: (vocab_size,) probabilities."""
    if not ids:
        raise ValueError("need at least one token of context")
    model.eval()
    context = torch.tensor([ids[-model.block_size:]])
    logits, _ = model(context)
    return F.softmax(logits[0, -1].float(), dim=-1)


@torch.no_grad()
def generate(model, ids: list[int], max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
             top_p: float | None = None, seed: int | None = None, stop_ids=(), use_cache: bool = True,
             alternatives: int = 0, suppress_ids=()) -> Iterator[SampledToken]:
    """Yield up to ``max_new_tokens`` tokens after ``ids``, stopping after any of ``stop_ids``.

    ``suppress_ids`` are never chosen (their logits go to -inf before sampling, greedy included);
    each token's reported probability is still the model's own, from the raw logits.

    A GPT samples with a KV cache unless ``use_cache=False`` (the plain reference: the whole
    context again for every token). Once the cache holds ``block_size`` positions it restarts
    from the last ``block_size // 2`` tokens, so past that point the two paths see different
    amounts of context; up to ``block_size`` they give the same tokens. With ``alternatives``
    each token also carries the model's ``alternatives`` likeliest tokens and their probabilities.
    """
    if not ids:
        raise ValueError("need at least one token of context")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    filter_logits(torch.zeros(2), temperature, top_k, top_p)  # validate knobs before any work
    model.eval()
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    ids = list(ids)
    cached = use_cache and hasattr(model, "transformer")
    cache = None
    stop_ids = set(stop_ids)
    suppress = torch.tensor(sorted(set(suppress_ids)), dtype=torch.long)
    for _ in range(max_new_tokens):
        if cached:
            if cache is None or cache.length >= model.block_size:
                # (re)fill the cache: the whole context at first, half a block once it is full
                keep = model.block_size if cache is None else model.block_size // 2
                cache = KVCache(len(model.transformer.h))
                logits, _ = model(torch.tensor([ids[-keep:]]), cache=cache)
            else:
                logits, _ = model(torch.tensor([ids[-1:]]), cache=cache)
        else:
            logits, _ = model(torch.tensor([ids[-model.block_size:]]))
        logits = logits[0, -1].float()
        allowed = logits.index_fill(0, suppress, float("-inf")) if len(suppress) else logits
        next_id = sample_next_token(allowed, temperature, top_k, top_p, generator)
        probs = F.softmax(logits, dim=-1)
        top = ()
        if alternatives:
            values, indices = torch.topk(probs, min(alternatives, probs.numel()))
            top = tuple(zip(indices.tolist(), values.tolist()))
        ids.append(next_id)
        yield SampledToken(next_id, float(probs[next_id]), top)
        if next_id in stop_ids:
            break


@torch.no_grad()
def generate_batch(model, prompts: list[list[int]], max_new_tokens: int | list[int], temperature: float = 0.0,
                   stop_id: int | None = None, generator: torch.Generator | None = None) -> list[list[int]]:
    """Continue many prompts at once; returns each one's new ids (up to and including ``stop_id``).

    Prompts of equal length run as one batch through a KV cache (no padding, so every row sees
    exactly what it would alone). Each row stops at ``stop_id``; the batch stops when all have,
    or when the context (``block_size``) is full. ``max_new_tokens`` may be one limit per prompt.
    A GPT only.
    """
    limits = [max_new_tokens] * len(prompts) if isinstance(max_new_tokens, int) else list(max_new_tokens)
    model.eval()
    outputs: list[list[int]] = [[] for _ in prompts]
    by_length: dict[int, list[int]] = {}
    for i, ids in enumerate(prompts):
        if not ids:
            raise ValueError("need at least one token of context")
        if len(ids) >= model.block_size:
            raise ValueError(f"prompt {i} has {len(ids)} tokens, no room left in block_size {model.block_size}")
        by_length.setdefault(len(ids), []).append(i)
    for length, rows in by_length.items():
        cache = KVCache(len(model.transformer.h))
        logits, _ = model(torch.tensor([prompts[i] for i in rows]), cache=cache)  # (B, T, V)
        done = torch.zeros(len(rows), dtype=torch.bool)
        limit = torch.tensor([limits[i] for i in rows])
        for step in range(min(int(limit.max()), model.block_size - length)):
            next_ids = sample_next_ids(logits[:, -1].float(), temperature, generator=generator)  # (B,)
            for row, (i, token) in enumerate(zip(rows, next_ids.tolist())):
                if not done[row]:
                    outputs[i].append(token)
            if stop_id is not None:
                done |= next_ids == stop_id
            done |= limit <= step + 1  # this row has its tokens
            if done.all():
                break
            logits, _ = model(next_ids[:, None], cache=cache)
    return outputs


# ---------------------------------------------------------------------------------------------
# In text: the next token, and a continuation


class TokenProb(NamedTuple):
    """One token as a learner sees it: its text, its id, the model's probability for it."""

    token: str  # the text the token adds (" de" after a word for a split model, "e" for char)
    id: int
    prob: float  # softmax of the raw logits at temperature 1, whatever the sampler's settings


def context_tokens(model, tokenizer, text: str) -> list[str]:
    """The pieces of ``text`` the model reads to predict the next token: its last ``block_size``.

    A word-level MLP with ``block_size=4`` reads only the last four words, whatever came before.
    An empty text reads as a line break (or end of text), where a generation starts.
    """
    ids = prompt_ids(tokenizer, text)
    return [tokenizer.decode([i]) for i in ids[-model.block_size:]]


def top_next_tokens(model, tokenizer, text: str, k: int = 10) -> list[TokenProb]:
    """The ``k`` likeliest next tokens after ``text``, most likely first.

    Raises ``UnknownTokenError`` naming the pieces of ``text`` the vocabulary lacks.

    >>> from tinylm.pretrained import load_pretrained
    >>> ckpt = load_pretrained("alphabet-gpt")
    >>> best = top_next_tokens(ckpt.model, ckpt.tokenizer, "ABC", k=3)[0]
    >>> best.token, best.prob > 0.5
    ('D', True)
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    top = top_text_tokens(next_token_probs(model, prompt_ids(tokenizer, text)), tokenizer, k)
    return [TokenProb(tokenizer.decode([i]), i, p) for i, p in zip(top.indices.tolist(), top.values.tolist())]


def top_text_tokens(probs: torch.Tensor, tokenizer, k: int):
    """``torch.topk`` of ``probs`` (vocab_size,) over the tokens that are text: the special ones
    (padding, chat markers, ``<|unk|>``) are left out, as they are never sampled either."""
    text_probs = probs.index_fill(0, torch.tensor(tokenizer.non_text_ids, dtype=torch.long), -1.0)
    return torch.topk(text_probs, min(k, probs.numel() - len(tokenizer.non_text_ids)))


def continue_text(model, tokenizer, text: str, max_new_tokens: int = 100, temperature: float = 1.0,
                  top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                  stop_at_end: bool = True) -> Iterator[TokenProb]:
    """Sample a continuation of ``text``, yielding each new token as it is chosen.

    ``temperature=0`` is greedy (always the likeliest token); ``top_k`` and ``top_p`` trim the
    candidates before sampling; ``seed`` makes the draw repeatable. A continuation is text: the
    special tokens (padding, chat markers, ``<|unk|>``) are never sampled, only end of text, and
    only with ``stop_at_end``, which ends the continuation there. The tokens' texts add up to the continuation
    (``TextStream``): a word-level model's words come with the space before them, and a
    byte-level BPE token that holds only part of a character has the text "" until the token
    that completes it.

    >>> from tinylm.pretrained import load_pretrained
    >>> ckpt = load_pretrained("alphabet-gpt")
    >>> "".join(t.token for t in continue_text(ckpt.model, ckpt.tokenizer, "ABC", 3, temperature=0))
    'DEF'
    """
    ids = prompt_ids(tokenizer, text)
    stream = TextStream(tokenizer, ids if text else [])  # an empty text's line break is not shown
    stop_ids = [tokenizer.eot_id] if stop_at_end else []
    suppress = [i for i in tokenizer.non_text_ids if i not in stop_ids]
    for token in generate(model, ids, max_new_tokens, temperature, top_k, top_p, seed, stop_ids=stop_ids,
                          suppress_ids=suppress):
        yield TokenProb(stream.push(token.id), token.id, token.prob)
