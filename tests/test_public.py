"""The app in public: uploads are not trusted, work is bounded, sessions end, refusals are sentences.

Each test is one way a stranger could hurt a shared Space (issue 17): read a server file through
an uploaded checkpoint, exhaust memory with a config or a zip, make one request run for minutes,
leave models behind, or get a traceback instead of a message.
"""

import json
import zipfile

import gradio as gr
import pytest

from tinylm.chat import parse_jsonl, render_for_reply
from tinylm.checkpoint import save_checkpoint
from tinylm.data import dataset_texts
from tinylm.edit import MAX_IMPRINT_PAIRS, EditError, imprint
from tinylm.models import build_model, size_of
from tinylm.pretrained import load_pretrained
from tinylm.tokenizer import build_tokenizer
from tinylm_app import guard, limits, session
from tinylm_app.train_tab import train, use_upload

SECRET = "the server's secret: hunter2"


def _zip_of(folder, path):
    with zipfile.ZipFile(path, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f.name)
    return str(path)


def _tiny_checkpoint_zip(tmp_path, **info):
    tokenizer = build_tokenizer("char", "abcdefgh\n")
    model = build_model("bigram", vocab_size=tokenizer.vocab_size)
    folder = save_checkpoint(tmp_path / "ckpt", model, tokenizer, [], name="tiny", **info)
    return folder, _zip_of(folder, tmp_path / "tiny.zip")


# --- uploads ---------------------------------------------------------------------------------------


def test_an_uploaded_checkpoint_cannot_name_a_server_file_as_its_data(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET * 100)
    _, path = _tiny_checkpoint_zip(tmp_path, dataset=str(secret))
    ckpt = use_upload(path)
    assert ckpt.info["dataset"] is None and ckpt.info["uploaded"] is True  # "uploaded, no data"
    assert dataset_texts(str(secret)) is None  # and the library never opens a path as a dataset
    from tinylm_app.inspect_tab import inspect_model

    shown = json.dumps([str(x) for x in inspect_model(ckpt)])
    assert "hunter2" not in shown and "no known dataset" in shown


def test_a_shipped_dataset_name_in_an_upload_is_kept(tmp_path):
    _, path = _tiny_checkpoint_zip(tmp_path, dataset="names")
    assert use_upload(path).info["dataset"] == "names"


def test_an_uploaded_config_too_big_is_refused_before_anything_is_allocated(tmp_path, monkeypatch):
    folder, _ = _tiny_checkpoint_zip(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config.update(model="gpt", model_config={"vocab_size": 50_000, "n_embd": 4096, "n_layer": 48, "n_head": 32,
                                             "block_size": 1024})
    (folder / "config.json").write_text(json.dumps(config))
    built = []
    monkeypatch.setattr("tinylm.checkpoint.build_model", lambda *a, **k: built.append(1))
    with pytest.raises(gr.Error, match="over the limit of 5,000,000"):
        use_upload(_zip_of(folder, tmp_path / "huge.zip"))
    assert built == []  # measured on the meta device, never built
    assert size_of("gpt", vocab_size=50_000, n_embd=4096, n_layer=48, n_head=32, block_size=1024) > 9e9


@pytest.mark.parametrize("model_config, message", [({"n_head": 0}, "n_head must be a whole number, at least 1"),
                                                    ({"n_embd": -5}, "n_embd must be a whole number, at least 1"),
                                                    ({"n_embd": 30, "n_head": 4}, "multiple of n_head"),
                                                    ({"dropout": "lots"}, "dropout must be a probability")])
def test_an_uploaded_config_that_builds_no_model_says_which_field(tmp_path, model_config, message):
    folder, _ = _tiny_checkpoint_zip(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config.update(model="gpt", model_config={"vocab_size": config["model_config"]["vocab_size"], **model_config})
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(gr.Error, match=message):
        use_upload(_zip_of(folder, tmp_path / "bad.zip"))


# --- bounded work ----------------------------------------------------------------------------------


def test_a_long_chat_history_costs_only_the_messages_that_fit(monkeypatch):
    tokenizer = build_tokenizer("char", "hi yo user assistant")
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}] * 5_000
    rendered = []
    import tinylm.chat as chat

    real = chat.render_conversation
    monkeypatch.setattr(chat, "render_conversation", lambda tok, ms: rendered.append(len(ms)) or real(tok, ms))
    render_for_reply(tokenizer, history[:-1], block_size=128, room=32)
    assert len(rendered) < 20  # of 9,999 messages: the handful that fit, and one more


def test_a_deeply_nested_jsonl_line_is_one_bad_line():
    parsed = parse_jsonl('{"input": "hi", "output": "yo"}\n' + "[" * 100_000 + "]" * 100_000)
    assert len(parsed.conversations) == 1 and parsed.errors == ["line 2: nested too deeply to be a conversation"]


def test_imprint_refuses_more_pairs_than_it_can_solve_quickly():
    ckpt = load_pretrained("alphabet-gpt")
    with pytest.raises(EditError, match=f"more than the {MAX_IMPRINT_PAIRS}"):
        imprint(ckpt.model, ckpt.tokenizer, "ABCDEFGHIJKLMNOPQRSTUVWXYZ" * 20)


def test_a_session_trains_one_model_at_a_time():
    class Request:
        session_hash = "visitor-1"

    fields = dict(source="dataset", dataset="alphabet", upload=None, text="", tokenizer="char", vocab_size=0,
                  model="gpt", block_size=8, n_embd=16, n_hidden=32, n_layer=1, n_head=2, budget="steps", steps=50,
                  batch_size=8, learning_rate=3e-3, ckpt=None)
    first = train(**fields, request=Request())
    next(first), next(first)  # the first run holds its slot now
    try:
        with pytest.raises(gr.Error, match="already training"):
            list(train(**fields, request=Request()))
    finally:
        first.close()
    assert len(list(train(**{**fields, "steps": 2}, request=Request()))) > 1  # its slot came back


