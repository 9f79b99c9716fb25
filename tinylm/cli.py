"""The command line: ``python -m tinylm COMMAND ...`` (each command has --help).

Every command that measures something ends with one JSON line on stdout, so scripts (and the
README's figures) can read the result: ``python -m tinylm eval --ckpt DIR | tail -1``.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import sys
import time

import torch
import torch.distributed as dist

from . import hf, hub
from .chat import ChatFormatError, example_messages, parse_jsonl, reply_stream, sft, task_draw
from .chat_tasks import ASIDE_SHARE, OUT_OF_SCOPE_SHARE, ChatTasks
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint, update_info
from .data import load_corpus
from .models import config_fields, model_kind
from .presets import PRESETS, get_preset
from .rl import RLConfig, evaluate_chat, rejection_sampling
from .runs import RunConfig, prepare_run, save_run, train_run
from .sample import TextStream, continue_text, prompt_ids
from .tokenizer import KINDS, PRETRAINED_KINDS, build_tokenizer
from .train import PRECISIONS, TrainConfig, evaluate, seed_everything

RL_DEFAULTS = RLConfig()
CKPT_HELP = "checkpoint directory or .zip, or a transformers folder written by export or finetune-hf"
PRECISION_HELP = "auto (bf16 autocast on a GPU that has it, else fp32), bf16 or fp32: bf16 on a CPU pays for the chat model"


def _json_line(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def _progress(step: int, total: int, metrics: dict, width: int = 30) -> None:
    """A one-line progress bar on stderr: [#####.....] step/total loss tok/s."""
    done = min(step / max(total, 1), 1.0)
    bar = "#" * int(width * done) + "." * (width - int(width * done))
    val = f" val {metrics['val_loss']:.4f}" if metrics.get("val_loss") is not None else ""
    sys.stderr.write(f"\r[{bar}] {step}/{total} loss {metrics['train_loss']:.4f}{val} "
                     f"{metrics['tokens_per_s']:,.0f} tok/s {metrics['elapsed']:.1f}s ")
    sys.stderr.flush()


# --- tokenize ------------------------------------------------------------------------------
def cmd_tokenize(args) -> None:
    corpus = None
    if args.tokenizer not in PRETRAINED_KINDS:
        if not args.corpus:
            raise SystemExit(f"error: --tokenizer {args.tokenizer} learns its vocabulary: give --corpus (a dataset or a .txt path)")
        corpus = load_corpus(args.corpus, dataset_files=True).train
    tok = build_tokenizer(args.tokenizer, corpus, args.vocab_size)
    spans = tok.spans(args.text)
    if args.json:
        _json_line({"ids": [s.id for s in spans], "tokens": [s.text for s in spans], "vocab_size": tok.vocab_size})
    else:
        print(" | ".join(f"{s.text!r}:{s.id}" for s in spans))
        print(f"{len(spans)} tokens, {len(args.text)} characters, vocab {tok.vocab_size}")


# --- train ---------------------------------------------------------------------------------
MODEL_SIZE_FLAGS = ("block_size", "n_layer", "n_head", "n_embd", "n_hidden", "dropout", "token_dropout")


# flags of `train` that set a field of the run (RunConfig) or of its training (TrainConfig), when given
RUN_FLAGS = {"tokenizer": "tokenizer", "vocab_size": "vocab_size", "seed": "seed"}
TRAIN_FLAGS = {"steps": "max_steps", "max_seconds": "max_seconds", "batch_size": "batch_size", "lr": "learning_rate",
               "eval_interval": "eval_interval", "seed": "seed", "precision": "precision"}  # precision: else the preset's or auto


def run_config_from_args(args) -> RunConfig:
    """The run `train` was asked for: a preset's, or the defaults of ``RunConfig`` and ``TrainConfig``
    (1,000 steps), changed by every flag given (a size, the tokenizer, the seed...; none is
    silently ignored)."""
    if args.preset:
        config = get_preset(args.preset)
        if args.model is not None and args.model != config.model:
            raise SystemExit(f"error: --preset {args.preset} trains a {config.model}; leave out --model {args.model}")
    elif args.data:
        config = RunConfig(dataset=args.data, model=args.model or "gpt", train=TrainConfig(max_steps=1000))
    else:
        raise SystemExit("error: give --preset NAME or --data DATASET")
    config.model_config.update(config_fields(config.model, **{k: getattr(args, k) for k in MODEL_SIZE_FLAGS}))
    for target, flags in ((config, RUN_FLAGS), (config.train, TRAIN_FLAGS)):
        for flag, field_name in flags.items():
            if getattr(args, flag) is not None:
                setattr(target, field_name, getattr(args, flag))
    return config


def cmd_train(args) -> None:
    """Train and save. Under ``torchrun`` every process trains (DDP) and rank 0 reports and saves."""
    if args.threads:
        torch.set_num_threads(args.threads)
    distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    try:
        _train(args, rank=dist.get_rank() if distributed else 0)
    finally:
        if distributed:
            dist.destroy_process_group()


def _train(args, rank: int) -> None:
    config = run_config_from_args(args)
    config.train.device = args.device
    out = args.out or f"out/{args.preset or config.dataset + '-' + config.model}"
    run = prepare_run(config, load_corpus(config.dataset, dataset_files=True))
    drawn = 0.0
    for metrics in train_run(run):
        # redraw at most 5 times a second, and at every evaluation
        if not args.quiet and rank == 0 and (metrics["elapsed"] - drawn >= 0.2 or metrics["val_loss"] is not None):
            drawn = metrics["elapsed"]
            _progress(metrics["step"], config.train.max_steps, metrics)
    if args.weights_digest:  # lets a test check that all processes hold the same weights
        _json_line({"rank": rank, "weights_digest": weights_digest(run.model)})
    if rank != 0:
        return
    sys.stderr.write("\n")
    command = "python -m tinylm " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if args.record_command else None
    save_run(run, out, command=command, name=args.preset)
    last = run.metrics[-1]
    _json_line({"val_loss": round(run.val_loss, 4), "steps": last["step"], "seconds": round(last["elapsed"], 2),
                "params": run.info()["params"], "tokens_per_s": round(last["tokens_per_s"]), "out": str(out),
                "torch": torch.__version__, "threads": torch.get_num_threads()})


def weights_digest(model) -> str:
    """sha256 of all parameters, in state_dict order."""
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


# --- eval ----------------------------------------------------------------------------------
def cmd_eval(args) -> None:
    ckpt = load_checkpoint(args.ckpt)
    dataset = ckpt.info.get("dataset")
    try:
        corpus = load_corpus(dataset, dataset_files=True)
    except (ValueError, OSError) as err:
        raise SystemExit(f"error: cannot reload this checkpoint's data set {dataset!r}: {err}")
    if corpus.fingerprint != ckpt.info.get("corpus_sha256", corpus.fingerprint):
        sys.stderr.write(f"warning: the {dataset} text differs from the one this model was trained on\n")
    text = corpus.test if args.split == "test" else corpus.val
    if not text:
        raise SystemExit(f"error: {dataset} has no {args.split} split")
    ids = torch.tensor(ckpt.tokenizer.encode(text, allow_special=False))
    started = time.perf_counter()
    loss = evaluate(ckpt.model, ids)
    _json_line({"val_loss" if args.split == "val" else "test_loss": round(loss, 4), "tokens": len(ids),
                "dataset": dataset, "seconds": round(time.perf_counter() - started, 2)})


# --- sample --------------------------------------------------------------------------------
def cmd_sample(args) -> None:
    ckpt = load_checkpoint(args.ckpt)
    prompt_ids(ckpt.tokenizer, args.prompt)  # a character the vocabulary lacks fails here, before any output
    sys.stdout.write(args.prompt)
    for token in continue_text(ckpt.model, ckpt.tokenizer, args.prompt, args.max_new_tokens, args.temperature,
                               args.top_k, args.top_p, args.seed):
        if token.id == ckpt.tokenizer.eot_id:
            break
        sys.stdout.write(token.token)
        sys.stdout.flush()
    sys.stdout.write("\n")


# --- chat: sft, rl, chat, eval-chat (tinylm/chat.py, tinylm/rl.py) ---------------------------
def read_conversations(path: str) -> list:
    """The conversations of a JSONL file (tinylm.chat.parse_jsonl, both formats), for ``sft`` and
    ``finetune-hf`` alike: each bad line is reported by its number on stderr and skipped."""
    with open(path, encoding="utf-8") as f:
        parsed = parse_jsonl(f.read())
    for error in parsed.errors:
        sys.stderr.write(f"warning: {path} {error} (skipped)\n")
    if not parsed.conversations:
        raise SystemExit(f"error: {path} has no usable conversations")
    return parsed.conversations


def _chat_val(tasks) -> list:
    """Held-out conversations for the masked val loss (a small slice of the eval sets)."""
    sets = tasks.eval_sets(per_task=10, out_of_scope=40, multi_turn=0)
    return [example_messages(e) for name in ("held_out_items", "new_shapes", "out_of_scope") for e in sets[name]]


def cmd_sft(args) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    for option, share in (("--asides", args.asides), ("--out-of-scope", args.out_of_scope)):
        if not 0 <= share <= 1:
            raise SystemExit(f"error: {option} is a share of the questions, between 0 and 1, not {share}")
    ckpt = load_checkpoint(args.base)
    tasks = ChatTasks(seed=args.split_seed, blind_shapes=args.blind_shapes)
    user = []
    if args.data:
        user = read_conversations(args.data)
        unknown = {u for c in user for m in c for u in ckpt.tokenizer.unknown_pieces(m["content"], allow_special=False)}
        if unknown:
            shown = ", ".join(repr(u) for u in sorted(unknown)[:20])
            sys.stderr.write(f"warning: not in the model's vocabulary, read as <|unk|>: {shown}\n")
    demos = (tasks.demonstrations(args.demos, seed=args.seed, out_of_scope=args.out_of_scope, asides=args.asides)
             if args.demos else None)
    draw = task_draw(tasks, user, user_share=args.user_share if user else 0.0, demos=demos, asides=args.asides,
                     out_of_scope=args.out_of_scope)
    config = TrainConfig(max_steps=args.steps, max_seconds=args.max_seconds, batch_size=args.batch_size,
                         learning_rate=args.lr, warmup_steps=50, eval_interval=args.eval_interval, seed=args.seed,
                         device=args.device, precision=args.precision)
    seed_everything(args.seed)
    metrics = []
    for m in sft(ckpt.model, ckpt.tokenizer, draw, config, _chat_val(tasks)):
        metrics.append(m)
        if not args.quiet and (m["step"] % 20 == 0 or m["val_loss"] is not None):
            _progress(m["step"], config.max_steps, m)
    sys.stderr.write("\n")
    last = metrics[-1]
    not_this_models = ("eval", "eval_sft", "rl", "seconds_rl", "command_rl")  # the figures of the model it started from
    kept = {k: v for k, v in ckpt.info.items() if k not in not_this_models}
    info = {**kept, "name": args.name or "chat-sft", "base": str(args.base), "stage": "sft", "demos": args.demos,
            "asides": args.asides, "out_of_scope": args.out_of_scope, "blind_shapes": args.blind_shapes,
            "steps": last["step"], "seconds": round(last["elapsed"], 2), "val_loss": round(last["val_loss"], 4),
            "split_seed": args.split_seed, "command": "python -m tinylm " + " ".join(shlex.quote(a) for a in sys.argv[1:])}
    save_checkpoint(args.out, ckpt.model, ckpt.tokenizer, metrics, **info)
    _json_line({"val_loss": info["val_loss"], "steps": last["step"], "seconds": info["seconds"],
                "tokens_per_s": round(last["tokens_per_s"]), "user_conversations": len(user), "out": str(args.out)})


def cmd_rl(args) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.ckpt)
    tasks = ChatTasks(seed=ckpt.info.get("split_seed", 0))
    config = RLConfig(rounds=args.rounds, prompts_per_round=args.prompts, samples_per_prompt=args.samples,
                      temperature=args.temperature, steps_per_round=args.steps, batch_size=args.batch_size,
                      learning_rate=args.lr, multi_turn=args.multi_turn, seed=args.seed)
    started = time.perf_counter()
    rounds, metrics = [], []
    for m in rejection_sampling(ckpt.model, ckpt.tokenizer, tasks, config, _chat_val(tasks)):
        if "pass_at_1" in m:
            rounds.append(m)
            sys.stderr.write(f"round {m['round']}: pass@1 {m['pass_at_1']:.3f}, pass@{config.samples_per_prompt} "
                             f"{m['pass_at_k']:.3f}, kept {m['kept']}/{m['prompts']} prompts "
                             f"({m['frontier']} sometimes wrong)\n")
        else:
            metrics.append(m)
    seconds = round(time.perf_counter() - started, 2)
    earlier = {"eval_sft": ckpt.info["eval"]} if "eval" in ckpt.info else {}  # the SFT model's figures stay
    info = {**{k: v for k, v in ckpt.info.items() if k != "eval"}, **earlier,
            "name": args.name or "chat", "stage": "rl", "rl": rounds, "seconds_rl": seconds,
            "command_rl": "python -m tinylm " + " ".join(shlex.quote(a) for a in sys.argv[1:])}
    save_checkpoint(args.out, ckpt.model, ckpt.tokenizer, ckpt.metrics + metrics, **info)
    _json_line({"rounds": rounds, "seconds": seconds, "out": str(args.out)})


