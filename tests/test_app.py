"""The app: the Tokenizers tab's handlers called directly, then the composed app served in-process
and called through gradio_client, the way a script would use the Space."""


import gradio as gr
import pytest

from tinylm.compare import COMPARE_KINDS, MAX_TEXT_CHARS
from tinylm_app import tokenizers_tab
from tinylm_app.tokenizers_tab import THE_TEXT, compare, tokenize

CORPUS_NAME = "phrases_pt"  # ships in datasets_cfg/, loads in milliseconds


# --- handlers, no server -------------------------------------------------------------------

def test_compare_fills_the_four_columns():
    columns = compare("Eu gosto de comer maçã com açúcar", CORPUS_NAME, 400, False)
    assert len(columns) == len(COMPARE_KINDS) == 4
    split, gpt2, bpe, char = columns
    for column in columns:
        assert "tokens" in column and "chars/token" in column and "class='tok" in column
    assert "unknown words" in split and "açúcar" in split  # not in the phrases vocabulary
    assert "byte-level: nothing is unknown" in gpt2 and "vocabulary <b>50,257</b>" in gpt2
    assert "<sub>" not in bpe
    assert "·de" in gpt2  # the space before a word is part of its token


def test_show_ids_prints_each_id_under_its_token():
    columns = compare("hello world", THE_TEXT, 300, True)
    assert all("<sub>" in column for column in columns)
    assert "title='id 31373'" in columns[1]  # GPT-2's id for "hello"


def test_user_text_is_escaped_not_rendered():
    columns = compare("<script>alert(1)</script> ${name} {{x}}", THE_TEXT, 300, False)
    for column in columns:
        assert "<script>" not in column and "${" not in column and "{{" not in column
        assert "&lt;" in column


@pytest.mark.parametrize("text, message", [("", "no text to tokenize"),
                                           ("x" * (10 * 1024 * 1024), f"{MAX_TEXT_CHARS:,} characters")])
def test_bad_text_warns_and_shows_the_reason(text, message):
    with pytest.warns(UserWarning, match=message):  # gr.Warning outside a request is a warning
        columns = compare(text, THE_TEXT, 1024, False)
    assert all(message in column and "class='stats error'" in column for column in columns)


def test_tokenize_answers_json_and_refuses_bad_input_clearly():
    answer = tokenize("eu gosto de açúcar", "split", CORPUS_NAME, 1024)
    assert answer["kind"] == "split" and answer["n_tokens"] == 4 and answer["unknown"] == ["açúcar"]
    assert set(answer) == {"kind", "ids", "tokens", "n_tokens", "chars_per_token", "vocab_size", "unknown"}
    with pytest.raises(gr.Error, match="unknown dataset"):
        tokenize("hello", "bpe", "/etc/passwd", 1024)
    with pytest.raises(gr.Error, match="kinds must be"):
        tokenize("hello", "words", THE_TEXT, 1024)


def test_the_tab_builds_alone_with_its_api():
    demo = tokenizers_tab.build()
    assert {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"} == {"tokenize", "bpe_steps"}


# --- the composed app, served ---------------------------------------------------------------

@pytest.fixture(scope="module")
def served_app(serve):
    import app

    return app.demo, serve(app.demo)


def test_the_app_composes_all_tabs(served_app):
    demo, _ = served_app
    tabs = [block.label for block in demo.blocks.values() if isinstance(block, gr.Tab)]
    assert tabs[:5] == ["Tokenizers", "Train", "Predict", "Weights", "Inspect"]  # then Inspect's own sub-tabs


def test_the_app_lists_every_tabs_endpoints(served_app):
    from gradio_client import Client

    _, url = served_app
    endpoints = Client(url, verbose=False).view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/tokenize", "/bpe_steps", "/train", "/predict", "/generate", "/edit_weight", "/imprint",
            "/walkthrough"} <= set(endpoints)


def test_tokenize_through_gradio_client(served_app):
    from gradio_client import Client

    _, url = served_app
    client = Client(url, verbose=False)
    answer = client.predict("Eu gosto de maçã 😀", "gpt2", CORPUS_NAME, 1024, api_name="/tokenize")
    assert answer["kind"] == "gpt2" and answer["unknown"] == []
    assert answer["tokens"][-2:] == ["·⟨f0 9f 98⟩", "⟨80⟩"]  # the emoji's 4 bytes in two tokens
    answer = client.predict("Eu gosto de maçã", "bpe", THE_TEXT, 300, api_name="/tokenize")
    assert answer["vocab_size"] <= 300 and answer["n_tokens"] >= 4
    with pytest.raises(Exception, match="BPE vocabulary size"):
        client.predict("hello", "bpe", CORPUS_NAME, 100_000, api_name="/tokenize")
