"""Hugging Face interop: a tinylm model as a real ``transformers`` model, a model card, a Hub push.

A tinylm GPT uses GPT-2's parameter names, so exporting it is a copy, with one twist: GPT-2's
original code stores its projections as ``Conv1D`` (weight shape (in, out), ``y = x @ W + b``)
where tinylm uses ``nn.Linear`` (weight shape (out, in), ``y = x @ W.T + b``), so every matrix of
``c_attn``, ``c_proj`` and ``c_fc`` is transposed on the way. The exact GELU is ``gelu`` in both,
GPT-2's tanh approximation is ``gelu_new`` there, and LayerNorm's eps is 1e-5 in both.

    export_transformers(ckpt, "out/hf")     # config.json, model.safetensors, tokenizer files, README.md
    AutoModelForCausalLM.from_pretrained("out/hf")          # works offline, same logits
    load_checkpoint("out/hf")               # and back into tinylm (import_transformers)
    save_experiment(ckpt, "run.zip")        # checkpoint + loss curve (CSV, PNG) + model card, one file
    load_checkpoint("run.zip")              # the model, its tokenizer and its loss curve back
    push_to_hub(ckpt, "you/tiny-shakespeare", token=...)   # offline: HubError at once

A chat model (one fine-tuned on conversations: SFT, RL, finetune-hf) also gets a Jinja
``chat_template`` that renders exactly what ``tinylm.chat.render_conversation`` renders, the
assistant's tokens marked with ``{% generation %}``, and ``<|im_end|>`` as the end of a reply, so
``pipeline("text-generation")`` given a list of messages answers as ``python -m tinylm chat`` does.

MLP and bigram models have no ``transformers`` architecture: they export as a tinylm checkpoint
(safetensors weights, config, tokenizer) whose model card says how to load them with tinylm.

The Hub token is only ever passed to ``huggingface_hub``: it is never logged, printed, stored or
put into an error message.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlparse

import torch
import yaml

from .chat import Message, render_conversation
from .checkpoint import Checkpoint, load_checkpoint, pack_zip, save_checkpoint
from .models import GPT, build_model, count_params, model_config, model_kind
from .tokenizer import IM_END, IM_SEP, IM_START, Tokenizer, load_tokenizer

CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
LOSS_PNG = "loss_curve.png"


class HubError(RuntimeError):
    """Exporting or pushing failed: offline, no token, a refused upload (the message says which)."""


# --- tinylm GPT <-> transformers GPT-2 -----------------------------------------------------
def gpt2_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """tinylm GPT weights under GPT-2 names and layouts: the Linear matrices transposed to Conv1D.

    A model built with ``bias=False`` gets zero biases, which computes the same function.

    >>> sd = gpt2_state_dict(build_model("gpt", vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=8))
    >>> tuple(sd["transformer.h.0.attn.c_attn.weight"].shape)  # (in, out): nn.Linear has (24, 8)
    (8, 24)
    """
    out = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu()
        out[name] = tensor.t().contiguous() if name.endswith(CONV1D_WEIGHTS) else tensor.clone()
    if not model.config.bias:  # GPT-2 always has biases: zeros are the same as none
        for module_name, module in model.named_modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.LayerNorm)) and module_name != "lm_head":
                width = module.weight.shape[0]
                out.setdefault(f"{module_name}.bias", torch.zeros(width))
    return out


# our GPT's feed-forward nonlinearity -> its name in transformers (``gelu_new`` is GPT-2's tanh approximation)
HF_ACTIVATIONS = {"gelu": "gelu", "gelu_tanh": "gelu_new"}


def gpt2_config(model: GPT, tokenizer, eos_token_id: int | None = None):
    """The ``transformers.GPT2Config`` that computes what ``model`` computes.

    Generation ends at ``eos_token_id``: end of text, unless given (a chat model's ``<|im_end|>``).
    """
    from transformers import GPT2Config

    c = model.config
    return GPT2Config(
        vocab_size=c.vocab_size, n_positions=c.block_size, n_embd=c.n_embd, n_layer=c.n_layer, n_head=c.n_head,
        activation_function=HF_ACTIVATIONS[c.activation],
        layer_norm_epsilon=1e-5,  # nn.LayerNorm's default
        resid_pdrop=c.dropout, embd_pdrop=c.dropout, attn_pdrop=c.dropout,
        bos_token_id=tokenizer.eot_id, eos_token_id=eos_token_id if eos_token_id is not None else tokenizer.eot_id,
        pad_token_id=tokenizer.pad_id if tokenizer.pad_id is not None else tokenizer.eot_id,  # GPT-2 has no pad
        tie_word_embeddings=True,
    )


def to_transformers(model: GPT, tokenizer, eos_token_id: int | None = None):
    """A ``transformers.GPT2LMHeadModel`` with ``model``'s weights (in eval mode)."""
    from transformers import GPT2LMHeadModel

    if not isinstance(model, GPT):
        raise HubError(f"only a GPT converts to transformers; this is a {model_kind(model)} (use export_transformers)")
    hf_model = GPT2LMHeadModel(gpt2_config(model, tokenizer, eos_token_id))
    missing, unexpected = hf_model.load_state_dict(gpt2_state_dict(model), strict=False)
    missing = [m for m in missing if m != "lm_head.weight"]  # tied to wte
    if missing or unexpected:
        raise HubError(f"GPT-2 weights do not line up: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return hf_model.eval()


def from_transformers(hf_model) -> GPT:
    """The inverse of ``to_transformers``: a ``GPT2LMHeadModel`` (tied, gelu or gelu_new) as a tinylm GPT."""
    c = hf_model.config
    activation = {hf: ours for ours, hf in HF_ACTIVATIONS.items()}.get(c.activation_function)
    if activation is None:
        raise HubError(f"a tinylm GPT has no activation {c.activation_function!r}; it knows {', '.join(HF_ACTIVATIONS.values())}")
    model = build_model("gpt", vocab_size=c.vocab_size, block_size=c.n_positions, n_layer=c.n_layer,
                        n_head=c.n_head, n_embd=c.n_embd, dropout=0.0, bias=True, activation=activation)
    state = {k: (v.t().contiguous() if k.endswith(CONV1D_WEIGHTS) else v)
             for k, v in hf_model.state_dict().items() if k in model.state_dict()}
    model.load_state_dict(state, strict=False)
    return model.eval()


# --- the chat template, for transformers ------------------------------------------------------
# tinylm.chat.render_conversation written in Jinja, the language of transformers' chat templates
# (tests/test_hf.py checks the two give the same ids and the same loss mask). The assistant's words
# and the <|im_end|> that closes them sit in a {% generation %} block: they are what SFT trains on,
# and ``apply_chat_template(..., return_assistant_tokens_mask=True)`` marks them with 1s; a reply
# with ``"weight": 0`` (OpenAI's fine-tuning format: read, not trained on) stays outside.
# Text that names a special token is refused: tinylm reads it as characters, a transformers
# tokenizer as the one special id, so the two would differ.
CHAT_TEMPLATE = """\
{#- tinylm's chat template: <|im_start|>ROLE<|im_sep|>CONTENT<|im_end|> for each message -#}
{%- for message in messages -%}
  {%- if message['role'] not in ['system', 'user', 'assistant'] -%}
    {{ raise_exception('message ' ~ loop.index ~ ' has role ' ~ message['role'] ~ '; use one of system, user, assistant') }}
  {%- endif -%}
  {%- if message['content'] is not string -%}
    {{ raise_exception('message ' ~ loop.index ~ ' content must be text') }}
  {%- endif -%}
  {%- for special in ['<|pad|>', '<|endoftext|>', '<|im_start|>', '<|im_sep|>', '<|im_end|>', '<|unk|>'] -%}
    {%- if special in message['content'] -%}
      {{ raise_exception('message ' ~ loop.index ~ ' contains the special token ' ~ special ~ ' as text') }}
    {%- endif -%}
  {%- endfor -%}
  {{- '<|im_start|>' + message['role'] + '<|im_sep|>' -}}
  {%- if message['role'] == 'assistant' and message.get('weight', 1) != 0 -%}
    {%- generation -%}{{- message['content'] + '<|im_end|>' -}}{%- endgeneration -%}
  {%- else -%}
    {{- message['content'] + '<|im_end|>' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant<|im_sep|>' -}}{%- endif -%}
"""


def is_chat_model(ckpt: Checkpoint) -> bool:
    """Fine-tuned on conversations: a GPT whose tokenizer has the chat tokens and whose checkpoint
    records a fine-tuning stage (``tinylm sft`` and ``rl``, ``finetune-hf`` set ``stage``)."""
    has_chat_tokens = all(ckpt.tokenizer.token_to_id(s) is not None for s in (IM_START, IM_SEP, IM_END))
    return model_kind(ckpt.model) == "gpt" and has_chat_tokens and ckpt.info.get("stage") is not None


# --- export ----------------------------------------------------------------------------------
def export_transformers(ckpt: Checkpoint, directory: str | Path) -> Path:
    """Write ``ckpt`` as a directory the Hugging Face stack loads.

    GPT: a ``transformers`` GPT-2 (``save_pretrained``: config.json, model.safetensors,
    generation_config.json) + the tokenizer as a fast tokenizer + README.md. A chat model's
    tokenizer carries ``CHAT_TEMPLATE`` and its replies end at ``<|im_end|>``.
    MLP/bigram: a tinylm checkpoint (safetensors weights) + a README.md saying how to load it.
    """
    directory = Path(directory)
    info = dict(ckpt.info)
    kind = model_kind(ckpt.model)
    if kind != "gpt":
        save_checkpoint(directory, ckpt.model, ckpt.tokenizer, ckpt.metrics, **info)
    else:
        chat = is_chat_model(ckpt)
        tok, block_size = ckpt.tokenizer, ckpt.model.config.block_size
        eos = tok.token_to_id(IM_END) if chat else tok.eot_id
        hf_model = to_transformers(ckpt.model, tok, eos_token_id=eos)
        # a call without max_new_tokens stops where the positions end (n_positions), not past them
        hf_model.generation_config.max_length = block_size
        hf_model.save_pretrained(directory)
        # tokenizer.json + tokenizer_config.json: AutoTokenizer and tinylm both read it; transformers
        # warns when a text is longer than the model's context
        tok.save(directory, model_max_length=block_size, **({"chat_template": CHAT_TEMPLATE} if chat else {}))
        # tinylm's own description, under a name transformers does not read
        (directory / "tinylm.json").write_text(json.dumps(_tinylm_config(ckpt), indent=2) + "\n")
    (directory / "README.md").write_text(hub_model_card(ckpt, directory.name))
    return directory


def _tinylm_config(ckpt: Checkpoint) -> dict:
    return {"model": model_kind(ckpt.model), "model_config": model_config(ckpt.model),
            "tokenizer": ckpt.tokenizer.kind, "params": count_params(ckpt.model),
            **{k: v for k, v in ckpt.info.items() if k not in ("model", "model_config", "tokenizer", "params", "format")}}


def import_transformers(directory: str | Path) -> Checkpoint:
    """Load a directory written by ``export_transformers`` or ``finetune-hf`` (or any tied GPT-2 +
    tokenizer.json) into tinylm. ``load_checkpoint`` calls it for such a directory."""
    from transformers import GPT2LMHeadModel

    directory = Path(directory)
    if (directory / "config.json").exists() and json.loads((directory / "config.json").read_text()).get("format"):
        return load_checkpoint(directory)  # an MLP/bigram export is a tinylm checkpoint
    model = from_transformers(GPT2LMHeadModel.from_pretrained(directory, use_safetensors=True))  # never a pickle
    info = json.loads((directory / "tinylm.json").read_text()) if (directory / "tinylm.json").exists() else {}
    info = {k: v for k, v in info.items() if k not in ("model", "model_config", "tokenizer", "params")}
    tokenizer = load_tokenizer(directory)
    if tokenizer.vocab_size != model.config.vocab_size:
        raise HubError(f"{directory}: the model has {model.config.vocab_size} token ids, its tokenizer {tokenizer.vocab_size}")
    return Checkpoint(model, tokenizer, info, [])


# --- model card ------------------------------------------------------------------------------
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
        head = "| held-out figure | after SFT | this model |" if earlier else "| held-out figure | this model |"
        lines += ["## Evaluation (`python -m tinylm eval-chat`)", "", head, "|---|---|---|" if earlier else "|---|---|"]
        for path, value in final.items():
            before = (f" {earlier[path]:.3f} |" if path in earlier else " - |") if earlier else ""
            lines.append(f"| {path.replace('/', ' · ').replace('_', ' ')} |{before} {value:.3f} |")
        lines.append("")
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
        if not any(s.unknown for s in ckpt.tokenizer.spans(candidate, allow_special=False)):
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


def _file_name(name: str) -> str:
    """A plain file name from a model name that may come from an uploaded config ("..", "/" and all)."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip(".") or "model"


def experiment_zip(ckpt: Checkpoint, folder: str | Path) -> Path:
    """``save_experiment`` to ``<folder>/<name>-experiment.zip`` (what the app offers for download)."""
    return save_experiment(ckpt, Path(folder) / f"{_file_name(ckpt.name)}-experiment.zip")


def transformers_zip(ckpt: Checkpoint, folder: str | Path) -> Path:
    """``export_transformers`` zipped: ``<folder>/<name>-hf.zip`` (unzip it and ``from_pretrained`` the folder)."""
    with tempfile.TemporaryDirectory(prefix="tinylm-hf-") as tmp:
        directory = export_transformers(ckpt, Path(tmp) / _file_name(ckpt.name))
        return pack_zip(directory, Path(folder) / f"{_file_name(ckpt.name)}-hf.zip")


# --- the Hub ---------------------------------------------------------------------------------
def hub_offline_reason(timeout: float = 2.0) -> str | None:
    """Why the Hub cannot be reached right now (None when it can), within ``timeout`` seconds.

    ``HF_HUB_OFFLINE=1`` answers at once; otherwise one TCP connection to the Hub's host is tried
    (name lookup included) in a thread that is abandoned after ``timeout``.
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE"):
        return "HF_HUB_OFFLINE is set: this machine is offline for the Hugging Face Hub"
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    result: list[str | None] = [f"no answer from {host} within {timeout:g} s"]

    def probe():
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result[0] = None
        except OSError as err:
            result[0] = f"cannot reach {host}: {err.strerror or err}"

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return result[0]


def resolve_token(token: str | None = None) -> str:
    """The token to push with: the argument, else ``HF_TOKEN``; a clear error when there is none."""
    token = (token or "").strip() or os.environ.get("HF_TOKEN", "").strip()
    if not token:
        raise HubError("no Hugging Face token: paste a write token (huggingface.co/settings/tokens) or set HF_TOKEN")
    return token


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "hf_***") if token else text


def push_to_hub(ckpt: Checkpoint | str | Path, repo_id: str, token: str | None = None, private: bool = False,
                timeout: float = 2.0) -> str:
    """Export ``ckpt`` (a Checkpoint or a checkpoint dir/zip) and upload it to ``repo_id``; returns its URL.

    Fails with ``HubError`` before any upload when offline (within ``timeout`` s), when there is
    no token, or when the repo id is malformed.
    """
    if not isinstance(repo_id, str) or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise HubError(f"repo id must look like 'user/model-name', got {repo_id!r}")
    reason = hub_offline_reason(timeout)
    if reason:
        raise HubError(f"cannot push to the Hub: {reason}. Export locally instead "
                       "(python -m tinylm export --ckpt DIR --out DIR) and upload it later.")
    token = resolve_token(token)
    if not isinstance(ckpt, Checkpoint):
        ckpt = load_checkpoint(ckpt)
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="tinylm-push-") as tmp:
        directory = export_transformers(ckpt, Path(tmp) / repo_id.split("/")[1])
        (directory / "README.md").write_text(hub_model_card(ckpt, repo_id))
        try:
            url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            api.upload_folder(repo_id=repo_id, folder_path=str(directory), commit_message="Upload from tinylm")
        except Exception as err:  # noqa: BLE001 (any failure of the upload: keep the message, never the token)
            raise HubError(_scrub(f"push to {repo_id} failed: {type(err).__name__}: {err}", token)) from None
    return str(url)


