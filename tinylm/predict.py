"""What the app's Predict and Train tabs ask of a model, as plain functions.

Predicting is two questions. *What could come next?* ``top_next_tokens`` reads the context the
model actually sees (its last ``block_size`` tokens) and returns the k likeliest next tokens with
their probabilities. *What does it write?* ``continue_text`` samples a continuation one token at
a time and yields each token's text with the probability the model gave it.

    >>> from tinylm.pretrained import load_pretrained
    >>> ckpt = load_pretrained("alphabet-gpt")
    >>> [c.token for c in top_next_tokens(ckpt.model, ckpt.tokenizer, "KLM", k=2)][0]
    'N'

Training from a browser needs a little more than ``tinylm.runs``: numbers typed by a person
(``parse_number``), a corpus from a dataset, a file or pasted text (``app_corpus``), a run config
from a handful of fields (``app_run_config``), size limits (``check_run_limits``) and a stream of
updates a few times a second instead of one per step (``live_training``). All of it is pure Python
and torch; the tabs in ``tinylm_app/`` only lay out and format what these return.
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

import torch

from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, pack_zip, save_checkpoint, unpack_zip
from .data import Corpus, corpus_from_text, load_corpus
from .models import count_params
from .replay import Snapshots, record_snapshots
from .runs import Run, RunConfig, train_run
from .sample import generate, next_token_probs, prompt_ids
from .train import TrainConfig, default_seq_len, evaluate

# ---------------------------------------------------------------------------------------------
# Predicting: the next token, and a continuation


class TokenProb(NamedTuple):
    """One token as the Predict tab shows it: its text, its id, the model's probability for it."""

    token: str  # the text the token adds (" de" after a word for a split model, "e" for char)
    id: int
    prob: float  # softmax of the raw logits at temperature 1, whatever the sampler's settings


def context_tokens(model, tokenizer, text: str) -> list[str]:
    """The pieces of ``text`` the model reads to predict the next token: its last ``block_size``.

    A word-level MLP with ``block_size=4`` reads only the last four words, whatever came before.
    An empty text reads as a line break (or end of text), where a generation starts.
    """
    ids = prompt_ids(tokenizer, text)
    return [tokenizer.decode([i]) for i in ids[-model.block_size:]]


def top_next_tokens(model, tokenizer, text: str, k: int = 10) -> list[TokenProb]:
    """The ``k`` likeliest next tokens after ``text``, most likely first.

    Raises ``UnknownTokenError`` naming the pieces of ``text`` the vocabulary lacks.

    >>> from tinylm.pretrained import load_pretrained
    >>> ckpt = load_pretrained("alphabet-gpt")
    >>> best = top_next_tokens(ckpt.model, ckpt.tokenizer, "ABC", k=3)[0]
    >>> best.token, best.prob > 0.5
    ('D', True)
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    probs = next_token_probs(model, prompt_ids(tokenizer, text))  # (vocab_size,)
    top = torch.topk(probs, min(k, probs.numel()))
    return [TokenProb(tokenizer.decode([i]), i, p) for i, p in zip(top.indices.tolist(), top.values.tolist())]


def continue_text(model, tokenizer, text: str, max_new_tokens: int = 100, temperature: float = 1.0,
                  top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                  stop_at_end: bool = True) -> Iterator[TokenProb]:
    """Sample a continuation of ``text``, yielding each new token as it is chosen.

    ``temperature=0`` is greedy (always the likeliest token); ``top_k`` and ``top_p`` trim the
    candidates before sampling; ``seed`` makes the draw repeatable. With ``stop_at_end`` the
    continuation ends after an end-of-text token. The tokens' texts add up to the continuation:
    a word-level model's words come with the space before them, and a byte-level BPE token that
    holds only part of a character has the text "" until the token that completes it.

    >>> from tinylm.pretrained import load_pretrained
    >>> ckpt = load_pretrained("alphabet-gpt")
    >>> "".join(t.token for t in continue_text(ckpt.model, ckpt.tokenizer, "ABC", 3, temperature=0))
    'DEF'
    """
    ids = prompt_ids(tokenizer, text)
    stop_ids = [tokenizer.eot_id] if stop_at_end else []
    # a split tokenizer decodes by joining words with spaces; every word after the first gets one
    space = " " if tokenizer.kind == "split" and text.strip() else ""
    new_ids: list[int] = []
    shown = ""  # the continuation yielded so far
    for token in generate(model, ids, max_new_tokens, temperature, top_k, top_p, seed, stop_ids=stop_ids):
        new_ids.append(token.id)
        decoded = space + tokenizer.decode(new_ids)
        # "\ufffd" at the end: the last bytes are the start of a character that is not complete yet
        piece = "" if decoded.endswith("\ufffd") else decoded[len(shown):]
        shown += piece
        yield TokenProb(piece, token.id, token.prob)


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


# ---------------------------------------------------------------------------------------------
# Checkpoints coming in and going out of the app


def load_checkpoint_zip(path: str | Path) -> Checkpoint:
    """A checkpoint from an uploaded .zip (as ``checkpoint_zip`` makes); a clear error otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no file at {path}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path.name} is not a zip file: upload the .zip of a tinylm checkpoint")
    with tempfile.TemporaryDirectory(prefix="tinylm-upload-") as folder:
        # load_checkpoint reads everything into memory, so the unpacked files can go at once
        return load_checkpoint(unpack_zip(path, folder))


