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
import tempfile
from pathlib import Path

import torch

from .card import hub_model_card
from .chat import Message, is_chat_model, render_conversation
from .checkpoint import Checkpoint, file_name, load_checkpoint, pack_zip, save_checkpoint
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
        # as in tinylm's sampler: a reply or a text never contains the other special tokens
        hf_model.generation_config.suppress_tokens = [i for i in tok.non_text_ids if i != eos] or None
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


def transformers_zip(ckpt: Checkpoint, folder: str | Path) -> Path:
    """``export_transformers`` zipped: ``<folder>/<name>-hf.zip`` (unzip it and ``from_pretrained`` the folder)."""
    with tempfile.TemporaryDirectory(prefix="tinylm-hf-") as tmp:
        directory = export_transformers(ckpt, Path(tmp) / file_name(ckpt.name))
        return pack_zip(directory, Path(folder) / f"{file_name(ckpt.name)}-hf.zip")


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
