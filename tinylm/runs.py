"""A training run from end to end: corpus -> tokenizer -> ids -> model -> trained checkpoint.

The command line, the app's Train tab and the presets all go through these three functions, so
a model trained in the browser and one trained in a terminal are made the same way. A bigram
can skip the training: ``bigram_checkpoint`` counts it.

    run = prepare_run(RunConfig(dataset="names", tokenizer="char", model="mlp"), load_corpus("names"))
    for metrics in train_run(run):   # a generator: stop whenever you like
        ...
    save_run(run, "out/names-mlp")
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterator

import torch

from .checkpoint import Checkpoint, save_checkpoint
from .data import Corpus, load_corpus
from .models import build_model, count_params, size_of
from .models.bigram import bigram_from_counts
from .tokenizer import Tokenizer, build_tokenizer
from .train import TrainConfig, evaluate, seed_everything, train


@dataclass
class RunConfig:
    dataset: str  # a dataset name from datasets_cfg/, a path, or "pasted"
    tokenizer: str = "char"  # split, char, bpe or gpt2
    vocab_size: int | None = None  # split/bpe: vocabulary size (None: every word / 1024 for bpe)
    model: str = "gpt"  # bigram, mlp or gpt
    model_config: dict = field(default_factory=dict)  # overrides of the model's config dataclass
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 1337  # seeds the model's initial weights and the batches


@dataclass
class Run:
    config: RunConfig
    corpus: Corpus
    tokenizer: Tokenizer
    model: torch.nn.Module
    train_ids: torch.Tensor  # (N,) the training split as ids
    val_ids: torch.Tensor  # (M,) the validation split as ids
    metrics: list[dict] = field(default_factory=list)  # every yielded metrics dict so far

    @property
    def val_loss(self) -> float | None:
        done = [m["val_loss"] for m in self.metrics if m.get("val_loss") is not None]
        return done[-1] if done else None

    def checkpoint(self, **info) -> Checkpoint:
        """This run's current model as an in-memory Checkpoint (what the app passes around)."""
        return Checkpoint(self.model, self.tokenizer, {**self.info(), **info}, list(self.metrics))

    def info(self) -> dict:
        last = self.metrics[-1] if self.metrics else {}
        return {"name": f"{self.corpus.name}-{self.config.tokenizer}-{self.config.model}", "dataset": self.corpus.name,
                "corpus_sha256": self.corpus.fingerprint, "seed": self.config.seed, "steps": last.get("step", 0),
                "val_loss": self.val_loss, "seconds": round(last.get("elapsed", 0.0), 2),
                "train": asdict(self.config.train), "params": count_params(self.model)}


def run_tokenizer(config: RunConfig, corpus: Corpus) -> Tokenizer:
    """The run's tokenizer: char's vocabulary is every character of the corpus (as nanoGPT does);
    split and bpe learn theirs on the training split only."""
    vocab_text = corpus.train + corpus.val + corpus.test if config.tokenizer == "char" else corpus.train
    return build_tokenizer(config.tokenizer, vocab_text, config.vocab_size)


def planned_size(config: RunConfig, corpus: Corpus) -> tuple[int, int]:
    """(parameters, vocabulary size) of the model ``prepare_run`` would build, without building it."""
    tokenizer = run_tokenizer(config, corpus)
    return size_of(config.model, vocab_size=tokenizer.vocab_size, **config.model_config), tokenizer.vocab_size


def prepare_run(config: RunConfig, corpus: Corpus) -> Run:
    """Build the tokenizer (``run_tokenizer``), encode the splits and initialise the model (seeded)."""
    tokenizer = run_tokenizer(config, corpus)
    train_ids = torch.tensor(tokenizer.encode(corpus.train, allow_special=False), dtype=torch.long)
    val_ids = torch.tensor(tokenizer.encode(corpus.val, allow_special=False), dtype=torch.long)
    if len(val_ids) < 2:
        raise ValueError(f"the validation split of {corpus.name!r} has {len(val_ids)} tokens; give more text")
    seed_everything(config.seed)
    model = build_model(config.model, vocab_size=tokenizer.vocab_size, **config.model_config)
    return Run(config, corpus, tokenizer, model, train_ids, val_ids)


def train_run(run: Run) -> Iterator[dict]:
    """Train the run's model, yielding (and keeping) every metrics dict; closing it keeps the weights."""
    seed_everything(run.config.seed + 1)  # dropout; the batches have their own generator
    for metrics in train(run.model, run.train_ids, run.val_ids, run.config.train):
        run.metrics.append(metrics)
        yield metrics
    run.model.eval()


def save_run(run: Run, directory, command: str | None = None, name: str | None = None):
    info = run.info()
    if name:
        info["name"] = name
    if command:
        info["command"] = command
    return save_checkpoint(directory, run.model, run.tokenizer, run.metrics, **info)


def bigram_checkpoint(dataset: str, smoothing: float = 1.0) -> Checkpoint:
    """A counted bigram of a shipped dataset (char, or words for the phrase lists), as a Checkpoint.

    No training: the table is log(count + smoothing) over the train split (``bigram_from_counts``);
    ``info["val_loss"]`` is measured on the val split.
    """
    corpus = load_corpus(dataset)
    kind = corpus.config.tokenizer if corpus.config and corpus.config.tokenizer in ("char", "split") else "char"
    tokenizer = build_tokenizer(kind, corpus.train + corpus.val + corpus.test if kind == "char" else corpus.train)
    ids = torch.tensor(tokenizer.encode(corpus.train, allow_special=False), dtype=torch.long)
    model = bigram_from_counts(ids, tokenizer.vocab_size, smoothing)
    val_ids = torch.tensor(tokenizer.encode(corpus.val, allow_special=False))
    info = {"name": f"{dataset}-bigram-counts", "dataset": dataset, "val_loss": evaluate(model, val_ids),
            "smoothing": smoothing, "steps": 0, "made_by": "tinylm.runs.bigram_checkpoint (counted, not trained)"}
    return Checkpoint(model, tokenizer, info)
