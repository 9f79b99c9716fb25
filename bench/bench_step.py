"""What each fast path is worth: milliseconds per training step, with it and without it.

    python bench/bench_step.py               # ~1 minute; one JSON line per variant
    python bench/bench_step.py --compile     # also torch.compile (adds ~30 s of compiling)

Two models, the ones of bench/bench_train.py: nanoGPT's CPU GPT (4 layers, 128 wide, context 64,
batch 16) and the names MLP (context 5, two hidden layers of 512, batch 64 x 64); and the chat
model's SFT step (the same GPT at context 256, batch 32 x 256), where bf16 pays, and at the other
sizes the README's chat section tried. Each variant changes one thing from the fast default and
times forward + backward + clip + AdamW on one fixed batch (no data loading), best of three rounds.
The README's Performance section quotes these.
"""

import argparse
import time

from common import report

import torch

from tinylm.models import build_model
from tinylm.train import TrainConfig, make_optimizer

GPT = dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128)
MLP = dict(vocab_size=28, block_size=5, n_embd=48, n_hidden=512, n_layer=2)
CHAT = dict(vocab_size=102, block_size=256, n_layer=4, n_head=4, n_embd=128)
SHAPES = {"gpt": (16, 64), "mlp": (64, 64), "chat": (32, 256)}  # (batch, seq_len)


def ms_per_step(kind: str, config: dict, batch: int, seq_len: int, fast: bool = True, fused: bool = True,
                autocast_bf16: bool = False, bf16_attention: bool = False, compile_: bool = False,
                steps: int = 30) -> float:
    torch.manual_seed(0)
    model = build_model("mlp" if kind == "mlp" else "gpt", **config).train()
    if kind != "mlp":
        model.set_fast_attention(fast)
        for block in model.transformer.h:
            block.attn.fp32_on_cpu = not bf16_attention
    else:
        model.fast = fast
    optimizer = make_optimizer(model, TrainConfig())
    if not fused:  # the same groups, rebuilt: each group of the first one carries its own fused=True
        groups = [{"params": g["params"], "weight_decay": g["weight_decay"]} for g in optimizer.param_groups]
        optimizer = torch.optim.AdamW(groups, lr=optimizer.defaults["lr"], betas=optimizer.defaults["betas"], fused=False)
        assert not any(g["fused"] for g in optimizer.param_groups)
    forward = torch.compile(model) if compile_ else model
    x = torch.randint(config["vocab_size"], (batch, seq_len))
    y = torch.randint(config["vocab_size"], (batch, seq_len))

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast_bf16):
            _, loss = forward(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    for _ in range(5):  # warm up (and compile)
        step()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - started) / steps)
    return 1000 * best


parser = argparse.ArgumentParser()
parser.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
args = parser.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)

variants = [
    ("gpt", "fast (default)", GPT, {}),
    ("gpt", "tanh GELU (GPT-2's)", {**GPT, "activation": "gelu_tanh"}, {}),
    ("gpt", "AdamW not fused", GPT, {"fused": False}),
    ("gpt", "reference attention", GPT, {"fast": False}),
    ("gpt", "bf16 autocast", GPT, {"autocast_bf16": True}),
    ("mlp", "fast (default): word dropout 0.1", {**MLP, "token_dropout": 0.1}, {}),
    ("mlp", "readable first layer", {**MLP, "token_dropout": 0.1}, {"fast": False}),
    ("mlp", "dropout 0.1 instead of word dropout", {**MLP, "dropout": 0.1}, {}),
    ("mlp", "no dropout at all", MLP, {}),
    ("chat", "fast (default)", CHAT, {"steps": 5}),
    ("chat", "bf16 autocast", CHAT, {"autocast_bf16": True, "steps": 5}),
    ("chat", "bf16 autocast, attention in bf16 too", CHAT, {"autocast_bf16": True, "bf16_attention": True, "steps": 5}),
    # the sizes the README's chat section compares: what a bf16 step of each costs
    *(("chat", f"bf16, {n_layer} layers {n_embd} wide", {**CHAT, "n_layer": n_layer, "n_embd": n_embd},
       {"autocast_bf16": True, "steps": 5}) for n_layer, n_embd in ((6, 96), (6, 128), (3, 160), (2, 192))),
]
if args.compile:
    variants.append(("gpt", "torch.compile", GPT, {"compile_": True}))
for kind, name, config, options in variants:
    batch, seq_len = SHAPES[kind]
    ms = ms_per_step(kind, config, batch, seq_len, **options)
    report("train_ms_per_step", round(ms, 2), model=kind, variant=name, batch_size=batch, seq_len=seq_len,
           tokens_per_s=round(batch * seq_len / ms * 1000), **{k: v for k, v in config.items() if k != "vocab_size"})
