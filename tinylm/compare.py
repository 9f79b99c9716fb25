"""Compare tokenizers: the same text cut four ways, and what each cut costs.

This is what the app's Tokenizers tab shows. The four kinds of :mod:`tinylm.tokenizer` read the
same text; ``split``, ``char`` and ``bpe`` learn their vocabulary from a corpus you choose, while
``gpt2`` brings the 50,257 tokens OpenAI learned on WebText. A :class:`TokenizationReport` holds
one kind's answer: the tokens, their ids, how many characters each token covers on average, and
which words or characters the vocabulary did not have.

>>> [(r.kind, r.n_tokens, r.unknown) for r in compare_tokenizers("hi there", "hi you", 300, kinds=("split", "char"))]
[('split', 2, ['there']), ('char', 8, ['t', 'e', 'r'])]

Trained tokenizers are cached by (kind, corpus fingerprint, vocab size), so moving a slider
back, or retyping the text, answers at once instead of training again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

from .bpe import BYTE_SYMBOLS
from .tokenizer import KINDS, PRETRAINED_KINDS, SPECIAL_TOKENS, BPETokenizer, Span, Tokenizer, build_tokenizer

MAX_TEXT_CHARS = 200_000  # the longest text the tab shows: four columns of spans in a browser
BPE_VOCAB_MIN = 256 + len(SPECIAL_TOKENS)  # 256 byte tokens + the special tokens, no merges yet
BPE_VOCAB_MAX = 8192  # trains in well under a second on ~1 MB of text
COMPARE_KINDS = ("split", "gpt2", "bpe", "char")  # the order of the tab's columns
CACHE_SIZE = 32  # trained tokenizers kept, least recently used dropped first
WHITESPACE_SHOWN = {" ": "·", "\n": "↵", "\t": "→"}  # how a token shows the whitespace it holds
_WHITESPACE_TABLE = str.maketrans(WHITESPACE_SHOWN)


class CompareError(ValueError):
    """The text or a setting cannot be compared (the message says what to change)."""


@dataclass(frozen=True)
class TokenizationReport:
    """One tokenizer's reading of one text."""

    kind: str  # "split", "char", "bpe", "gpt2" (exactly GPT-2) or "gpt2-chat"
    spans: list[Span]  # the tokens, in order, with their ids and offsets in the text
    tokens: list[str]  # each token as the UI shows it: whitespace visible, stray bytes in hex
    n_tokens: int  # len(spans): the sequence length a model would read
    n_chars: int  # characters in the text
    chars_per_token: float  # n_chars / n_tokens: higher means a shorter sequence for the model
    vocab_size: int  # ids this tokenizer knows, special tokens included
    unknown: list[str]  # distinct words (split) or characters (char) mapped to <|unk|>, in order

    @property
    def ids(self) -> list[int]:
        return [s.id for s in self.spans]

    def to_dict(self) -> dict:
        """The JSON the ``/tokenize`` API returns."""
        return {"kind": self.kind, "ids": self.ids, "tokens": self.tokens, "n_tokens": self.n_tokens,
                "chars_per_token": round(self.chars_per_token, 3), "vocab_size": self.vocab_size,
                "unknown": self.unknown}


# ---------------------------------------------------------------------------------------------
# Showing a token: whitespace made visible, and the bytes of a partial character


def show_whitespace(text: str) -> str:
    """Space, newline and tab as visible marks.

    >>> show_whitespace(" the\\tend\\n")
    '·the→end↵'
    """
    return text.translate(_WHITESPACE_TABLE)


def show_bytes(data: bytes) -> str:
    """Bytes as text, with the bytes of an incomplete UTF-8 character in hex brackets.

    Byte-level BPE may cut one character into several tokens: GPT-2 reads "😀" (4 bytes) as
    two tokens, the first three bytes and the last one.

    >>> show_bytes(" 😀".encode()[:4]), show_bytes("😀".encode()[3:])
    ('·⟨f0 9f 98⟩', '⟨80⟩')
    """
    out, stray, i = [], [], 0
    while i < len(data):
        for n in range(1, 5):  # the shortest prefix that is a whole UTF-8 character
            try:
                char = data[i:i + n].decode("utf-8")
                break
            except UnicodeDecodeError:
                char = None
        if char is None:
            stray.append(f"{data[i]:02x}")
            i += 1
            continue
        if stray:
            out.append("⟨" + " ".join(stray) + "⟩")
            stray = []
        out.append(show_whitespace(char))
        i += n
    if stray:
        out.append("⟨" + " ".join(stray) + "⟩")
    return "".join(out)


@lru_cache(maxsize=1)
def _byte_of_symbol() -> dict[str, int]:
    """GPT-2's byte <-> printable symbol table (``tinylm.bpe.BYTE_SYMBOLS``), inverted (``"Ġ"`` -> 32, the space)."""
    return {symbol: byte for byte, symbol in BYTE_SYMBOLS.items()}


def _token_shown(tokenizer: Tokenizer, span: Span) -> str:
    """What the UI prints for one token (see show_whitespace and show_bytes)."""
    if span.special or not isinstance(tokenizer, BPETokenizer):
        return show_whitespace(span.text)
    symbols = tokenizer.hf.id_to_token(span.id)  # e.g. "Ġlove", or "ĠðŁĺ" for " " + 3 bytes
    return show_bytes(bytes(_byte_of_symbol()[s] for s in symbols))


# ---------------------------------------------------------------------------------------------
# Reports


