"""Datasets: where the training text comes from and how it is split.

A dataset is a small YAML file in ``datasets_cfg/`` that describes data only: where the text
lives (``source``), how to cut it into train / val / test (``split``), and a few suggestions for
the rest of the pipeline (``tokenizer``, ``block_size``, ``model``). ``load_corpus`` turns a
dataset name or a path to a .txt file into a :class:`Corpus`, and ``corpus_from_text`` does the
same for pasted text. A corpus is three plain strings; tokenization happens elsewhere.

Reading goes through Hugging Face ``datasets``: its ``text`` loader for files and URLs,
``Dataset.from_dict`` for generated and pasted text, ``load_dataset(id)`` for the Hub. Every
source becomes rows of a "text" column, joined with "\\n" into one string.

The two split rules copy the reference codebases, so loss numbers compare with theirs:

- ``fraction`` (nanoGPT ``data/shakespeare_char/prepare.py``): the first 90% of the characters
  are train, the last 10% val.
- ``lines`` (EurekaLabsAI/mlp ``data/preprocess.py``): shuffle the line numbers with
  ``random.seed(42)``; the first 1000 shuffled lines are test, the next 1000 val, the rest train.

>>> corpus = corpus_from_text("to be or not to be, that is the question")
>>> corpus.train, corpus.val
('to be or not to be, that is the ques', 'tion')
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import os
import random
import string
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import datasets
import yaml

DATASETS_DIR = Path(__file__).resolve().parent.parent / "datasets_cfg"  # the shipped YAML files
DATA_DIR_ENV = "TINYLM_DATA_DIR"  # a folder of data files, looked in before the shipped ones
CORPORA_DIR = Path(__file__).resolve().parent / "corpora"  # shipped: tinyshakespeare.txt, names.txt
OFFLINE_ENVS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")  # either one set means: never download

SOURCE_KINDS = ("file", "url", "hub", "generator", "inline")
SPLIT_RULES = ("fraction", "lines")
TOKENIZER_KINDS = ("char", "split", "bpe", "gpt2", "gpt2-chat")  # the kinds tinylm.tokenizer builds
MODEL_KINDS = ("bigram", "mlp", "gpt")


# ---------------------------------------------------------------------------------------------
# Configs: what a datasets_cfg/*.yaml file may say


@dataclass(frozen=True)
class SourceConfig:
    """Where the text comes from. ``kind`` says which of the other fields apply."""

    kind: str  # "file", "url", "hub", "generator" or "inline"
    file: str | None = None  # file: a name looked up in $TINYLM_DATA_DIR, then next to the yaml
    url: str | None = None  # url, or file's fallback when online: a canonical public URL
    hub: str | None = None  # hub: a Hugging Face Hub dataset id (needs the network or its cache)
    column: str = "text"  # hub: the column that holds the text
    generator: str | None = None  # generator: a name in GENERATORS, e.g. "alphabet"
    params: dict[str, Any] = field(default_factory=dict)  # generator: its keyword arguments
    text: str | None = None  # inline: the text itself


@dataclass(frozen=True)
class SplitConfig:
    """How the text is cut into train / val / test (see split_fraction and split_lines)."""

    rule: str  # "fraction" (cut the characters) or "lines" (shuffle whole lines)
    val: float | int  # fraction: share of characters at the end; lines: number of lines
    test: int = 0  # lines only: number of test lines (taken before val)
    seed: int = 42  # lines only: seed of the shuffle


@dataclass(frozen=True)
class DatasetConfig:
    """One dataset: its text, its split, and what to train on it."""

    name: str  # short id, the same as the yaml file's name without ".yaml"
    description: str  # one or two sentences for a learner
    source: SourceConfig  # where the text comes from
    split: SplitConfig  # how it is split
    tokenizer: str = "char"  # suggested tokenizer: char, split, bpe, gpt2 or gpt2-chat
    block_size: int = 8  # suggested context length, in tokens
    model: str = "gpt"  # suggested model: bigram, mlp or gpt
    folder: Path | None = None  # the yaml's folder, where relative file names resolve (not a key)


# Which keys each source kind accepts; the first one is required.
_SOURCE_KEYS = {
    "file": ("file", "url"),
    "url": ("url",),
    "hub": ("hub", "column"),
    "generator": ("generator", "params"),
    "inline": ("text",),
}
# Which keys each split rule accepts (besides "rule"); "val" is required.
_SPLIT_KEYS = {"fraction": ("val",), "lines": ("val", "test", "seed")}


def _check_keys(mapping: Any, allowed: Iterable[str], required: Iterable[str], where: str) -> None:
    """Fail loudly on anything but a mapping with known keys and all the required ones."""
    if not isinstance(mapping, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    allowed = tuple(allowed)
    unknown = [str(key) for key in mapping if key not in allowed]
    if unknown:
        raise ValueError(f"{where}: unknown key {', '.join(map(repr, unknown))} "
                         f"(allowed: {', '.join(allowed)})")
    missing = [key for key in required if key not in mapping]
    if missing:
        raise ValueError(f"{where}: missing key {', '.join(map(repr, missing))}")


def _check_type(value: Any, types: type | tuple[type, ...], where: str) -> Any:
    # bool is an int in Python; a "val: true" is still a mistake
    if not isinstance(value, types) or isinstance(value, bool):
        names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise ValueError(f"{where}: expected {names}, got {value!r}")
    return value


def _check_choice(value: Any, choices: tuple[str, ...], where: str) -> str:
    if value not in choices:
        raise ValueError(f"{where}: {value!r} is not one of {', '.join(choices)}")
    return value


def _parse_source(raw: Any, where: str) -> SourceConfig:
    where = f"{where}: source"
    if not isinstance(raw, dict) or "kind" not in raw:
        raise ValueError(f"{where}: expected a mapping with a 'kind' ({', '.join(SOURCE_KINDS)})")
    kind = _check_choice(raw["kind"], SOURCE_KINDS, f"{where}.kind")
    keys = _SOURCE_KEYS[kind]
    _check_keys(raw, ("kind", *keys), ("kind", keys[0]), f"{where} (kind {kind})")
    for key in keys:
        if key in raw:
            _check_type(raw[key], dict if key == "params" else str, f"{where}.{key}")
    source = SourceConfig(**raw)
    if kind == "generator":
        # the params must be exactly the generator's keyword arguments
        generator = _check_choice(source.generator, tuple(GENERATORS), f"{where}.generator")
        arguments = tuple(inspect.signature(GENERATORS[generator]).parameters)
        _check_keys(source.params, arguments, arguments, f"{where}.params")
    return source


def _parse_split(raw: Any, where: str) -> SplitConfig:
    where = f"{where}: split"
    if not isinstance(raw, dict) or "rule" not in raw:
        raise ValueError(f"{where}: expected a mapping with a 'rule' ({', '.join(SPLIT_RULES)})")
    rule = _check_choice(raw["rule"], SPLIT_RULES, f"{where}.rule")
    _check_keys(raw, ("rule", *_SPLIT_KEYS[rule]), ("rule", "val"), f"{where} (rule {rule})")
    split = SplitConfig(**raw)
    if rule == "fraction":
        if not 0 < _check_type(split.val, (int, float), f"{where}.val") < 1:
            raise ValueError(f"{where}.val: the fraction must be between 0 and 1, got {split.val}")
    else:
        for key in ("val", "test", "seed"):
            _check_type(getattr(split, key), int, f"{where}.{key}")
        if split.val < 1 or split.test < 0:
            raise ValueError(f"{where}: needs val >= 1 and test >= 0 lines, got {split.val}, {split.test}")
    return split


def parse_dataset_config(path: str | Path) -> DatasetConfig:
    """Read one dataset YAML file; any unknown or missing key raises ValueError naming it."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from error
    where = str(path)
    keys = [f.name for f in fields(DatasetConfig) if f.name != "folder"]
    _check_keys(raw, keys, ("name", "description", "source", "split"), where)
    if raw["name"] != path.stem:
        raise ValueError(f"{where}: name {raw['name']!r} must match the file name {path.stem!r}")
    _check_type(raw["description"], str, f"{where}: description")
    block_size = _check_type(raw.get("block_size", 8), int, f"{where}: block_size")
    if block_size < 1:
        raise ValueError(f"{where}: block_size must be at least 1, got {block_size}")
    return DatasetConfig(
        name=raw["name"],
        description=raw["description"].strip(),
        source=_parse_source(raw["source"], where),
        split=_parse_split(raw["split"], where),
        tokenizer=_check_choice(raw.get("tokenizer", "char"), TOKENIZER_KINDS, f"{where}: tokenizer"),
        block_size=block_size,
        model=_check_choice(raw.get("model", "gpt"), MODEL_KINDS, f"{where}: model"),
        folder=path.parent,
    )


