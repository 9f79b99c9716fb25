"""The Forward pass tab: its handlers on the shipped models and a freshly trained one, a bad
context said in place, and ``/walkthrough`` through gradio_client."""

import gradio as gr
import pytest
import torch

from tinylm.pretrained import list_pretrained, load_pretrained
from tinylm.sample import next_token_probs, prompt_ids
from tinylm_app import walkthrough_tab as tab


def test_builds_alone_with_its_api():
    demo = tab.build()
    assert {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"} == {"walkthrough"}


@pytest.mark.parametrize("name", list_pretrained())
def test_every_shipped_model_walks_from_its_example_context(name):
    ckpt = load_pretrained(name)
    view = tab.model_view(ckpt)
    assert name in view["card"] and view["step"]["value"] == 1
    position = view["position"]
    assert position["value"] == position["maximum"] or position["maximum"] == 1  # the last token
    assert "Step 1 of" in view["step_html"] and "class='here'" in view["tokens_html"]
    last = view["step"]["maximum"]
    end = tab.walk_view(view["context"], view["position"]["value"], last, ckpt)
    assert f"Step {last} of {last}: probabilities (softmax)" in end["step_html"]
    assert end["next_html"].count("class='row'") == 10


def test_steps_and_positions_are_clamped_and_kept():
    ckpt = load_pretrained("alphabet-gpt")
    view = tab.walk_view("KLMNOP", 2, 99, ckpt)  # past the last step: the last step
    assert view["step"]["value"] == view["step"]["maximum"] and view["position"]["value"] == 2
    assert "After position 2" in view["next_html"]
    view = tab.walk_view("KLMNOP", 2, 0, ckpt)  # before the first: the first
    assert view["step"]["value"] == 1
    view = tab.walk_view("KLMNOP", 2, 5, ckpt, reset_position=True)  # a new context starts at its last token
    assert view["position"]["value"] == 5 and view["step"]["value"] == 5


def test_a_context_the_model_cannot_read_is_said_in_place():
    ckpt = load_pretrained("alphabet-gpt")
    view = tab.walk_view("hello", None, 3, ckpt)
    assert set(view) == {"step_html", "tokens_html", "next_html"}  # the sliders stay as they were
    assert "not in this model" in view["step_html"]
    with pytest.raises(gr.Error, match="not in this model"):
        tab.walkthrough_api("hello", -1, ckpt)
    with pytest.raises(gr.Error, match="position must be"):
        tab.walkthrough_api("KLM", 3, ckpt)


def test_an_edit_shows_up_at_the_next_move():
    ckpt = load_pretrained("alphabet-gpt")
    before = tab.walkthrough_api("KLM", -1, ckpt)["next_tokens"][0]
    with torch.no_grad():  # what the Weights tab does to the session's model, in place
        ckpt.model.lm_head.weight[ckpt.tokenizer.token_to_id("Z")] *= -40
    after = tab.walkthrough_api("KLM", -1, ckpt)
    assert after["next_tokens"][0]["token"] != before["token"] or after["next_tokens"][0]["prob"] != before["prob"]
    probs = next_token_probs(ckpt.model, prompt_ids(ckpt.tokenizer, "KLM"))
    assert after["next_tokens"][0]["prob"] == pytest.approx(float(probs.max()), abs=1e-5)


@pytest.fixture(scope="module")
def trained():
    """A model trained for a few steps through the Train tab's own handler."""
    from tinylm_app.train_tab import train

    fields = dict(source="dataset", dataset="names", upload=None, text="", tokenizer="char", vocab_size=0,
                  model="mlp", block_size=3, n_embd=8, n_hidden=32, n_layer=1, n_head=2, budget="steps", steps=20,
                  batch_size=16, learning_rate=3e-3)
    return [o[0] for o in train(**fields, ckpt=None) if hasattr(o[0], "model")][-1]


def test_a_freshly_trained_model_walks_too(trained):
    view = tab.model_view(trained)
    # tokens, embeddings, concatenation, 1 hidden layer, logits, softmax
    assert "MLP" in view["card"] and view["step"]["maximum"] == 6
    answer = tab.walkthrough_api("em", -1, trained)
    probs = next_token_probs(trained.model, prompt_ids(trained.tokenizer, "em"))
    assert [t["id"] for t in answer["next_tokens"]] == torch.topk(probs, 10).indices.tolist()


def test_walkthrough_through_gradio_client(serve):
    from gradio_client import Client

    client = Client(serve(tab.build()), verbose=False)
    answer = client.predict("ROMEO:", -1, api_name="/walkthrough")  # the default model: shakespeare-char-gpt
    assert set(answer) == {"steps", "next_tokens"}
    assert answer["steps"][0]["name"] == "tokens" and answer["steps"][-1]["name"] == "probabilities (softmax)"
    assert answer["steps"][3]["values"]["rows"] == ["in", "out"]
    probs = [t["prob"] for t in answer["next_tokens"]]
    assert probs == sorted(probs, reverse=True)
    first = client.predict("ROMEO:", 0, api_name="/walkthrough")
    assert "position 0" in first["steps"][0]["explain"]
    with pytest.raises(Exception, match="position must be"):
        client.predict("ROMEO:", 6, api_name="/walkthrough")


def test_coming_back_to_the_tab_redraws_without_touching_the_sliders():
    ckpt = load_pretrained("alphabet-gpt")
    view = tab.redraw("KLM", 1, 4, ckpt)
    assert set(view) == {"step_html", "tokens_html", "next_html"} and "Step 4 of" in view["step_html"]
    assert all(isinstance(v, type(gr.skip())) for v in tab.redraw("", 0, 1, ckpt).values())  # the page is still loading
