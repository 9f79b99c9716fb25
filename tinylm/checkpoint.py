"""Checkpoints: a directory anyone can open, and nothing that runs code when loaded.

    model.safetensors       the weights (safetensors: tensors only, never pickle)
    config.json             model kind + hyper-parameters, tokenizer kind, data set, training run
    tokenizer.json          the tokenizer (Hugging Face format) and tokenizer_config.json
    metrics.csv             the loss curve: step, train_loss, val_loss, lr, elapsed
    README.md               a short card: what it is, how well it does, the command that made it

``pack_zip``/``unpack_zip`` turn the directory into one file for a download button and back.
``load_checkpoint`` also reads a ``transformers`` GPT-2 folder, such as ``python -m tinylm export``
writes (see ``tinylm.hf.import_transformers``).
"""

from __future__ import annotations

import csv
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

from .models import build_model, count_params, model_config, model_kind, size_of
from .tokenizer import Tokenizer, TokenizerError, load_tokenizer

FORMAT = "tinylm-checkpoint"
VERSION = 1
METRIC_FIELDS = ("step", "train_loss", "val_loss", "lr", "tokens", "elapsed")
MAX_ZIP_BYTES = 200 * 1024 * 1024  # refuse to unpack anything bigger (zip bombs)
MAX_ZIP_FILES = 32  # a checkpoint has 6 files, an experiment card a few more


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt or does not match its own config (the message says which)."""


@dataclass
class Checkpoint:
    model: torch.nn.Module
    tokenizer: Tokenizer
    info: dict = field(default_factory=dict)  # config.json minus the model config: dataset, train, ...
    metrics: list[dict] = field(default_factory=list)  # rows of metrics.csv
    snapshots: list = field(default_factory=list)  # tinylm.replay.Snapshot list of a run trained in this session (not saved)

    @property
    def name(self) -> str:
        return self.info.get("name", "model")


RESERVED_KEYS = ("format", "version", "model", "model_config", "tokenizer", "params")  # written from the model


def save_checkpoint(directory: str | Path, model, tokenizer: Tokenizer, metrics: list[dict] | None = None, /,
                    **info) -> Path:
    """Write a checkpoint directory; ``info`` goes into config.json (name, dataset, seed, command...).

    A loaded checkpoint saves again with ``save_checkpoint(d, c.model, c.tokenizer, c.metrics, **c.info)``:
    the keys that describe the model itself are always rewritten from the model.
    """
    info = {k: v for k, v in info.items() if k not in RESERVED_KEYS}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_model(model, str(directory / "model.safetensors"))  # drops the tied lm_head copy, keeps wte
    tokenizer.save(directory)
    config = {"format": FORMAT, "version": VERSION, "model": model_kind(model), "model_config": model_config(model),
              "tokenizer": tokenizer.kind, "params": count_params(model), **info}
    (directory / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    rows = metrics or []
    with open(directory / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=METRIC_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: ("" if r.get(k) is None else r.get(k)) for k in METRIC_FIELDS} for r in rows)
    (directory / "README.md").write_text(model_card(config))
    return directory


def update_info(directory: str | Path, **info) -> Path:
    """Add or change ``info`` in a checkpoint directory's config.json, and its card; the weights,
    tokenizer and metrics are left as they are (``eval-chat --save`` records its figures this way)."""
    directory = Path(directory)
    try:
        config = json.loads((directory / "config.json").read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{directory} is not a checkpoint directory with a readable config.json") from err
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{directory} is not a tinylm checkpoint directory (its config.json has no "
                              f"format {FORMAT!r})")
    config.update({k: v for k, v in info.items() if k not in RESERVED_KEYS})
    (directory / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (directory / "README.md").write_text(model_card(config))
    return directory


def model_card(config: dict) -> str:
    """A short human-readable card for a checkpoint's config."""
    lines = [f"# {config.get('name', 'tinylm model')}", "",
             f"A tinylm `{config['model']}` language model ({config['params']:,} parameters) with a "
             f"`{config['tokenizer']}` tokenizer."]
    facts = [("data set", config.get("dataset")), ("corpus sha256", config.get("corpus_sha256")),
             ("seed", config.get("seed")), ("steps", config.get("steps")),
             ("val loss", config.get("val_loss")), ("training time (s)", config.get("seconds"))]
    lines += ["", "| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in facts if v is not None]]
    lines += ["", "Model hyper-parameters: `" + json.dumps(config["model_config"]) + "`"]
    lines += _eval_table(config)
    if config.get("command"):
        lines += ["", "Reproduce:", "", "```", config["command"], "```"]
    if config.get("reproduce"):  # a pipeline of several commands (the chat model's)
        lines += ["", f"Every stage, from nothing: `{config['reproduce']}`"]
    lines += ["", "Load it: `from tinylm.checkpoint import load_checkpoint; ckpt = load_checkpoint(path)`", ""]
    return "\n".join(lines)


def _eval_table(config: dict) -> list[str]:
    """A chat model's ``eval-chat --save`` figures as card lines (after SFT too, if recorded)."""
    final, earlier = ({k: v for k, v in (config.get(key) or {}).items() if isinstance(v, float) and k != "seconds"}
                      for key in ("eval", "eval_sft"))
    if not final:
        return []
    return ["", "Held-out evaluation (`python -m tinylm eval-chat`, greedy, exact match or share):", "",
            *eval_table(final, earlier)]


def eval_table(final: dict[str, float], earlier: dict[str, float]) -> list[str]:
    """eval-chat figures as a Markdown table: this model's, beside the SFT model's where recorded.

    >>> eval_table({"false_idk": 0.05, "per_task/add": 0.9}, {"false_idk": 0.1})[2:]
    ['| false idk | 0.100 | 0.050 |', '| per task · add | - | 0.900 |']
    """
    head = (["| held-out figure | after SFT | this model |", "|---|---|---|"] if earlier
            else ["| held-out figure | this model |", "|---|---|"])
    rows = []
    for path, value in final.items():
        before = (f" {earlier[path]:.3f} |" if path in earlier else " - |") if earlier else ""
        rows.append(f"| {path.replace('/', ' · ').replace('_', ' ')} |{before} {value:.3f} |")
    return head + rows


def load_checkpoint(directory: str | Path, max_params: int | None = None) -> Checkpoint:
    """Load a checkpoint directory (or a .zip made by ``pack_zip``).

    With ``max_params``, a config asking for a bigger model is refused before any weight is
    allocated (the size is computed on the meta device, see ``tinylm.models.size_of``).
    """
    directory = Path(directory)
    if directory.suffix == ".zip" and directory.is_file():
        # everything is read into memory, so the unpacked files need not outlive this call
        with tempfile.TemporaryDirectory(prefix="tinylm-ckpt-") as tmp:
            return load_checkpoint(unpack_zip(directory, tmp), max_params)
    if not directory.is_dir():
        raise CheckpointError(f"no checkpoint directory at {directory}")
    for required in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (directory / required).exists():
            raise CheckpointError(f"{directory} is not a tinylm checkpoint: {required} is missing")
    try:
        config = json.loads((directory / "config.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise CheckpointError(f"{directory / 'config.json'} is not valid JSON: {err}") from err
    if isinstance(config, dict) and config.get("model_type") == "gpt2" and "format" not in config:
        # a transformers folder (export, finetune-hf): its size is checked before transformers builds it
        from .hf import (  # imports transformers: only for such a folder
            HubError,
            import_transformers,
        )

        if max_params is not None:
            try:
                params = size_of("gpt", vocab_size=config["vocab_size"], block_size=config["n_positions"],
                                 n_embd=config["n_embd"], n_layer=config["n_layer"], n_head=config["n_head"])
            except (KeyError, TypeError, ValueError) as err:
                raise CheckpointError(f"config.json describes no GPT-2 this version can build: {err}") from err
            if params > max_params:
                raise CheckpointError(f"config.json describes a model of {params:,} parameters, over the limit "
                                      f"of {max_params:,}")
        try:
            return import_transformers(directory)
        except (HubError, OSError, ValueError) as err:
            raise CheckpointError(f"cannot read the transformers folder {directory}: {err}") from err
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{directory / 'config.json'} is not a tinylm checkpoint config (format != {FORMAT!r})")
    try:
        tokenizer = load_tokenizer(directory)
    except TokenizerError as err:
        raise CheckpointError(str(err)) from err
    try:
        model_config = dict(config["model_config"])
        if config["model"] == "gpt":  # saved before GPTConfig.activation existed: GPT-2's tanh GELU
            model_config.setdefault("activation", "gelu_tanh")
        if max_params is not None and (params := size_of(config["model"], **model_config)) > max_params:
            raise CheckpointError(f"config.json describes a model of {params:,} parameters, over the limit of "
                                  f"{max_params:,}")
        model = build_model(config["model"], **model_config)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"config.json describes no model this version can build: {err}") from err
    if model.config.vocab_size != tokenizer.vocab_size:
        raise CheckpointError(f"mismatched checkpoint: the model has {model.config.vocab_size} token ids, "
                              f"the tokenizer {tokenizer.vocab_size}")
    try:
        missing, unexpected = load_model(model, str(directory / "model.safetensors"), strict=False)
    except (SafetensorError, RuntimeError, OSError) as err:  # truncated file, wrong shapes
        raise CheckpointError(f"could not load the weights in {directory / 'model.safetensors'}: {err}") from err
    # lm_head.weight is tied to wte and saved once
    missing = [m for m in missing if m != "lm_head.weight" or config["model"] != "gpt"]
    if missing or unexpected:
        raise CheckpointError(f"weights do not match the config: missing {missing[:3]}, unexpected {unexpected[:3]}")
    model.eval()
    info = {k: v for k, v in config.items() if k not in ("model_config",)}
    return Checkpoint(model, tokenizer, info, read_metrics(directory / "metrics.csv"))


def read_metrics(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            rows.append({k: (float(v) if v not in ("", None) else None) for k, v in row.items()})
    return rows


def pack_zip(directory: str | Path, zip_path: str | Path | None = None) -> Path:
    """Zip a checkpoint directory (flat: its files at the top level of the zip)."""
    directory = Path(directory)
    zip_path = Path(zip_path or directory.with_suffix(".zip"))
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(directory.iterdir()):
            if path.is_file():
                zf.write(path, path.name)
    return zip_path


def unpack_zip(zip_path: str | Path, directory: str | Path, max_bytes: int = MAX_ZIP_BYTES) -> Path:
    """Unzip a checkpoint, refusing anything that is not a flat archive of a sane size.

    A zip's header may lie about the sizes of its files (a "zip bomb"), so the bytes are
    counted as they are actually decompressed, a megabyte at a time, straight to disk.
    """
    directory = Path(directory)
    too_big = f"{Path(zip_path).name} unpacks to more than {max_bytes / 2**20:g} MB"
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir() and Path(i.filename).name]
            if len(infos) > MAX_ZIP_FILES:
                raise CheckpointError(f"{Path(zip_path).name} holds {len(infos)} files; a checkpoint has at most "
                                      f"{MAX_ZIP_FILES}")
            if sum(i.file_size for i in infos) > max_bytes:  # what it claims; checked again as it unpacks
                raise CheckpointError(too_big)
            directory.mkdir(parents=True, exist_ok=True)
            left = max_bytes
            for info in infos:
                name = Path(info.filename).name  # flat: no directories, no ../ escapes
                with zf.open(info) as packed, open(directory / name, "wb") as out:
                    while chunk := packed.read(2**20):
                        left -= len(chunk)
                        if left < 0:
                            raise CheckpointError(too_big)
                        out.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as err:
        raise CheckpointError(f"{Path(zip_path).name} is not a readable zip file: {err}") from err
    return directory


# ---------------------------------------------------------------------------------------------
# Checkpoints coming in and going out of an app


def load_checkpoint_zip(path: str | Path, max_params: int | None = None, max_bytes: int = MAX_ZIP_BYTES) -> Checkpoint:
    """A checkpoint from an uploaded .zip (as ``checkpoint_zip`` makes); a clear error otherwise.

    Nothing in an upload is trusted: its size is checked from its config before any weight is
    allocated (``max_params``), its files are unpacked a megabyte at a time up to ``max_bytes``,
    and the data set it names is kept only if it is one of the shipped ones (a config.json may
    name any path on the server; that is never opened). Its info says ``uploaded``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no file at {path.name}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path.name} is not a zip file: upload the .zip of a tinylm checkpoint")
    from .data import list_datasets  # noqa: PLC0415 (datasets is slow to import; only uploads need it)

    with tempfile.TemporaryDirectory(prefix="tinylm-upload-") as folder:
        # load_checkpoint reads everything into memory, so the unpacked files can go at once
        ckpt = load_checkpoint(unpack_zip(path, folder, max_bytes), max_params)
    if ckpt.info.get("dataset") not in list_datasets():
        ckpt.info["dataset"] = None
    ckpt.info["uploaded"] = True
    return ckpt


def checkpoint_zip(ckpt: Checkpoint, folder: str | Path | None = None) -> Path:
    """Save ``ckpt`` as a checkpoint directory and zip it: ``<folder>/<name>.zip``."""
    folder = Path(folder or tempfile.mkdtemp(prefix="tinylm-download-"))
    # a loaded checkpoint's info repeats what save_checkpoint writes itself (model, tokenizer, ...)
    written_by_save = {"format", "version", "model", "tokenizer", "params", "model_config", "training"}
    info = {k: v for k, v in ckpt.info.items() if k not in written_by_save}
    name = file_name(ckpt.name)
    directory = save_checkpoint(folder / name, ckpt.model, ckpt.tokenizer, ckpt.metrics, **info)
    return pack_zip(directory, folder / f"{name}.zip")


def describe_checkpoint(ckpt: Checkpoint) -> dict:
    """The facts a learner wants about a model: name, kind, tokenizer, sizes, how it was trained."""
    info = ckpt.info
    return {"name": ckpt.name, "model": type(ckpt.model).__name__.lower(), "tokenizer": ckpt.tokenizer.kind,
            "vocab_size": ckpt.tokenizer.vocab_size, "block_size": ckpt.model.block_size,
            "params": count_params(ckpt.model), "dataset": info.get("dataset"), "steps": info.get("steps"),
            "val_loss": info.get("val_loss")}


def file_name(name: str) -> str:
    """A plain file name from a model name that may come from an uploaded config ("..", "/" and all)."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip(".") or "model"