def list_datasets() -> list[str]:
    """Names of the datasets shipped in datasets_cfg/, sorted."""
    return sorted(path.stem for path in DATASETS_DIR.glob("*.yaml"))


def load_dataset_config(name: str) -> DatasetConfig:
    """The config of a shipped dataset, e.g. ``load_dataset_config("names").block_size == 3``."""
    available = list_datasets()
    if name not in available:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(available)}")
    return parse_dataset_config(DATASETS_DIR / f"{name}.yaml")


# ---------------------------------------------------------------------------------------------
# Pure functions: the split rules and the generators


def split_fraction(text: str, val: float = 0.1) -> tuple[str, str]:
    """Cut ``text`` by characters: the first (1 - val) is train, the rest val (nanoGPT's rule).

    >>> split_fraction("abcdefghij", val=0.2)
    ('abcdefgh', 'ij')
    """
    if not 0 < val < 1:
        raise ValueError(f"val must be a fraction between 0 and 1, got {val}")
    n = int(len(text) * (1 - val))  # nanoGPT: data[:int(n*0.9)] for val=0.1
    return text[:n], text[n:]


def split_lines(lines: list[str], val: int, test: int, seed: int) -> tuple[list[str], list[str], list[str]]:
    """Shuffle whole lines; the first ``test`` are test, the next ``val`` val, the rest train.

    This is EurekaLabsAI/mlp's data/preprocess.py: a permutation of the line numbers from
    ``random.seed(seed); random.shuffle(ix)``. A private ``random.Random(seed)`` draws the same
    permutation without touching the global random state.

    >>> split_lines(["ann", "bob", "cat", "dan", "eve"], val=1, test=1, seed=42)
    (['cat', 'eve', 'ann'], ['bob'], ['dan'])
    """
    if val + test >= len(lines):
        raise ValueError(f"{len(lines)} lines are too few for {val} val and {test} test lines")
    ix = list(range(len(lines)))
    random.Random(seed).shuffle(ix)
    test_lines = [lines[i] for i in ix[:test]]
    val_lines = [lines[i] for i in ix[test:test + val]]
    train_lines = [lines[i] for i in ix[test + val:]]
    return train_lines, val_lines, test_lines


