"""Training replay: copies of the weights kept every few steps while a model trains, and what
the model said, predicted and embedded at each of them.

A tiny model's weights are a few hundred kilobytes to a few megabytes, so keeping a couple of
dozen copies is cheap. ``Snapshots`` records them (step 0 is the untrained model) and, when full,
drops every other one and doubles its interval, so a run of any length ends with evenly spaced
snapshots from its first step to its last. ``record_snapshots`` wraps any training generator::

    snapshots = Snapshots(every_steps=10)
    for metrics in record_snapshots(train_run(run), run.model, snapshots):
        ...
    snapshots.items[-1].state_dict  # the final weights

``replay_frame`` then shows one snapshot (a sample, the next-token distribution after a fixed
prompt, the embeddings' PCA) and ``weight_change`` what training did to one weight matrix.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import torch

from .inspection import Projection, token_map
from .sample import continue_text, top_next_tokens


@dataclass
class Snapshot:
    step: int  # optimizer steps done when it was taken (0: the initial weights)
    state_dict: dict[str, torch.Tensor]  # a detached CPU copy of model.state_dict()
    val_loss: float | None = None  # the val loss measured at that step, if one was
    train_loss: float | None = None  # the loss of that step's batch (None at step 0)


def copy_state_dict(model) -> dict[str, torch.Tensor]:
    """A detached CPU clone of ``model.state_dict()``; tied weights (GPT's wte = lm_head) stay one copy."""
    copies: dict[tuple, torch.Tensor] = {}
    out = {}
    for name, t in model.state_dict().items():
        key = (t.data_ptr(), t.shape, t.dtype)
        if key not in copies:
            copies[key] = t.detach().to("cpu", copy=True)
        out[name] = copies[key]
    return out


def state_bytes(state_dict: dict[str, torch.Tensor]) -> int:
    """Bytes a state dict holds, shared tensors counted once."""
    seen = {id(t): t for t in state_dict.values()}
    return sum(t.numel() * t.element_size() for t in seen.values())


class Snapshots:
    """Snapshots of a model taken every ``every_steps`` steps (or ``every_seconds``), at most ``max_snapshots``.

    Also at most ``max_bytes`` in all: a bigger model keeps fewer (never fewer than 3). When a new
    snapshot makes one too many, every other one is dropped (the first and the newest always
    stay) and the interval doubles.

    >>> s = Snapshots(every_steps=1, max_snapshots=4)
    >>> m = torch.nn.Linear(1, 1)
    >>> for step in range(8):
    ...     _ = s.maybe_take(m, {"step": step})
    >>> [x.step for x in s.items], s.every_steps
    ([0, 2, 4, 6], 2)
    """

    def __init__(self, every_steps: int | None = 10, every_seconds: float | None = None, max_snapshots: int = 32,
                 max_bytes: int = 64 * 2**20, clock: Callable[[], float] = time.perf_counter):
        if not every_steps and not every_seconds:
            raise ValueError("give every_steps or every_seconds")
        if max_snapshots < 3:
            raise ValueError(f"keep at least 3 snapshots (first, one between, last), got {max_snapshots}")
        self.every_steps, self.every_seconds = every_steps, every_seconds
        self.max_snapshots, self.max_bytes, self.clock = max_snapshots, max_bytes, clock
        self.items: list[Snapshot] = []  # oldest first; thinned in place (a Checkpoint may share this list)
        self._last_time = clock()

    @property
    def capacity(self) -> int:
        """How many snapshots fit: ``max_snapshots``, fewer if they would pass ``max_bytes``."""
        if not self.items:
            return self.max_snapshots
        return max(3, min(self.max_snapshots, self.max_bytes // max(state_bytes(self.items[0].state_dict), 1)))

    def due(self, step: int) -> bool:
        if not self.items:
            return True
        if self.every_steps:
            return step % self.every_steps == 0
        return self.clock() - self._last_time >= self.every_seconds

    def take(self, model, step: int, val_loss: float | None = None, train_loss: float | None = None) -> Snapshot:
        """Record the model now (replacing a snapshot of the same step), thinning if that makes one too many."""
        snap = Snapshot(step, copy_state_dict(model), val_loss, train_loss)
        if self.items and self.items[-1].step == step:
            self.items[-1] = snap
        else:
            self.items.append(snap)
        self._last_time = self.clock()
        if len(self.items) > self.capacity:
            self._thin()
        return snap

    def maybe_take(self, model, metrics: dict) -> bool:
        """Take a snapshot if one is due at this metrics dict's step (or it is the last: ``done``)."""
        step = metrics["step"]
        if not (self.due(step) or metrics.get("done")):
            return False
        self.take(model, step, metrics.get("val_loss"), metrics.get("train_loss"))
        return True

    def _thin(self) -> None:
        kept = self.items[::2]
        if kept[-1] is not self.items[-1]:
            kept.append(self.items[-1])  # the newest stays: it is the model as it is now
        self.items[:] = kept
        if self.every_steps:
            self.every_steps *= 2
        else:
            self.every_seconds *= 2


def record_snapshots(metrics_iter: Iterable[dict], model, snapshots: Snapshots) -> Iterator[dict]:
    """Pass a training generator's metrics through, snapshotting ``model`` as it trains.

    Step 0 (the initial weights) is taken before the first step; the last step is always taken,
    also when the caller stops early (closing this generator), so ``snapshots.items[-1]`` holds
    the final weights.
    """
    if not snapshots.items:
        snapshots.take(model, 0)
    last = None
    try:
        for metrics in metrics_iter:
            last = metrics
            snapshots.maybe_take(model, metrics)
            yield metrics
    finally:
        if last is not None and snapshots.items[-1].step != last["step"]:
            snapshots.take(model, last["step"], last.get("val_loss"), last.get("train_loss"))


# ---------------------------------------------------------------------------------------------
# Replaying a snapshot


def model_at(model, snapshot: Snapshot):
    """A copy of ``model`` (same architecture) holding the snapshot's weights, in eval mode."""
    replay = copy.deepcopy(model)
    replay.load_state_dict(snapshot.state_dict)
    return replay.eval()


@dataclass
class ReplayFrame:
    step: int
    val_loss: float | None
    sample: str  # a seeded sample after the prompt: the same seed at every step
    top: list[tuple[str, float]]  # the k likeliest next tokens after the prompt, with their probabilities
    projection: Projection  # the embeddings' PCA at that step


def replay_frame(model, tokenizer, snapshot: Snapshot, prompt: str, k: int = 10, sample_tokens: int = 80,
                 seed: int = 0) -> ReplayFrame:
    """What the model did at a snapshot: its sample, next-token distribution and embeddings.

    The prompt and the sampling seed are the same at every step, so the differences between
    frames come from the weights alone.
    """
    replay = model_at(model, snapshot)
    top = [(t.token, t.prob) for t in top_next_tokens(replay, tokenizer, prompt, k)]
    sample = "".join(t.token for t in continue_text(replay, tokenizer, prompt, sample_tokens, seed=seed,
                                                    stop_at_end=False))
    return ReplayFrame(snapshot.step, snapshot.val_loss, sample, top, token_map(replay, tokenizer))


@dataclass
class WeightChange:
    name: str  # the state_dict key
    delta: torch.Tensor  # (rows, cols) after - before; a vector is shown as one row
    relative: float  # ||after - before|| / ||before||: how far the weights moved, as a share of their size
    max_abs: float  # the largest single change


def weight_change(before: Snapshot, after: Snapshot, name: str) -> WeightChange:
    """How one parameter changed between two snapshots.

    >>> a = Snapshot(0, {"w": torch.ones(2, 2)}); b = Snapshot(5, {"w": torch.tensor([[1., 1.], [1., 3.]])})
    >>> c = weight_change(a, b, "w"); c.delta.tolist(), c.relative
    ([[0.0, 0.0], [0.0, 2.0]], 1.0)
    """
    if name not in before.state_dict:
        raise ValueError(f"no parameter {name!r}; the model has {', '.join(before.state_dict)}")
    w0, w1 = before.state_dict[name].float(), after.state_dict[name].float()
    delta = w1 - w0
    if delta.dim() != 2:
        delta = delta.reshape(1, -1) if delta.dim() < 2 else delta.flatten(1)  # (1, n) or (out, in...)
    return WeightChange(name, delta, float(delta.norm() / w0.norm().clamp_min(1e-12)),
                        float(delta.abs().max()) if delta.numel() else 0.0)
