"""Byte-level BPE, merge by merge, in plain Python: the loop the ``bpe`` tokenizer runs in Rust.

Byte-pair encoding (Sennrich et al. 2016, byte-level as in GPT-2, Radford et al. 2019) starts
from the 256 bytes and repeats one step: count every pair of neighbouring tokens in the corpus
and merge the most frequent pair into a new token. ``get_stats`` counts, ``merge`` merges, and
``train`` repeats them (as in Karpathy's minbpe). ``encode`` cuts new text with the merges learned.

>>> steps = bpe_steps("low lower lowest", n_merges=3)
>>> steps.to_dict()["merges"], steps.counts, steps.tokens_per_step
([['l', 'o'], ['lo', 'w'], ['·', 'low']], [3, 3, 2], [16, 13, 10, 8])

``tinylm.tokenizer.BPETokenizer`` trains with Hugging Face's Rust trainer (the fast path). This
file learns the same merges in the same order, because it follows that trainer's rules
(``tokenizers/src/models/bpe/trainer.rs``):

- The corpus is cut into lines (as ``BPETokenizer.train`` feeds it), each line into pre-tokens by
  GPT-2's regex (a word with the space before it, a run of digits, of punctuation, of spaces).
  Merges never cross a pre-token; a distinct pre-token is stored once, with how often it occurs.
- Ids are Hugging Face's: the 5 special tokens are 0-4, then the 256 bytes in the order of the
  characters GPT-2 prints them as ("!" is 5, a space, printed "Ġ", is 225), then each new token.
- Among pairs seen equally often, the pair with the smaller ids wins (first ids, then second).
- Training stops when the vocabulary is full or no pair is seen ``min_frequency`` times (2).

One difference remains, in which characters count as letters: the regex here uses the Unicode
tables of the ``regex`` package, Rust's uses Oniguruma's older ones, so letters of scripts added
to Unicode in the last few versions (about 4,600 rare code points) split differently.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterator

import regex

from .tokenizer import SPECIAL_TOKENS

# GPT-2's pre-tokenizer: contractions, a word, a number or a run of punctuation (each with the
# space before it), and runs of whitespace (the last space of a run goes with the next word)
GPT2_SPLIT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
_SPECIAL_SPLIT = regex.compile("(" + "|".join(regex.escape(s) for s in SPECIAL_TOKENS) + ")")

# Byte-level BPE stores each byte as a printable character, so that tokens are plain strings:
# printable ASCII and Latin-1 stand for themselves, the other 68 bytes (space, newline, control
# bytes) get the characters from chr(256) on. Hugging Face numbers the bytes in this order.
_PRINTABLE = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
BYTE_ORDER = _PRINTABLE + [b for b in range(256) if b not in _PRINTABLE]  # byte values, by printed character
BYTE_SYMBOLS = {b: chr(b) if k < len(_PRINTABLE) else chr(256 + k - len(_PRINTABLE))
                for k, b in enumerate(BYTE_ORDER)}  # byte value -> the character GPT-2 prints: 32 -> "Ġ"
_BYTE_ID = {b: len(SPECIAL_TOKENS) + k for k, b in enumerate(BYTE_ORDER)}  # byte value -> its id
N_BASE = len(SPECIAL_TOKENS) + 256  # ids before the first merge: 261

MAX_TEXT_CHARS = 10_000  # bpe_steps trains in pure Python: bounded so that it answers within a second
MAX_MERGES = 500


def pre_tokenize(text: str) -> list[str]:
    """GPT-2's pre-tokens: what BPE merges within, never across.

    >>> pre_tokenize("Hello world's  end!!")
    ['Hello', ' world', "'s", ' ', ' end', '!!']
    """
    return GPT2_SPLIT.findall(text)


def training_words(corpus: str) -> Counter:
    """Each distinct pre-token of ``corpus`` and how often it occurs, line by line as HF trains.

    >>> training_words("the cat\\nthe dog")
    Counter({'the': 2, ' cat': 1, '\\n': 1, ' dog': 1})
    """
    return Counter(word for line in corpus.splitlines(keepends=True) for word in pre_tokenize(line))


def base_vocab() -> list[bytes | str]:
    """Id -> token before any merge: the special tokens (str), then the 256 bytes in HF's order."""
    return [*SPECIAL_TOKENS, *(bytes([b]) for b in BYTE_ORDER)]


def vocab_of(merges: list[Merge]) -> dict[int, bytes | str]:
    """Id -> token after ``merges``: the base vocabulary and every merged token."""
    return dict(enumerate(base_vocab())) | {m.new_id: m.token for m in merges}