def checkpoint_zip(ckpt: Checkpoint, folder: str | Path | None = None) -> Path:
    """Save ``ckpt`` as a checkpoint directory and zip it: ``<folder>/<name>.zip``."""
    folder = Path(folder or tempfile.mkdtemp(prefix="tinylm-download-"))
    # a loaded checkpoint's info repeats what save_checkpoint writes itself (model, tokenizer, ...)
    written_by_save = {"format", "version", "model", "tokenizer", "params", "model_config"}
    info = {k: v for k, v in ckpt.info.items() if k not in written_by_save}
    # the name may come from an uploaded config.json: keep it a plain file name ("..", "/" and all)
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in ckpt.name).strip(".") or "model"
    directory = save_checkpoint(folder / name, ckpt.model, ckpt.tokenizer, ckpt.metrics, **info)
    return pack_zip(directory, folder / f"{name}.zip")


def describe_checkpoint(ckpt: Checkpoint) -> dict:
    """The facts a learner wants about a model: name, kind, tokenizer, sizes, how it was trained."""
    info = ckpt.info
    return {"name": ckpt.name, "model": type(ckpt.model).__name__.lower(), "tokenizer": ckpt.tokenizer.kind,
            "vocab_size": ckpt.tokenizer.vocab_size, "block_size": ckpt.model.block_size,
            "params": count_params(ckpt.model), "dataset": info.get("dataset"), "steps": info.get("steps"),
            "val_loss": info.get("val_loss")}


# ---------------------------------------------------------------------------------------------
# Training from the app: typed fields in, a run config out, then a throttled stream of updates


