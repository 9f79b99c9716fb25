"""BPE merge by merge in the Tokenizers tab: the handlers, and ``/bpe_steps`` through
gradio_client, whose last tokens must be ``/tokenize``'s bpe tokens for the text learned from
itself with vocabulary 261 + the number of merges."""

import gradio as gr
import pytest

from tinylm import bpe
from tinylm_app import tokenizers_tab as tab

TEXTS = ["Eu gosto de comer maçã com açúcar. A função do coração é bombear o sangue, não é? " * 3,
         tab.EXAMPLES[3] * 2, tab.EXAMPLES[4]]


def test_learning_fills_the_slider_table_and_curve():
    steps, slider, table, curve, view = tab.learn_bpe_steps(TEXTS[0], 40)
    assert slider["maximum"] == slider["value"] == len(steps.merges) == 40
    assert list(table.columns) == ["merge", "pair", "seen", "new token", "tokens after"] and len(table) == 40
    assert table["seen"].tolist() == steps.counts and curve["tokens"].tolist() == steps.tokens_per_step
    assert "Merge 40 of 40" in view and f"<b>{steps.tokens_per_step[-1]:,}</b> tokens" in view


def test_the_slider_shows_the_text_after_each_merge():
    steps = tab.learn_bpe_steps(TEXTS[0], 40)[0]
    start = tab.bpe_step_html(steps, 0)
    assert "Before any merge" in start and start.count("class='tok ") == len(TEXTS[0].encode())
    first = tab.bpe_step_html(steps, 1)
    a, b = steps.to_dict()["merges"][0]
    assert f"<b>{a}</b> + <b>{b}</b>" in first and f"seen {steps.counts[0]:,} times" in first
    assert first.count("class='tok ") == steps.tokens_per_step[1]
    new = bpe.show_token(steps.merges[0].token)  # "⟨a7 c3⟩": the end of "ç" and the start of "ã"
    assert f"token {bpe.N_BASE}, <b>{new}</b>" in first
    assert first.count("outline") == first.count(f"'>{new}</span>") == steps.counts[0]  # outlined wherever it is


def test_bad_input_is_said_in_place_and_refused_by_the_api():
    steps, *_, view = tab.learn_bpe_steps("x" * (bpe.MAX_TEXT_CHARS + 1), 10)
    assert steps is None and "at most" in view
    with pytest.raises(gr.Error, match="from 0 to 500"):
        tab.bpe_steps_api("hello hello", 501)
    with pytest.raises(gr.Error, match="no text"):
        tab.bpe_steps_api("   ", 10)


def test_bpe_steps_ends_where_tokenize_does_through_gradio_client(serve):
    from gradio_client import Client

    client = Client(serve(tab.build()), verbose=False)
    for text in TEXTS:
        answer = client.predict(text, 50, api_name="/bpe_steps")
        assert set(answer) == {"merges", "counts", "tokens_per_step", "tokens"}
        assert len(answer["counts"]) == len(answer["merges"]) == len(answer["tokens_per_step"]) - 1
        fast = client.predict(text, "bpe", tab.THE_TEXT, 261 + len(answer["merges"]), api_name="/tokenize")
        assert answer["tokens"] == fast["tokens"]
        assert answer["tokens_per_step"][-1] == fast["n_tokens"]
    with pytest.raises(Exception, match="at most"):
        client.predict("x" * (bpe.MAX_TEXT_CHARS + 1), 10, api_name="/bpe_steps")