def cmd_eval_chat(args) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.ckpt)
    tasks = ChatTasks(seed=ckpt.info.get("split_seed", 0))
    started = time.perf_counter()
    result = evaluate_chat(ckpt.model, ckpt.tokenizer, tasks.eval_sets(args.per_task, args.out_of_scope, args.multi_turn),
                           sampled_seed=args.sampled_seed)
    mistakes = result.pop("mistakes")
    sys.stderr.write(_per_task_table(result["per_task"]))
    for name, wrong in mistakes.items():
        for m in wrong[:args.show_mistakes]:
            before = "".join(f"{q!r} -> {a!r}, then " for q, a in m["history"])
            sys.stderr.write(f"{name} {m['task']}: {before}{m['prompt']!r} -> {m['reply']!r} (expected {m['expected']!r})\n")
    seconds = round(time.perf_counter() - started, 2)
    if args.save:  # the figures travel with the model: its config.json, card and the Chat tab show them
        try:
            update_info(args.ckpt, eval=result)
        except CheckpointError as err:
            raise SystemExit(f"error: --save: {err}") from err
    _json_line({**result, "seconds": seconds, "ckpt": str(args.ckpt)})


def _per_task_table(per_task: dict[str, dict[str, float]]) -> str:
    """Exact match per task (rows) and held-out set (columns), as a text table."""
    columns = ("held_out_items", "held_out_phrasings", "new_shapes", "new_frames", "multi_turn", "unseen_number_pairs")
    lines = [f"{'task':14}" + "".join(f"{c.replace('_', ' '):>20}" for c in columns)]
    for task, row in per_task.items():
        lines.append(f"{task:14}" + "".join(f"{row[c]:>20.3f}" if row.get(c) is not None else f"{'-':>20}" for c in columns))
    return "\n".join(lines) + "\n"