def generate_alphabet(n_sequences: int, min_len: int, max_len: int, seed: int) -> list[str]:
    """Runs of consecutive capital letters from random starting points, e.g. "KLMNOP" (no wrap after Z).

    >>> generate_alphabet(3, min_len=3, max_len=6, seed=0)
    ['NOPQRS', 'IJK', 'MNOPQR']
    """
    if not 1 <= min_len <= max_len <= 26:
        raise ValueError(f"need 1 <= min_len <= max_len <= 26, got {min_len} and {max_len}")
    rng = random.Random(seed)
    letters = string.ascii_uppercase
    sequences = []
    for _ in range(n_sequences):
        length = rng.randint(min_len, max_len)
        start = rng.randint(0, len(letters) - length)  # so that the run ends by "Z"
        sequences.append(letters[start:start + length])
    return sequences


def generate_chat_facts(n_lines: int, seed: int, split_seed: int) -> list[str]:
    """The chat tasks' training facts as sentences and questions with their answers, the base chat
    model's pretraining text.

    ``split_seed`` is ``ChatTasks``'s seed: what is held out for evaluating the chat model (words,
    number pairs, wordings) is never written (see ``tinylm.chat_tasks``).

    >>> generate_chat_facts(7, seed=0, split_seed=0)[5:]
    ['18 minus 2 is 16.', '4-4=0']
    """
    from .chat_tasks import ChatTasks  # the chat tasks are only needed for this data set

    return ChatTasks(seed=split_seed).facts_text(n_lines, seed=seed)


GENERATORS = {"alphabet": generate_alphabet, "chat_facts": generate_chat_facts}  # yaml name -> function


