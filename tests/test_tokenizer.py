"""Tokenizers: round trips on every script, the special tokens, spans, saving and clear errors."""

import json
import math

import pytest
import regex

from tinylm.tokenizer import (
    EOT,
    GPT2_ASSETS,
    SPECIAL_TOKENS,
    UNK,
    CharTokenizer,
    TokenizerError,
    build_tokenizer,
    gpt2_tokenizer,
    load_tokenizer,
)

TEXTS = {
    "ascii": "Hello, world! The quick brown fox jumps over the lazy dog.",
    "accents": "Olá, coração, ação",
    "emoji": "I ❤️ tiny models 😀 👨‍👩‍👧‍👦 🇧🇷🇯🇵",  # a ZWJ family and two flags
    "chinese": "你好，世界",
    "japanese": "こんにちは、世界。カタカナとひらがな",
    "javascript": "function add(a, b) {\n\treturn a + b;\n}\n",
    "python": 'def greet(name):\n\tif name:\n\t\tprint(f"hi {name}")\n    return None\n',
}
# the char and split vocabularies are learned from text that contains every test text
CORPUS = "\n".join(TEXTS.values()) + "\nthe end of a story, <|and|> a new one: x_y\n"
# BPE is trained on a little more, so that it has something to merge
BPE_CORPUS = CORPUS * 3 + "the cat sat on the mat and the dog sat on the log\n" * 20
KINDS = ("split", "char", "bpe", "gpt2", "gpt2-chat")
CHAT_KINDS = ("split", "char", "bpe", "gpt2-chat")  # every kind but pure GPT-2 has the chat tokens