def cmd_chat(args) -> None:
    ckpt = load_checkpoint(args.ckpt)
    tok = ckpt.tokenizer
    messages = []
    print(f"Chatting with {ckpt.name} ({tok.kind} tokens). Empty line or Ctrl-D ends.", file=sys.stderr)
    while True:
        try:
            question = input("you> ").strip()
        except EOFError:
            break
        if not question:
            break
        messages.append({"role": "user", "content": question})
        sys.stdout.write("bot> ")
        ids = []
        stream = TextStream(tok, [])
        end = tok.token_to_id("<|im_end|>")
        try:
            for token in reply_stream(ckpt.model, tok, messages, args.max_new_tokens, args.temperature, args.top_k,
                                      args.top_p, seed=args.seed):
                if token.id == end:
                    break
                ids.append(token.id)
                sys.stdout.write(stream.push(token.id))
                sys.stdout.flush()
        except ChatFormatError as err:  # e.g. a chat special token typed as text: say so, go on
            print(f"(cannot send that: {err})")
            messages.pop()
            continue
        sys.stdout.write("\n")
        messages.append({"role": "assistant", "content": tok.decode(ids)})


def add_sampling_args(p, max_new_tokens: int, temperature: float) -> None:
    """The decoding knobs of ``sample`` and ``chat`` (tinylm.sample.sample_next_token)."""
    p.add_argument("--max-new-tokens", type=int, default=max_new_tokens)
    p.add_argument("--temperature", type=float, default=temperature, help="0 = greedy")
    p.add_argument("--top-k", type=int)
    p.add_argument("--top-p", type=float)
    p.add_argument("--seed", type=int)


