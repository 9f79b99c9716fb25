"""Training from an app: numbers typed by a person, a corpus from a dataset, a file or pasted text,
limits, and training that reports a few times a second and can be stopped; the chart tables."""

import itertools
import math

import pytest
import torch

from tinylm.data import corpus_from_text
from tinylm.fields import parse_number
from tinylm.live import (
    TrainingSlots,
    app_corpus,
    app_run_config,
    check_run_limits,
    chunk_by_time,
    eta_seconds,
    live_training,
    training_summary,
)
from tinylm.models import build_model, config_fields
from tinylm.plots import candidates_frame, loss_frame
from tinylm.runs import prepare_run

TEXT = "the cat sat on the mat. the dog sat on the log. " * 40


def tiny_run(steps=6, seconds=None, model="gpt", tokenizer="char"):
    corpus = corpus_from_text(TEXT)
    sizes = config_fields(model, block_size=8, n_embd=16, n_hidden=32, n_layer=1 if model == "gpt" else None, n_head=2)
    return prepare_run(app_run_config(corpus, tokenizer, None, model, sizes, steps, seconds, batch_size=4), corpus)


# --- typed fields, corpora, limits --------------------------------------------------------------


@pytest.mark.parametrize("value, kwargs, message", [
    ("lots", {}, "steps must be a number, got 'lots'"),
    ("2.5", {}, "whole number"),
    ("nan", {}, "finite"),
    (None, {}, "must be a number"),
    ("0", dict(minimum=1, maximum=10), "between 1 and 10"),
])
def test_parse_number_names_the_field(value, kwargs, message):
    with pytest.raises(ValueError, match=message):
        parse_number(value, "steps", **kwargs)


def test_parse_number_accepts_what_a_form_sends():
    assert parse_number("32", "batch") == 32 and parse_number(32.0, "batch") == 32
    assert parse_number("3e-3", "lr", 0, 1, integer=False) == 0.003


