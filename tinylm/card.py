"""Model cards and experiment cards: what a model is, how well it does, and how it was made.

``hub_model_card`` writes the README.md a Hugging Face model repository shows: a YAML header the
Hub reads (license, tags, ``model-index`` with the evaluation figures a checkpoint recorded),
then every training stage (base, SFT, RL, finetune-hf), the figures and the commands to
reproduce it. ``save_experiment`` packs a run into one zip: the checkpoint, its loss curve as CSV
and PNG, and its card; ``load_checkpoint`` reads it back.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml

from .chat import is_chat_model
from .checkpoint import Checkpoint, eval_table, file_name, pack_zip, save_checkpoint
from .models import count_params, model_kind
from .tokenizer import IM_END, IM_SEP, IM_START

LOSS_PNG = "loss_curve.png"


LICENSE = "mit"  # tinylm's license; the GPT-2 vocabulary is OpenAI's, MIT too (tinylm/assets/gpt2/LICENSE)


def card_metadata(ckpt: Checkpoint) -> dict:
    """The YAML header of the Hub model card (the Hub reads license, library_name, tags,
    pipeline_tag and model-index, the evaluation figures).

    >>> from tinylm.pretrained import load_pretrained
    >>> card_metadata(load_pretrained("names-mlp"))["library_name"]
    'tinylm'
    """
    kind = model_kind(ckpt.model)
    chat = is_chat_model(ckpt)
    meta = {"license": LICENSE, "library_name": "transformers" if kind == "gpt" else "tinylm",
            "pipeline_tag": "text-generation",
            # no `datasets:` key: it takes Hub data set ids, and tinylm's data set names are local
            "tags": ["tinylm", kind, f"tokenizer-{ckpt.tokenizer.kind}"] + (["gpt2"] if kind == "gpt" else [])
            + (["conversational"] if chat else [])}
    results = eval_results(ckpt.info, chat)
    if results:
        meta["model-index"] = [{"name": ckpt.info.get("name", "model"), "results": results}]
    facts = {k: ckpt.info.get(k) for k in ("dataset", "corpus_sha256", "seed", "stage", "steps", "val_loss", "command")}
    meta["tinylm"] = {"model": kind, "params": count_params(ckpt.model), "tokenizer": ckpt.tokenizer.kind,
                      **{k: v for k, v in facts.items() if v is not None}}
    return meta


def eval_figures(figures: dict, prefix: str = "") -> dict[str, float]:
    """The measured fractions and losses of a (nested) evaluation dict, flat and by path.
    Whole numbers are counts (prompts, rounds) and seconds a timing: neither is a figure.

    >>> eval_figures({"mean_task_accuracy": 0.9, "task_accuracy": {"add": 0.8}, "prompts": {"in_scope": 680},
    ...               "seconds": 12.5})
    {'mean_task_accuracy': 0.9, 'task_accuracy/add': 0.8}
    """
    flat = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            flat.update(eval_figures(value, f"{prefix}{key}/"))
        elif isinstance(value, float) and key != "seconds":
            flat[f"{prefix}{key}"] = value
    return flat


def eval_results(info: dict, chat: bool) -> list[dict]:
    """model-index results from what the checkpoint recorded: the val loss on its data set (a
    language model), the figures of ``tinylm eval-chat`` stored under "eval" (a chat model)."""
    results = []
    if not chat and isinstance(info.get("val_loss"), float):
        results.append({"task": {"type": "text-generation", "name": "next-token prediction"},
                        "dataset": {"name": str(info.get("dataset", "unknown")), "type": str(info.get("dataset", "unknown")),
                                    "split": "validation"},
                        "metrics": [{"type": "loss", "name": "val loss (nats/token)", "value": info["val_loss"]}]})
    figures = eval_figures(info["eval"]) if isinstance(info.get("eval"), dict) else {}
    if chat and figures:
        results.append({"task": {"type": "text-generation", "name": "chat: exact match on held-out prompts"},
                        "dataset": {"name": "tinylm chat tasks (held out)", "type": "tinylm-chat-tasks",
                                    "split": "held-out"},
                        "metrics": [{"type": path, "name": path.replace("/", " ").replace("_", " "), "value": value}
                                    for path, value in figures.items()]})
    return results


def training_stages(info: dict) -> list[dict]:
    """What made the model, oldest first, from its checkpoint's info: base (pretraining), SFT,
    RL, finetune-hf, each as {stage, data, steps, command, result} (None where not recorded).

    >>> [s["stage"] for s in training_stages({"dataset": "names", "steps": 100})]
    ['base']
    """
    sft = "base" in info  # `tinylm sft` records the checkpoint it started from; its own facts replace the base's
    train = info.get("train") or {}
    stages = [{"stage": "base", "data": info.get("dataset"),
               "steps": train.get("max_steps") if sft else info.get("steps"),
               "command": None if sft else info.get("command"),
               "result": None if sft else _loss_text(info.get("val_loss"))}]
    if sft:
        demos = info.get("demos")
        stages.append({"stage": "SFT", "data": f"{demos:,} generated conversations" if demos else "generated conversations",
                       "steps": info.get("steps"), "command": info.get("command"),
                       "result": _loss_text(info.get("val_loss"), "masked val loss")})
    rounds = info.get("rl") if isinstance(info.get("rl"), list) else []
    if rounds:
        last = rounds[-1] if isinstance(rounds[-1], dict) else {}
        result = f"pass@1 {last['pass_at_1']:.3f} in the last round" if isinstance(last.get("pass_at_1"), float) else None
        stages.append({"stage": "RL", "data": f"{len(rounds)} rounds of rejection sampling on checkable tasks",
                       "steps": None, "command": info.get("command_rl"), "result": result})
    tuned = info.get("finetune_hf")
    if isinstance(tuned, dict):
        stages.append({"stage": "finetune-hf", "data": tuned.get("data"), "steps": tuned.get("steps"),
                       "command": tuned.get("command"), "result": _loss_text(tuned.get("last_loss"), "last train loss")})
    return stages


def _loss_text(value, label: str = "val loss") -> str | None:
    return f"{label} {value:.4f}" if isinstance(value, float) else None


def hub_model_card(ckpt: Checkpoint, repo_name: str = "model") -> str:
    """README.md for the Hub: YAML metadata, what the model is, how it was made, how to load it."""
    meta = card_metadata(ckpt)
    kind = meta["tinylm"]["model"]
    chat = is_chat_model(ckpt)
    name = ckpt.info.get("name", repo_name)
    lines = ["---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).strip(), "---", "",
             f"# {name}", "",
             (f"A tiny `{kind}` {'chat ' if chat else ''}language model ({meta['tinylm']['params']:,} parameters, "
              f"`{ckpt.tokenizer.kind}` tokenizer, {ckpt.tokenizer.vocab_size} tokens, "
              f"context of {ckpt.model.block_size} tokens) trained with tinylm, a library for learning how "
              "language models work."), ""]
    if chat:
        lines += _stages_markdown(ckpt.info)
    else:
        facts = [("data set", "dataset"), ("corpus sha256", "corpus_sha256"), ("seed", "seed"), ("steps", "steps"),
                 ("val loss", "val_loss"), ("training time (s)", "seconds")]
        rows = [f"| {label} | {_fmt(ckpt.info[key])} |" for label, key in facts if ckpt.info.get(key) is not None]
        if rows:
            lines += ["| | |", "|---|---|", *rows, ""]
        if ckpt.info.get("command"):
            lines += ["Reproduce:", "", "```", ckpt.info["command"], "```", ""]
    if chat:
        question = _example_question(ckpt)
        lines += ["## Chat with it in transformers", "", "```python",
                  "from transformers import pipeline",
                  f'chat = pipeline("text-generation", model="{repo_name}")',
                  f'messages = [{{"role": "user", "content": {json.dumps(question)}}}]',
                  (f'print(chat(messages, do_sample=False, max_new_tokens={max(1, ckpt.model.block_size // 4)})'
                   '[0]["generated_text"][-1]["content"])'),
                  "```", "",
                  ("The tokenizer's `chat_template` writes each message as "
                   f"`{IM_START}role{IM_SEP}content{IM_END}`, exactly as tinylm does, and a reply ends at "
                   f"`{IM_END}` (the generation config's `eos_token_id`). Greedy decoding (`do_sample=False`) "
                   "gives the replies of `python -m tinylm chat --ckpt DIR`. "
                   "`apply_chat_template(messages, return_assistant_tokens_mask=True, return_dict=True)` "
                   "marks the tokens fine-tuning learns (the assistant's)."), ""]
    elif kind == "gpt":
        lines += ["## Use it with transformers", "", "```python",
                  "from transformers import pipeline",
                  f'generate = pipeline("text-generation", model="{repo_name}")',
                  (f'print(generate("{_example_prompt(ckpt)}", max_new_tokens={max(1, ckpt.model.block_size // 2)},'
                   ' do_sample=True)[0]["generated_text"])'),
                  "```", ""]
    if kind == "gpt":
        lines += [(f"It is a standard GPT-2 (`GPT2LMHeadModel`) with {ckpt.model.block_size} positions: "
                   "a call without `max_new_tokens` stops there; keep prompt + `max_new_tokens` within "
                   f"{ckpt.model.block_size} tokens (past them transformers' GPT-2 fails with an IndexError). "
                   "tinylm reads this folder too (`python -m tinylm sample --ckpt DIR`) and slides its "
                   "context window instead."), ""]
    else:
        lines += ["## Use it with tinylm", "",
                  (f"`transformers` has no `{kind}` architecture, so this repository is a tinylm checkpoint: "
                   "`model.safetensors` (weights), `config.json` (hyper-parameters), `tokenizer.json`."), "",
                  "```python",
                  "from huggingface_hub import snapshot_download",
                  "from tinylm.checkpoint import load_checkpoint",
                  f'ckpt = load_checkpoint(snapshot_download("{repo_name}"))',
                  "```", "",
                  "or from a local copy: `python -m tinylm sample --ckpt DIR`.", ""]
    lines += ["The tokenizer also loads with `transformers.AutoTokenizer.from_pretrained(...)`.", "",
              f"License: {LICENSE.upper()}.", ""]
    return "\n".join(lines)


def _stages_markdown(info: dict) -> list[str]:
    """The card's "how it was made" for a chat model: a table of stages and the evaluation figures."""
    rows = [f"| {s['stage']} | {_cell(s['data'])} | {_cell(s['steps'])} | {_cell(s['result'])} |"
            for s in training_stages(info)]
    lines = ["## How it was made", "", "| stage | data | steps | result |", "|---|---|---|---|", *rows, ""]
    commands = [(s["stage"], s["command"]) for s in training_stages(info) if s["command"]]
    if commands or info.get("reproduce"):
        lines += ["Reproduce:", "", "```"] + [f"{cmd}  # {stage}" for stage, cmd in commands]
        lines += [f"{info['reproduce']}  # all stages"] if info.get("reproduce") else []
        lines += ["```", ""]
    final = eval_figures(info["eval"]) if isinstance(info.get("eval"), dict) else {}
    earlier = eval_figures(info["eval_sft"]) if isinstance(info.get("eval_sft"), dict) else {}
    if final:
        lines += ["## Evaluation (`python -m tinylm eval-chat`)", "", *eval_table(final, earlier), ""]
    return lines


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else _fmt(value)


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _example_prompt(ckpt: Checkpoint) -> str:
    """A prompt the tokenizer can encode without unknown tokens (char/split vocabularies are small)."""
    for candidate in ("The ", "a", "A"):
        ids = ckpt.tokenizer.encode(candidate, allow_special=False)
        if ckpt.tokenizer.token_to_id("<|unk|>") not in ids:
            return candidate
    return ckpt.tokenizer.decode(ckpt.tokenizer.encode(" ")[:1]) or ""


