"""Training: random windows of the corpus, AdamW, warmup + cosine decay, and an honest val loss.

``train`` is a generator. It yields a dict of metrics after every step, so the command line can
draw a progress bar, the app can plot and stream, and either can stop it: closing the generator
(``gen.close()``, or just breaking out of the loop) leaves the model with the weights trained so
far. Everything random takes an explicit seed, so two runs with one config give the same numbers.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

Batch = tuple[torch.Tensor, torch.Tensor]  # (x, y), both (B, T) ids; y = -1 is not a target


PRECISIONS = ("auto", "bf16", "fp32")  # TrainConfig.precision, see autocast


@dataclass
class TrainConfig:
    max_steps: int = 1000  # optimizer steps (the schedule ends here unless max_seconds ends it first)
    max_seconds: float | None = None  # wall-clock budget; the schedule then follows elapsed time
    batch_size: int = 32  # windows per step
    seq_len: int | None = None  # window length; None = the model's block_size (GPT) or 64 (others)
    learning_rate: float = 3e-3  # peak learning rate, reached after the warmup
    warmup_steps: int = 50  # linear warmup from 0 to learning_rate
    min_lr_ratio: float = 0.1  # cosine decay ends at learning_rate * min_lr_ratio
    weight_decay: float = 0.1  # AdamW decay, on matrices only (not biases, norms or positions)
    beta1: float = 0.9  # AdamW momentum
    beta2: float = 0.99  # AdamW second-moment decay (0.99: small batches are noisy)
    grad_clip: float = 1.0  # clip the global gradient norm (0 = off)
    eval_interval: int = 200  # steps between val-loss evaluations during training
    eval_tokens: int | None = 32_768  # val tokens used by those evaluations (None = all); the final one uses all
    seed: int = 1337  # seeds batch sampling (seed the model's init yourself, see seed_everything)
    device: str = "auto"  # "auto" picks cuda, then mps, then cpu
    precision: str = "auto"  # "auto": bf16 autocast on a GPU that has it, else fp32; "bf16" or "fp32" on any device


def resolve_device(device: str = "auto") -> torch.device:
    """The device to train on: a GPU when there is one, else the CPU."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda", dist.get_rank() % torch.cuda.device_count() if dist.is_initialized() else 0)
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast(device: torch.device, precision: str = "auto"):
    """bf16 autocast (matrix products in bf16, weights and their updates in fp32; no loss scaling).

    ``auto`` turns it on for GPUs that support it. On a CPU it pays only for large enough matrix
    products and a CPU with bf16 instructions (``python bench/bench_step.py``): the chat model's
    build asks for it (``--precision bf16``), small models are faster in fp32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be auto, bf16 or fp32, not {precision!r}")
    if precision == "bf16" or (precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global RNG (model init, dropout) and return a generator for batches."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def lr_at(step: int, progress: float, config: TrainConfig) -> float:
    """Learning rate for ``step`` when a fraction ``progress`` (0..1) of the budget is spent.

    >>> c = TrainConfig(learning_rate=1.0, warmup_steps=10, min_lr_ratio=0.1)
    >>> lr_at(4, 0.0, c), lr_at(50, 0.0, c), lr_at(50, 1.0, c)
    (0.5, 1.0, 0.1)
    """
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    min_lr = config.learning_rate * config.min_lr_ratio
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))  # 1 -> 0
    return min_lr + (config.learning_rate - min_lr) * cosine


def default_seq_len(model) -> int:
    """GPT trains on whole blocks; the MLP and bigram see only their last few tokens anyway."""
    return model.block_size if hasattr(model, "transformer") else max(64, model.block_size)


def get_batch(ids: torch.Tensor, batch_size: int, seq_len: int, generator: torch.Generator) -> Batch:
    """``batch_size`` random windows of ``ids``, the targets shifted by one (no wrap-around).

    >>> x, y = get_batch(torch.arange(10), 2, 4, torch.Generator().manual_seed(0))
    >>> bool((y == x + 1).all()), tuple(x.shape)
    (True, (2, 4))
    """
    if len(ids) < seq_len + 1:
        raise ValueError(f"the corpus has {len(ids)} tokens, fewer than one window of {seq_len + 1}; use more text or a shorter context")
    starts = torch.randint(len(ids) - seq_len, (batch_size,), generator=generator)
    offsets = torch.arange(seq_len + 1)
    windows = ids[starts[:, None] + offsets]  # (B, T + 1), one gather instead of a Python loop
    return windows[:, :-1], windows[:, 1:]


@torch.no_grad()
def evaluate(model, ids: torch.Tensor, max_tokens: int | None = None, batch_size: int = 64) -> float:
    """Mean cross-entropy (nats per token) of the model on ``ids``, each token scored once.

    A GPT reads the split in consecutive blocks of ``block_size`` (as nanoGPT's estimate does,
    but covering all of it). The MLP and bigram are scored with their full context everywhere:
    each window carries ``block_size - 1`` tokens of overlap that are read but not scored.
    """
    was_training = model.training
    model.eval()
    if max_tokens is not None and len(ids) > max_tokens + 1:
        ids = ids[: max_tokens + 1]
    if len(ids) < 2:
        raise ValueError("need at least two tokens to evaluate a loss")
    gpt = hasattr(model, "transformer")
    overlap = 0 if gpt else model.block_size - 1
    stride = model.block_size if gpt else 512
    total, count = 0.0, 0
    windows = []  # (x, y) pairs of equal length except possibly the last
    for start in range(0, len(ids) - 1, stride):
        lo, hi = max(start - overlap, 0), min(start + stride, len(ids) - 1)
        x, y = ids[lo:hi], ids[lo + 1:hi + 1].clone()
        y[:start - lo] = -1  # context only: scored by the window before
        windows.append((x, y))
    device = next(model.parameters()).device
    for i in range(0, len(windows), batch_size):
        group = windows[i:i + batch_size]
        # windows of one length go together; the last, shorter one goes alone
        for same in _by_length(group):
            x = torch.stack([w[0] for w in same]).to(device)
            y = torch.stack([w[1] for w in same]).to(device)
            with autocast(device):
                logits, _ = model(x)
            logits = logits.float()
            loss = torch.nn.functional.cross_entropy(
                logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-1, reduction="sum")
            total += loss.item()
            count += int((y != -1).sum())
    model.train(was_training)
    return total / count


def _by_length(windows):
    lengths = sorted({len(w[0]) for w in windows})
    return [[w for w in windows if len(w[0]) == n] for n in lengths]


def make_optimizer(model, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW; weight decay only on matrices (embeddings and Linear weights), as in nanoGPT.

    On a CPU or a CUDA GPU the fused kernel updates every parameter in one pass instead of a
    loop of small operations (4 % of a small GPT's step on a 2-core CPU: bench/bench_step.py).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = bool(params) and params[0].device.type in ("cpu", "cuda") and all(p.dtype == torch.float32 for p in params)
    return torch.optim.AdamW(groups, lr=config.learning_rate, betas=(config.beta1, config.beta2), fused=fused)


def train(
    model,
    train_ids: torch.Tensor | None,
    val_ids: torch.Tensor | None,
    config: TrainConfig,
    batch_fn: Callable[[torch.Generator], Batch] | None = None,
    eval_fn: Callable[..., float] | None = None,
) -> Iterator[dict]:
    """Train ``model`` in place, yielding metrics after every step.

    Each yielded dict has ``step``, ``train_loss``, ``lr``, ``tokens``, ``tokens_per_s``,
    ``elapsed`` and ``val_loss`` (None except at evaluation steps). The last one also has
    ``done=True`` and the val loss on the whole val split. ``batch_fn(generator)`` replaces the
    random corpus windows (e.g. padded chat conversations); ``eval_fn(model, max_tokens)``
    replaces the val loss on ``val_ids`` (e.g. the loss on held-out assistant replies only).

    Under ``torchrun`` (a process group is initialised) the model is wrapped in
    DistributedDataParallel: each process draws its own batches (seed + rank) and gradients are
    averaged, so every process holds the same weights after every step.
    """
    if config.max_steps < 1 and not config.max_seconds:
        raise ValueError("give max_steps >= 1 or a time budget in max_seconds")
    rank = dist.get_rank() if dist.is_initialized() else 0
    generator = torch.Generator().manual_seed(config.seed + rank)
    seq_len = config.seq_len or default_seq_len(model)
    if batch_fn is None:
        batch_fn = lambda g: get_batch(train_ids, config.batch_size, seq_len, g)  # noqa: E731
    if eval_fn is None:
        eval_fn = lambda m, max_tokens=None: evaluate(m, val_ids, max_tokens=max_tokens)  # noqa: E731
    device = resolve_device(config.device)
    model.to(device)
    # DDP averages gradients across processes during backward; the optimizer sees the plain model
    stepper = DistributedDataParallel(model) if dist.is_initialized() else model
    optimizer = make_optimizer(model, config)
    model.train()
    started = time.perf_counter()
    tokens = 0
    max_steps = config.max_steps if config.max_steps >= 1 else 10**12
    elapsed = 0.0  # seconds so far; under DDP the slowest process's, so all follow one schedule
    try:
        for step in range(1, max_steps + 1):
            progress = step / max_steps if config.max_seconds is None else max(step / max_steps, elapsed / config.max_seconds)
            lr = lr_at(step - 1, progress, config)
            for group in optimizer.param_groups:
                group["lr"] = lr

            x, y = (t.to(device, non_blocking=True) for t in batch_fn(generator))
            with autocast(device, config.precision):
                _, loss = stepper(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()

            tokens += int((y != -1).sum())
            elapsed = time.perf_counter() - started
            if dist.is_initialized() and config.max_seconds is not None:
                clock = torch.tensor([elapsed], dtype=torch.float64, device=device if device.type == "cuda" else "cpu")
                dist.all_reduce(clock, op=dist.ReduceOp.MAX)
                elapsed = float(clock.item())
            out_of_time = config.max_seconds is not None and elapsed >= config.max_seconds
            last = step == max_steps or out_of_time
            val_loss = None
            if last:
                val_loss = eval_fn(model)
                model.train()
            elif step % config.eval_interval == 0:
                val_loss = eval_fn(model, max_tokens=config.eval_tokens)
                model.train()
            yield {
                "step": step, "train_loss": loss.item(), "val_loss": val_loss, "lr": lr, "tokens": tokens,
                "tokens_per_s": tokens / max(elapsed, 1e-9), "elapsed": elapsed, "done": last,
            }
            if last:
                break
    finally:  # also when the caller stops early: the weights trained so far stay
        model.eval()
        model.to("cpu")  # checkpoints, sampling and the app work on the CPU