def text_fingerprint(text: str) -> str:
    """First 12 hex digits of the text's sha256: equal to ``sha256sum file`` for a UTF-8 file."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------
# Corpus: the loaded text, split


@dataclass(frozen=True)
class Corpus:
    """The text of a dataset, split; plain strings, not yet tokenized."""

    name: str  # dataset name, file name or "pasted"
    train: str = field(repr=False)  # the text to train on
    val: str = field(repr=False)  # held-out text for val_loss
    test: str = field(repr=False)  # held-out text for a final score ("" if the split has none)
    config: DatasetConfig | None = field(repr=False)  # None for a .txt file or pasted text
    fingerprint: str  # text_fingerprint of the full text before splitting


def _offline() -> bool:
    return any(os.environ.get(var, "").lower() in ("1", "true", "yes", "on") for var in OFFLINE_ENVS)


def _join_rows(rows: Iterable[dict[str, str]]) -> str:
    """One string from the "text" column of a datasets table (one row per document or line)."""
    return "\n".join(row["text"] for row in rows)


def _read_text_file(path_or_url: str | Path, max_chars: int | None) -> str:
    """A whole UTF-8 text file (or URL) as one string, read by datasets' ``text`` loader."""
    if max_chars is not None and isinstance(path_or_url, Path):
        # a UTF-8 character takes at most 4 bytes: refuse a huge file before reading it
        if path_or_url.stat().st_size > 4 * max_chars:
            raise ValueError(f"{path_or_url} is larger than the limit of {max_chars:,} characters")
    # sample_by="document": one row holding the whole file. streaming=True reads the file
    # directly instead of first writing an Arrow copy of it into ~/.cache/huggingface.
    rows = datasets.load_dataset("text", data_files=str(path_or_url), sample_by="document",
                                 split="train", streaming=True)
    try:
        text = _join_rows(rows)
    except UnicodeDecodeError as error:
        raise ValueError(f"{path_or_url} is not UTF-8 text (byte {error.start} cannot be decoded); "
                         f"is it a binary file?") from error
    if "\x00" in text:
        raise ValueError(f"{path_or_url} contains NUL bytes; is it a binary file?")
    return text


def _find_file(file: str, folder: Path | None) -> Path | None:
    """The first existing ``file`` in $TINYLM_DATA_DIR, the yaml's folder, then tinylm/corpora/."""
    folders = [Path(os.environ[DATA_DIR_ENV])] if os.environ.get(DATA_DIR_ENV) else []
    folders += [folder] if folder is not None else []
    folders.append(CORPORA_DIR)
    for candidate in (f / file for f in folders):
        if candidate.is_file():
            return candidate
    return None


def _missing_file_message(config: DatasetConfig) -> str:
    source = config.source
    data_dir = os.environ.get(DATA_DIR_ENV)
    looked = f"${DATA_DIR_ENV} ({data_dir})" if data_dir else f"${DATA_DIR_ENV} (not set)"
    message = (f"dataset {config.name!r} needs the file {source.file!r}, which is not in "
               f"{looked}, {config.folder} or {CORPORA_DIR}. Put it in a folder and set {DATA_DIR_ENV} "
               f"to that folder")
    if source.url:
        message += f"; it can be downloaded from {source.url}"
        if _offline():
            message += f", or unset {' and '.join(OFFLINE_ENVS)} to let tinylm download it"
    return message


def _download(name: str, url: str, max_chars: int | None) -> str:
    """A text file read from its URL; any failure becomes one ConnectionError sentence."""
    try:
        return _read_text_file(url, max_chars)
    except ValueError:  # the text itself is refused (too long, binary): that message says why
        raise
    except Exception as error:  # noqa: BLE001  (no network, a missing HTTP library, a 404...)
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConnectionError(f"dataset {name!r} could not be downloaded from {url}: {reason}") from error


def _source_text(config: DatasetConfig, max_chars: int | None) -> str:
    """The full text of a dataset, whatever its source."""
    source = config.source
    if source.kind == "file":
        path = _find_file(source.file, config.folder)
        if path is not None:
            return _read_text_file(path, max_chars)
        if source.url is None or _offline():
            raise FileNotFoundError(_missing_file_message(config))
        return _download(config.name, source.url, max_chars)
    if source.kind == "url":
        if _offline():
            raise ConnectionError(f"dataset {config.name!r} is downloaded from {source.url}, but "
                                  f"{' or '.join(OFFLINE_ENVS)} is set")
        return _download(config.name, source.url, max_chars)
    if source.kind == "hub":
        # a Hub id, or a local folder of data files (parquet, csv, json...) through the same loader
        try:
            rows = datasets.load_dataset(source.hub, split="train")
        except (ConnectionError, FileNotFoundError) as error:  # offline and not cached, or no such id
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ConnectionError(f"dataset {config.name!r}: the Hub dataset {source.hub!r} could not be loaded: "
                                  f"{reason}") from error
        if source.column not in rows.column_names:
            raise ValueError(f"dataset {config.name!r}: {source.hub!r} has no column {source.column!r} "
                             f"(it has {', '.join(rows.column_names)}); set source.column")
        return "\n".join(rows[source.column])
    # generated and inline text become a datasets table too, one row per sequence or document,
    # so that every source reaches the split in the same shape
    if source.kind == "generator":
        rows = datasets.Dataset.from_dict({"text": GENERATORS[source.generator](**source.params)})
    else:
        rows = datasets.Dataset.from_dict({"text": [source.text]})
    return _join_rows(rows)


