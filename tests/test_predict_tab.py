"""The Predict tab: its handlers called directly with every shipped model, then the Train and
Predict tabs served together in-process and called through gradio_client (/train, /predict,
/generate), the way a script uses the Space, with two clients that must not see each other's model."""


import dataclasses

import gradio as gr
import pytest
from gradio_client import Client

from tinylm.pretrained import list_pretrained, load_pretrained
from tinylm_app import predict_tab, train_tab
from tinylm_app.predict_tab import (
    generate_api,
    generate_stream,
    predict_api,
    show_model,
    show_next,
)
from tinylm_app.session import model_state


@pytest.fixture(scope="module", params=list_pretrained())
def shipped(request):
    return load_pretrained(request.param)


# --- handlers, no server -------------------------------------------------------------------


def test_every_shipped_model_predicts_and_generates(shipped):
    card, menu, context, reads, chart = show_model("", 10, shipped)
    assert shipped.name in card and menu["value"] == shipped.name
    assert "The model reads" in reads and len(chart) == 10
    assert abs(chart.prob.sum() - sum(c["prob"] for c in predict_api(context, 10, shipped)[0])) < 1e-6
    pages = list(generate_stream(context, 30, 0.8, 0, 1.0, 1, shipped))
    assert pages and all("class='tokens'" in page for page in pages)
    assert pages[-1].count("title=") >= 1  # every generated token carries its probability
    answer, _ = generate_api(context, 12, 0, 0, 1, -1, shipped)
    assert answer["text"] == context + answer["continuation"]
    assert answer["continuation"] == "".join(t["token"] for t in answer["tokens"])
    assert all(0 < t["prob"] <= 1 for t in answer["tokens"])


def test_the_empty_context_starts_at_a_line_break(shipped):
    reads, chart = show_next("", 5, shipped)
    assert "empty context starts at a line break" in reads and len(chart) == 5
    assert generate_api("", 5, 0.8, 0, 1, 0, shipped)[0]["tokens"]


def test_unknown_tokens_are_named_not_crashed_on():
    ckpt = load_pretrained("alphabet-gpt")
    reads, chart = show_next("hello", 10, ckpt)  # as the user types: shown in place, no error popup
    assert "not in this model" in reads and "&#x27;h&#x27;" in reads and len(chart) == 0
    with pytest.raises(gr.Error, match="'h', 'e', 'l', 'o'"):
        predict_api("hello", 5, ckpt)
    with pytest.raises(gr.Error, match="not in this model's char vocabulary"):
        list(generate_stream("hello", 5, 1.0, 0, 1.0, -1, ckpt))


@pytest.mark.parametrize("args, message", [
    (("A", "many", 1.0, 0, 1.0, -1), "max new tokens must be a number"),
    (("A", 10_000, 1.0, 0, 1.0, -1), "max new tokens must be between"),
    (("A", 5, "hot", 0, 1.0, -1), "temperature must be a number"),
    (("A", 5, 1.0, 0, 0, -1), "top-p must be more than 0"),
    (("A", 5, 1.0, 0, 1.0, "lucky"), "seed must be a number"),
])
def test_bad_sampling_fields_get_a_clear_message(args, message):
    ckpt = load_pretrained("alphabet-gpt")
    with pytest.raises(gr.Error, match=message):
        generate_api(*args, ckpt)


def test_generation_is_greedy_at_temperature_zero_and_repeatable_with_a_seed():
    ckpt = load_pretrained("alphabet-gpt")
    assert generate_api("ABC", 3, 0, 0, 1, -1, ckpt)[0]["continuation"] == "DEF"
    assert generate_api("", 40, 1.0, 5, 0.9, 42, ckpt) == generate_api("", 40, 1.0, 5, 0.9, 42, ckpt)


def test_user_text_is_escaped_in_the_page():
    ckpt = load_pretrained("phrases-pt-mlp")
    reads, _ = show_next("<script> ${x}", 5, ckpt)
    assert "<script>" not in reads and "${" not in reads


def test_a_session_without_a_model_uses_the_default_one():
    card, menu, *_ = show_model("", 5, None)
    assert "Model:" in card and menu["value"] in list_pretrained()


# --- the two tabs served together ----------------------------------------------------------------


@pytest.fixture(scope="module")
def served(serve):
    with gr.Blocks() as demo:
        state = model_state()
        with gr.Tab("Train"):
            train_tab.build(state)
        with gr.Tab("Predict"):
            predict_tab.build(state)
    return serve(demo)


def test_the_api_lists_train_predict_and_generate(served):
    endpoints = Client(served, verbose=False).view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/train", "/predict", "/generate"} <= set(endpoints)
    assert [p["parameter_name"] for p in endpoints["/predict"]["parameters"]] == ["text", "k"]
    assert [p["parameter_name"] for p in endpoints["/generate"]["parameters"]] == [
        "text", "max_new_tokens", "temperature", "top_k", "top_p", "seed"]


def test_each_client_predicts_with_its_own_model(served):
    trainer, visitor = Client(served, verbose=False), Client(served, verbose=False)
    # Cyrillic: no shipped model can read it, so only the trainer's own model answers
    summary = trainer.predict(text="жзижзи жз жзи " * 60, steps=5, n_embd=16, n_layer=1, n_head=2,
                              batch_size=8, api_name="/train")
    assert summary["dataset"] == "pasted" and summary["steps"] == 5
    candidates = trainer.predict(text="жз", k=3, api_name="/predict")
    assert len(candidates) == 3 and set(candidates[0]) == {"token", "id", "prob"}
    answer = trainer.predict(text="жз", max_new_tokens=8, temperature=0, top_k=0, top_p=1, seed=-1,
                             api_name="/generate")
    assert answer["text"].startswith("жз") and len(answer["tokens"]) <= 8
    with pytest.raises(Exception, match="(?i)not in this model"):  # the visitor still has a shipped model
        visitor.predict(text="жз", k=3, api_name="/predict")


def test_the_card_says_when_the_model_is_training_or_edited(alphabet):
    training = dataclasses.replace(alphabet, info={**alphabet.info, "training": True})
    edited = dataclasses.replace(alphabet, info={**alphabet.info, "edited_weights": 3})
    assert "training now" in show_model("", 5, training)[0]
    card = show_model("", 5, edited)[0]
    assert "edited by hand" in card and "3 weights changed" in card and "measured before the edits" in card
    assert "training now" not in show_model("", 5, alphabet)[0] and "edited" not in show_model("", 5, alphabet)[0]