def test_app_corpus_refuses_empty_huge_and_binary_text(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        app_corpus("paste", text="   \n")
    with pytest.raises(ValueError, match="over the limit of 2,000,000"):
        app_corpus("paste", text="x" * 10_000_000, max_chars=2_000_000)
    binary = tmp_path / "photo.txt"
    binary.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(ValueError, match="UTF-8|binary"):
        app_corpus("upload", upload=str(binary), max_chars=2_000_000)
    big = tmp_path / "big.txt"
    big.write_text("y" * 100_000)
    with pytest.raises(ValueError, match="over the limit"):
        app_corpus("upload", upload=str(big), max_chars=1000)
    with pytest.raises(ValueError, match="upload a .txt file first"):
        app_corpus("upload")
    assert app_corpus("paste", text=TEXT).name == "pasted"
    assert app_corpus("dataset", "alphabet").name == "alphabet"


def test_each_model_takes_the_sizes_its_config_has():
    assert config_fields("bigram", block_size=8, n_embd=16, n_hidden=32, n_layer=2, n_head=2) == {}
    assert config_fields("gpt", block_size=8, n_embd=16, n_hidden=32, n_layer=2, n_head=2) == dict(
        block_size=8, n_embd=16, n_layer=2, n_head=2)
    assert config_fields("mlp", block_size=3, n_embd=16, n_hidden=32, n_layer=None, n_head=2) == dict(
        block_size=3, n_embd=16, n_hidden=32)
    with pytest.raises(ValueError, match="multiple of n_head"):
        build_model("gpt", vocab_size=10, **config_fields("gpt", n_embd=30, n_head=4))


def test_run_limits_refuse_a_model_too_big_for_a_shared_cpu():
    run = tiny_run()
    check_run_limits(run, max_params=10**6, max_logits=10**6)
    with pytest.raises(ValueError, match="parameters, over the limit"):
        check_run_limits(run, max_params=100, max_logits=10**6)
    with pytest.raises(ValueError, match="logits"):
        check_run_limits(run, max_params=10**6, max_logits=100)


def test_eta_follows_the_pace_or_the_clock():
    assert eta_seconds(25, 100, 10.0) == 30.0
    assert eta_seconds(0, 100, 0.0) is None
    assert eta_seconds(10, None, 50.0, max_seconds=30) == 0.0  # never negative


# --- training that reports a few times a second -------------------------------------------------


def test_live_training_holds_the_live_model_from_the_first_update():
    run = tiny_run(steps=6)
    updates = list(live_training(run, update_every=0, sample_every=0, sample_tokens=5, val_every=0, max_share=math.inf,
                                 val_share=math.inf))
    first, last = updates[0], updates[-1]
    assert first.metrics == {} and first.checkpoint.model is run.model  # before any step
    assert all(u.checkpoint is first.checkpoint for u in updates)  # one object, kept current
    assert [u.metrics["step"] for u in updates[1:]] == [1, 2, 3, 4, 5, 6]
    assert last.done and last.eta == 0.0 and last.sample is not None
    assert first.checkpoint.info["steps"] == 6 and first.checkpoint.metrics == run.metrics
    assert all(u.metrics["val_loss"] is not None for u in updates[1:])  # val_every=0: every step
    assert not run.model.training


def test_live_training_updates_are_throttled_by_the_clock():
    run = tiny_run(steps=40)
    ticks = itertools.count(0, 0.01)  # 10 ms per clock read
    updates = list(live_training(run, update_every=3600, sample_every=3600, val_every=3600, clock=lambda: next(ticks)))
    assert len(updates) == 2  # the one before training and the last
    assert updates[-1].done and updates[-1].sample is not None
    history = updates[-1].history
    assert [m["val_loss"] is not None for m in history] == [False] * 39 + [True]  # only the final, full one


def test_checks_that_cost_too_much_of_the_time_come_less_often():
    def val_checks(val_share):
        ticks = itertools.count(0, 0.01)  # every clock read is 10 ms later: an evaluation "costs" 10 ms
        updates = list(live_training(tiny_run(steps=30), update_every=0, sample_every=3600, val_every=0.01,
                                     val_share=val_share, clock=lambda: next(ticks)))
        return sum(m["val_loss"] is not None for m in updates[-1].history[:-1])

    assert val_checks(math.inf) == 29  # free checks: one every step
    assert 1 <= val_checks(0.05) <= 4  # 10 ms each may use 5% of the time: one per 200 ms at most


def test_closing_live_training_keeps_what_was_learned():
    run = tiny_run(steps=1000)
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    updates = live_training(run, update_every=0, sample_every=3600, val_every=3600)
    ckpt = next(updates).checkpoint
    for _ in range(3):
        next(updates)
    updates.close()  # what Gradio does when the Stop button cancels the event
    assert ckpt.info["steps"] == 3 and len(ckpt.metrics) == 3
    assert any(not torch.equal(before[k], v) for k, v in ckpt.model.state_dict().items())
    assert not ckpt.model.training  # closing the trainer put the model in eval mode


def test_a_time_budget_ends_the_run():
    run = tiny_run(steps=None, seconds=0.3)
    last = list(live_training(run, update_every=0.05))[-1]
    summary = training_summary(last)
    assert last.done and summary["stopped_by"] == "time" and summary["seconds"] >= 0.3
    assert summary["steps"] == last.metrics["step"] and summary["val_loss"] is not None


def test_training_slots_refuse_then_free_and_expire():
    now = [0.0]
    slots = TrainingSlots(2, max_hold_seconds=10, clock=lambda: now[0])
    a, b = slots.try_acquire(), slots.try_acquire()
    assert a is not None and b is not None and slots.try_acquire() is None
    slots.release(a)
    assert slots.in_use == 1 and slots.try_acquire() is not None
    now[0] = 11.0  # both holders forgot to give their tickets back
    assert slots.in_use == 0 and slots.try_acquire() is not None


# --- chart tables ------------------------------------------------------------------------------------


def test_loss_frame_bins_the_train_curve_and_keeps_val_points():
    history = [{"step": s, "train_loss": float(s), "val_loss": 0.5 if s % 100 == 0 else None} for s in range(1, 1001)]
    frame = loss_frame(history, max_points=100)
    train, val = frame[frame.curve == "train"], frame[frame.curve == "val"]
    assert len(train) == 100 and train.step.iloc[-1] == 1000 and train.loss.iloc[0] == 5.5  # mean of 1..10
    assert val.step.tolist() == list(range(100, 1001, 100))
    empty = loss_frame([])
    assert list(empty.columns) == ["step", "loss", "curve"] and str(empty.step.dtype) == "int64"
    early = loss_frame(history[:5])  # no val check yet: the val curve is there, with nothing to draw
    assert early.curve.tolist() == ["train"] * 5 + ["val"] and math.isnan(early.loss.iloc[-1])


def test_candidates_frame_shows_whitespace_and_keeps_labels_unique():
    frame = candidates_frame([(" the", 5, 0.5), ("\n", 1, 0.3), ("", 2, 0.1), ("·the", 9, 0.1)])
    assert frame.token.tolist() == ["·the #5", "↵", "∅", "·the #9"]
    assert frame.prob.tolist() == [0.5, 0.3, 0.1, 0.1]


def test_chunk_by_time_sends_the_first_item_at_once_then_groups():
    ticks = itertools.count(0, 0.04)  # each item arrives 40 ms after the last
    chunks = list(chunk_by_time(range(10), seconds=0.1, clock=lambda: next(ticks)))
    assert chunks[0] == [0]
    assert sum(chunks, []) == list(range(10))
    assert all(len(c) <= 3 for c in chunks)
    assert list(chunk_by_time([], 1.0)) == []


def test_a_live_model_says_it_is_training_until_the_run_ends():
    updates = live_training(tiny_run(steps=3), update_every=0, sample_every=3600, val_every=3600)
    first = next(updates)
    assert first.checkpoint.info["training"] is True  # the other tabs show "training now"
    last = list(updates)[-1]
    assert last.done and "training" not in last.checkpoint.info
