"""Sampling: the decoding knobs, seeded draws, the KV cache, stop tokens and prompts; the next token
and continuations in text."""

import math

import pytest
import torch

from tinylm.models import build_model
from tinylm.sample import (
    UnknownTokenError,
    context_tokens,
    continue_text,
    filter_logits,
    generate,
    next_token_probs,
    prompt_ids,
    sample_next_token,
    top_next_tokens,
)
from tinylm.tokenizer import build_tokenizer

VOCAB = 13
BLOCK = 16


@pytest.fixture(scope="module")
def gpt():
    torch.manual_seed(0)
    model = build_model("gpt", vocab_size=VOCAB, block_size=BLOCK, n_layer=2, n_head=2, n_embd=16)
    # a few steps on a cycle through the vocabulary: a fresh GPT repeats one token forever,
    # this one has opinions that change along the sequence (and are not yet certain)
    cycle = torch.randperm(VOCAB, generator=torch.Generator().manual_seed(0)).repeat(4)
    x = torch.stack([cycle[s:s + BLOCK] for s in range(8)])  # (8, BLOCK)
    y = torch.stack([cycle[s + 1:s + 1 + BLOCK] for s in range(8)])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(25):
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def logits_of(probs) -> torch.Tensor:
    return torch.tensor(probs).log()


def greedy(model, ids, n):
    """The plain greedy loop, written out: argmax of the last position, again and again."""
    ids = list(ids)
    for _ in range(n):
        logits, _ = model(torch.tensor([ids[-model.block_size:]]))
        ids.append(int(logits[0, -1].argmax()))
    return ids[-n:]


# --- one token ------------------------------------------------------------------------------


def test_temperature_zero_is_argmax():
    logits = torch.randn(50, generator=torch.Generator().manual_seed(0))
    assert sample_next_token(logits, temperature=0) == int(logits.argmax())


@pytest.mark.parametrize("knobs", [dict(top_k=1), dict(top_p=1e-6), dict(temperature=1e-4)])
def test_knobs_that_leave_one_choice_are_greedy(knobs):
    g = torch.Generator().manual_seed(0)
    for seed in range(20):
        logits = torch.randn(50, generator=torch.Generator().manual_seed(seed))
        assert sample_next_token(logits, generator=g, **knobs) == int(logits.argmax())


def test_seeded_sampling_is_reproducible():
    def draws(seed):
        g = torch.Generator().manual_seed(seed)
        return [sample_next_token(torch.zeros(100), generator=g) for _ in range(30)]  # uniform: room to differ

    assert draws(1) == draws(1)
    assert draws(1) != draws(2)


def test_sampling_follows_the_probabilities():
    probs = [0.7, 0.2, 0.1]
    g = torch.Generator().manual_seed(0)
    draws = [sample_next_token(logits_of(probs), generator=g) for _ in range(4000)]
    for token, p in enumerate(probs):
        assert draws.count(token) / len(draws) == pytest.approx(p, abs=0.03)


def test_temperature_divides_the_logits():
    logits = torch.tensor([2.0, 1.0, -1.0])
    torch.testing.assert_close(filter_logits(logits, temperature=2.0), logits / 2)
    torch.testing.assert_close(filter_logits(logits), logits)


def test_top_k_keeps_the_k_likeliest():
    logits = torch.tensor([0.1, 3.0, -1.0, 2.0, 0.5])
    kept = filter_logits(logits, top_k=2)
    assert torch.isfinite(kept).tolist() == [False, True, False, True, False]
    torch.testing.assert_close(kept[[1, 3]], logits[[1, 3]])
    assert torch.equal(filter_logits(logits, top_k=99), logits)  # more than the vocabulary: all