def add_chat_commands(subparsers) -> None:
    """Add ``sft``, ``rl``, ``eval-chat`` and ``chat``: the chat model's pipeline."""
    p = subparsers.add_parser("sft", help="fine-tune a base model on conversations (generated + your JSONL)")
    p.add_argument("--base", required=True, help="the pretrained checkpoint to start from")
    p.add_argument("--out", required=True)
    p.add_argument("--data", help='your JSONL: {"input": ..., "output": ...} or {"messages": [...]} per line')
    p.add_argument("--user-share", type=float, default=0.5, help="share of batches' conversations taken from --data")
    p.add_argument("--asides", type=float, default=ASIDE_SHARE,
                   help="share of generated questions with an aside (a few words of Shakespeare that change nothing)")
    p.add_argument("--out-of-scope", type=float, default=OUT_OF_SCOPE_SHARE,
                   help='share of generated questions that are out of scope (answered "I do not know.")')
    p.add_argument("--demos", type=int, default=0,
                   help="train on a fixed set of this many generated conversations (0 = a fresh one every time)")
    p.add_argument("--blind-shapes", action="store_true",
                   help="also ask in the 134 shapes written blind (scripts/build_chat.sh does: README, Chat)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--max-seconds", type=float, help="wall-clock budget; the LR schedule follows it")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--eval-interval", type=int, default=500)
    p.add_argument("--split-seed", type=int, default=0, help="seed of the train/held-out split of the chat tasks")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", help="the checkpoint's name (default chat-sft)")
    p.add_argument("--threads", type=int)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", choices=PRECISIONS, default="auto", help=PRECISION_HELP)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_sft)

    p = subparsers.add_parser("rl", help="RL by rejection sampling on the checkable tasks")
    p.add_argument("--ckpt", required=True, help="an SFT checkpoint")
    p.add_argument("--out", required=True)
    p.add_argument("--rounds", type=int, default=RL_DEFAULTS.rounds)
    p.add_argument("--prompts", type=int, default=RL_DEFAULTS.prompts_per_round, help="prompts per round")
    p.add_argument("--samples", type=int, default=RL_DEFAULTS.samples_per_prompt, help="answers sampled per prompt")
    p.add_argument("--temperature", type=float, default=RL_DEFAULTS.temperature)
    p.add_argument("--steps", type=int, default=RL_DEFAULTS.steps_per_round, help="fine-tuning steps per round")
    p.add_argument("--batch-size", type=int, default=RL_DEFAULTS.batch_size)
    p.add_argument("--lr", type=float, default=RL_DEFAULTS.learning_rate)
    p.add_argument("--multi-turn", type=float, default=RL_DEFAULTS.multi_turn,
                   help="share of prompts asked after one or two earlier exchanges")
    p.add_argument("--seed", type=int, default=RL_DEFAULTS.seed)
    p.add_argument("--name", help="the checkpoint's name (default chat)")
    p.add_argument("--threads", type=int)
    p.set_defaults(func=cmd_rl)

    p = subparsers.add_parser("eval-chat", help="exact match on held-out prompts; the last line is JSON")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--per-task", type=int, default=100, help="held-out prompts per task and set")
    p.add_argument("--out-of-scope", type=int, default=200, help="held-out out-of-scope questions per set")
    p.add_argument("--multi-turn", type=int, default=25, help="questions per task asked again as a 2nd or 3rd turn")
    p.add_argument("--show-mistakes", type=int, default=3, help="print this many wrong answers of each set to stderr")
    p.add_argument("--sampled-seed", type=int,
                   help="also answer the held-out items and phrasings once at temperature 1, with this seed")
    p.add_argument("--save", action="store_true",
                   help="write the figures into the checkpoint (config.json 'eval', and its model card)")
    p.add_argument("--threads", type=int)
    p.set_defaults(func=cmd_eval_chat)

    p = subparsers.add_parser("chat", help="talk to a chat model in the terminal")
    p.add_argument("--ckpt", required=True, help=CKPT_HELP)
    add_sampling_args(p, max_new_tokens=120, temperature=0.0)
    p.set_defaults(func=cmd_chat)


