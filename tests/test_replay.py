"""tinylm.replay: snapshots kept while a tiny model trains, replayed and compared."""

import pytest
import torch

from tinylm import replay as tr
from tinylm.data import corpus_from_text
from tinylm.live import live_training
from tinylm.runs import RunConfig, prepare_run, train_run
from tinylm.train import TrainConfig

TEXT = "the cat sat on the mat. the dog ate the hat. " * 40


def tiny_run(steps=30):
    config = RunConfig(dataset="pasted", model="gpt", model_config=dict(block_size=8, n_layer=1, n_head=2, n_embd=16),
                       train=TrainConfig(max_steps=steps, batch_size=8, eval_interval=10, warmup_steps=2))
    return prepare_run(config, corpus_from_text(TEXT))


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_first_snapshot_is_the_initial_model_and_the_last_the_final_one():
    run = tiny_run()
    initial = {k: v.clone() for k, v in run.model.state_dict().items()}
    snapshots = tr.Snapshots(every_steps=7)
    metrics = list(tr.record_snapshots(train_run(run), run.model, snapshots))
    steps = [s.step for s in snapshots.items]
    assert steps == [0, 7, 14, 21, 28, 30]  # every 7 steps, and the last step (done)
    assert_same_weights(snapshots.items[0].state_dict, initial)
    assert_same_weights(snapshots.items[-1].state_dict, run.model.state_dict())
    assert snapshots.items[-1].val_loss == metrics[-1]["val_loss"] is not None
    assert all(t.device.type == "cpu" and not t.requires_grad for t in snapshots.items[-1].state_dict.values())


def test_stopping_early_still_snapshots_the_final_weights():
    run = tiny_run(steps=1000)
    snapshots = tr.Snapshots(every_steps=50)
    steps = tr.record_snapshots(train_run(run), run.model, snapshots)
    for metrics in steps:
        if metrics["step"] == 12:
            break
    steps.close()
    assert [s.step for s in snapshots.items] == [0, 12]
    assert_same_weights(snapshots.items[-1].state_dict, run.model.state_dict())


def test_snapshots_respect_the_cap_and_stay_evenly_spaced():
    run = tiny_run(steps=60)
    snapshots = tr.Snapshots(every_steps=1, max_snapshots=8)
    for _ in tr.record_snapshots(train_run(run), run.model, snapshots):
        assert len(snapshots.items) <= 8
    steps = [s.step for s in snapshots.items]
    assert steps[0] == 0 and steps[-1] == 60 and len(steps) >= 4
    gaps = {b - a for a, b in zip(steps[:-1], steps[1:-1])}
    assert gaps == {snapshots.every_steps}  # evenly spaced but for the last
    assert_same_weights(snapshots.items[-1].state_dict, run.model.state_dict())


def test_byte_cap_keeps_fewer_snapshots_of_a_bigger_model():
    model = torch.nn.Linear(100, 100)  # 40 kB a copy
    snapshots = tr.Snapshots(every_steps=1, max_snapshots=50, max_bytes=5 * 40_400)
    for step in range(40):
        snapshots.maybe_take(model, {"step": step})
        assert len(snapshots.items) <= 5


def test_tied_weights_are_copied_once():
    run = tiny_run()
    state = tr.copy_state_dict(run.model)
    assert state["transformer.wte.weight"] is state["lm_head.weight"]


def test_weight_change_of_a_snapshot_with_itself_is_zero_and_training_moves_weights():
    run = tiny_run()
    snapshots = tr.Snapshots(every_steps=10)
    list(tr.record_snapshots(train_run(run), run.model, snapshots))
    first, last = snapshots.items[0], snapshots.items[-1]
    for name in first.state_dict:
        same = tr.weight_change(last, last, name)
        assert same.relative == 0 and same.max_abs == 0 and not same.delta.any()
        assert same.delta.dim() == 2
    moved = tr.weight_change(first, last, "transformer.wte.weight")
    assert moved.delta.shape == run.model.transformer.wte.weight.shape and moved.relative > 0
    assert torch.allclose(moved.delta, last.state_dict["transformer.wte.weight"] - first.state_dict["transformer.wte.weight"])
    with pytest.raises(ValueError, match="no parameter"):
        tr.weight_change(first, last, "nope")


def test_replay_frame_is_repeatable_and_the_last_frame_is_the_final_model():
    run = tiny_run()
    snapshots = tr.Snapshots(every_steps=10)
    list(tr.record_snapshots(train_run(run), run.model, snapshots))
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    first = tr.replay_frame(run.model, run.tokenizer, snapshots.items[0], "the ", k=5, sample_tokens=20)
    again = tr.replay_frame(run.model, run.tokenizer, snapshots.items[0], "the ", k=5, sample_tokens=20)
    assert first.sample == again.sample and first.top == again.top and first.step == 0
    assert len(first.top) == 5 and first.projection.coords.shape == (len(first.projection.ids), 2)
    assert_same_weights(run.model.state_dict(), before)  # replaying never touches the live model
    final = tr.model_at(run.model, snapshots.items[-1])
    assert_same_weights(final.state_dict(), run.model.state_dict())


def test_live_training_keeps_snapshots_on_the_checkpoint():
    run = tiny_run(steps=25)
    updates = list(live_training(run, update_every=0.0, sample_every=1e9, val_every=1e9))
    ckpt = updates[-1].checkpoint
    assert [s.step for s in ckpt.snapshots] == [0, 10, 20, 25]
    assert_same_weights(ckpt.snapshots[-1].state_dict, run.model.state_dict())