@pytest.fixture(scope="module")
def tokenizers():
    """One tokenizer of every kind, built once for the module."""
    return {
        "split": build_tokenizer("split", CORPUS),
        "char": build_tokenizer("char", CORPUS),
        "bpe": build_tokenizer("bpe", BPE_CORPUS, vocab_size=320),
        "gpt2": gpt2_tokenizer(),
        "gpt2-chat": gpt2_tokenizer(chat=True),
    }


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["char", "bpe", "gpt2"])
@pytest.mark.parametrize("name", TEXTS)
def test_round_trip(tokenizers, kind, name):
    tok, text = tokenizers[kind], TEXTS[name]
    ids = tok.encode(text)
    assert all(isinstance(i, int) and 0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text


@pytest.mark.parametrize("name", TEXTS)
def test_split_round_trip_normalises_whitespace(tokenizers, name):
    tok, text = tokenizers["split"], TEXTS[name]
    assert tok.decode(tok.encode(text)) == " ".join(text.split())


def test_bpe_never_meets_an_unknown_text(tokenizers):
    # byte-level: text the BPE never saw still round trips, through the byte alphabet
    text = "Ελληνικά, русский, עברית, 🦀🦀 and \x00\x7f"
    assert tokenizers["bpe"].decode(tokenizers["bpe"].encode(text)) == text


def test_bpe_learns_merges_within_its_budget(tokenizers):
    tok = tokenizers["bpe"]
    assert 256 + len(SPECIAL_TOKENS) < tok.vocab_size <= 320
    assert len(tok.encode("the cat sat on the mat")) < len("the cat sat on the mat")  # merges compress


@pytest.mark.parametrize("kind", ["bpe", "gpt2"])
def test_a_long_text_encodes_as_if_in_one_piece(tokenizers, kind):
    # past 2 * chunk_chars, encode cuts the text into chunks; the ids must not notice
    tok = tokenizers[kind]
    lines = [*TEXTS.values(), "  indented\n", "\n\n", " \n", "\t\n", "'s 12345 x\n", "<|endoftext|>\n", "😀\n"]
    text = "".join(lines[i % len(lines)] + (" " * (i % 3)) for i in range(2 * tok.chunk_chars // 10))
    assert len(text) > 2 * tok.chunk_chars
    for allow_special in (True, False):
        ids = tok.encode(text, allow_special)
        assert ids == [s.id for s in tok.spans(text, allow_special)]  # spans encode the text whole
    assert tok.decode(tok.encode(text)) == text


# --- unknown pieces -------------------------------------------------------------------------


def test_split_unknown_words_map_to_unk_and_are_flagged(tokenizers):
    tok = tokenizers["split"]
    spans = tok.spans("the zebra end")
    unk_id = tok.token_to_id(UNK)
    assert [s.id for s in spans] == [tok.token_to_id("the"), unk_id, tok.token_to_id("end")]
    assert [s.unknown for s in spans] == [False, True, False]
    assert tok.decode(tok.encode("the zebra end")) == f"the {UNK} end"


def test_char_unknown_characters_are_flagged(tokenizers):
    tok = tokenizers["char"]
    spans = tok.spans("hi Ω")
    assert [s.unknown for s in spans] == [False, False, False, True]
    assert spans[-1].text == "Ω" and spans[-1].id == tok.token_to_id(UNK)


# --- GPT-2 ----------------------------------------------------------------------------------


def test_gpt2_matches_openai_ids(tokenizers):
    tok = tokenizers["gpt2"]
    assert tok.encode("Hello world") == [15496, 995]
    assert tok.encode(" the") == [262]
    assert tok.encode(EOT) == [50256]
    assert tok.eot_id == 50256


def test_gpt2_is_pure_gpt2(tokenizers):
    tok = tokenizers["gpt2"]
    assert tok.vocab_size == 50257
    assert tok.special_ids == {EOT: 50256} and tok.pad_id is None
    # GPT-2 reads our chat tokens as text: <, |, im, _, start, |, >
    assert tok.encode("<|im_start|>") == [27, 91, 320, 62, 9688, 91, 29]
    assert [s.text for s in tok.spans("<|im_start|>")] == ["<", "|", "im", "_", "start", "|", ">"]
    assert tok.token_to_id("<|im_end|>") is None


def test_a_conversation_needs_gpt2_chat_not_gpt2(tokenizers):
    from tinylm.chat import ChatFormatError, render_conversation

    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    with pytest.raises(ChatFormatError, match="gpt2 tokenizer has no chat tokens.*gpt2-chat"):
        render_conversation(tokenizers["gpt2"], messages)
    ids, mask = render_conversation(tokenizers["gpt2-chat"], messages)
    assert ids[0] == 50258 and sum(mask) == 2  # "yo" is one GPT-2 token, then <|im_end|>


def test_gpt2_chat_appends_pad_and_chat_tokens(tokenizers):
    tok = tokenizers["gpt2-chat"]
    assert tok.vocab_size == 50261 and tok.eot_id == 50256
    assert tok.pad_id == 50257
    assert sorted(i for s, i in tok.special_ids.items() if s != EOT) == [50257, 50258, 50259, 50260]
    assert tok.encode("Hello world") == [15496, 995]  # GPT-2's pieces otherwise


# OpenAI's own GPT-2 encoder (gpt-2/src/encoder.py), written out here as the reference: its
# pre-tokenizing regex, its byte-to-unicode table and its BPE loop, over the shipped vocabulary.
# <|endoftext|> is one id, as in transformers' GPT-2 tokenizer and tiktoken's allowed_special.
GPT2_PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def bytes_to_unicode() -> dict[int, str]:
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


@pytest.fixture(scope="module")
def openai_gpt2_encode():
    encoder = json.loads((GPT2_ASSETS / "vocab.json").read_text(encoding="utf-8"))
    merges = (GPT2_ASSETS / "merges.txt").read_text(encoding="utf-8").split("\n")[1:]
    ranks = {tuple(m.split()): i for i, m in enumerate(m for m in merges if m)}
    byte_encoder = bytes_to_unicode()

    def bpe(token: str) -> list[str]:
        word = list(token)
        while len(word) > 1:
            pair = min(zip(word, word[1:]), key=lambda p: ranks.get(p, math.inf))
            if pair not in ranks:
                break
            merged, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == pair:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        return word

    def encode(text: str) -> list[int]:
        ids = []
        for k, part in enumerate(text.split(EOT)):
            if k:
                ids.append(encoder[EOT])
            for piece in GPT2_PATTERN.findall(part):
                ids += [encoder[t] for t in bpe("".join(byte_encoder[b] for b in piece.encode("utf-8")))]
        return ids

    return encode


GPT2_TEXTS = {
    **TEXTS,
    "chat template": "<|im_start|>user<|im_sep|>What is 2 + 3?<|im_end|><|im_start|>assistant<|im_sep|>5<|im_end|>",
    "end of text": "The end.<|endoftext|>A new story<|endoftext|>",
    "pad and unk": "<|pad|><|pad|> and <|unk|>",
    "russian": "Привет, мир! Как дела?",
    "arabic": "مرحبا بالعالم",
    "hindi": "नमस्ते दुनिया",
    "contractions and spaces": "I'm sure they'll say it's   fine\n\n\t  ok",
    "numbers": "3.14159 and 1,000,000 and 2026-11-30",
}


@pytest.mark.parametrize("name", GPT2_TEXTS)
def test_gpt2_ids_are_openais_for_any_text(tokenizers, openai_gpt2_encode, name):
    text = GPT2_TEXTS[name]
    ids = tokenizers["gpt2"].encode(text)
    assert ids == openai_gpt2_encode(text)
    assert tokenizers["gpt2"].decode(ids) == text


def test_gpt2_ids_of_a_chat_line_by_heart(tokenizers):
    """Fixed ids, so a change in the reference above cannot hide one in the tokenizer."""
    assert tokenizers["gpt2"].encode("<|im_start|>user<|im_end|><|endoftext|>😀") == \
        [27, 91, 320, 62, 9688, 91, 29, 7220, 27, 91, 320, 62, 437, 91, 29, 50256, 47249, 222]


# --- special tokens -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", CHAT_KINDS)
@pytest.mark.parametrize("special", SPECIAL_TOKENS)
def test_special_token_is_one_id(tokenizers, kind, special):
    tok = tokenizers[kind]
    ids = tok.encode(special)
    assert ids == [tok.special_ids[special]]
    assert tok.decode(ids) == special
    assert [s.special for s in tok.spans(special)] == [True]


@pytest.mark.parametrize("kind", CHAT_KINDS)
def test_special_tokens_are_cut_out_of_text(tokenizers, kind):
    tok = tokenizers[kind]
    text = "<|im_start|>the<|im_sep|>end<|im_end|>"
    ids = tok.encode(text)
    specials = tok.special_ids
    assert ids[0] == specials["<|im_start|>"] and ids[-1] == specials["<|im_end|>"]
    assert specials["<|im_sep|>"] in ids
    assert tok.decode(ids).replace(" ", "") == text  # split decodes with a space between pieces


@pytest.mark.parametrize("kind", ["char", "bpe", "gpt2", "gpt2-chat"])
@pytest.mark.parametrize("special", SPECIAL_TOKENS)
def test_allow_special_false_reads_special_text_as_text(tokenizers, kind, special):
    tok = tokenizers[kind]
    ids = tok.encode(special, allow_special=False)
    assert len(ids) > 1
    assert not set(ids) & set(tok.special_ids.values())
    if kind != "char":  # the char vocabulary lacks some of the letters of the special tokens
        assert tok.decode(ids) == special


def test_split_allow_special_false_reads_special_text_as_a_word(tokenizers):
    tok = tokenizers["split"]
    ids = tok.encode("the <|endoftext|> end", allow_special=False)
    assert tok.eot_id not in ids
    assert ids[1] == tok.token_to_id(UNK)  # a word the vocabulary does not have
    assert [s.id for s in tok.spans("the <|endoftext|> end", allow_special=False)] == ids


def test_split_corpus_with_special_token_words(tmp_path):
    tok = build_tokenizer("split", "once upon a time <|endoftext|> the end <|endoftext|>")
    assert len(tok.itos) == len(set(tok.itos))
    assert tok.eot_id == 1
    tok.save(tmp_path)
    assert load_tokenizer(tmp_path).encode("the end <|endoftext|>") == tok.encode("the end <|endoftext|>")


# --- spans ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["split", "char"])
@pytest.mark.parametrize("name", ["accents", "emoji", "python"])
def test_vocab_spans_are_slices_of_the_text(tokenizers, kind, name):
    text = TEXTS[name] + " <|endoftext|>"
    spans = tokenizers[kind].spans(text)
    assert [s.id for s in spans] == tokenizers[kind].encode(text)
    for span in spans:
        assert text[span.start:span.end] == span.text
    if kind == "char":  # no gaps: every character is one span
        assert "".join(s.text for s in spans) == text
    else:  # only whitespace between the words
        covered = {i for s in spans for i in range(s.start, s.end)}
        assert all(text[i].isspace() for i in range(len(text)) if i not in covered)


@pytest.mark.parametrize("kind", ["bpe", "gpt2"])
@pytest.mark.parametrize("name", TEXTS)
def test_byte_level_spans_cover_the_text(tokenizers, kind, name):
    text = TEXTS[name]
    spans = tokenizers[kind].spans(text)
    assert [s.id for s in spans] == tokenizers[kind].encode(text)
    assert spans[0].start == 0 and spans[-1].end == len(text)
    # several byte tokens may share one character (an emoji), but no character is skipped
    covered = {i for s in spans for i in range(s.start, s.end)}
    assert covered == set(range(len(text)))
    assert all(a.start <= b.start and a.end <= b.end for a, b in zip(spans, spans[1:]))
    assert all(text[s.start:s.end] == s.text for s in spans)


def test_ascii_byte_level_spans_tile_the_text(tokenizers):
    text = TEXTS["ascii"]
    spans = tokenizers["gpt2"].spans(text)
    assert "".join(s.text for s in spans) == text
    assert all(a.end == b.start for a, b in zip(spans, spans[1:]))


# --- saving ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_gives_identical_encodings(tokenizers, kind, tmp_path):
    tok = tokenizers[kind]
    tok.save(tmp_path)
    loaded = load_tokenizer(tmp_path)
    assert (loaded.kind, loaded.vocab_size, loaded.special_ids) == (tok.kind, tok.vocab_size, tok.special_ids)
    for text in [*TEXTS.values(), "the zebra <|endoftext|> end"]:
        assert loaded.encode(text) == tok.encode(text)
        assert loaded.decode(tok.encode(text)) == tok.decode(tok.encode(text))


@pytest.mark.parametrize("kind", KINDS)
def test_transformers_autotokenizer_gives_the_same_ids(tokenizers, kind, tmp_path):
    transformers = pytest.importorskip("transformers")
    tok = tokenizers[kind]
    tok.save(tmp_path)
    auto = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
    for text in [*TEXTS.values(), "<|im_start|>the<|im_sep|>end<|im_end|>"]:
        assert auto.encode(text, add_special_tokens=False) == tok.encode(text)
    assert auto.pad_token_id == tok.pad_id and auto.eos_token_id == tok.eot_id


@pytest.mark.parametrize("name", TEXTS)
def test_char_python_encode_agrees_with_its_hf_twin(tokenizers, name):
    tok = tokenizers["char"]
    for text in (TEXTS[name], TEXTS[name] + "Ω<|endoftext|>\r\n"):
        assert tok.hf.encode(text, add_special_tokens=False).ids == tok.encode(text)
        assert tok.hf.decode(tok.encode(text), skip_special_tokens=False) == tok.decode(tok.encode(text))


# --- errors ---------------------------------------------------------------------------------


def test_unknown_kind_names_the_choices():
    with pytest.raises(TokenizerError, match="unknown tokenizer kind 'wordpiece'.*char"):
        build_tokenizer("wordpiece", "some text")


@pytest.mark.parametrize("kind", ["split", "char", "bpe"])
@pytest.mark.parametrize("corpus", [None, "", " \n\t"])
def test_empty_corpus_fails(kind, corpus):
    with pytest.raises(TokenizerError, match="empty"):
        build_tokenizer(kind, corpus)


@pytest.mark.parametrize("kind, vocab_size, message", [
    ("bpe", 100, "vocab_size of at least 261"),
    ("split", 6, "vocab_size must be more than 6"),
    ("char", 3, "vocab_size must be more than 6"),
])
def test_too_small_vocab_size_fails(kind, vocab_size, message):
    with pytest.raises(TokenizerError, match=message):
        build_tokenizer(kind, CORPUS, vocab_size)


def test_char_vocab_size_keeps_the_most_frequent_characters():
    tok = CharTokenizer.from_corpus("aaaa bbb cc d", vocab_size=6 + 3)
    assert tok.itos[6:] == [" ", "a", "b"]
    assert tok.spans("d")[0].unknown


@pytest.mark.parametrize("kind", KINDS)
def test_out_of_range_id_fails_to_decode(tokenizers, kind):
    tok = tokenizers[kind]
    for bad in (tok.vocab_size, -1):
        with pytest.raises(TokenizerError, match=f"token id {bad} is out of range.*0..{tok.vocab_size - 1}"):
            tok.decode([0, bad])


def test_loading_a_missing_or_broken_tokenizer_fails(tmp_path):
    with pytest.raises(TokenizerError, match="no tokenizer.json"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{ this is not json")
    with pytest.raises(TokenizerError, match="not a valid tokenizer file"):
        load_tokenizer(tmp_path)
