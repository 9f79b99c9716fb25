"""Tokenizers: how text becomes the integer ids a language model reads.

Four kinds behind one interface, from the most naive to the real thing:

- ``split``: whitespace-separated words, a word vocabulary built from a corpus, and an
  ``<|unk|>`` id for every word the corpus never had (predicting the next *word*).
- ``char``: one id per character seen in a corpus (Karpathy's char-rnn / nanoGPT
  ``shakespeare_char``).
- ``bpe``: byte-level byte-pair encoding (Sennrich et al. 2016, as used by GPT-2) trained on
  your own corpus with Hugging Face ``tokenizers``.
- ``gpt2``: the real GPT-2 tokenizer (Radford et al. 2019), loaded offline from the vocabulary
  shipped in ``tinylm/assets/gpt2`` (derived from OpenAI's published ranks, see its README):
  exactly GPT-2's 50,257 ids, whose only special token is ``<|endoftext|>`` (50256). To GPT-2,
  ``<|im_start|>`` is text: ``<``, ``|``, ``im``, ``_``, ``start``, ``|``, ``>``.
- ``gpt2-chat``: GPT-2's vocabulary plus our padding and chat tokens as ids 50257..50260, for a
  model that has to read and write conversations with GPT-2's pieces.

The other kinds know the same special tokens, each a single id: a padding token (never a
training target), end of text, and the three chat tokens. All of them save as a Hugging Face
``tokenizer.json`` + ``tokenizer_config.json``, so ``transformers.AutoTokenizer`` loads them.

>>> tok = CharTokenizer.from_corpus("hello")
>>> tok.encode("hole")
[7, 9, 8, 6]
>>> tok.decode(tok.encode("hole"))
'hole'
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tokenizers import Regex, decoders, models, pre_tokenizers, processors, trainers
from tokenizers import Tokenizer as HFTokenizer

PAD = "<|pad|>"  # pads short sequences in a batch; its targets are ignored by the loss
EOT = "<|endoftext|>"  # separates documents; generation stops here
IM_START = "<|im_start|>"  # chat: starts a message, followed by the role
IM_SEP = "<|im_sep|>"  # chat: separates the role from the content
IM_END = "<|im_end|>"  # chat: ends a message
UNK = "<|unk|>"  # split/char only: a word or character the vocabulary does not have
SPECIAL_TOKENS = (PAD, EOT, IM_START, IM_SEP, IM_END)

KINDS = ("split", "char", "bpe", "gpt2", "gpt2-chat")
PRETRAINED_KINDS = ("gpt2", "gpt2-chat")  # bring their own vocabulary: no corpus to learn from
GPT2_ASSETS = Path(__file__).parent / "assets" / "gpt2"
_SPECIAL_RE = re.compile("(" + "|".join(re.escape(s) for s in (*SPECIAL_TOKENS, UNK)) + ")")


class TokenizerError(ValueError):
    """A tokenizer could not be built, loaded or applied (the message says why)."""


@dataclass(frozen=True)
class Span:
    """One token as the UI shows it: its id, its text, and where it sits in the input."""

    id: int
    text: str  # the characters of the input this token covers (text[start:end])
    start: int  # character offset in the input, inclusive
    end: int  # character offset in the input, exclusive
    special: bool = False  # one of the special tokens
    unknown: bool = False  # mapped to <|unk|> (split/char only)


class Tokenizer:
    """The interface every tokenizer kind implements.

    Subclasses provide ``encode``/``decode``/``spans`` and ``hf``, an equivalent Hugging Face
    ``tokenizers.Tokenizer`` used for saving and for ``transformers``.
    """

    kind: str = ""

    # --- the three core operations -------------------------------------------------------
    def encode(self, text: str, allow_special: bool = True) -> list[int]:
        """Text -> ids. With ``allow_special=False`` a special token's text is ordinary text."""
        return [s.id for s in self.spans(text, allow_special)]

    def decode(self, ids: list[int]) -> str:
        raise NotImplementedError

    def spans(self, text: str, allow_special: bool = True) -> list[Span]:
        raise NotImplementedError

    def unknown_pieces(self, text: str, allow_special: bool = True) -> list[str]:
        """The distinct pieces of ``text`` this vocabulary lacks, in reading order (each would read as
        ``<|unk|>``); always none for a byte-level tokenizer.

        >>> CharTokenizer.from_corpus("abc").unknown_pieces("cab, bad")
        [',', ' ', 'd']
        """
        return list(dict.fromkeys(s.text for s in self.spans(text, allow_special) if s.unknown))

    # --- vocabulary ----------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size(with_added_tokens=True)

    @property
    def special_ids(self) -> dict[str, int]:
        """Special token text -> id, e.g. ``{"<|pad|>": 0, "<|endoftext|>": 1, ...}``."""
        return {s: self.hf.token_to_id(s) for s in SPECIAL_TOKENS if self.hf.token_to_id(s) is not None}

    @property
    def non_text_ids(self) -> list[int]:
        """Ids that stand for no text: the special tokens, and ``<|unk|>`` where there is one.

        A continuation of text never samples them (a char model of names never saw one as a target).
        """
        unk = self.hf.token_to_id(UNK)
        return sorted([*self.special_ids.values(), *([unk] if unk is not None else [])])

    @property
    def pad_id(self) -> int | None:
        """The padding id; None for pure GPT-2, which has none."""
        return self.special_ids.get(PAD)

    @property
    def eot_id(self) -> int:
        return self.special_ids[EOT]

    def token_text(self, token_id: int) -> str:
        """The text one id stands for (a lone byte of a multi-byte character shows as '�')."""
        self._check_ids([token_id])
        return self.decode([token_id])

    def token_to_id(self, token: str) -> int | None:
        """The id of a token given as text (``" the"``, ``"e"``, ``"<|im_end|>"``), or None."""
        ids = self.encode(token)
        return ids[0] if len(ids) == 1 and self.decode(ids) == token else None

    def _check_ids(self, ids) -> None:
        bad = [i for i in ids if not 0 <= int(i) < self.vocab_size]
        if bad:
            raise TokenizerError(f"token id {bad[0]} is out of range: this {self.kind} tokenizer has ids 0..{self.vocab_size - 1}")

    # --- saving: the Hugging Face format, so transformers can load it --------------------
    @property
    def hf(self) -> HFTokenizer:
        raise NotImplementedError

    def save(self, directory: str | Path, **hf_config) -> None:
        """Write tokenizer.json + tokenizer_config.json; ``hf_config`` adds or overrides entries of
        the latter (``model_max_length=128``, ...)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.hf.save(str(directory / "tokenizer.json"))
        config = {"tokenizer_class": "PreTrainedTokenizerFast", "tinylm_kind": self.kind,
                  **self._hf_special_tokens(), "model_max_length": 1_000_000,
                  "clean_up_tokenization_spaces": False, **hf_config}
        (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")

    def to_transformers(self):
        """This tokenizer as a ``transformers.PreTrainedTokenizerFast``."""
        from transformers import PreTrainedTokenizerFast

        return PreTrainedTokenizerFast(tokenizer_object=self.hf, clean_up_tokenization_spaces=False,
                                       **self._hf_special_tokens())

    def _hf_special_tokens(self) -> dict:
        """The special tokens in ``transformers``' terms, only those this vocabulary has (pure
        GPT-2 has no pad and no chat tokens, and must not gain them by being saved)."""
        roles = {"eos_token": EOT, "bos_token": EOT, "pad_token": PAD, "unk_token": UNK}
        out = {role: token for role, token in roles.items() if self.hf.token_to_id(token) is not None}
        chat = [s for s in (IM_START, IM_SEP, IM_END) if self.hf.token_to_id(s) is not None]
        return {**out, "additional_special_tokens": chat} if chat else out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size})"


# ---------------------------------------------------------------------------------------
# split and char: a Python dict from pieces to ids, plus the same thing as a HF tokenizer
# ---------------------------------------------------------------------------------------


class _VocabTokenizer(Tokenizer):
    """A vocabulary list ``itos`` (id -> piece): ids 0..5 are the special tokens and <|unk|>."""

    piece_re: re.Pattern  # what one piece of ordinary text is (a word, a character)
    joiner: str  # what goes between pieces when decoding

    def __init__(self, itos: list[str]):
        if list(itos[: len(SPECIAL_TOKENS) + 1]) != [*SPECIAL_TOKENS, UNK]:
            raise TokenizerError(f"a {self.kind} vocabulary must start with the special tokens {[*SPECIAL_TOKENS, UNK]}")
        self.itos = list(itos)
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self.unk_id = self.stoi[UNK]
        # ordinary text never turns into a special id (a corpus may contain the word "<|pad|>")
        self.ordinary = {s: i for s, i in self.stoi.items() if i > self.unk_id}
        self._hf = None

    @classmethod
    def from_corpus(cls, corpus: str, vocab_size: int | None = None) -> "_VocabTokenizer":
        """The ``vocab_size`` most frequent pieces of ``corpus`` (all of them if None)."""
        counts = Counter(cls.piece_re.findall(corpus))
        for special in (*SPECIAL_TOKENS, UNK):  # they already have their ids
            counts.pop(special, None)
        if not counts:
            raise TokenizerError(f"cannot build a {cls.kind} vocabulary from an empty corpus")
        n_fixed = len(SPECIAL_TOKENS) + 1
        if vocab_size is not None and vocab_size <= n_fixed:
            raise TokenizerError(f"vocab_size must be more than {n_fixed} (the special tokens), got {vocab_size}")
        # most frequent first, ties broken alphabetically, then sorted so ids are stable and readable
        keep = sorted(counts, key=lambda p: (-counts[p], p))
        if vocab_size is not None:
            keep = keep[: vocab_size - n_fixed]
        return cls([*SPECIAL_TOKENS, UNK, *sorted(keep)])

    def spans(self, text: str, allow_special: bool = True) -> list[Span]:
        out = []
        # special tokens are cut out first; what lies between them is split into pieces
        parts = _SPECIAL_RE.split(text) if allow_special else [text]
        offset = 0
        for k, part in enumerate(parts):
            if allow_special and k % 2 == 1:  # odd parts are the special tokens themselves
                out.append(Span(self.stoi[part], part, offset, offset + len(part), special=part != UNK, unknown=part == UNK))
            else:
                for m in self.piece_re.finditer(part):
                    i = self.ordinary.get(m.group(), self.unk_id)
                    out.append(Span(i, m.group(), offset + m.start(), offset + m.end(), unknown=i == self.unk_id))
            offset += len(part)
        return out

    def encode(self, text: str, allow_special: bool = True) -> list[int]:
        if not allow_special or "<|" not in text:  # the fast path: one dict lookup per piece
            get, unk = self.ordinary.get, self.unk_id
            return [get(p, unk) for p in self.piece_re.findall(text)]
        return super().encode(text, allow_special)

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids]
        self._check_ids(ids)
        return self.joiner.join(self.itos[i] for i in ids)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    @property
    def special_ids(self) -> dict[str, int]:
        return {s: self.stoi[s] for s in SPECIAL_TOKENS}

    def token_to_id(self, token: str) -> int | None:
        return self.stoi.get(token)

    @property
    def hf(self) -> HFTokenizer:
        """The same vocabulary as a HF ``WordLevel`` tokenizer (tests check they agree)."""
        if self._hf is None:
            tok = HFTokenizer(models.WordLevel(self.stoi, unk_token=UNK))
            tok.pre_tokenizer = self._hf_pre_tokenizer()
            tok.decoder = self._hf_decoder()
            tok.add_special_tokens([*SPECIAL_TOKENS, UNK])
            self._hf = tok
        return self._hf


class SplitTokenizer(_VocabTokenizer):
    """Naive word tokenizer: ``text.split()``. Whitespace is lost: decode joins words with ' '.

    >>> tok = SplitTokenizer.from_corpus("eu gosto de comer maçã")
    >>> tok.decode(tok.encode("eu gosto de comer pão"))
    'eu gosto de comer <|unk|>'
    """

    kind = "split"
    piece_re = re.compile(r"\S+")
    joiner = " "

    def _hf_pre_tokenizer(self):
        return pre_tokenizers.WhitespaceSplit()

    def _hf_decoder(self):
        return None  # HF joins WordLevel tokens with a space, as we do


class CharTokenizer(_VocabTokenizer):
    """One id per character (a unicode code point)."""

    kind = "char"
    piece_re = re.compile(r".", re.DOTALL)
    joiner = ""

    def _hf_pre_tokenizer(self):
        return pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")

    def _hf_decoder(self):
        return decoders.Fuse()


# ---------------------------------------------------------------------------------------
# bpe and gpt2: byte-level BPE, run by Hugging Face tokenizers (Rust)
# ---------------------------------------------------------------------------------------


class BPETokenizer(Tokenizer):
    """Byte-level BPE: any text (emoji, CJK, code) is bytes, so nothing is ever unknown."""

    def __init__(self, hf: HFTokenizer, kind: str = "bpe"):
        self._hf = hf
        self.kind = kind

    @property
    def hf(self) -> HFTokenizer:
        return self._hf

    @classmethod
    def train(cls, corpus: str | list[str], vocab_size: int = 1024, min_frequency: int = 2) -> "BPETokenizer":
        """Learn merges on ``corpus`` until the vocabulary has ``vocab_size`` entries.

        The first 256 + 5 ids are the byte alphabet and the special tokens; every further id is
        one merge of the two most frequent adjacent pieces (within a GPT-2-style pre-token).
        """
        n_base = 256 + len(SPECIAL_TOKENS)
        if vocab_size < n_base:
            raise TokenizerError(f"a byte-level BPE needs vocab_size of at least {n_base} (256 bytes + special tokens), got {vocab_size}")
        texts = [corpus] if isinstance(corpus, str) else list(corpus)
        if not any(t.strip() for t in texts):
            raise TokenizerError("cannot train a BPE tokenizer on an empty corpus")
        if isinstance(corpus, str):  # feed lines, so the Rust trainer can use every core
            texts = corpus.splitlines(keepends=True)
        tok = HFTokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
        )
        tok.train_from_iterator(texts, trainer=trainer)
        return cls(tok)

    def spans(self, text: str, allow_special: bool = True) -> list[Span]:
        enc = self._encode(text, allow_special)
        specials = set(self.special_ids.values()) if allow_special else set()
        return [Span(i, text[s:e], s, e, special=i in specials) for i, (s, e) in zip(enc.ids, enc.offsets)]

    def encode(self, text: str, allow_special: bool = True) -> list[int]:
        if len(text) < 2 * self.chunk_chars:
            return self._encode(text, allow_special).ids
        # a long text: encode chunks in parallel (Rust threads), cut where GPT-2's pre-tokenizer
        # always cuts, so the ids are exactly those of encoding the whole text at once
        chunks = _chunks_at_safe_cuts(text, self.chunk_chars)
        self._hf.encode_special_tokens = not allow_special
        try:
            encodings = self._hf.encode_batch_fast(chunks, add_special_tokens=False)
        finally:
            self._hf.encode_special_tokens = False
        return [i for enc in encodings for i in enc.ids]

    chunk_chars = 32_768  # texts longer than two chunks are encoded chunk by chunk

    def _encode(self, text: str, allow_special: bool):
        self._hf.encode_special_tokens = not allow_special
        try:
            return self._hf.encode(text, add_special_tokens=False)
        finally:
            self._hf.encode_special_tokens = False

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids]
        self._check_ids(ids)
        return self._hf.decode(ids, skip_special_tokens=False)

    def token_to_id(self, token: str) -> int | None:
        ids = self.encode(token)
        return ids[0] if len(ids) == 1 else None


# A single newline between two non-space characters ("word\nWord") is always a boundary between
# pre-tokens of the GPT-2 regex: no pattern matches a newline followed by a non-space, and the
# whitespace run before the cut is that one newline, matched alone either way.
_SAFE_CUT = re.compile(r"(?<=\S\n)(?=\S)")


def _chunks_at_safe_cuts(text: str, size: int) -> list[str]:
    """Cut ``text`` into pieces of about ``size`` characters at safe cuts (see above)."""
    chunks, start = [], 0
    while len(text) - start > size:
        cut = _SAFE_CUT.search(text, start + size)
        if cut is None:
            break
        chunks.append(text[start:cut.start()])
        start = cut.start()
    chunks.append(text[start:])
    return chunks


@lru_cache(maxsize=1)
def _gpt2_from_assets() -> HFTokenizer:
    vocab, merges = GPT2_ASSETS / "vocab.json", GPT2_ASSETS / "merges.txt"
    if not vocab.exists() or not merges.exists():
        raise TokenizerError(f"the GPT-2 vocabulary is missing from {GPT2_ASSETS}; rebuild it with scripts/build_gpt2_vocab.py")
    tok = HFTokenizer(models.BPE.from_file(str(vocab), str(merges)))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens([EOT])  # GPT-2's own id 50256, its one special token (as in transformers)
    return tok


def gpt2_tokenizer(from_hub: bool = False, chat: bool = False) -> BPETokenizer:
    """The real GPT-2 tokenizer: its 50,257 ids, ``<|endoftext|>`` (50256) its only special token.

    With ``chat=True`` (kind ``gpt2-chat``) pad and the chat tokens are appended as 50257..50260,
    for a model that needs them; GPT-2 itself reads ``<|im_start|>`` as seven pieces of text.

    Offline (the default) it is built from the shipped vocab.json/merges.txt, which are
    byte-identical to GPT-2's. ``from_hub=True`` loads ``openai-community/gpt2`` instead
    (needs the Hugging Face Hub).

    >>> gpt2_tokenizer().encode("<|im_start|>hi<|endoftext|>")
    [27, 91, 320, 62, 9688, 91, 29, 5303, 50256]
    >>> gpt2_tokenizer(chat=True).encode("<|im_start|>hi<|endoftext|>")
    [50258, 5303, 50256]
    """
    if from_hub:
        tok = HFTokenizer.from_pretrained("openai-community/gpt2")
    else:
        # a copy, because encode_special_tokens is toggled per call
        tok = HFTokenizer.from_str(_gpt2_from_assets().to_str())
    if chat:
        tok.add_special_tokens([s for s in SPECIAL_TOKENS if s != EOT])  # EOT keeps 50256
    return BPETokenizer(tok, kind="gpt2-chat" if chat else "gpt2")


# ---------------------------------------------------------------------------------------
# building and loading any kind
# ---------------------------------------------------------------------------------------


def build_tokenizer(kind: str, corpus: str | None = None, vocab_size: int | None = None) -> Tokenizer:
    """Make a tokenizer of ``kind``; split/char/bpe learn their vocabulary from ``corpus``.

    >>> build_tokenizer("char", "abc").vocab_size  # 6 special ids + 3 characters
    9
    """
    if kind not in KINDS:
        raise TokenizerError(f"unknown tokenizer kind {kind!r}; choose one of {', '.join(KINDS)}")
    if kind in PRETRAINED_KINDS:
        return gpt2_tokenizer(chat=kind == "gpt2-chat")
    if corpus is None or not corpus.strip():
        raise TokenizerError(f"a {kind} tokenizer learns its vocabulary from a corpus, and the corpus is empty")
    if kind == "split":
        return SplitTokenizer.from_corpus(corpus, vocab_size)
    if kind == "char":
        return CharTokenizer.from_corpus(corpus, vocab_size)
    return BPETokenizer.train(corpus, vocab_size or 1024)


def load_tokenizer(directory: str | Path) -> Tokenizer:
    """Load a tokenizer saved with ``Tokenizer.save`` (or any HF byte-level BPE ``tokenizer.json``)."""
    directory = Path(directory)
    path = directory / "tokenizer.json"
    if not path.exists():
        raise TokenizerError(f"no tokenizer.json in {directory}")
    try:
        config_path = directory / "tokenizer_config.json"
        kind = json.loads(config_path.read_text()).get("tinylm_kind", "bpe") if config_path.exists() else "bpe"
        hf = HFTokenizer.from_file(str(path))
    except Exception as err:  # a truncated or hand-edited file
        raise TokenizerError(f"{path} is not a valid tokenizer file: {err}") from err
    if kind in ("split", "char"):
        vocab = hf.get_vocab(with_added_tokens=True)
        itos = [None] * len(vocab)
        for piece, i in vocab.items():
            itos[i] = piece
        return (SplitTokenizer if kind == "split" else CharTokenizer)(itos)
    if kind not in KINDS:
        raise TokenizerError(f"{config_path} names an unknown tokenizer kind {kind!r}")
    if kind == "gpt2" and hf.token_to_id(IM_START) is not None:
        kind = "gpt2-chat"  # saved when "gpt2" still carried the chat tokens
    if kind != "gpt2":  # pure GPT-2 stays GPT-2; a foreign tokenizer.json may lack our special tokens
        for s in SPECIAL_TOKENS:
            if hf.token_to_id(s) is None:
                hf.add_special_tokens([s])
    return BPETokenizer(hf, kind=kind)


def ordinary_tokens(tokenizer: Tokenizer) -> list[int]:
    """Ids of the tokens text is made of: every id but ``non_text_ids`` (the special tokens, <|unk|>).

    >>> ordinary_tokens(build_tokenizer("char", "ba"))  # ids 0-5 are special, then "a", "b"
    [6, 7]
    """
    non_text = set(tokenizer.non_text_ids)
    return [i for i in range(tokenizer.vocab_size) if i not in non_text]