# --- text and numbers --------------------------------------------------------------------------------


def test_text_must_be_real_unicode_within_its_limit():
    with pytest.raises(ValueError, match="lone surrogate"):
        guard.check_text("ok \ud800", "the text")
    with pytest.raises(ValueError, match="over the limit"):
        guard.check_text("x" * 11, "the text", 10)


def test_an_event_with_dict_inputs_is_held_to_its_textboxs_limit():
    """Inputs given as a set reach the handler as one dict, component -> value; the guard reads inside it."""
    with gr.Blocks():
        box, n = gr.Textbox(label="context", max_length=10), gr.Number(label="n")
    handler = guard.guarded(lambda data: data[box], "demo", [box, n], as_dict=True)
    assert handler({box: "short", n: 1}) == "short"
    with pytest.raises(gr.Error, match="over the limit of 10"):
        handler({box: "x" * 11, n: 1})


@pytest.mark.parametrize("value, message", [("abc", "must be a number"), (2.5, "whole number"),
                                            ([1], "must be a number"), (True, "must be a number"),
                                            (float("nan"), "finite"), (0, "between 1 and")])
def test_a_whole_number_field_refuses_what_is_not_one(value, message):
    steps = guard.Number(500, label="steps", precision=0, minimum=1, maximum=limits.MAX_STEPS)
    with pytest.raises(gr.Error, match=message):
        steps.preprocess(value)


def test_every_text_field_of_the_app_has_a_limit():
    import app

    unbounded = {c.label for f in app.demo.fns.values() for c in f.inputs
                 if isinstance(c, gr.Textbox) and c.max_length is None}
    assert not unbounded


def test_the_api_page_lists_only_the_documented_endpoints():
    import app

    public = {f.api_name for f in app.demo.fns.values() if f.api_visibility == "public"}
    assert public == {"tokenize", "bpe_steps", "train", "predict", "generate", "edit_weight", "connect", "imprint",
                      "walkthrough", "chat"}


# --- sessions --------------------------------------------------------------------------------------


def test_every_session_state_expires_and_is_freed_when_the_page_closes():
    import app

    states = [b for b in app.demo.blocks.values() if isinstance(b, gr.State)]
    assert states and all(s.time_to_live == limits.SESSION_IDLE_SECONDS for s in states)
    assert any(t[1] == "unload" for f in app.demo.fns.values() for t in f.targets)
    assert any(isinstance(b, gr.Timer) for b in app.demo.blocks.values())  # an open page keeps its session


def test_an_idle_api_session_is_freed(serve, monkeypatch):
    """A gradio_client never closes its session: its model goes when the idle time is up."""
    from gradio_client import Client

    monkeypatch.setattr(limits, "SESSION_IDLE_SECONDS", 1)
    monkeypatch.setattr(session, "SESSION_IDLE_SECONDS", 1)
    with gr.Blocks() as demo:
        state = session.model_state()
        button, out = gr.Button(), gr.JSON()
        button.click(lambda ckpt: (load_pretrained("alphabet-gpt"), {"ok": True}), state, [state, out],
                     api_name="load")
    url = serve(demo)
    Client(url, verbose=False).predict(api_name="/load")
    held = [s for s in demo.state_holder.session_data.values() if s.state_data]
    assert len(held) == 1
    import time

    deadline = time.monotonic() + 10
    while held[0].state_data and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not held[0].state_data  # Gradio deleted the expired value; nothing else holds the model


def test_downloads_are_made_on_click_and_old_ones_deleted(tmp_path, monkeypatch):
    monkeypatch.setattr(session, "DOWNLOADS", tmp_path)
    old = session.download_folder()
    (old / "model.zip").write_bytes(b"x")
    import os
    import time

    past = time.time() - limits.DOWNLOAD_SECONDS - 1
    os.utime(old, (past, past))
    new = session.download_folder()
    assert new.exists() and not old.exists()


def test_a_refusal_is_one_sentence_and_one_log_line(caplog):
    def handler(text):
        raise ValueError("the text is empty: type some text")

    wrapped = guard.guarded(handler, "demo", [gr.Textbox()])
    with caplog.at_level("INFO", logger="tinylm.app"), pytest.raises(gr.Error) as err:
        wrapped("")
    assert err.value.message == "The text is empty: type some text." and err.value.print_exception is False
    assert [r.getMessage() for r in caplog.records] == ["refused demo: The text is empty: type some text."]
    assert not any(r.exc_info for r in caplog.records)


def test_a_crash_is_logged_with_its_traceback_and_told_as_a_server_fault(caplog):
    def handler(text):
        return text.upper() + 1  # a bug

    wrapped = guard.guarded(handler, "demo", [gr.Textbox()])
    with caplog.at_level("INFO", logger="tinylm.app"), pytest.raises(gr.Error, match="went wrong on the server"):
        wrapped("a")
    assert caplog.records[0].exc_info is not None


def test_an_uploaded_transformers_folder_is_sized_before_transformers_builds_it(tmp_path, monkeypatch):
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024,
                                                    "n_embd": 4096, "n_layer": 48, "n_head": 32}))
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "tokenizer.json").write_text("{}")
    imported = []
    monkeypatch.setattr("tinylm.hf.import_transformers", lambda d: imported.append(d))
    with pytest.raises(gr.Error, match="over the limit of 5,000,000"):
        use_upload(_zip_of(folder, tmp_path / "hf.zip"))
    assert imported == []
