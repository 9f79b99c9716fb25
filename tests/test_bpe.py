"""The readable BPE (tinylm.bpe) learns what Hugging Face's Rust trainer learns, merge for merge.

Each corpus is trained both ways, with the settings of ``BPETokenizer.train`` (byte-level
pre-tokenizer, the five special tokens, min_frequency 2), and the merges must be the same pairs
in the same order; then ``bpe_steps``' last tokens must be the ``bpe`` tokenizer's."""

import json
import random

import pytest

from tinylm import bpe
from tinylm.compare import learned_tokenizer, tokenize_report
from tinylm.data import load_corpus
from tinylm.tokenizer import BPETokenizer

EMOJI_AND_CJK = ("I ❤️ tokenizers 🤖🚀 and 🍎🍎, 🍎🍎🍎! 我喜欢猫。我喜欢狗。日本語のテキストも読めます。\n"
                 "Ünïcödé text, 👩‍👩‍👧 families 👩‍👩‍👧 and flags 🇵🇹🇧🇷 🇵🇹.\n\n\tcafé ☕ café ☕☕\n") * 4


def corpus(name: str) -> str:
    if name == "emoji_and_cjk":
        return EMOJI_AND_CJK
    return load_corpus(name).train[:20_000]  # tiny_shakespeare (English), phrases_pt (Portuguese), names


def hf_merges(text: str, vocab_size: int) -> list[tuple[str, str]]:
    """The merges of ``BPETokenizer.train``, as the printable-symbol pairs tokenizer.json stores."""
    model = json.loads(BPETokenizer.train(text, vocab_size).hf.to_str())["model"]
    return [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]


def readable_merges(text: str, vocab_size: int) -> list[tuple[str, str]]:
    merges = list(bpe.train(text, vocab_size))
    vocab = bpe.vocab_of(merges)
    symbols = lambda token: "".join(bpe.BYTE_SYMBOLS[b] for b in token)  # noqa: E731
    return [(symbols(vocab[a]), symbols(vocab[b])) for a, b in (m.pair for m in merges)]


@pytest.mark.parametrize("name", ["tiny_shakespeare", "phrases_pt", "emoji_and_cjk", "names"])
def test_the_same_merges_in_the_same_order_as_hugging_face(name):
    text = corpus(name)
    vocab_size = bpe.N_BASE + 300
    ours = readable_merges(text, vocab_size)
    assert len(ours) > 50  # enough merges to see ties broken and words merged into long tokens
    assert ours == hf_merges(text, vocab_size)


def test_the_same_ids_as_hugging_face():
    text = corpus("phrases_pt")
    merges = list(bpe.train(text, bpe.N_BASE + 100))
    hf_vocab = json.loads(BPETokenizer.train(text, bpe.N_BASE + 100).hf.to_str())["model"]["vocab"]
    symbols = {i: t if isinstance(t, str) else "".join(bpe.BYTE_SYMBOLS[b] for b in t)
               for i, t in bpe.vocab_of(merges).items()}
    assert symbols == {i: t for t, i in hf_vocab.items()}


def test_the_same_merges_on_random_small_corpora():
    """Small alphabets make many ties and repeated letters ("aaaa"), where the rules show most."""
    rng = random.Random(0)
    for _ in range(150):
        alphabet = rng.choice(["ab", "abc ", "ab\n ", "aé🍎 ", "xy.'s \n"])
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(20, 300)))
        if not text.strip():
            continue
        vocab_size = bpe.N_BASE + rng.randint(1, 80)
        assert readable_merges(text, vocab_size) == hf_merges(text, vocab_size), (text, vocab_size)


def test_pre_tokenize_matches_hugging_face():
    from tokenizers import pre_tokenizers

    from tinylm.compare import _byte_of_symbol

    hf = pre_tokenizers.ByteLevel(add_prefix_space=False)
    text = "It's 2024: we'll   see!!\n\n  Eu gosto de maçã 🍎🍎. 我喜欢猫 x\t\ty 3.14 don't ...?\r\n end  "
    theirs = [bytes(_byte_of_symbol()[c] for c in piece).decode() for piece, _ in hf.pre_tokenize_str(text)]
    assert bpe.pre_tokenize(text) == theirs


@pytest.mark.parametrize("text", [EMOJI_AND_CJK[:300], "Eu gosto de comer maçã com açúcar. " * 20,
                                  "hello<|endoftext|> hello hello<|im_end|>hello"])
def test_bpe_steps_ends_with_the_bpe_tokenizers_tokens(text):
    steps = bpe.bpe_steps(text, 40)
    fast = tokenize_report(learned_tokenizer("bpe", text, bpe.N_BASE + len(steps.merges)), text)
    assert steps.to_dict()["tokens"] == fast.tokens
    assert steps.tokens_per_step[-1] == fast.n_tokens


def test_the_token_count_falls_merge_by_merge():
    text = corpus("tiny_shakespeare")[:3000]
    steps = bpe.bpe_steps(text, 60)
    assert len(steps.merges) == 60 and len(steps.tokens_per_step) == 61
    assert steps.tokens_per_step[0] == len(text.encode("utf-8"))  # before any merge: one token per byte
    assert all(a > b for a, b in zip(steps.tokens_per_step, steps.tokens_per_step[1:]))
    assert steps.counts == sorted(steps.counts, reverse=True)  # the best count never grows
    for n in (0, 1, 30, 60):
        assert len(steps.tokens_after(n)) == steps.tokens_per_step[n]
    assert b"".join(steps.tokens_after(30)).decode("utf-8") == text  # cutting loses nothing


def test_merges_stop_when_no_pair_occurs_twice():
    steps = bpe.bpe_steps("abcd", 10)
    assert steps.merges == [] and steps.tokens_per_step == [4]
    assert bpe.bpe_steps("abab", 10).to_dict()["merges"] == [["a", "b"]]


@pytest.mark.parametrize("text, n_merges, message", [
    ("", 10, "no text"), ("   ", 10, "no text"), ("x" * (bpe.MAX_TEXT_CHARS + 1), 10, "at most"),
    ("hello", -1, "from 0 to"), ("hello", bpe.MAX_MERGES + 1, "from 0 to"), ("hello", 2.5, "whole number"),
    (None, 10, "no text"),
])
def test_bad_input_is_refused_with_a_clear_message(text, n_merges, message):
    with pytest.raises(ValueError, match=message):
        bpe.bpe_steps(text, n_merges)
