"""Training from an app: typed fields in, a run out, and a stream of updates a few times a second.

A browser needs a little more than ``tinylm.runs``: a corpus from a dataset, a file or pasted text
(``app_corpus``), a run config from a handful of fields (``app_run_config``), size limits
(``check_run_limits``), and updates a few times a second instead of one per step
(``live_training``, ``chunk_by_time``), with the val loss, samples and weight snapshots (for the
replay, ``tinylm.replay``) that a learner watches. ``TrainingSlots`` shares a few training slots
among all the visitors of a shared machine. All of it is plain Python and torch; the tabs in
``tinylm_app/`` only lay out and format what these return.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .checkpoint import Checkpoint, describe_checkpoint
from .data import Corpus, corpus_from_text, load_corpus
from .models import count_params
from .replay import Snapshots, record_snapshots
from .runs import Run, RunConfig, train_run
from .sample import continue_text
from .train import TrainConfig, default_seq_len, evaluate


def chunk_by_time(items: Iterable, seconds: float, clock: Callable[[], float] = time.monotonic) -> Iterator[list]:
    """Group a stream into lists, one per ``seconds`` of wall time (the first item comes at once).

    A UI that redraws after every chunk instead of every item stays smooth and cheap however fast
    the items come.

    >>> [len(chunk) for chunk in chunk_by_time(range(5), seconds=3600)]
    [1, 4]
    """
    chunk, last = [], -math.inf
    for item in items:
        chunk.append(item)
        now = clock()
        if now - last >= seconds:
            yield chunk
            chunk, last = [], now
    if chunk:
        yield chunk


def app_corpus(source: str, dataset: str | None = None, upload: str | Path | None = None,
               text: str | None = None, max_chars: int | None = None) -> Corpus:
    """The training text a person chose: a shipped dataset, an uploaded .txt, or pasted text.

    ``source`` is "dataset", "upload" or "paste". Text longer than ``max_chars`` characters,
    empty text and binary files are refused with a message saying which.
    """
    if source == "dataset":
        if not dataset:
            raise ValueError("choose a dataset")
        return load_corpus(dataset, max_chars=max_chars)
    if source == "upload":
        if not upload:
            raise ValueError("upload a .txt file first (or choose a dataset or paste text)")
        path = Path(upload)
        if max_chars is not None and path.is_file() and path.stat().st_size > 4 * max_chars:
            raise ValueError(f"{path.name} is {path.stat().st_size / 2**20:.1f} MB, over the limit of "
                             f"{max_chars:,} characters")
        return load_corpus(str(path), max_chars=max_chars)
    if source == "paste":
        if not text or not text.strip():
            raise ValueError("the pasted text is empty: paste some text to train on")
        if max_chars is not None and len(text) > max_chars:
            raise ValueError(f"the pasted text has {len(text):,} characters, over the limit of {max_chars:,}")
        return corpus_from_text(text, max_chars=max_chars)
    raise ValueError(f"unknown data source {source!r}; use dataset, upload or paste")


def app_run_config(corpus: Corpus, tokenizer: str, vocab_size: int | None, model: str, sizes: dict,
                   steps: int | None, seconds: float | None, batch_size: int = 32,
                   learning_rate: float = 3e-3) -> RunConfig:
    """A RunConfig for the app: ``steps`` optimizer steps, stopped after ``seconds`` if that comes first.

    ``steps=None`` trains for ``seconds`` and lets the learning-rate schedule follow the clock.
    The app measures val loss on a clock too (see ``live_training``), so the trainer's own
    evaluations are switched off until the final one.
    """
    if steps is None and seconds is None:
        raise ValueError("give a number of steps or a time budget")
    train = TrainConfig(max_steps=steps or 0, max_seconds=seconds, batch_size=batch_size,
                        learning_rate=learning_rate, warmup_steps=min(50, max(1, (steps or 1000) // 10)),
                        eval_interval=10**9)
    return RunConfig(dataset=corpus.name, tokenizer=tokenizer,
                     vocab_size=vocab_size if tokenizer in ("split", "bpe") else None,
                     model=model, model_config=sizes, train=train)


def check_run_limits(run: Run, max_params: int, max_logits: int) -> None:
    """Refuse a run too big for a shared CPU: too many parameters, or logits that fill the memory.

    The logits of one step are batch_size * seq_len * vocab_size floats, saved for the backward
    pass: a 50,257-token GPT-2 vocabulary at batch 32 x 64 positions is already 400 MB.
    """
    params = count_params(run.model)
    if params > max_params:
        raise ValueError(f"this model has {params:,} parameters, over the limit of {max_params:,}: "
                         f"make it smaller (n_embd, n_hidden, n_layer) or use a smaller vocabulary")
    seq_len = run.config.train.seq_len or default_seq_len(run.model)
    logits = run.config.train.batch_size * seq_len * run.tokenizer.vocab_size
    if logits > max_logits:
        raise ValueError(f"one training step would compute {logits:,} logits (batch {run.config.train.batch_size} x "
                         f"{seq_len} positions x {run.tokenizer.vocab_size:,} tokens), over the limit of "
                         f"{max_logits:,}: lower the batch size or block size, or use a smaller vocabulary")


def eta_seconds(done_steps: int, total_steps: int | None, elapsed: float, max_seconds: float | None = None) -> float | None:
    """Seconds left: the steps still to do at the pace so far, or what remains of the time budget.

    >>> eta_seconds(25, 100, elapsed=10.0)
    30.0
    >>> eta_seconds(25, None, elapsed=10.0, max_seconds=30)
    20.0
    >>> eta_seconds(25, 100, elapsed=10.0, max_seconds=15)  # the clock runs out first
    5.0
    """
    left = []
    if total_steps and done_steps > 0:
        left.append((total_steps - done_steps) * elapsed / done_steps)
    if max_seconds is not None:
        left.append(max_seconds - elapsed)
    return max(min(left), 0.0) if left else None


@dataclass
class TrainingUpdate:
    """What a UI shows after a stretch of training; ``live_training`` yields a few per second."""

    checkpoint: Checkpoint  # the run's model (always the same object, kept up to date in place)
    metrics: dict  # the latest step's metrics (step, train_loss, val_loss, tokens_per_s, ...)
    history: list[dict]  # every step's metrics so far (the run's own list: read, do not change)
    eta: float | None  # seconds left, see eta_seconds
    sample: str | None  # a fresh sample of the model's text, or None when it is not time for one
    done: bool  # the run ended (its last step, or the time budget ran out)


def live_training(run: Run, update_every: float = 0.5, sample_every: float = 3.0, sample_tokens: int = 100,
                  val_every: float = 2.0, val_tokens: int = 2048, max_share: float = 0.01, val_share: float = 0.02,
                  clock: Callable[[], float] = time.perf_counter,
                  snapshots: Snapshots | None = None) -> Iterator[TrainingUpdate]:
    """Train ``run`` and yield a TrainingUpdate every ``update_every`` seconds of wall time.

    The first update comes before the first step, so a UI holds the (live, in-place trained)
    checkpoint from the start: stopping at any moment keeps the weights trained so far. Val
    loss is measured on the first ``val_tokens`` of the val split (the same ones each time, so the
    points compare) every ``val_every`` seconds, and the last step measures all of it; a
    ``sample_tokens``-token sample is drawn every ``sample_every`` seconds. For a model slow
    enough that a val check would take more than ``val_share`` of the time, or a sample more than
    ``max_share``, they come less often, so the UI never costs training much.
    Closing the generator stops training. Weight snapshots for the Inspect tab's replay are kept
    in ``checkpoint.snapshots`` (``snapshots`` sets how often; by default every 10 steps, at most 32).
    """
    config = run.config.train
    total_steps = config.max_steps if config.max_steps >= 1 else None
    ckpt = run.checkpoint()
    ckpt.metrics = run.metrics  # the checkpoint shows the run's curve as it grows
    snapshots = snapshots or Snapshots(every_steps=10)
    ckpt.snapshots = snapshots.items  # the same list: it grows (and is thinned) as the run trains
    ckpt.info["training"] = True  # other views say so while it changes under them
    yield TrainingUpdate(ckpt, {}, run.metrics, None, None, False)
    last_update = last_val = last_sample = clock()
    val_gap, sample_gap = val_every, sample_every  # seconds between checks, stretched for slow models
    steps = record_snapshots(train_run(run), run.model, snapshots)  # step 0: the initial weights
    try:
        for metrics in steps:
            now = clock()
            if metrics["val_loss"] is None and now - last_val >= val_gap and not metrics["done"]:
                metrics["val_loss"] = evaluate(run.model, run.val_ids, max_tokens=val_tokens)  # restores train mode
                last_val, cost = clock(), clock() - now
                val_gap, now = max(val_every, cost / val_share), last_val
            if not metrics["done"] and now - last_update < update_every:
                continue
            sample = None
            if metrics["done"] or now - last_sample >= sample_gap:
                sample = sample_text(run.model, run.tokenizer, sample_tokens, seed=metrics["step"])
                last_sample = clock()
                sample_gap = max(sample_every, (last_sample - now) / max_share)
            ckpt.info.update(run.info())
            if metrics["done"]:
                ckpt.info.pop("training", None)
            eta = 0.0 if metrics["done"] else eta_seconds(metrics["step"], total_steps, metrics["elapsed"], config.max_seconds)
            yield TrainingUpdate(ckpt, metrics, run.metrics, eta, sample, metrics["done"])
            last_update = clock()
    finally:
        steps.close()  # a closed live_training closes the trainer too (it sets model.eval())
        ckpt.info.update(run.info())  # the steps trained since the last update count too
        ckpt.info.pop("training", None)


def sample_text(model, tokenizer, max_new_tokens: int = 100, seed: int = 0) -> str:
    """A short sample of what ``model`` writes now, from a line break; a model in training stays in train mode."""
    was_training = model.training
    try:
        return "".join(t.token for t in continue_text(model, tokenizer, "", max_new_tokens, seed=seed, stop_at_end=False))
    finally:
        model.train(was_training)


class TrainingSlots:
    """At most ``n`` trainings at once across every visitor of a shared app, one per ``owner``.

    ``try_acquire`` never waits: it returns a ticket, or None when all slots are taken or the
    owner (a visitor's session) already holds one, so the app can say so at once instead of
    queueing someone for ten minutes. A ticket not given back within ``max_hold_seconds`` (a
    run whose generator was dropped without being closed) expires, so a lost ticket cannot
    block training forever. ``wait_until_stopped(model)`` is what a Stop button needs: the UI
    closes a training at its next update, and the report must wait until the model stops changing.

    >>> slots = TrainingSlots(2, max_hold_seconds=60)
    >>> ticket = slots.try_acquire("ann"); slots.try_acquire("ann") is None, slots.holds("ann")
    (True, True)
    >>> slots.release(ticket); slots.try_acquire("ann") is not None
    True
    """

    def __init__(self, n: int, max_hold_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.n, self.max_hold_seconds, self.clock = n, max_hold_seconds, clock
        self._held: dict[object, tuple[float, object]] = {}  # ticket -> (when it was taken, owner)
        self._training: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # id(ticket) -> model
        self._lock = threading.Lock()

    def _expire(self) -> None:
        now = self.clock()
        self._held = {t: (since, owner) for t, (since, owner) in self._held.items()
                      if now - since < self.max_hold_seconds}

    def try_acquire(self, owner: object = None) -> object | None:
        with self._lock:
            self._expire()
            if len(self._held) >= self.n or (owner is not None and self._holds(owner)):
                return None
            ticket = object()
            self._held[ticket] = (self.clock(), owner)
            return ticket

    def _holds(self, owner: object) -> bool:
        return any(held_by == owner for _, held_by in self._held.values())

    def holds(self, owner: object) -> bool:
        """Whether ``owner`` holds a ticket now."""
        with self._lock:
            self._expire()
            return self._holds(owner)

    def trains(self, ticket: object, model) -> None:
        """Note the model ``ticket``'s run trains, for ``wait_until_stopped``."""
        with self._lock:
            self._training[id(ticket)] = model

    def release(self, ticket: object) -> None:
        with self._lock:
            self._held.pop(ticket, None)
            self._training.pop(id(ticket), None)

    def wait_until_stopped(self, model, timeout: float, poll: float = 0.05) -> bool:
        """Wait until no run trains ``model`` (at most ``timeout`` seconds); whether it stopped."""
        deadline = self.clock() + timeout
        while any(m is model for m in list(self._training.values())):
            if self.clock() >= deadline:
                return False
            time.sleep(poll)
        return True

    @property
    def in_use(self) -> int:
        with self._lock:
            self._expire()
            return len(self._held)


def training_summary(update: TrainingUpdate) -> dict:
    """The final numbers of a run as plain JSON: the model, then how far and how well it trained."""
    metrics, config = update.metrics, update.checkpoint.info.get("train", {})
    out_of_steps = config.get("max_steps", 0) >= 1 and metrics.get("step") == config.get("max_steps")
    return {**describe_checkpoint(update.checkpoint), "train_loss": metrics.get("train_loss"),
            "tokens": metrics.get("tokens"), "tokens_per_s": round(metrics.get("tokens_per_s", 0.0)),
            "seconds": round(metrics.get("elapsed", 0.0), 2), "done": update.done,
            "stopped_by": "steps" if out_of_steps else "time" if update.done else "stop"}