@pytest.mark.parametrize("top_p, kept", [
    (0.4, {0}),  # 0.5 alone reaches 0.4
    (0.7, {0, 3}),  # 0.5 < 0.7 <= 0.5 + 0.25
    (0.8, {0, 3, 1}),  # 0.75 < 0.8 <= 0.9
    (0.95, {0, 1, 2, 3}),
    (1.0, {0, 1, 2, 3}),
])
def test_top_p_keeps_the_smallest_set_that_reaches_p(top_p, kept):
    probs = [0.5, 0.15, 0.1, 0.25]  # not sorted, so the sort has something to undo
    filtered = filter_logits(logits_of(probs), top_p=top_p)
    assert {i for i in range(4) if torch.isfinite(filtered[i])} == kept
    renormalised = torch.softmax(filtered, dim=-1)
    expected = torch.tensor([p if i in kept else 0.0 for i, p in enumerate(probs)])
    torch.testing.assert_close(renormalised, expected / expected.sum())


@pytest.mark.parametrize("knobs, message", [
    (dict(temperature=-0.5), "temperature must be >= 0"),
    (dict(top_k=0), "top_k must be >= 1"),
    (dict(top_p=0.0), r"top_p must be in \(0, 1\]"),
    (dict(top_p=1.5), r"top_p must be in \(0, 1\]"),
])
def test_invalid_knobs_fail_clearly(gpt, knobs, message):
    with pytest.raises(ValueError, match=message):
        filter_logits(torch.zeros(3), **knobs)
    with pytest.raises(ValueError, match=message):
        sample_next_token(torch.zeros(3), **{"temperature": 1.0, **knobs})
    with pytest.raises(ValueError, match=message):
        list(generate(gpt, [1, 2], 3, **knobs))


@pytest.mark.parametrize("knobs", [dict(top_k=0), dict(top_p=0.0), dict(top_p=1.5)])
def test_greedy_sampling_still_rejects_invalid_knobs(knobs):
    with pytest.raises(ValueError):
        sample_next_token(torch.zeros(3), temperature=0, **knobs)


def test_generate_rejects_a_negative_temperature_before_any_work(gpt):
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        list(generate(gpt, [1, 2], 0, temperature=-1.0))


# --- generation -----------------------------------------------------------------------------


def test_generate_with_and_without_cache_agree_up_to_block_size(gpt):
    prompt = [3, 1, 4]
    n = BLOCK - len(prompt) + 1  # the last token is predicted from a full block
    cached = list(generate(gpt, prompt, n, temperature=0))
    plain = list(generate(gpt, prompt, n, temperature=0, use_cache=False))
    assert [t.id for t in cached] == [t.id for t in plain] == greedy(gpt, prompt, n)
    assert [t.prob for t in cached] == pytest.approx([t.prob for t in plain], abs=1e-5)
    assert len({t.id for t in cached}) > 2  # a path worth comparing, not one token repeated


def test_generate_runs_past_the_block_size(gpt):
    # beyond block_size the cache restarts from half a block: different context, same interface
    for use_cache in (True, False):
        tokens = list(generate(gpt, [1], 3 * BLOCK, temperature=0.8, seed=0, use_cache=use_cache))
        assert len(tokens) == 3 * BLOCK
        assert all(0 <= t.id < VOCAB and 0 < t.prob <= 1 for t in tokens)


def test_seeded_generation_is_reproducible(gpt):
    def run(seed):
        return [t.id for t in generate(gpt, [2, 7], 12, temperature=1.0, seed=seed)]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_generated_prob_is_the_models_probability(gpt):
    first = next(generate(gpt, [2, 7], 1, temperature=1.0, seed=0))
    probs = next_token_probs(gpt, [2, 7])
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert first.prob == pytest.approx(probs[first.id].item(), abs=1e-6)


def test_stop_ids_end_generation_after_the_stop_token(gpt):
    path = greedy(gpt, [3, 1, 4], 10)
    stop = path[3]
    tokens = [t.id for t in generate(gpt, [3, 1, 4], 10, temperature=0, stop_ids=[stop])]
    assert tokens == path[:path.index(stop) + 1]


@pytest.mark.parametrize("kind", ["bigram", "mlp"])
def test_generate_without_a_transformer(kind):
    torch.manual_seed(0)
    model = build_model(kind, vocab_size=VOCAB, **({"block_size": 3} if kind == "mlp" else {}))
    if kind == "bigram":
        torch.nn.init.normal_(model.logits)
    model.eval()
    tokens = [t.id for t in generate(model, [5, 6], 8, temperature=0)]
    assert tokens == greedy(model, [5, 6], 8)