def parse_number(value, name: str, minimum: float | None = None, maximum: float | None = None,
                 integer: bool = True) -> int | float:
    """A number typed by a person, or a ValueError that names the field and the allowed range.

    >>> parse_number("32", "batch size", 1, 512)
    32
    >>> parse_number("lots", "steps")
    Traceback (most recent call last):
    ...
    ValueError: steps must be a number, got 'lots'
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if math.isnan(number) or math.isinf(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if integer:
        if number != int(number):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        number = int(number)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        low = "" if minimum is None else f"{minimum:g}"
        high = "" if maximum is None else f"{maximum:g}"
        raise ValueError(f"{name} must be between {low or '-inf'} and {high or 'inf'}, got {value!r}")
    return number


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


def model_sizes(model: str, block_size: int, n_embd: int, n_hidden: int, n_layer: int, n_head: int) -> dict:
    """The config overrides that apply to ``model``: a bigram has none, the MLP no heads, the GPT no n_hidden.

    >>> model_sizes("mlp", block_size=3, n_embd=48, n_hidden=512, n_layer=4, n_head=4)
    {'block_size': 3, 'n_embd': 48, 'n_hidden': 512}
    """
    if model == "bigram":
        return {}
    if model == "mlp":
        return {"block_size": block_size, "n_embd": n_embd, "n_hidden": n_hidden}
    if model == "gpt":
        if n_embd % n_head:
            raise ValueError(f"n_embd ({n_embd}) must be a multiple of n_head ({n_head}): each head gets n_embd / n_head numbers")
        return {"block_size": block_size, "n_embd": n_embd, "n_layer": n_layer, "n_head": n_head}
    raise ValueError(f"unknown model {model!r}; choose bigram, mlp or gpt")


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
                  val_every: float = 2.0, val_tokens: int = 8192, max_share: float = 0.01,
                  clock: Callable[[], float] = time.perf_counter,
                  snapshots: Snapshots | None = None) -> Iterator[TrainingUpdate]:
    """Train ``run`` and yield a TrainingUpdate every ``update_every`` seconds of wall time.

    The first update comes before the first step, so a UI holds the (live, in-place trained)
    checkpoint from the start: stopping at any moment keeps the weights trained so far. Val
    loss is measured on the first ``val_tokens`` of the val split every ``val_every`` seconds (the
    last step measures all of it), and a ``sample_tokens``-token sample is drawn every
    ``sample_every`` seconds; for a model slow enough that one of them would take more than
    ``max_share`` of the time, it comes less often, so the UI never costs training much.
    Closing the generator stops training. Weight snapshots for the Inspect tab's replay are kept
    in ``checkpoint.snapshots`` (``snapshots`` sets how often; by default every 10 steps, at most 32).
    """
    config = run.config.train
    total_steps = config.max_steps if config.max_steps >= 1 else None
    ckpt = run.checkpoint()
    ckpt.metrics = run.metrics  # the checkpoint shows the run's curve as it grows
    snapshots = snapshots or Snapshots(every_steps=10)
    ckpt.snapshots = snapshots.items  # the same list: it grows (and is thinned) as the run trains
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
                val_gap, now = max(val_every, cost / max_share), last_val
            if not metrics["done"] and now - last_update < update_every:
                continue
            sample = None
            if metrics["done"] or now - last_sample >= sample_gap:
                sample = sample_text(run.model, run.tokenizer, sample_tokens, seed=metrics["step"])
                last_sample = clock()
                sample_gap = max(sample_every, (last_sample - now) / max_share)
            ckpt.info.update(run.info())
            eta = 0.0 if metrics["done"] else eta_seconds(metrics["step"], total_steps, metrics["elapsed"], config.max_seconds)
            yield TrainingUpdate(ckpt, metrics, run.metrics, eta, sample, metrics["done"])
            last_update = clock()
    finally:
        steps.close()  # a closed live_training closes the trainer too (it sets model.eval())
        ckpt.info.update(run.info())  # the steps trained since the last update count too


def sample_text(model, tokenizer, max_new_tokens: int = 100, seed: int = 0) -> str:
    """A short sample of what ``model`` writes now, from a line break; a model in training stays in train mode."""
    was_training = model.training
    try:
        return "".join(t.token for t in continue_text(model, tokenizer, "", max_new_tokens, seed=seed, stop_at_end=False))
    finally:
        model.train(was_training)


class TrainingSlots:
    """At most ``n`` trainings at once, across every visitor of a shared app.

    ``try_acquire`` never waits: it returns a ticket, or None when all slots are taken (so the
    app can say "busy" at once instead of queueing someone for ten minutes). A ticket not given
    back within ``max_hold_seconds`` (a run whose generator was dropped without being closed)
    expires, so a lost ticket cannot block training forever.

    >>> slots = TrainingSlots(1, max_hold_seconds=60)
    >>> ticket = slots.try_acquire(); slots.try_acquire() is None
    True
    >>> slots.release(ticket); slots.try_acquire() is not None
    True
    """

    def __init__(self, n: int, max_hold_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.n, self.max_hold_seconds, self.clock = n, max_hold_seconds, clock
        self._held: dict[object, float] = {}  # ticket -> when it was taken
        self._lock = threading.Lock()

    def try_acquire(self) -> object | None:
        with self._lock:
            now = self.clock()
            self._held = {t: since for t, since in self._held.items() if now - since < self.max_hold_seconds}
            if len(self._held) >= self.n:
                return None
            ticket = object()
            self._held[ticket] = now
            return ticket

    def release(self, ticket: object) -> None:
        with self._lock:
            self._held.pop(ticket, None)

    @property
    def in_use(self) -> int:
        with self._lock:
            now = self.clock()
            return sum(now - since < self.max_hold_seconds for since in self._held.values())


def training_summary(update: TrainingUpdate) -> dict:
    """The final numbers of a run as plain JSON: the model, then how far and how well it trained."""
    metrics, config = update.metrics, update.checkpoint.info.get("train", {})
    out_of_steps = config.get("max_steps", 0) >= 1 and metrics.get("step") == config.get("max_steps")
    return {**describe_checkpoint(update.checkpoint), "train_loss": metrics.get("train_loss"),
            "tokens": metrics.get("tokens"), "tokens_per_s": round(metrics.get("tokens_per_s", 0.0)),
            "seconds": round(metrics.get("elapsed", 0.0), 2), "done": update.done,
            "stopped_by": "steps" if out_of_steps else "time" if update.done else "stop"}
