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
already sometimes solve, its frontier, and not the ones it cannot do at all.

``evaluate_chat`` is what ``python -m tinylm eval-chat`` prints: exact match per task on
held-out prompts, and how often the model says "I do not know." in and out of scope.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator

import torch

from .chat import answer_batch, example_messages, sft
from .chat_tasks import SMALL_TALK, TASK_NAMES, ChatTasks, Example, is_correct, is_idk
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
    seed: int = 0  # seeds the prompts, the sampling and the batches


def rollouts(model, tokenizer, examples: list[Example], samples: int, temperature: float,
             generator: torch.Generator, max_new_tokens: int = 24) -> list[list[str]]:
    """``samples`` sampled replies for each example (batched; one list per example).

    A reply is cut two tokens past the reference answer's length: longer, it cannot be right, and
    sampling on would only cost time (small talk's long replies made rollouts 3x slower).
    """
    prompts = [e.prompt for e in examples for _ in range(samples)]
    limits = [min(max_new_tokens, len(tokenizer.encode(e.answer, allow_special=False)) + 2)
              for e in examples for _ in range(samples)]
    replies = answer_batch(model, tokenizer, prompts, limits, temperature=temperature, generator=generator)
    return [replies[i * samples:(i + 1) * samples] for i in range(len(examples))]


def rejection_sampling(model, tokenizer, tasks: ChatTasks, config: RLConfig, val: list) -> Iterator[dict]:
    """Improve ``model`` in place, round by round. Yields the trainer's metrics during fine-tuning
    and, after each round's sampling, ``{"round", "pass_at_1", "pass_at_k", "kept"}``.
    """
    generator = torch.Generator().manual_seed(config.seed)
    for round_ in range(1, config.rounds + 1):
        rng = random.Random(config.seed * 1000 + round_)
        # the same mix as SFT: checkable prompts, out-of-scope ones (right = "I do not know.") and
        # small talk (right = its one reply); leaving a kind out lets the model forget it
        examples = [tasks.sample(rng) for _ in range(config.prompts_per_round)]
        answers = rollouts(model, tokenizer, examples, config.samples_per_prompt, config.temperature, generator,
                           config.max_new_tokens)
        rewards = [[is_correct(e, a) for a in group] for e, group in zip(examples, answers)]
        # keep a correct answer of every prompt that has one, plus a copy per wrong sample: a
        # prompt solved 1 time in 4 weighs 4 times one always solved, so the fine-tuning leans
        # towards the model's frontier without forgetting what it already does well
        kept = []
        for e, group, rs in zip(examples, answers, rewards):
            if any(rs):
                right = next(a for a, r in zip(group, rs) if r)
                kept += [example_messages(Example(e.task, e.prompt, right))] * (1 + rs.count(False))
        yield {"round": round_, "pass_at_1": sum(map(sum, rewards)) / sum(map(len, rewards)),
               "pass_at_k": sum(map(any, rewards)) / len(rewards), "kept": sum(map(any, rewards)),
               "frontier": sum(any(rs) and not all(rs) for rs in rewards), "prompts": len(examples)}
        if not kept:
            continue
        train_config = TrainConfig(max_steps=config.steps_per_round, batch_size=config.batch_size,
                                   learning_rate=config.learning_rate, warmup_steps=10, min_lr_ratio=1.0,
                                   eval_interval=10**9, seed=config.seed + round_)
        for metrics in sft(model, tokenizer, lambda r: r.choice(kept), train_config, val):
            yield {**metrics, "round": round_}


def evaluate_chat(model, tokenizer, examples: list[Example], max_new_tokens: int = 24,
                  unseen: list[Example] = (), sampled_seed: int | None = None) -> dict:
    """Greedy answers to held-out prompts, scored by exact match.

    Returns ``task_accuracy`` (task -> fraction correct), ``mean_task_accuracy`` (their mean),
    ``idk_rate_out_of_scope`` (out-of-scope prompts answered "I do not know.") and
    ``false_idk_rate`` (checkable prompts answered so), plus counts and a few mistakes. With
    ``unseen`` (``ChatTasks.unseen_number_set()``) also ``unseen_number_pairs``: the accuracy per
    number task on pairs never trained on in any phrasing. With ``sampled_seed``, also
    ``sampled_task_accuracy``: the same checkable prompts answered once each at temperature 1
    (how often the model's own distribution, not just its top choice, is right).
    """
    replies = answer_batch(model, tokenizer, [e.prompt for e in [*examples, *unseen]], max_new_tokens)
    unseen_replies = replies[len(examples):]
    correct: dict[str, list[bool]] = {}
    idk_in, idk_out, mistakes = [], [], []
    for example, reply in zip(examples, replies):
        if example.task == "out_of_scope":
            idk_out.append(is_idk(reply))
        elif example.checkable:
            correct.setdefault(example.task, []).append(is_correct(example, reply))
            idk_in.append(is_idk(reply))
        if not is_correct(example, reply) and len(mistakes) < 20:
            mistakes.append({"task": example.task, "prompt": example.prompt, "expected": example.answer, "reply": reply})
    task_accuracy = {t: sum(correct[t]) / len(correct[t]) for t in TASK_NAMES if t in correct}
    rule: dict[str, list[bool]] = {}
    for example, reply in zip(unseen, unseen_replies):
        rule.setdefault(example.task, []).append(is_correct(example, reply))
    extra = {"unseen_number_pairs": {t: round(sum(v) / len(v), 4) for t, v in rule.items()}} if unseen else {}
    # small talk has no held-out prompts: these are the trained ones, a check that none was forgotten
    talk = [Example("small_talk", p, reply) for prompts, reply in SMALL_TALK for p in prompts]
    talk_replies = answer_batch(model, tokenizer, [e.prompt for e in talk], 96)
    extra["small_talk_trained_prompts"] = round(sum(map(is_correct, talk, talk_replies)) / len(talk), 4)
    if sampled_seed is not None:
        checkable = [e for e in examples if e.checkable]
        generator = torch.Generator().manual_seed(sampled_seed)
        sampled = answer_batch(model, tokenizer, [e.prompt for e in checkable], max_new_tokens, temperature=1.0,
                               generator=generator)
        per_task: dict[str, list[bool]] = {}
        for example, reply in zip(checkable, sampled):
            per_task.setdefault(example.task, []).append(is_correct(example, reply))
        extra["sampled_task_accuracy"] = round(sum(sum(v) / len(v) for v in per_task.values()) / len(per_task), 4)
    return {
        "task_accuracy": {t: round(a, 4) for t, a in task_accuracy.items()},
        "mean_task_accuracy": round(sum(task_accuracy.values()) / max(len(task_accuracy), 1), 4),
        "idk_rate_out_of_scope": round(sum(idk_out) / max(len(idk_out), 1), 4),
        "false_idk_rate": round(sum(idk_in) / max(len(idk_in), 1), 4),
        "prompts": {"in_scope": len(idk_in), "out_of_scope": len(idk_out)},
        **extra,
        "mistakes": mistakes,
    }