def get_stats(words: dict[tuple[int, ...], int]) -> Counter:
    """How often each pair of neighbouring ids occurs, each word counted as often as it occurs.

    >>> get_stats({(1, 2, 3): 2, (1, 2): 1})
    Counter({(1, 2): 3, (2, 3): 2})
    """
    counts = Counter()
    for ids, n in words.items():
        for pair in zip(ids, ids[1:]):
            counts[pair] += n
    return counts


def merge(ids: tuple[int, ...], pair: tuple[int, int], new_id: int) -> tuple[int, ...]:
    """``ids`` with every occurrence of ``pair`` replaced by ``new_id``, left to right.

    >>> merge((5, 5, 5, 6), (5, 5), 9)
    (9, 5, 6)
    """
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return tuple(out)


@dataclass(frozen=True)
class Merge:
    """One step of training: ``pair`` (two ids) became the token ``new_id``."""

    pair: tuple[int, int]
    count: int  # how often the pair occurred in the corpus when it was merged
    new_id: int
    token: bytes  # the bytes of the new token


def word_ids(word: str) -> tuple[int, ...]:
    """A pre-token as the ids of its UTF-8 bytes (HF's byte ids: "!" is 5, a space 225).

    >>> word_ids(" hi")
    (225, 76, 77)
    """
    return tuple(_BYTE_ID[b] for b in word.encode("utf-8"))



def train(corpus: str, vocab_size: int, min_frequency: int = 2) -> Iterator[Merge]:
    """Learn merges on ``corpus`` until the vocabulary has ``vocab_size`` tokens; yields each merge.

    The pairs are counted once; after each merge only the words it changed are counted again
    (``where`` says which words hold a token), as the Rust trainer does: the same counts, sooner.

    >>> [(m.token, m.count) for m in train("ab ab abc", vocab_size=N_BASE + 2)]
    [(b'ab', 3), (b' ab', 2)]
    """
    counted = training_words(corpus)
    words = [word_ids(w) for w in counted]  # each distinct pre-token as ids; they change as pairs merge
    counts = list(counted.values())  # how often each occurs
    where = defaultdict(set)  # id -> the words that hold it (a word may no longer hold an id listed)
    for i, word in enumerate(words):
        for t in word:
            where[t].add(i)
    vocab = base_vocab()  # id -> token
    ids = {token: i for i, token in enumerate(vocab)}  # token -> id
    stats = get_stats(dict(zip(words, counts)))
    while len(vocab) < vocab_size and stats:
        # the most frequent pair; among equally frequent ones, the smallest ids (as Hugging Face)
        best = max(stats.values())
        pair = min(p for p, n in stats.items() if n == best)
        if best < min_frequency:
            break
        token = vocab[pair[0]] + vocab[pair[1]]
        if token not in ids:  # the same bytes may come from two different pairs: one id for both
            ids[token] = len(vocab)
            vocab.append(token)
        # merge the pair in every word that holds both its tokens, and count a changed word's pairs again
        touched = set()
        for i in where[pair[0]] & where[pair[1]]:
            word, n = words[i], counts[i]
            words[i] = merge(word, pair, ids[token])
            if words[i] != word:
                where[ids[token]].add(i)
                before = get_stats({word: n})
                stats.subtract(before)
                stats.update(get_stats({words[i]: n}))
                touched.update(before)
        for p in touched:  # pairs that no longer occur leave the count
            if stats[p] <= 0:
                del stats[p]
        yield Merge(pair, best, ids[token], token)


def encode(text: str, merges: list[Merge]) -> list[bytes | str]:
    """``text`` cut into tokens with ``merges`` (in their order): special tokens stay whole.

    >>> encode("abc ab<|endoftext|>", list(train("ab ab abc", N_BASE + 2)))
    [b'ab', b'c', b' ab', '<|endoftext|>']
    """
    vocab = vocab_of(merges)
    rank = {m.pair: r for r, m in enumerate(merges)}
    cache: dict[str, tuple[int, ...]] = {}  # a text repeats its words: cut each once
    tokens = []
    for k, part in enumerate(_SPECIAL_SPLIT.split(text)):
        if k % 2 == 1:  # odd parts are the special tokens themselves
            tokens.append(part)
            continue
        for word in pre_tokenize(part):
            if word not in cache:
                cache[word] = _apply(word_ids(word), merges, rank)[0]
            tokens.extend(vocab[i] for i in cache[word])
    return tokens