def _check_text(text: str, name: str, max_chars: int | None) -> None:
    if not text.strip():
        raise ValueError(f"{name} is empty")
    if max_chars is not None and len(text) > max_chars:
        raise ValueError(f"{name} has {len(text):,} characters, more than the limit of {max_chars:,} characters")


def _split_text(text: str, split: SplitConfig) -> tuple[str, str, str]:
    """Apply a split rule; the lines rule gives every line its "\\n" terminator back."""
    if split.rule == "fraction":
        train, val = split_fraction(text, split.val)
        return train, val, ""
    lines = [line for line in text.split("\n") if line.strip()]  # blank lines are dropped
    parts = split_lines(lines, split.val, split.test, split.seed)
    # "ann\nbob\n": the newline after each line plays the role of an end-of-line token
    train, val, test = ("".join(line + "\n" for line in part) for part in parts)
    return train, val, test


def _make_corpus(name: str, text: str, split: SplitConfig, config: DatasetConfig | None,
                 max_chars: int | None) -> Corpus:
    _check_text(text, name, max_chars)
    train, val, test = _split_text(text, split)
    if not train or not val:
        raise ValueError(f"{name} is too short to split: {len(text)} characters give "
                         f"{len(train)} train and {len(val)} val characters")
    return Corpus(name=name, train=train, val=val, test=test, config=config,
                  fingerprint=text_fingerprint(text))


def corpus_from_config(config: DatasetConfig, *, max_chars: int | None = None) -> Corpus:
    """Load and split the text a DatasetConfig describes."""
    text = _source_text(config, max_chars)
    return _make_corpus(config.name, text, config.split, config, max_chars)


def load_corpus(source: str, *, max_chars: int | None = None, dataset_files: bool = False) -> Corpus:
    """A Corpus from a dataset name ("tiny_shakespeare") or a path to a UTF-8 text file.

    A text file is split like pasted text: first 90% of its characters train, last 10% val. Files
    larger than ``max_chars`` characters are refused (the UI sets a limit; the CLI need not).
    With ``dataset_files`` (the command line) a path ending in .yaml/.yml is a dataset description
    of your own, with the keys of those in datasets_cfg/. It is off by default because a
    description may name any file on the machine, or a URL: an uploaded file is only ever text.
    """
    available = list_datasets()
    if source in available:
        return _shipped_corpus(source, max_chars)
    path = Path(source).expanduser()
    looks_like_path = path.suffix != "" or os.sep in source or "/" in source
    if not looks_like_path:
        raise ValueError(f"unknown dataset {source!r}; available: {', '.join(available)} "
                         f"(or give the path of a text file{' or a dataset .yaml' if dataset_files else ''})")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path} (or use a dataset: {', '.join(available)})")
    if dataset_files and path.suffix in (".yaml", ".yml"):  # a dataset description, not the text to train on
        return corpus_from_config(parse_dataset_config(path), max_chars=max_chars)
    text = _read_text_file(path, max_chars)
    return _make_corpus(path.stem, text, SplitConfig(rule="fraction", val=0.1), None, max_chars)


@functools.lru_cache(maxsize=8)
def _shipped_corpus(name: str, max_chars: int | None) -> Corpus:
    """A shipped dataset, read and split once per process (a Corpus is immutable: share it)."""
    return corpus_from_config(load_dataset_config(name), max_chars=max_chars)


def corpus_from_text(text: str, name: str = "pasted", val_fraction: float = 0.1, *,
                     max_chars: int | None = None) -> Corpus:
    """A Corpus from a string, e.g. text pasted in the UI: the last ``val_fraction`` is val."""
    if not isinstance(text, str):
        raise TypeError(f"expected text as a str, got {type(text).__name__}")
    rows = datasets.Dataset.from_dict({"text": [text]})  # the same table shape as a file
    split = SplitConfig(rule="fraction", val=val_fraction)
    return _make_corpus(name, _join_rows(rows), split, None, max_chars)


@lru_cache(maxsize=8)
def dataset_texts(dataset: str | None) -> tuple[str, str] | None:
    """(train, val) text of a shipped dataset (cached), or None when it cannot be loaded.

    Only a shipped dataset's name is looked up, never a path: a checkpoint's info may come from
    an upload, and a path there must never be opened.

    >>> dataset_texts("/etc/passwd") is None
    True
    """
    if dataset not in list_datasets():
        return None
    try:
        corpus = load_corpus(dataset)
    except (ValueError, OSError):
        return None
    return corpus.train, corpus.val
