"""The Inspect tab's handlers called directly on the shipped models: each view comes back drawn
from the model's own numbers, and the tab builds alone."""

import gradio as gr
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

from spaces import inspect_tab as tab
from tinylm.pretrained import load_pretrained


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
    assert isinstance(embeddings, go.Figure) and len(embeddings.data[0].x) == alphabet.tokenizer.vocab_size
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