HUB_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}$")  # "gpt2", "org/name"


def load_hub_tokenizer(repo_id: str, timeout: float = 2.0, cache_dir: str | Path | None = None):
    """Any tokenizer on the Hub by its id (``transformers.AutoTokenizer``); offline, a HubError at once.

    A copy already in the local Hugging Face cache (or ``cache_dir``) loads even offline. Only a
    Hub id is accepted, never a path: ``from_pretrained`` would read a folder of this machine.
    """
    from transformers import AutoTokenizer

    repo_id = (repo_id or "").strip()
    if not repo_id:
        raise HubError("type a Hub model id, e.g. openai-community/gpt2")
    if not HUB_REPO_ID.match(repo_id) or ".." in repo_id:
        raise HubError(f"{repo_id[:100]!r} is not a Hub model id: write it as name or owner/name "
                       f"(letters, digits, '-', '_', '.')")
    try:  # the cache first: no network needed, no waiting
        return AutoTokenizer.from_pretrained(repo_id, local_files_only=True, cache_dir=cache_dir)
    except (OSError, ValueError):
        pass
    reason = hub_offline_reason(timeout)
    if reason:
        raise HubError(f"cannot fetch the tokenizer {repo_id!r}: {reason}")
    try:
        return AutoTokenizer.from_pretrained(repo_id, cache_dir=cache_dir)
    except (OSError, ValueError) as err:
        raise HubError(f"no tokenizer {repo_id!r} on the Hub: {err}") from None