# --- Hugging Face: export, push, fine-tune with transformers (tinylm/hf.py) ------------------
def cmd_export(args) -> None:
    ckpt = load_checkpoint(args.ckpt)
    out = hf.export_transformers(ckpt, args.out)
    print(json.dumps({"out": str(out), "model": model_kind(ckpt.model),
                      "format": "transformers" if model_kind(ckpt.model) == "gpt" else "tinylm",
                      "files": sorted(p.name for p in out.iterdir())}), flush=True)


def cmd_push(args) -> None:
    try:
        url = hub.push_to_hub(args.ckpt, args.repo, token=args.token, private=args.private)
    except hf.HubError as err:
        raise SystemExit(f"error: {err}") from None
    print(json.dumps({"url": url, "repo": args.repo, "private": args.private}), flush=True)


def cmd_finetune_hf(args) -> None:
    command = shlex.join(["python", "-m", "tinylm", "finetune-hf", "--model", args.model, "--data", args.data, "--out",
                          args.out, "--steps", str(args.steps), "--lr", str(args.lr), "--batch-size",
                          str(args.batch_size), "--seed", str(args.seed)])
    result = hf.finetune_transformers(args.model, read_conversations(args.data), args.out, max_steps=args.steps,
                                      learning_rate=args.lr, batch_size=args.batch_size, seed=args.seed,
                                      data_name=os.path.basename(args.data), command=command)
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}), flush=True)