def _apply(ids: tuple[int, ...], merges: list[Merge], rank: dict) -> tuple[tuple[int, ...], list[tuple[int, int]]]:
    """Merge the pair learned first, again and again, until no learned pair is left.

    Returns the ids, and for each merge applied its rank and how many tokens it saved.
    """
    applied = []
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: rank.get(p, len(merges)))
        if pair not in rank:
            break
        merged = merge(ids, pair, merges[rank[pair]].new_id)
        applied.append((rank[pair], len(ids) - len(merged)))
        ids = merged
    return ids, applied


# ---------------------------------------------------------------------------------------------
# What the Tokenizers tab shows: one text, learned from itself, merge by merge


@dataclass(frozen=True)
class BPESteps:
    """BPE learned on a text and applied to the same text, after every merge."""

    text: str
    asked: int  # merges asked for; fewer are learned when no pair is left that occurs twice
    merges: list[Merge]
    tokens_per_step: list[int]  # the text's token count after 0, 1, ..., len(merges) merges
    tokens: list[bytes | str] = field(repr=False)  # the text's tokens after the last merge

    @property
    def counts(self) -> list[int]:
        return [m.count for m in self.merges]

    def tokens_after(self, n: int) -> list[bytes | str]:
        """The text's tokens after the first ``n`` merges."""
        if not 0 <= n <= len(self.merges):
            raise ValueError(f"there are {len(self.merges)} merges; n must be 0..{len(self.merges)}, got {n}")
        return self.tokens if n == len(self.merges) else encode(self.text, self.merges[:n])

    def pairs_shown(self) -> list[list[str]]:
        """Each merge's pair as the tab shows tokens: ``[["·", "t"], ["h", "e"], ...]``."""
        vocab = vocab_of(self.merges)
        return [[show_token(vocab[a]), show_token(vocab[b])] for a, b in (m.pair for m in self.merges)]

    def to_dict(self) -> dict:
        """The JSON ``/bpe_steps`` returns; tokens shown as ``/tokenize`` shows them (· for a space)."""
        return {"merges": self.pairs_shown(), "counts": self.counts, "tokens_per_step": self.tokens_per_step,
                "tokens": [show_token(t) for t in self.tokens]}


def show_token(token: bytes | str) -> str:
    """A token as the tab prints it: whitespace visible, the bytes of a cut character in hex.

    >>> show_token(b" the"), show_token("<|im_end|>"), show_token("🍎".encode()[:2])
    ('·the', '<|im_end|>', '⟨f0 9f⟩')
    """
    from .compare import show_bytes, show_whitespace  # noqa: PLC0415 (compare imports this module)

    return show_whitespace(token) if isinstance(token, str) else show_bytes(token)


def check_bpe_input(text: str, n_merges: int) -> None:
    """Refuse what ``bpe_steps`` cannot do in about a second, with a message that says what to change."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("there is no text to learn merges from: type or paste some text")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"the text has {len(text):,} characters; BPE step by step learns from at most "
                         f"{MAX_TEXT_CHARS:,}, so paste a shorter piece")
    if isinstance(n_merges, bool) or not isinstance(n_merges, int) or not 0 <= n_merges <= MAX_MERGES:
        raise ValueError(f"the number of merges must be a whole number from 0 to {MAX_MERGES}, got {n_merges!r}")


def bpe_steps(text: str, n_merges: int) -> BPESteps:
    """Learn up to ``n_merges`` merges from ``text`` itself and count its tokens after each one.

    Fewer merges come back when no pair is left that occurs twice. The last tokens equal the
    ``bpe`` tokenizer's for ``text`` learned from ``text`` with vocabulary ``261 + len(merges)``.
    """
    check_bpe_input(text, n_merges)
    merges = list(train(text, N_BASE + n_merges))
    # the text as encode cuts it (the whole text, special tokens apart), and how it shrinks
    pieces = _SPECIAL_SPLIT.split(text)
    specials = sum(1 for k, p in enumerate(pieces) if k % 2 == 1)
    words = Counter(w for k, p in enumerate(pieces) if k % 2 == 0 for w in pre_tokenize(p))
    tokens_per_step = [specials + sum(len(word_ids(w)) * n for w, n in words.items())]
    saved = [0] * len(merges)  # tokens each merge saves in the text
    rank = {m.pair: r for r, m in enumerate(merges)}
    for w, n in words.items():
        for r, fewer in _apply(word_ids(w), merges, rank)[1]:
            saved[r] += fewer * n
    for fewer in saved:
        tokens_per_step.append(tokens_per_step[-1] - fewer)
    return BPESteps(text, n_merges, merges, tokens_per_step, encode(text, merges))
