"""The Train tab: its handlers called directly (train, stop, bad input, two sessions), then the tab
served in-process and trained through gradio_client's ``/train``."""


import gradio as gr
import pytest
import torch
from gradio_client import Client

from tinylm.checkpoint import Checkpoint, checkpoint_zip
from tinylm.pretrained import list_pretrained, load_pretrained
from tinylm_app import train_tab
from tinylm_app.guard import guarded
from tinylm_app.train_tab import make_download, show_model, stop, use_upload

# a tiny GPT on the alphabet: a few steps take a fraction of a second
FIELDS = dict(source="dataset", dataset="alphabet", upload=None, text="", tokenizer="char", vocab_size=0, model="gpt",
              block_size=8, n_embd=16, n_hidden=32, n_layer=1, n_head=2, budget="steps", steps=8, batch_size=8,
              learning_rate=3e-3)


# the handlers as the app calls them: guarded, so a bad input is a gr.Error with one sentence
train = guarded(train_tab.train, "train_stream", [])
train_api = guarded(train_tab.train_api, "train", [])


def states(outputs):
    """The model_state values a handler yielded (gr.skip() leaves the state alone)."""
    return [o[0] for o in outputs if isinstance(o[0], Checkpoint)]


def run_train(**overrides):
    return list(train(**{**FIELDS, **overrides}, ckpt=None))


def test_training_streams_and_leaves_the_trained_model_in_the_session():
    outputs = run_train()
    first, last = states(outputs)
    assert first.model is last.model and first is not last  # live model first, a fresh object at the end
    assert last.info["steps"] == 8 and last.info["dataset"] == "alphabet" and last.info["val_loss"] is not None
    assert "done in" in outputs[-1][1] and "every tab" in outputs[-1][1]
    assert len(outputs[-1][2]) >= 8  # the loss table: a train point per step (few steps: no binning)
    assert "What it writes after 8 steps" in outputs[-1][3]
    assert train_tab._slots.in_use == 0


def test_stop_keeps_the_model_trained_so_far():
    before = None
    updates = train(**{**FIELDS, "steps": 5000}, ckpt=None)
    ckpt = None
    for outputs in updates:
        if isinstance(outputs[0], Checkpoint):
            ckpt = outputs[0]
            before = {k: v.clone() for k, v in ckpt.model.state_dict().items()}
        if ckpt is not None and ckpt.info.get("steps", 0) >= 2:
            break
    updates.close()  # what Gradio does when Stop cancels the event
    assert train_tab._slots.in_use == 0  # the slot came back
    new_state, progress, sample = stop(ckpt)
    assert new_state is not ckpt and new_state.model is ckpt.model  # a new object: every tab hears of it
    assert f"Stopped after {ckpt.info['steps']:,} steps" in progress
    assert f"What it writes after {ckpt.info['steps']:,} steps" in sample
    assert any(not torch.equal(before[k], v) for k, v in new_state.model.state_dict().items())
    assert stop(None)[1].count("Nothing to stop") == 1


def test_two_sessions_never_share_a_model():
    a, b = states(run_train())[-1], states(run_train())[-1]
    assert a.model is not b.model
    assert all(p.data_ptr() != q.data_ptr() for p, q in zip(a.model.parameters(), b.model.parameters()))
    x, y = load_pretrained("alphabet-gpt"), load_pretrained("alphabet-gpt")
    assert x.model is not y.model and x.model.lm_head.weight.data_ptr() != y.model.lm_head.weight.data_ptr()


@pytest.mark.parametrize("overrides, message", [
    (dict(source="paste", text=""), "pasted text is empty"),
    (dict(source="paste", text="x" * (10 * 1024 * 1024)), "over the limit of 2,000,000"),
    (dict(steps="lots"), "steps must be a number, got 'lots'"),
    (dict(n_embd="wide"), "n_embd must be a number"),
    (dict(steps=10**9), "steps must be between 1 and 20000"),
    (dict(n_embd=30, n_head=4), "multiple of n_head"),
    (dict(budget="forever"), "unknown budget"),
    (dict(dataset="nope"), "unknown dataset 'nope'"),
    (dict(tokenizer="gpt2", model="mlp", batch_size=256), "logits"),
    (dict(source="upload", upload=None), "upload a .txt file first"),
])
def test_bad_input_gets_a_clear_message_and_no_model_is_lost(overrides, message):
    outputs = []
    with pytest.raises(gr.Error, match=f"(?i){message}"):
        for out in train(**{**FIELDS, **overrides}, ckpt=None):
            outputs.append(out)
    assert states(outputs) == []  # the session's model was never replaced
    assert train_tab._slots.in_use == 0