def hub_tokens(tokenizer, text: str) -> list[tuple[int, str]]:
    """(id, text piece) for each token a ``transformers`` tokenizer cuts ``text`` into (no added BOS/EOS)."""
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=tokenizer.is_fast)
    ids = encoding["input_ids"]
    if tokenizer.is_fast:
        return [(i, text[a:b]) for i, (a, b) in zip(ids, encoding["offset_mapping"])]
    return [(i, tokenizer.decode([i])) for i in ids]


# --- fine-tuning with transformers' own Trainer -------------------------------------------------
def trainer_features(tokenizer: Tokenizer, conversations: list[list[Message]], max_length: int) -> list[dict]:
    """Token ids + labels for each conversation, rendered by ``tinylm.chat.render_conversation``:
    the labels are the ids where the assistant speaks, -100 (no loss) elsewhere.

    A conversation longer than ``max_length`` keeps its end, where the last reply is.

    >>> from tinylm.tokenizer import CharTokenizer
    >>> tok = CharTokenizer.from_corpus("hi yo")
    >>> [f] = trainer_features(tok, [[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]], 64)
    >>> tok.decode([i for i in f["labels"] if i != -100])
    'yo<|im_end|>'
    """
    features = []
    for messages in conversations:
        ids, mask = render_conversation(tokenizer, messages)
        ids, mask = ids[-max_length:], mask[-max_length:]
        # transformers shifts the labels itself: label t is the target of position t - 1
        features.append({"input_ids": ids, "labels": [i if m else -100 for i, m in zip(ids, mask)]})
    return features


