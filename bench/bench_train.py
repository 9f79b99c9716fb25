"""Training to a quality in a wall-clock budget: the README's Shakespeare and names figures.

    python bench/bench_train.py shakespeare [--seconds 40]    # target: val <= 1.88 in <= 40 s
    python bench/bench_train.py names [--seconds 45]          # target: val <= 2.00 in <= 45 s

The same recipes as the README's `python -m tinylm train ...` commands. The learning-rate schedule
follows the clock, and the val loss is measured once at the end on the whole val split. Prints
one JSON line each for the val loss and the throughput, with the time spent training and the
whole wall time (imports, tokenizing, the final evaluation). Needs a quiet machine: other jobs
on the same cores cut the steps done in the budget, and so the quality.
"""

import argparse
import time

started = time.perf_counter()

from common import report  # noqa: E402  (sets the offline environment first)

import torch  # noqa: E402

from tinylm.data import load_corpus  # noqa: E402
from tinylm.runs import RunConfig, prepare_run, train_run  # noqa: E402
from tinylm.train import TrainConfig  # noqa: E402

RECIPES = {
    # nanoGPT's CPU model (4 layers, 4 heads, 128 wide, context 64), a higher learning rate, batch 16
    "shakespeare": (RunConfig(dataset="tiny_shakespeare", tokenizer="char", model="gpt",
                              model_config=dict(block_size=64, n_layer=4, n_head=4, n_embd=128),
                              train=TrainConfig(max_steps=10**6, batch_size=16, learning_rate=3e-3,
                                                eval_interval=10**9)), 40.0, 1.88),
    # the names-mlp model (context 5, hidden 512, dropout 0.2), batch 64, learning rate 4e-3
    "names": (RunConfig(dataset="names", tokenizer="char", model="mlp",
                        model_config=dict(block_size=5, n_embd=48, n_hidden=512, dropout=0.2),
                        train=TrainConfig(max_steps=10**7, batch_size=64, learning_rate=4e-3,
                                          eval_interval=10**9)), 45.0, 2.00),
}

parser = argparse.ArgumentParser()
parser.add_argument("recipe", choices=list(RECIPES))
parser.add_argument("--seconds", type=float, help="training budget (default: the target's)")
parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
args = parser.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)

config, budget, target = RECIPES[args.recipe]
config.train.max_seconds = args.seconds or budget
run = prepare_run(config, load_corpus(config.dataset))
last = None
for last in train_run(run):
    pass
wall = time.perf_counter() - started
settings = dict(recipe=args.recipe, budget_s=config.train.max_seconds, steps=last["step"],
                train_s=round(last["elapsed"], 1), wall_s=round(wall, 1), batch_size=config.train.batch_size,
                learning_rate=config.train.learning_rate, model=config.model, **config.model_config)
report("val_loss", round(run.val_loss, 4), target=target, **settings)
report("train_tokens_per_s", round(last["tokens_per_s"]), **settings)