def check_text(text: str) -> None:
    """Refuse text the tab cannot show, with a message that says why."""
    if not isinstance(text, str) or not text.strip():
        raise CompareError("there is no text to tokenize: type or paste some text")
    if len(text) > MAX_TEXT_CHARS:
        raise CompareError(f"the text has {len(text):,} characters; the tokenizer comparison shows at most "
                           f"{MAX_TEXT_CHARS:,} characters, so paste a shorter piece")


def tokenize_report(tokenizer: Tokenizer, text: str) -> TokenizationReport:
    """Tokenize ``text`` and measure the result.

    >>> from tinylm.tokenizer import build_tokenizer
    >>> report = tokenize_report(build_tokenizer("split", "the cat sat"), "the dog sat")
    >>> report.tokens, report.ids, report.unknown
    (['the', 'dog', 'sat'], [8, 5, 7], ['dog'])
    >>> tokenize_report(build_tokenizer("char", "ab "), "a b").tokens
    ['a', '·', 'b']
    """
    check_text(text)
    spans = tokenizer.spans(text)
    unknown = list(dict.fromkeys(s.text for s in spans if s.unknown))  # distinct, in reading order
    shown: dict[tuple[int, str], str] = {}  # a text repeats its tokens: work out each look once
    for s in spans:
        if (s.id, s.text) not in shown:
            shown[s.id, s.text] = _token_shown(tokenizer, s)
    return TokenizationReport(
        kind=tokenizer.kind,
        spans=spans,
        tokens=[shown[s.id, s.text] for s in spans],
        n_tokens=len(spans),
        n_chars=len(text),
        chars_per_token=len(text) / max(len(spans), 1),
        vocab_size=tokenizer.vocab_size,
        unknown=unknown,
    )


# ---------------------------------------------------------------------------------------------
# Tokenizers learned from a corpus, cached


class _TokenizerCache:
    """A small least-recently-used cache of trained tokenizers, safe to share between threads."""

    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict[tuple, Tokenizer] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple, build) -> Tokenizer:
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        tokenizer = build()  # outside the lock: training BPE takes a while
        with self.lock:
            self.entries[key] = tokenizer
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)  # the least recently used
        return tokenizer

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


_cache = _TokenizerCache(CACHE_SIZE)


def check_bpe_vocab_size(vocab_size: int) -> int:
    """The BPE vocabulary size as an int, or a CompareError naming the allowed range."""
    message = (f"the BPE vocabulary size must be a whole number from {BPE_VOCAB_MIN} (256 bytes + "
               f"{len(SPECIAL_TOKENS)} special tokens) to {BPE_VOCAB_MAX:,}, got {vocab_size!r}")
    try:
        size = int(vocab_size)
    except (TypeError, ValueError):
        raise CompareError(message) from None
    if size != vocab_size or not BPE_VOCAB_MIN <= size <= BPE_VOCAB_MAX:
        raise CompareError(message)
    return size


def learned_tokenizer(kind: str, corpus_text: str, bpe_vocab_size: int = 1024) -> Tokenizer:
    """The ``kind`` tokenizer with its vocabulary learned from ``corpus_text`` (gpt2: its own), cached.

    split and char keep every word or character of the corpus; bpe merges until it has
    ``bpe_vocab_size`` tokens, or runs out of pairs seen at least twice on a small corpus.

    >>> learned_tokenizer("char", "banana").vocab_size  # 6 special ids + a, b, n
    9
    """
    from .data import text_fingerprint  # tinylm.data imports `datasets`: only when a corpus is needed

    if kind not in KINDS:
        raise CompareError(f"unknown tokenizer kind {kind!r}; choose one of {', '.join(KINDS)}")
    if kind in PRETRAINED_KINDS:
        return _cache.get((kind,), lambda: build_tokenizer(kind))
    if not isinstance(corpus_text, str) or not corpus_text.strip():
        raise CompareError(f"the {kind} tokenizer learns its vocabulary from a corpus, and the corpus is empty")
    size = check_bpe_vocab_size(bpe_vocab_size) if kind == "bpe" else None
    key = (kind, text_fingerprint(corpus_text), size)
    return _cache.get(key, lambda: build_tokenizer(kind, corpus_text, size))


def dataset_text(name: str) -> str:
    """The train split of a shipped dataset (one of ``tinylm.data.list_datasets()``), read once.

    Only dataset names are accepted, never file paths: the name may come from a web request.
    """
    from .data import list_datasets, load_corpus

    if name not in list_datasets():
        raise CompareError(f"unknown dataset {name!r}; choose one of {', '.join(list_datasets())}")
    return load_corpus(name).train  # read once: load_corpus keeps the shipped datasets


def compare_tokenizers(text: str, corpus_text: str, bpe_vocab_size: int = 1024,
                       kinds: tuple[str, ...] = COMPARE_KINDS) -> list[TokenizationReport]:
    """One report per kind for ``text``; split, char and bpe learn from ``corpus_text``.

    >>> for report in compare_tokenizers("the cat", "the cat sat on the mat", 300):
    ...     print(report.kind, report.tokens)
    split ['the', 'cat']
    gpt2 ['the', '·cat']
    bpe ['the', '·', 'c', 'at']
    char ['t', 'h', 'e', '·', 'c', 'a', 't']
    """
    check_text(text)
    if len(set(kinds)) != len(kinds) or not set(kinds) <= set(KINDS):
        raise CompareError(f"kinds must be distinct names from {', '.join(KINDS)}, got {', '.join(kinds)}")
    return [tokenize_report(learned_tokenizer(kind, corpus_text, bpe_vocab_size), text) for kind in kinds]