def test_generate_rejects_bad_requests(gpt):
    with pytest.raises(ValueError, match="at least one token"):
        list(generate(gpt, [], 3))
    with pytest.raises(ValueError, match="max_new_tokens must be >= 0"):
        list(generate(gpt, [1], -1))
    assert list(generate(gpt, [1], 0)) == []


# --- prompts --------------------------------------------------------------------------------


def test_prompt_with_unknown_characters_names_them():
    tok = build_tokenizer("char", "hello world\n")
    with pytest.raises(UnknownTokenError, match=r"char vocabulary: 'x', '!'"):
        prompt_ids(tok, "hex lo!x")
    ids = prompt_ids(tok, "hex", allow_unknown=True)
    assert ids[-1] == tok.token_to_id("<|unk|>")
    assert prompt_ids(tok, "hello") == tok.encode("hello")


def test_empty_prompt_starts_at_a_line_break():
    with_newline = build_tokenizer("char", "ab\ncd\n")
    assert prompt_ids(with_newline, "") == [with_newline.token_to_id("\n")]
    without = build_tokenizer("char", "abcd")
    assert prompt_ids(without, "") == [without.eot_id]


def test_a_prompt_with_a_special_token_is_known():
    tok = build_tokenizer("char", "hello world\n")
    assert prompt_ids(tok, "<|im_start|>hello") == [tok.special_ids["<|im_start|>"], *tok.encode("hello")]


def test_next_token_probs_reads_the_last_block(gpt):
    long = [i % VOCAB for i in range(3 * BLOCK)]
    torch.testing.assert_close(next_token_probs(gpt, long), next_token_probs(gpt, long[-BLOCK:]))
    assert math.isclose(next_token_probs(gpt, [1]).sum().item(), 1.0, abs_tol=1e-5)


@pytest.mark.parametrize("text", ["eu gosto de comer pão", "Olá 😀 你好 mundo 👨‍👩‍👧 e 🇧🇷"])
def test_text_stream_pieces_concatenate_to_the_decoded_text(text):
    from tinylm.sample import TextStream
    from tinylm.tokenizer import SplitTokenizer, gpt2_tokenizer

    for tok in (SplitTokenizer.from_corpus(text), gpt2_tokenizer()):
        ids = tok.encode(text)
        for n_prompt in (0, 1, 2):
            stream = TextStream(tok, ids[:n_prompt])
            pieces = [stream.push(i) for i in ids[n_prompt:]]
            assert tok.decode(ids[:n_prompt]) + "".join(pieces) == tok.decode(ids)
            assert all("\ufffd" not in p for p in pieces)  # never half a character


# --- the next token ----------------------------------------------------------------------------


def test_top_next_tokens_are_the_model_distribution_sorted(alphabet):
    top = top_next_tokens(alphabet.model, alphabet.tokenizer, "KLM", k=5)
    probs = next_token_probs(alphabet.model, prompt_ids(alphabet.tokenizer, "KLM"))
    assert [t.prob for t in top] == sorted((t.prob for t in top), reverse=True)
    assert top[0].token == "N" and top[0].id == alphabet.tokenizer.encode("N")[0]
    assert all(math.isclose(t.prob, float(probs[t.id]), rel_tol=1e-6) for t in top)
    everything = top_next_tokens(alphabet.model, alphabet.tokenizer, "KLM", k=10_000)
    text_ids = set(range(alphabet.tokenizer.vocab_size)) - set(alphabet.tokenizer.non_text_ids)
    assert {t.id for t in everything} == text_ids  # k is capped at the text tokens: no <|pad|> or <|im_start|>
    specials = float(probs[alphabet.tokenizer.non_text_ids].sum())
    assert math.isclose(sum(t.prob for t in everything) + specials, 1.0, rel_tol=1e-4)