def add_hf_commands(subparsers) -> None:
    """Add ``export``, ``push`` and ``finetune-hf`` to tinylm's command line."""
    p = subparsers.add_parser("export", help="write a checkpoint as a Hugging Face model directory")
    p.add_argument("--ckpt", required=True, help="checkpoint directory or .zip")
    p.add_argument("--out", required=True, help="output directory (transformers GPT-2 for a GPT)")
    p.set_defaults(func=cmd_export)

    p = subparsers.add_parser("push", help="upload a checkpoint to the Hugging Face Hub")
    p.add_argument("--ckpt", required=True, help="checkpoint directory or .zip")
    p.add_argument("--repo", required=True, help="user/model-name")
    p.add_argument("--token", help="write token (default: $HF_TOKEN; prefer the variable: argv is visible to ps)")
    p.add_argument("--private", action="store_true", help="create the repository private")
    p.set_defaults(func=cmd_push)

    p = subparsers.add_parser("finetune-hf", help="fine-tune an exported model with transformers' Trainer")
    p.add_argument("--model", required=True, help="a directory written by `export` (or an earlier finetune-hf)")
    p.add_argument("--data", required=True,
                   help='JSONL as for sft: {"input": ..., "output": ...} or {"messages": [...]} per line')
    p.add_argument("--out", required=True, help="where to save the fine-tuned model")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_finetune_hf)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tinylm", description="tinylm: see and touch a tiny language model")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tokenize", help="show how a tokenizer cuts a text")
    p.add_argument("--tokenizer", choices=KINDS, required=True)
    p.add_argument("--corpus", help="dataset name or .txt path to learn the vocabulary from (not for gpt2, gpt2-chat)")
    p.add_argument("--vocab-size", type=int, help="split/bpe vocabulary size")
    p.add_argument("--json", action="store_true", help='print one JSON object with "ids" and "tokens"')
    p.add_argument("text")
    p.set_defaults(func=cmd_tokenize)

    p = sub.add_parser("train", help="train a model (a preset, or a dataset + model of your choice)")
    p.add_argument("--preset", choices=list(PRESETS), help="reproduce a shipped model")
    p.add_argument("--data", help="dataset name from datasets_cfg/, a dataset .yaml of your own, or a .txt path")
    p.add_argument("--model", choices=["bigram", "mlp", "gpt"], help="default gpt")
    p.add_argument("--tokenizer", choices=KINDS, help="default char, or the preset's")
    p.add_argument("--vocab-size", type=int)
    p.add_argument("--block-size", type=int, help="context length (MLP: tokens of context)")
    p.add_argument("--n-layer", type=int)
    p.add_argument("--n-head", type=int)
    p.add_argument("--n-embd", type=int)
    p.add_argument("--n-hidden", type=int, help="MLP hidden width")
    p.add_argument("--dropout", type=float, help="dropout while training (MLP and GPT; default 0)")
    p.add_argument("--token-dropout", type=float, help="MLP word dropout: forget each context token with this probability")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default 1000, or the preset's)")
    p.add_argument("--max-seconds", type=float, help="wall-clock budget; the LR schedule follows it")
    p.add_argument("--batch-size", type=int, help="default 32, or the preset's")
    p.add_argument("--lr", type=float, help="default 3e-3, or the preset's")
    p.add_argument("--eval-interval", type=int, help="default 200, or the preset's")
    p.add_argument("--seed", type=int, help="default 1337, or the preset's")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--out", help="checkpoint directory (default out/NAME)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1 ...")
    p.add_argument("--precision", choices=PRECISIONS, help=PRECISION_HELP + " (default: the preset's, else auto)")
    p.add_argument("--weights-digest", action="store_true", help="print a hash of the final weights (per process)")
    p.add_argument("--no-record-command", dest="record_command", action="store_false",
                   help="do not write the command line into the model card")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="val loss of a checkpoint on its own data set's split")
    p.add_argument("--ckpt", required=True, help=CKPT_HELP)
    p.add_argument("--split", choices=["val", "test"], default="val")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("sample", help="continue a prompt")
    p.add_argument("--ckpt", required=True, help=CKPT_HELP)
    p.add_argument("--prompt", default="")
    add_sampling_args(p, max_new_tokens=200, temperature=1.0)
    p.set_defaults(func=cmd_sample)

    add_chat_commands(sub)
    add_hf_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError) as err:  # bad input: a clear message, no traceback
        raise SystemExit(f"error: {err}") from err
