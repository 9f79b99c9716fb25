"""tinylm.compare: what the Tokenizers tab shows, checked without a browser."""


import pytest

from tinylm import compare
from tinylm.compare import (
    BPE_VOCAB_MAX,
    BPE_VOCAB_MIN,
    MAX_TEXT_CHARS,
    CompareError,
    compare_tokenizers,
    dataset_text,
    learned_tokenizer,
    show_bytes,
    show_whitespace,
    tokenize_report,
)
from tinylm.tokenizer import UNK, build_tokenizer

CORPUS = "eu gosto de comer pão com manteiga.\neu gosto de beber café com leite.\n" * 20


@pytest.fixture(autouse=True)
def fresh_cache():
    compare._cache.clear()
    yield
    compare._cache.clear()


def test_a_report_measures_the_tokens():
    report = tokenize_report(build_tokenizer("char", "abc "), "ab ba\n")
    assert report.kind == "char"
    assert [s.text for s in report.spans] == ["a", "b", " ", "b", "a", "\n"]
    assert report.tokens == ["a", "b", "·", "b", "a", "↵"]
    assert report.n_tokens == 6 and report.n_chars == 6 and report.chars_per_token == 1.0
    assert report.unknown == ["\n"]  # the corpus had no newline
    assert report.ids == [s.id for s in report.spans]


def test_split_lists_each_unknown_word_once_in_reading_order():
    tok = build_tokenizer("split", CORPUS)
    report = tokenize_report(tok, "eu gosto de comer maçã com açúcar e maçã")
    assert report.unknown == ["maçã", "açúcar", "e"]
    assert report.ids.count(tok.token_to_id(UNK)) == 4
    assert report.vocab_size == tok.vocab_size


def test_whitespace_and_stray_bytes_are_visible():
    assert show_whitespace("a b\tc\n") == "a·b→c↵"
    assert show_bytes("é".encode()) == "é"
    assert show_bytes(b"\xf0\x9f") == "⟨f0 9f⟩"
    assert show_bytes(b" a\xc3") == "·a⟨c3⟩"


def test_gpt2_spells_an_emoji_as_its_bytes():
    report = compare_tokenizers("I ❤ 😀", "", kinds=("gpt2",))[0]
    assert report.tokens[0] == "I"
    # the 4 UTF-8 bytes of 😀 (f0 9f 98 80) end up spread over tokens shown in hex
    assert "".join(report.tokens).replace("⟩⟨", " ").endswith("⟨f0 9f 98 80⟩")
    assert report.unknown == [] and report.vocab_size == 50_257


def test_the_gpt2_column_is_exactly_gpt2():
    """GPT-2 knows one special token; our chat tokens are text to it (issue 13, item 10)."""
    report = compare_tokenizers("<|im_start|>user<|im_sep|>hi<|im_end|><|endoftext|>", "", kinds=("gpt2",))[0]
    assert report.ids == [27, 91, 320, 62, 9688, 91, 29, 7220, 27, 91, 320, 62, 325, 79, 91, 29, 5303,
                          27, 91, 320, 62, 437, 91, 29, 50256]
    assert [s.special for s in report.spans] == [False] * 24 + [True]
    chat = compare_tokenizers("<|im_start|>user", "", kinds=("gpt2-chat",))[0]
    assert chat.ids == [50258, 7220] and chat.vocab_size == 50_261


def test_compare_gives_the_four_columns_in_order():
    reports = compare_tokenizers("eu gosto de café", CORPUS, 300)
    assert [r.kind for r in reports] == ["split", "gpt2", "bpe", "char"]
    by_kind = {r.kind: r for r in reports}
    assert by_kind["split"].n_tokens == 4 and by_kind["split"].unknown == []
    assert by_kind["char"].n_tokens == len("eu gosto de café")
    # a word tokenizer needs the fewest tokens (BPE learned these words whole), characters the most
    assert by_kind["split"].n_tokens <= by_kind["bpe"].n_tokens < by_kind["char"].n_tokens
    for r in reports:  # every kind round-trips (split joins words with one space)
        tok = learned_tokenizer(r.kind, CORPUS, 300)
        assert tok.decode(r.ids) == "eu gosto de café"


def test_more_bpe_merges_mean_fewer_tokens():
    text = "eu gosto de beber café com leite"
    small, large = (compare_tokenizers(text, CORPUS, size, kinds=("bpe",))[0] for size in (BPE_VOCAB_MIN, 400))
    assert small.n_tokens == len(text.encode())  # no merges: one token per byte
    assert large.n_tokens < small.n_tokens


def test_the_text_itself_as_corpus_has_no_unknowns():
    text = "Eu gosto de comer maçã com açúcar 🍎"
    for report in compare_tokenizers(text, text, 300):
        assert report.unknown == []


def test_trained_tokenizers_are_cached():
    first = learned_tokenizer("bpe", CORPUS, 320)
    assert learned_tokenizer("bpe", CORPUS, 320) is first
    assert learned_tokenizer("bpe", CORPUS, 330) is not first  # another size is another tokenizer
    assert learned_tokenizer("bpe", CORPUS + "x", 320) is not first  # another corpus too
    assert learned_tokenizer("gpt2", "") is learned_tokenizer("gpt2", "anything")


def test_the_cache_forgets_the_least_recently_used(monkeypatch):
    monkeypatch.setattr(compare._cache, "size", 2)
    a = learned_tokenizer("char", "a")
    learned_tokenizer("char", "b")
    learned_tokenizer("char", "a")  # a is now the most recent
    learned_tokenizer("char", "c")  # evicts b
    assert learned_tokenizer("char", "a") is a
    assert len(compare._cache.entries) == 2


@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_text_is_refused(text):
    with pytest.raises(CompareError, match="no text to tokenize"):
        compare_tokenizers(text, CORPUS)


def test_too_long_text_is_refused_with_the_limit():
    with pytest.raises(CompareError, match=f"{MAX_TEXT_CHARS:,} characters"):
        compare_tokenizers("a" * (MAX_TEXT_CHARS + 1), CORPUS)


@pytest.mark.parametrize("size", [BPE_VOCAB_MIN - 1, BPE_VOCAB_MAX + 1, 300.5, "many"])
def test_bpe_vocab_size_out_of_range_is_refused(size):
    with pytest.raises(CompareError, match=f"from {BPE_VOCAB_MIN}"):
        compare_tokenizers("hello", CORPUS, size, kinds=("bpe",))


def test_a_float_vocab_size_from_a_slider_is_accepted():
    assert compare_tokenizers("hello", CORPUS, 300.0, kinds=("bpe",))[0].kind == "bpe"


def test_empty_corpus_and_unknown_kind_are_refused():
    with pytest.raises(CompareError, match="corpus is empty"):
        compare_tokenizers("hello", " ", kinds=("char",))
    with pytest.raises(CompareError, match="kinds must be"):
        compare_tokenizers("hello", CORPUS, kinds=("words",))


def test_dataset_text_takes_names_only_never_paths():
    assert "ABC" in dataset_text("alphabet")
    with pytest.raises(CompareError, match="unknown dataset '/etc/passwd'"):
        dataset_text("/etc/passwd")


def test_to_dict_is_the_api_answer():
    answer = compare_tokenizers("hi hi", "hi", kinds=("split",))[0].to_dict()
    assert answer == {"kind": "split", "ids": [6, 6], "tokens": ["hi", "hi"], "n_tokens": 2,
                      "chars_per_token": 2.5, "vocab_size": 7, "unknown": []}