def test_a_continuation_never_samples_a_special_token():
    """An untrained char model gives <|pad|>, <|im_start|>... the same odds as letters: none is written."""
    tokenizer = build_tokenizer("char", "abcdefgh\n")
    torch.manual_seed(0)
    model = build_model("gpt", vocab_size=tokenizer.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)
    tokens = list(continue_text(model, tokenizer, "ab", 200, temperature=1.0, seed=3, stop_at_end=False))
    assert not {t.id for t in tokens} & set(tokenizer.non_text_ids)
    assert len(tokens) == 200


def test_a_word_model_reads_only_its_last_words(phrases):
    assert context_tokens(phrases.model, phrases.tokenizer, "o trem eu gosto de beber") == ["eu", "gosto", "de", "beber"]
    far = top_next_tokens(phrases.model, phrases.tokenizer, "o trem sai eu gosto de beber", k=3)
    near = top_next_tokens(phrases.model, phrases.tokenizer, "eu gosto de beber", k=3)
    assert far == near  # words before the last four make no difference to an MLP with block_size 4


def test_unknown_tokens_are_named_and_an_empty_prompt_works(alphabet, phrases):
    with pytest.raises(UnknownTokenError, match="'a', 'b'"):
        top_next_tokens(alphabet.model, alphabet.tokenizer, "ab", k=3)
    with pytest.raises(UnknownTokenError, match="xyzzy"):
        list(continue_text(phrases.model, phrases.tokenizer, "eu gosto de xyzzy", 3))
    for ckpt in (alphabet, phrases):
        assert len(top_next_tokens(ckpt.model, ckpt.tokenizer, "", k=3)) == 3
        assert len(list(continue_text(ckpt.model, ckpt.tokenizer, "", 4, seed=0, stop_at_end=False))) == 4
    assert context_tokens(alphabet.model, alphabet.tokenizer, "") == ["\n"]  # starts at a line break


def test_continue_text_pieces_add_up_to_the_decoded_text(alphabet, phrases):
    greedy = list(continue_text(alphabet.model, alphabet.tokenizer, "ABC", 4, temperature=0))
    assert "".join(t.token for t in greedy) == "DEFG"
    assert all(0 < t.prob <= 1 for t in greedy)
    words = list(continue_text(phrases.model, phrases.tokenizer, "eu gosto", 5, seed=3))
    assert all(t.token.startswith(" ") for t in words)  # a split model's words come with their space
    assert "".join(t.token for t in words) == " " + phrases.tokenizer.decode([t.id for t in words])
    first = list(continue_text(phrases.model, phrases.tokenizer, "", 2, seed=3))
    assert not first[0].token.startswith(" ")  # nothing before the first word of an empty prompt


def test_continue_text_is_repeatable_with_a_seed_and_checks_its_knobs(alphabet):
    run = lambda seed: [t.id for t in continue_text(alphabet.model, alphabet.tokenizer, "", 30, seed=seed)]  # noqa: E731
    assert run(7) == run(7)
    assert run(7) != run(8)
    assert list(continue_text(alphabet.model, alphabet.tokenizer, "A", 0)) == []
    with pytest.raises(ValueError, match="temperature"):
        list(continue_text(alphabet.model, alphabet.tokenizer, "A", 3, temperature=-1))
    with pytest.raises(ValueError, match="top_p"):
        list(continue_text(alphabet.model, alphabet.tokenizer, "A", 3, top_p=1.5))


def test_a_character_split_across_byte_tokens_appears_whole():
    """Byte-level BPE spells an unseen 'é' as two byte tokens; the first shows as '', the second as 'é'."""
    tokenizer = build_tokenizer("bpe", "plain ascii text only " * 20, 300)
    first, second = tokenizer.encode("é")  # 0xC3, 0xA9
    start = tokenizer.encode("x")[0]
    model = build_model("bigram", vocab_size=tokenizer.vocab_size)
    with torch.no_grad():  # a bigram table that can only write x -> 0xC3 -> 0xA9
        model.logits[start, first] = 20.0
        model.logits[first, second] = 20.0
    pieces = [t.token for t in continue_text(model, tokenizer, "x", 2, temperature=0)]
    assert pieces == ["", "é"]
