"""Reinforcement learning on checkable answers, by rejection sampling, and the chat evaluation.

After SFT the model answers most questions right, but not all, and not always. Rejection
sampling (the simplest RL that works; "RFT" in Yuan et al. 2023, the filtering step of STaR,
Zelikman et al. 2022) improves it with nothing but a checker:

1. draw training prompts and let the model answer each one ``samples_per_prompt`` times, at
   temperature 1, so it tries different answers;
2. keep the answers the checker accepts (the reward is 1 for an exact match, 0 otherwise);
3. fine-tune on the kept conversations, exactly as SFT would; repeat with the improved model.

The model only ever learns from its own answers. With an exact-match reward a kept answer is
the reference answer, so what RL chooses is *which* prompts to learn from: those the model can
already sometimes solve, its frontier, and not the ones it cannot do at all. Its prompts come
from where written answers run out: every round draws fresh ones, in wordings and about items
the fixed SFT demonstrations never had, and half of them are asked after one or two earlier
turns (which are read, never trained on: the model did not write them).

``evaluate_chat`` is what ``python -m tinylm eval-chat`` prints: exact match per task on each
held-out set (``ChatTasks.eval_sets``), and how often the model says "I do not know." in and out
of scope.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Iterator

import torch

from .chat import answer_batch, example_messages, prompt_messages, render_for_reply, sft
from .chat_tasks import ChatTasks, Example, is_correct, is_idk
from .chat_wordings import SMALL_TALK, TASK_NAMES
from .train import TrainConfig


@dataclass
class RLConfig:
    rounds: int = 6  # sample -> keep the correct answers -> fine-tune, repeated
    prompts_per_round: int = 4096  # training prompts drawn each round (fresh ones every round)
    samples_per_prompt: int = 4  # answers sampled for each prompt
    temperature: float = 1.0  # sampling temperature of those answers (1 = the model's own distribution)
    steps_per_round: int = 100  # fine-tuning steps on the kept answers (about two passes over them)
    batch_size: int = 32  # conversations per fine-tuning step
    learning_rate: float = 2e-4  # a fifth of SFT's: this polishes, it does not teach anew
    max_new_tokens: int = 96  # longest answer sampled (small talk's replies are the longest)
    multi_turn: float = 0.5  # share of prompts asked after one or two earlier exchanges
    seed: int = 0  # seeds the prompts, the sampling and the batches


def rollouts(model, tokenizer, examples: list[Example], samples: int, temperature: float,
             generator: torch.Generator, max_new_tokens: int = 24) -> list[list[str]]:
    """``samples`` sampled replies for each example (batched; one list per example).

    A reply is cut two tokens past the reference answer's length: longer, it cannot be right, and
    sampling on would only cost time (small talk's long replies made rollouts 3x slower).
    """
    conversations = [prompt_messages(e) for e in examples for _ in range(samples)]
    limits = [min(max_new_tokens, len(tokenizer.encode(e.answer, allow_special=False)) + 2)
              for e in examples for _ in range(samples)]
    replies = answer_batch(model, tokenizer, conversations, limits, temperature=temperature, generator=generator)
    return [replies[i * samples:(i + 1) * samples] for i in range(len(examples))]


def rollout_tokens(tokenizer, examples: list[Example], answers: list[list[str]], block_size: int) -> int:
    """Positions the model ran forward to sample ``answers``: each prompt once per sample, and the
    replies. A forward pass costs about a third of a training step's forward and backward, so this
    over 3 is sampling's compute in training tokens (what an equal-compute comparison gives SFT)."""
    prompts = sum(len(render_for_reply(tokenizer, prompt_messages(e), block_size)) * len(group)
                  for e, group in zip(examples, answers))
    return prompts + sum(len(tokenizer.encode(a, allow_special=False)) + 1 for group in answers for a in group)


def rl_prompts(tasks: ChatTasks, n: int, rng: random.Random, multi_turn: float = 0.5) -> list[Example]:
    """``n`` fresh training prompts in the SFT mix (checkable tasks, out-of-scope questions, whose
    right answer is "I do not know.", and small talk: leaving a kind out lets the model forget it),
    a ``multi_turn`` share of them after one or two earlier exchanges."""
    return [tasks.conversation(rng) if rng.random() < multi_turn else tasks.sample(rng) for _ in range(n)]


def rejection_sampling(model, tokenizer, tasks: ChatTasks, config: RLConfig, val: list) -> Iterator[dict]:
    """Improve ``model`` in place, round by round. Yields the trainer's metrics during fine-tuning
    and, after each round's sampling, ``{"round", "pass_at_1", "pass_at_k", "kept"}``.
    """
    generator = torch.Generator().manual_seed(config.seed)
    for round_ in range(1, config.rounds + 1):
        rng = random.Random(config.seed * 1000 + round_)
        examples = rl_prompts(tasks, config.prompts_per_round, rng, config.multi_turn)
        started = time.perf_counter()
        answers = rollouts(model, tokenizer, examples, config.samples_per_prompt, config.temperature, generator,
                           config.max_new_tokens)
        seconds = time.perf_counter() - started
        rewards = [[is_correct(e, a) for a in group] for e, group in zip(examples, answers)]
        # keep a correct answer of every prompt that has one, plus a copy per wrong sample: a
        # prompt solved 1 time in 4 weighs 4 times one always solved, so the fine-tuning leans
        # towards the model's frontier without forgetting what it already does well
        kept = []
        for e, group, rs in zip(examples, answers, rewards):
            if any(rs):
                right = next(a for a, r in zip(group, rs) if r)
                kept += [example_messages(Example(e.task, e.prompt, right, e.history), train_history=False)] * (
                    1 + rs.count(False))
        yield {"round": round_, "pass_at_1": sum(map(sum, rewards)) / sum(map(len, rewards)),
               "pass_at_k": sum(map(any, rewards)) / len(rewards), "kept": sum(map(any, rewards)),
               "frontier": sum(any(rs) and not all(rs) for rs in rewards), "prompts": len(examples),
               "seconds_sampling": round(seconds, 2), "steps": config.steps_per_round if kept else 0,
               "rollout_tokens": rollout_tokens(tokenizer, examples, answers, model.block_size)}
        if not kept:
            continue
        train_config = TrainConfig(max_steps=config.steps_per_round, batch_size=config.batch_size,
                                   learning_rate=config.learning_rate, warmup_steps=10, min_lr_ratio=1.0,
                                   eval_interval=10**9, seed=config.seed + round_)
        for metrics in sft(model, tokenizer, lambda r: r.choice(kept), train_config, val):
            yield {**metrics, "round": round_}


# --- evaluation ------------------------------------------------------------------------------------
PHRASING_SETS = ("new_shapes", "new_frames")  # together: the held-out phrasings
IN_SCOPE_SETS = ("held_out_items", *PHRASING_SETS, "unseen_number_pairs", "multi_turn")


def _mean(values) -> float:
    values = list(values)
    return round(sum(values) / max(len(values), 1), 4)


def _task_means(pairs) -> dict[str, float]:
    """(example, right?) pairs -> accuracy per task, in the order of ``TASK_NAMES``."""
    by_task: dict[str, list[bool]] = {}
    for example, right in pairs:
        by_task.setdefault(example.task, []).append(right)
    return {t: _mean(by_task[t]) for t in TASK_NAMES if t in by_task}


def evaluate_chat(model, tokenizer, sets: dict[str, list[Example]], max_new_tokens: int = 24,
                  sampled_seed: int | None = None) -> dict:
    """Greedy answers to every held-out set of ``ChatTasks.eval_sets()``, scored by exact match.

    Each figure is a mean over the tasks (every task weighs the same):

    - ``held_out_items``: trained phrasings, items never trained in them;
    - ``held_out_phrasings``: the held-out shapes and frames (``new_shapes``, ``new_frames`` apart);
    - ``unseen_number_pairs``: number pairs never trained in any phrasing;
    - ``multi_turn``: questions asked as the 2nd or 3rd turn, beside ``multi_turn_single``: the
      same questions asked alone (``turn_2``, ``turn_3`` apart);
    - ``idk_out_of_scope`` and ``idk_out_of_scope_new_phrasings``: "I do not know." where it is
      right, in trained and in held-out phrasings; ``false_idk``: where it is wrong (every in-scope
      prompt above);
    - ``small_talk_trained_prompts``: the small-talk prompts, all trained on: none forgotten?

    ``per_task`` holds each task's accuracy on each set, ``mistakes`` the first wrong answers of
    each set. With ``sampled_seed``, also ``sampled_task_accuracy``: the held-out items and
    phrasings answered once each at temperature 1 (how often the model's own distribution, not
    just its top choice, is right).
    """
    talk = [Example("small_talk", p, reply) for prompts, reply in SMALL_TALK for p in prompts]
    asked = [(name, e) for name, examples in {**sets, "small_talk": talk}.items() for e in examples]
    limits = [96 if e.task == "small_talk" else max_new_tokens for _, e in asked]
    replies = answer_batch(model, tokenizer, [prompt_messages(e) for _, e in asked], limits)
    scored: dict[str, list[tuple[Example, bool, bool, str]]] = {}
    for (name, example), reply in zip(asked, replies):
        scored.setdefault(name, []).append((example, is_correct(example, reply), is_idk(reply), reply))

    def accuracy(*names) -> dict[str, float]:
        return _task_means((e, right) for n in names for e, right, _, _ in scored.get(n, []))

    def idk_rate(*names) -> float:
        return _mean(idk for n in names for _, _, idk, _ in scored.get(n, []))

    single = {e.prompt: right for n in ("held_out_items", *PHRASING_SETS) for e, right, _, _ in scored.get(n, [])}
    multi = scored.get("multi_turn", [])
    per_task = {t: {n: a for n in ("held_out_items", *PHRASING_SETS, "multi_turn", "unseen_number_pairs")
                    if (a := accuracy(n).get(t)) is not None} for t in TASK_NAMES}
    for t, row in per_task.items():
        row["held_out_phrasings"] = accuracy(*PHRASING_SETS).get(t)
    result = {
        "held_out_items": _mean(accuracy("held_out_items").values()),
        "held_out_phrasings": _mean(accuracy(*PHRASING_SETS).values()),
        "new_shapes": _mean(accuracy("new_shapes").values()),
        "new_frames": _mean(accuracy("new_frames").values()),
        "unseen_number_pairs": _mean(accuracy("unseen_number_pairs").values()),
        "multi_turn": _mean(_task_means((e, right) for e, right, _, _ in multi).values()),
        "multi_turn_single": _mean(_task_means((e, single[e.prompt]) for e, _, _, _ in multi).values()),
        "turn_2": _mean(right for e, right, _, _ in multi if len(e.history) == 1),
        "turn_3": _mean(right for e, right, _, _ in multi if len(e.history) == 2),
        "idk_out_of_scope": idk_rate("out_of_scope"),
        "idk_out_of_scope_new_phrasings": idk_rate("out_of_scope_new_phrasings"),
        "false_idk": idk_rate(*IN_SCOPE_SETS),
        "small_talk_trained_prompts": _mean(right for _, right, _, _ in scored["small_talk"]),
        "per_task": per_task,
        "prompts": {n: len(v) for n, v in scored.items()},
    }
    if sampled_seed is not None:
        checkable = [e for n in ("held_out_items", *PHRASING_SETS) for e in sets.get(n, [])]
        generator = torch.Generator().manual_seed(sampled_seed)
        sampled = answer_batch(model, tokenizer, [prompt_messages(e) for e in checkable], max_new_tokens,
                               temperature=1.0, generator=generator)
        result["sampled_task_accuracy"] = _mean(_task_means(
            (e, is_correct(e, reply)) for e, reply in zip(checkable, sampled)).values())
    result["mistakes"] = {n: [{"task": e.task, "prompt": e.prompt, "history": list(e.history), "expected": e.answer,
                               "reply": reply} for e, right, _, reply in v if not right][:10]
                          for n, v in scored.items()}
    return result
