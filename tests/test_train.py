"""Training: batches, the learning-rate schedule, an honest val loss, and a loop you can stop."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from tinylm.cli import build_parser, run_config_from_args
from tinylm.data import corpus_from_text
from tinylm.models import build_model
from tinylm.presets import get_preset
from tinylm.runs import RunConfig, prepare_run, train_run
from tinylm.train import TrainConfig, evaluate, get_batch, lr_at, seed_everything, train

VOCAB = 7
TINY = {
    "bigram": dict(vocab_size=VOCAB),
    "mlp": dict(vocab_size=VOCAB, block_size=3, n_embd=8, n_hidden=16),
    "gpt": dict(vocab_size=VOCAB, block_size=8, n_layer=1, n_head=2, n_embd=16),
}
TEXT = "the cat sat on the mat. the dog sat on the log. " * 20


def tiny_model(kind: str, seed: int = 0):
    seed_everything(seed)
    return build_model(kind, **TINY[kind])


def random_ids(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(VOCAB, (n,), generator=torch.Generator().manual_seed(seed))


def quick_config(**overrides) -> TrainConfig:
    return TrainConfig(**{**dict(max_steps=12, batch_size=4, learning_rate=1e-2, warmup_steps=2,
                                 eval_interval=5), **overrides})


# --- batches --------------------------------------------------------------------------------


def test_get_batch_targets_are_inputs_shifted_and_never_wrap():
    ids = torch.arange(20)  # a token's id is its position, so a wrap-around would show
    generator = torch.Generator().manual_seed(0)
    starts = set()
    for _ in range(50):
        x, y = get_batch(ids, 8, 5, generator)
        assert x.shape == y.shape == (8, 5)
        assert torch.equal(y, x + 1)
        assert torch.equal(x, x[:, :1] + torch.arange(5))  # consecutive windows
        starts.update(x[:, 0].tolist())
    assert starts == set(range(15))  # every window fits, the last one included


def test_get_batch_is_seeded():
    ids = random_ids(100)
    a = get_batch(ids, 4, 6, torch.Generator().manual_seed(1))
    b = get_batch(ids, 4, 6, torch.Generator().manual_seed(1))
    assert all(torch.equal(u, v) for u, v in zip(a, b))


def test_a_corpus_shorter_than_one_window_fails_clearly():
    with pytest.raises(ValueError, match="corpus has 5 tokens, fewer than one window of 9"):
        get_batch(torch.arange(5), 2, 8, torch.Generator())
    model = tiny_model("gpt")  # block_size 8: a window is 9 tokens
    with pytest.raises(ValueError, match="fewer than one window"):
        next(train(model, torch.arange(5) % VOCAB, torch.arange(5) % VOCAB, quick_config()))


# --- the learning-rate schedule -------------------------------------------------------------


def test_lr_warms_up_linearly_then_decays_by_cosine():
    c = TrainConfig(learning_rate=1.0, warmup_steps=4, min_lr_ratio=0.1)
    assert [lr_at(step, 0.0, c) for step in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_at(4, 0.0, c) == 1.0
    assert lr_at(10, 0.5, c) == pytest.approx(0.55)  # halfway down the cosine
    assert lr_at(10, 0.25, c) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_at(10, 1.0, c) == pytest.approx(0.1)
    assert lr_at(10, 3.0, c) == pytest.approx(0.1)  # past the budget it stays at the floor
    curve = [lr_at(10, p / 10, c) for p in range(11)]
    assert curve == sorted(curve, reverse=True)


def test_training_follows_the_schedule():
    config = quick_config(max_steps=10, warmup_steps=3, learning_rate=0.1, min_lr_ratio=0.1)
    metrics = list(train(tiny_model("bigram"), random_ids(200), random_ids(50, 1), config))
    assert [m["lr"] for m in metrics[:3]] == pytest.approx([0.1 / 3, 0.2 / 3, 0.1])
    assert metrics[-1]["lr"] == pytest.approx(0.01)  # the cosine ends at the floor


# --- evaluate -------------------------------------------------------------------------------


def manual_loss(model, ids: torch.Tensor) -> float:
    """Every next token scored once: the whole sequence at once (bigram, MLP), or block by block (GPT)."""
    block = model.block_size if hasattr(model, "transformer") else len(ids)
    total, count = 0.0, 0
    for start in range(0, len(ids) - 1, block):
        x = ids[start:start + block][: len(ids) - 1 - start]
        y = ids[start + 1:start + 1 + len(x)]
        logits, _ = model(x[None])
        total += F.cross_entropy(logits[0], y, reduction="sum").item()
        count += len(y)
    assert count == len(ids) - 1
    return total / count


@pytest.mark.parametrize("kind", [
    "bigram",
    "gpt",
    "mlp",
])
@pytest.mark.parametrize("n_tokens", [20, 1100])  # one window, and several (the MLP's stride is 512)
def test_evaluate_scores_every_token_once(kind, n_tokens):
    model = tiny_model(kind)
    if kind == "bigram":
        torch.nn.init.normal_(model.logits)
    model.eval()
    ids = random_ids(n_tokens, seed=3)
    with torch.no_grad():
        expected = manual_loss(model, ids)
    assert evaluate(model, ids) == pytest.approx(expected, abs=1e-5)
    assert evaluate(model, ids, batch_size=1) == pytest.approx(expected, abs=1e-5)


def test_evaluate_limits_tokens_and_keeps_the_training_mode():
    model = tiny_model("gpt").train()
    ids = random_ids(300, seed=4)
    assert evaluate(model, ids, max_tokens=40) == pytest.approx(evaluate(model, ids[:41]))
    assert model.training
    with pytest.raises(ValueError, match="at least two tokens"):
        evaluate(model, ids[:1])


# --- the training loop ----------------------------------------------------------------------


def run_once(seed: int = 1337):
    config = RunConfig(dataset="pasted", tokenizer="char", model="gpt", seed=seed,
                       model_config=dict(block_size=8, n_layer=1, n_head=2, n_embd=16, dropout=0.1),
                       train=quick_config(seed=seed))
    run = prepare_run(config, corpus_from_text(TEXT))
    metrics = list(train_run(run))
    return metrics, run.model.state_dict()


def test_same_seed_same_run():
    (metrics_a, weights_a), (metrics_b, weights_b) = run_once(), run_once()
    timing = ("elapsed", "tokens_per_s")
    strip = lambda rows: [{k: v for k, v in r.items() if k not in timing} for r in rows]  # noqa: E731
    assert strip(metrics_a) == strip(metrics_b)
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    metrics_c, _ = run_once(seed=7)
    assert strip(metrics_c) != strip(metrics_a)


def test_metrics_and_the_final_val_loss():
    model = tiny_model("mlp")
    train_ids, val_ids = random_ids(300), random_ids(100, seed=1)
    metrics = list(train(model, train_ids, val_ids, quick_config(max_steps=12, eval_interval=5, seq_len=6)))
    assert [m["step"] for m in metrics] == list(range(1, 13))
    assert [m["done"] for m in metrics] == [False] * 11 + [True]
    assert [m["val_loss"] is not None for m in metrics] == [s in (5, 10, 12) for s in range(1, 13)]
    assert metrics[-1]["val_loss"] == pytest.approx(evaluate(model, val_ids))  # the whole val split
    assert metrics[-1]["tokens"] == 12 * 4 * 6
    assert not model.training  # left ready to sample


def test_a_time_budget_stops_training():
    model = tiny_model("bigram")
    config = quick_config(max_steps=10**9, max_seconds=0.3, learning_rate=0.1, min_lr_ratio=0.1)
    metrics = list(train(model, random_ids(200), random_ids(50, 1), config))
    last = metrics[-1]
    assert last["done"] and last["val_loss"] is not None
    assert 0.3 <= last["elapsed"] < 5
    assert last["lr"] < 0.05  # the schedule followed the clock down towards its floor of 0.01


def test_closing_the_generator_keeps_the_trained_weights():
    model = tiny_model("gpt")
    initial = copy.deepcopy(model.state_dict())
    steps = train(model, random_ids(300), random_ids(50, 1), quick_config(max_steps=100))
    for metrics in steps:
        after_step = copy.deepcopy(model.state_dict())
        if metrics["step"] == 5:
            break
    steps.close()
    assert not metrics["done"]
    weights = model.state_dict()
    assert all(torch.equal(weights[k], after_step[k]) for k in weights)
    assert not all(torch.equal(weights[k], initial[k]) for k in weights)


def test_nothing_to_train_fails():
    with pytest.raises(ValueError, match="max_steps >= 1 or a time budget"):
        next(train(tiny_model("bigram"), random_ids(100), random_ids(50), quick_config(max_steps=0)))


def test_training_lowers_the_loss():
    model = tiny_model("mlp")
    ids = torch.arange(400) % VOCAB  # 0 1 2 3 4 5 6 0 1 ...: perfectly predictable
    before = evaluate(model, ids)
    metrics = list(train(model, ids, ids[:100], quick_config(max_steps=40, seq_len=8, learning_rate=3e-2)))
    assert metrics[-1]["val_loss"] < 0.2 * before


def test_bf16_autocast_trains_on_the_cpu_too():
    """``precision="bf16"``: the matrix products in bf16 (the chat build's choice on a CPU), the
    weights still fp32; it learns what fp32 learns."""
    ids = torch.arange(400) % VOCAB
    losses = {}
    for precision in ("fp32", "bf16"):
        model = tiny_model("gpt")
        before = evaluate(model, ids)
        metrics = list(train(model, ids, ids[:100], quick_config(max_steps=40, learning_rate=3e-2, precision=precision)))
        assert all(p.dtype == torch.float32 for p in model.parameters())
        losses[precision] = metrics[-1]["val_loss"] / before
    assert losses["bf16"] < 0.2 and losses["fp32"] < 0.2


def test_an_unknown_precision_fails_clearly():
    with pytest.raises(ValueError, match="precision must be auto, bf16 or fp32"):
        next(train(tiny_model("gpt"), random_ids(100), random_ids(50), quick_config(precision="fp8")))


def test_a_preset_takes_the_sizes_given_on_the_command_line():
    """`train --preset chat-base --n-layer 6 --n-embd 96` trains that size, not silently the preset's."""
    config = run_config_from_args(build_parser().parse_args(["train", "--preset", "chat-base", "--n-layer", "6",
                                                             "--n-embd", "96"]))
    assert config.model_config == {"block_size": 256, "n_layer": 6, "n_head": 4, "n_embd": 96}
    assert run_config_from_args(build_parser().parse_args(["train", "--preset", "chat-base"])).model_config == {
        "block_size": 256, "n_layer": 4, "n_head": 4, "n_embd": 128}


def test_a_preset_takes_every_run_flag_given_beside_it():
    """--tokenizer, --vocab-size, --seed, --lr, --batch-size beside --preset change the run (they were
    silently the preset's); flags not given leave the preset's own values."""
    def config(*flags):
        return run_config_from_args(build_parser().parse_args(["train", *flags]))

    changed = config("--preset", "chat-base", "--tokenizer", "bpe", "--vocab-size", "512", "--seed", "7", "--lr", "1e-3",
                     "--batch-size", "8")
    assert (changed.tokenizer, changed.vocab_size, changed.seed, changed.train.seed) == ("bpe", 512, 7, 7)
    assert (changed.train.learning_rate, changed.train.batch_size) == (1e-3, 8)
    preset, own = config("--preset", "chat-base"), get_preset("chat-base")
    assert (preset.tokenizer, preset.seed, preset.train) == (own.tokenizer, own.seed, own.train)
    plain = config("--data", "names")
    assert (plain.model, plain.tokenizer, plain.seed, plain.train.batch_size, plain.train.learning_rate) == (
        "gpt", "char", 1337, 32, 3e-3)
    with pytest.raises(SystemExit, match="trains a gpt; leave out --model mlp"):
        config("--preset", "chat-base", "--model", "mlp")
