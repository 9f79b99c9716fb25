"""The Inspect tab's handlers called directly on the shipped models: each view comes back drawn
from the model's own numbers, and the tab builds alone."""

import dataclasses

import gradio as gr
import pandas as pd
import plotly.graph_objects as go
import pytest

from tinylm.pretrained import load_pretrained
from tinylm_app import inspect_tab as tab


@pytest.fixture(scope="module")
def alphabet():
    return load_pretrained("alphabet-gpt")  # a 27k-parameter GPT: every view in a fraction of a second


def test_builds_alone():
    assert isinstance(tab.build(), gr.Blocks)


def test_inspect_model_draws_every_text_view(alphabet):
    card, confusion, errors, surprisal, embeddings, prompt = tab.inspect_model(alphabet)
    assert "alphabet-gpt" in card and "GPT" in card
    assert isinstance(confusion, go.Figure) and len(confusion.data[0].y) == tab.CONFUSION_TOKENS
    assert isinstance(errors, pd.DataFrame) and len(errors) > 0 and "mean loss" in errors.columns
    assert surprisal.count("<span") > 100 and "title=" in surprisal
    text_tokens = alphabet.tokenizer.vocab_size - len(alphabet.tokenizer.non_text_ids)
    assert isinstance(embeddings, go.Figure) and len(embeddings.data[0].x) == text_tokens  # no <|pad|> dots
    assert prompt and len(alphabet.tokenizer.encode(prompt)) <= alphabet.model.block_size


def test_prompt_views_gpt_and_mlp(alphabet):
    att, acts, note = tab.prompt_views("ABCDEF", alphabet)
    assert len(att.data) == 2 * 2 and len(acts.data) == 2 * 2  # 2 layers x 2 heads; heatmap + histogram per layer
    att, acts, note = tab.prompt_views("emma", load_pretrained("names-mlp"))
    assert att is None and "only in the GPT" in note and acts is not None


def test_embedding_row_and_unknown_token(alphabet):
    frame, text = tab.embedding_row("A", alphabet)
    assert frame.shape == (1, 32) and "cosine" in text
    frame, text = tab.embedding_row("not a token", alphabet)
    assert frame.empty and "not one token" in text


def test_loss_surface_streams_progress_then_the_figure(alphabet, monkeypatch):
    monkeypatch.setattr(tab, "SURFACE_STEPS", 3)
    monkeypatch.setattr(tab, "SURFACE_TOKENS", 64)
    frames = list(tab.loss_surface_view(alphabet))
    assert len(frames) == 3  # two progress lines, then the figure
    fig, text = frames[-1]
    assert isinstance(fig, go.Figure) and fig.data[0].z.shape == (3, 3)
    assert fig.data[1].z[0] == pytest.approx(fig.data[0].z[1][1])  # the marked point is the centre of the grid


# ---------------------------------------------------------------------------------------------
# Training replay and weight change: a model trained through the Train tab's own handler


@pytest.fixture(scope="module")
def trained():
    from tinylm_app.train_tab import train  # noqa: PLC0415

    fields = dict(source="dataset", dataset="alphabet", upload=None, text="", tokenizer="char", vocab_size=0,
                  model="gpt", block_size=8, n_embd=16, n_hidden=32, n_layer=1, n_head=2, budget="steps", steps=25,
                  batch_size=8, learning_rate=3e-3)
    states = [o[0] for o in train(**fields, ckpt=None) if hasattr(o[0], "snapshots")]
    return states[-1]


def test_shipped_models_have_no_snapshots_and_say_so(alphabet):
    note, slider, prompt, *menus = tab.replay_setup(alphabet)
    assert "Train" in note and slider["visible"] is False and all(m["visible"] is False for m in menus)
    caption, sample, bars, embeddings = tab.replay_view(0, "", alphabet)
    assert caption == "" and bars["visible"] is False  # the note says it once; no empty plots under it
    fig, text = tab.weight_change_view("transformer.wte.weight", "step 0", "step 0", alphabet)
    assert fig["visible"] is False and "trained elsewhere" in text


def test_a_model_with_one_snapshot_says_to_train_longer(trained):
    """Stopped before step 10: only the untrained model is kept. No slider from 0 to 0 (a Gradio error)."""
    early = dataclasses.replace(trained, snapshots=trained.snapshots[:1])
    note, slider, *_ = tab.replay_setup(early)
    assert "Train a little longer" in note and slider["visible"] is False and slider["maximum"] == 1
    assert "trained elsewhere" not in note


def test_replay_of_a_model_trained_in_the_train_tab(trained):
    note, slider, prompt, parameter, before, after = tab.replay_setup(trained)
    assert [s.step for s in trained.snapshots] == [0, 10, 20, 25]
    assert slider["maximum"] == 3 and slider["value"] == 3 and "step 25" in note
    assert parameter["value"] == "transformer.wte.weight" and before["value"] == "step 0" and after["value"] == "step 25"
    caption, sample, bars, embeddings = tab.replay_view(0, "ABC", trained)
    assert "Step 0" in caption and "untrained" in caption and sample["value"].startswith("ABC")
    bars, embeddings = bars["value"], embeddings["value"]
    text_tokens = trained.tokenizer.vocab_size - len(trained.tokenizer.non_text_ids)
    assert len(bars.data[0].x) == tab.REPLAY_TOP and len(embeddings.data[0].x) == text_tokens
    caption, *_ = tab.replay_view(3, "ABC", trained)
    assert "Step 25" in caption and "val loss" in caption
    caption, sample, bars, _ = tab.replay_view(0, "ABC☃", trained)
    assert bars is None and "☃" in caption  # a piece the vocabulary lacks: said, not raised


def test_weight_change_heatmap(trained):
    fig, text = tab.weight_change_view("transformer.wte.weight", "step 0", "step 25", trained)
    fig = fig["value"]
    assert fig.data[0].z.shape == tuple(trained.model.transformer.wte.weight.shape)
    assert "from step 0 to step 25" in text and "%" in text
    fig, text = tab.weight_change_view("transformer.h.0.ln_1.bias", "step 10", "step 10", trained)
    fig = fig["value"]
    assert fig.data[0].z.shape[0] == 1 and not fig.data[0].z.any() and "0.0%" in text