def _example_question(ckpt: Checkpoint) -> str:
    """A question for the card's chat example that the tokenizer reads without unknown characters."""
    for candidate in ("What is 2 + 3?", "what is 2 + 3?", "hello", "hi"):
        if not ckpt.tokenizer.unknown_pieces(candidate, allow_special=False):
            return candidate
    return _example_prompt(ckpt)



# --- experiment card -------------------------------------------------------------------------
def plot_loss_curve(metrics: list[dict], path: str | Path) -> Path:
    """Draw train/val loss against step into a PNG (matplotlib's Agg canvas: no window, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    train = [(m["step"], m["train_loss"]) for m in metrics if m.get("train_loss") is not None]
    val = [(m["step"], m["val_loss"]) for m in metrics if m.get("val_loss") is not None]
    if train:
        ax.plot(*zip(*train), label="train", linewidth=1)
    if val:
        ax.plot(*zip(*val), "o-", label="val")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title("loss curve" if metrics else "loss curve (no training recorded)")
    if train or val:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png")
    return Path(path)


def save_experiment(ckpt: Checkpoint, zip_path: str | Path, command: str | None = None, **info) -> Path:
    """One zip with everything about a run: weights, config, tokenizer, loss curve (metrics.csv +
    loss_curve.png), data set name + corpus hash, seed, command, and a README.md model card.

    ``load_checkpoint(zip_path)`` restores the model, the tokenizer and the loss curve.
    """
    info = {**ckpt.info, **info}
    if command:
        info["command"] = command
    zip_path = Path(zip_path)
    with tempfile.TemporaryDirectory(prefix="tinylm-exp-") as tmp:
        directory = Path(tmp) / "experiment"
        save_checkpoint(directory, ckpt.model, ckpt.tokenizer, ckpt.metrics, **info)
        plot_loss_curve(ckpt.metrics, directory / LOSS_PNG)
        (directory / "README.md").write_text(hub_model_card(Checkpoint(ckpt.model, ckpt.tokenizer, info, ckpt.metrics),
                                                            info.get("name", "model")))
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        return pack_zip(directory, zip_path)


def experiment_zip(ckpt: Checkpoint, folder: str | Path) -> Path:
    """``save_experiment`` to ``<folder>/<name>-experiment.zip`` (what the app offers for download)."""
    return save_experiment(ckpt, Path(folder) / f"{file_name(ckpt.name)}-experiment.zip")