def collate(features: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of features into tensors; padded positions are masked and carry no loss."""
    width = max(len(f["input_ids"]) for f in features)
    batch = {"input_ids": [], "labels": [], "attention_mask": []}
    for f in features:
        gap = width - len(f["input_ids"])
        batch["input_ids"].append(f["input_ids"] + [pad_id] * gap)
        batch["labels"].append(f["labels"] + [-100] * gap)
        batch["attention_mask"].append([1] * len(f["input_ids"]) + [0] * gap)
    return {k: torch.tensor(v) for k, v in batch.items()}


def finetune_transformers(model_dir: str | Path, conversations: list[list[Message]], out_dir: str | Path,
                          max_steps: int = 100, learning_rate: float = 1e-3, batch_size: int = 8, seed: int = 0,
                          data_name: str | None = None, command: str | None = None) -> dict:
    """Fine-tune an exported model with ``transformers.Trainer`` on conversations, the way larger
    models are (read them with ``tinylm.chat.parse_jsonl``, as ``tinylm sft`` does).

    ``model_dir`` is a folder ``export_transformers`` wrote (or an earlier fine-tune). The result
    is exported to ``out_dir`` the same way, a chat model with the stage recorded in its card.
    Returns the first and last logged training losses.
    """
    from transformers import Trainer, TrainingArguments

    if not conversations:
        raise ValueError("give at least one conversation to fine-tune on")
    ckpt = import_transformers(model_dir)
    if any(ckpt.tokenizer.token_to_id(s) is None for s in (IM_START, IM_SEP, IM_END)):
        raise ValueError(f"{model_dir}'s tokenizer ({ckpt.tokenizer.kind}) has no chat tokens "
                         f"{IM_START} {IM_SEP} {IM_END}; fine-tune a model whose tokenizer has them")
    features = trainer_features(ckpt.tokenizer, conversations, ckpt.model.block_size)
    hf_model = to_transformers(ckpt.model, ckpt.tokenizer).train()
    args = TrainingArguments(
        output_dir=str(out_dir), max_steps=max_steps, per_device_train_batch_size=batch_size,
        learning_rate=learning_rate, lr_scheduler_type="constant", logging_steps=1, save_strategy="no",
        report_to=[], seed=seed, use_cpu=not torch.cuda.is_available(), disable_tqdm=True,
        remove_unused_columns=False, dataloader_num_workers=0,
    )
    trainer = Trainer(model=hf_model, args=args, train_dataset=features,
                      data_collator=lambda batch: collate(batch, ckpt.tokenizer.pad_id))
    trainer.train()
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    result = {"first_loss": losses[0], "last_loss": losses[-1], "steps": trainer.state.global_step,
              "conversations": len(conversations)}
    record = {**result, "data": data_name, "learning_rate": learning_rate, "command": command}
    # the recorded eval figures were the model's before this fine-tune: they no longer describe it
    info = {k: v for k, v in ckpt.info.items() if k != "eval"}
    info.update(stage="finetune-hf", finetune_hf={k: v for k, v in record.items() if v is not None})
    tuned = Checkpoint(from_transformers(hf_model.cpu()), ckpt.tokenizer, info, [])
    export_transformers(tuned, out_dir)
    return {**result, "out": str(out_dir)}