def test_a_binary_upload_is_refused(tmp_path):
    binary = tmp_path / "photo.txt"
    binary.write_bytes(bytes(range(256)) * 100)
    with pytest.raises(gr.Error, match="UTF-8|binary"):
        run_train(source="upload", upload=str(binary))


def test_a_busy_trainer_says_so_at_once():
    tickets = [train_tab._slots.try_acquire() for _ in range(train_tab.MAX_CONCURRENT_TRAININGS)]
    try:
        with pytest.raises(gr.Error, match="The trainer is busy"):
            run_train()
    finally:
        for t in tickets:
            train_tab._slots.release(t)


def test_checkpoints_go_out_and_come_back(tmp_path):
    card, download, menu = show_model(None)  # the default shipped model
    assert "Current model" in card and download["value"] is None  # no zip is built until asked for
    download = make_download(None)
    assert download["value"].endswith(".zip") and download["visible"]
    assert use_upload(download["value"]).name in list_pretrained() and menu["value"] in list_pretrained()
    trained = states(run_train())[-1]
    again = use_upload(str(checkpoint_zip(trained, tmp_path)))
    assert again.info["steps"] == 8 and again.model is not trained.model
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(gr.Error, match="Could not load that checkpoint: .*not a zip file"):
        use_upload(str(junk))
    with pytest.raises(gr.Error, match="No shipped model .*gpt-5.*; available: .*alphabet-gpt"):
        guarded(load_pretrained, "load_pretrained", [])("gpt-5")  # as the menu's event runs it


def test_train_api_returns_the_final_metrics():
    outputs = list(train_api("alphabet", "", "", "", 0, 6, "steps", 0, 16, 32, 1, 2, 8, 3e-3, None))
    summary, ckpt = outputs[-1]
    assert isinstance(ckpt, Checkpoint) and isinstance(outputs[0][1], Checkpoint)
    assert summary["steps"] == 6 and summary["stopped_by"] == "steps" and summary["block_size"] == 8  # the dataset's
    assert set(summary) >= {"name", "params", "train_loss", "val_loss", "tokens_per_s", "seconds"}


# --- the tab, served ---------------------------------------------------------------------------


def test_the_tab_serves_train_through_gradio_client(serve):
    client = Client(serve(train_tab.build()), verbose=False)
    assert "/train" in client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    summary = client.predict(dataset="alphabet", steps=5, n_embd=16, n_layer=1, n_head=2, batch_size=8,
                             api_name="/train")
    assert summary["steps"] == 5 and summary["dataset"] == "alphabet" and summary["val_loss"] > 0
    with pytest.raises(Exception, match="pasted text is empty|empty"):
        client.predict(text=" ", api_name="/train")


def test_the_time_limit_stops_a_long_run_with_a_warning(monkeypatch):
    monkeypatch.setattr(train_tab, "MAX_TRAIN_SECONDS", 0.5)
    with pytest.warns(UserWarning, match="minute limit of this shared machine"):  # gr.Warning outside a request
        outputs = run_train(steps=20_000)
    assert 0 < states(outputs)[-1].info["steps"] < 20_000


def test_the_model_size_is_shown_before_training():
    from tinylm_app.train_tab import planned

    line = planned(**FIELDS)
    model = states(run_train())[-1].model
    assert f"{sum(p.numel() for p in model.parameters()):,} parameters" in line  # what Train then builds
    assert "over the limit" in planned(**{**FIELDS, "n_embd": 512, "n_layer": 8, "tokenizer": "gpt2"})
    assert "⚠" in planned(**{**FIELDS, "n_embd": 30, "n_head": 4})
