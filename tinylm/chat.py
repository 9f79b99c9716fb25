"""Chat: the conversation template, the loss mask, supervised fine-tuning (SFT) and replies.

A chat model is a language model that has read many conversations written in one template::

    <|im_start|>user<|im_sep|>What is 2 + 3?<|im_end|><|im_start|>assistant<|im_sep|>5<|im_end|>

The special tokens are single ids, so the model cannot confuse them with text a user types.
To get a reply we render the conversation so far, append ``<|im_start|>assistant<|im_sep|>``
and sample until the model writes ``<|im_end|>``.

Fine-tuning trains only on what the assistant says: ``render_conversation`` returns a loss mask
next to the ids (1 = this token is a target), and ``pad_batch`` turns masked positions and padding
into target -1, which the loss ignores. The user's words are read but never imitated, and neither
is an assistant message with ``"weight": 0`` (OpenAI's fine-tuning format has the same key): RL uses
it for the earlier turns of a conversation, which the model did not write.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import torch
import torch.nn.functional as F

from .chat_tasks import ASIDE_SHARE, OUT_OF_SCOPE_SHARE, ChatTasks, Example
from .models import model_kind
from .sample import SampledToken, generate, generate_batch
from .tokenizer import IM_END, IM_SEP, IM_START, Tokenizer

if TYPE_CHECKING:
    from .checkpoint import Checkpoint
from .train import Batch, TrainConfig, autocast, train

ROLES = ("system", "user", "assistant")
Message = dict  # {"role": "user" | "assistant" | "system", "content": str, optional "weight": 0 | 1}


class ChatFormatError(ValueError):
    """A conversation that does not fit the template (unknown role, empty, not text...)."""


# --- the template ----------------------------------------------------------------------------
def check_messages(messages: list[Message]) -> None:
    if not messages:
        raise ChatFormatError("a conversation needs at least one message")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or set(m) - {"role", "content", "weight"} or "role" not in m or "content" not in m:
            raise ChatFormatError(f'message {i + 1} must be {{"role": ..., "content": ...}}, got {str(m)[:80]}')
        if m["role"] not in ROLES:
            raise ChatFormatError(f"message {i + 1} has role {m['role']!r}; use one of {', '.join(ROLES)}")
        if "weight" in m and (m["role"] != "assistant" or m["weight"] not in (0, 1) or isinstance(m["weight"], bool)):
            raise ChatFormatError(f'message {i + 1}: "weight" is 0 or 1, and only on an assistant message')
        if not isinstance(m["content"], str):
            raise ChatFormatError(f"message {i + 1}'s content must be text, got {type(m['content']).__name__}")
        if any(s in m["content"] for s in (IM_START, IM_SEP, IM_END)):
            raise ChatFormatError(f"message {i + 1} contains a chat special token as text")


def render_conversation(tokenizer: Tokenizer, messages: list[Message]) -> tuple[list[int], list[int]]:
    """Token ids of the whole conversation, and a mask that is 1 on what the assistant wrote.

    The mask covers each assistant reply and the ``<|im_end|>`` that closes it (so the model
    learns to stop), not the ``<|im_start|>assistant<|im_sep|>`` header, which we write ourselves,
    nor a reply with ``"weight": 0``.

    >>> from tinylm.tokenizer import CharTokenizer
    >>> tok = CharTokenizer.from_corpus("hi yo")
    >>> ids, mask = render_conversation(tok, [{"role": "user", "content": "hi"},
    ...                                       {"role": "assistant", "content": "yo"}])
    >>> [tok.decode([i]) for i, m in zip(ids, mask) if m]
    ['y', 'o', '<|im_end|>']
    """
    check_messages(messages)
    ids, mask = [], []
    start, sep, end = (tokenizer.token_to_id(s) for s in (IM_START, IM_SEP, IM_END))
    if None in (start, sep, end):  # pure GPT-2 reads them as text
        raise ChatFormatError(f"this {tokenizer.kind} tokenizer has no chat tokens; a chat model needs one "
                              "that does (char, split, bpe or gpt2-chat)")
    for m in messages:
        header = [start, *tokenizer.encode(m["role"], allow_special=False), sep]
        body = [*tokenizer.encode(m["content"], allow_special=False), end]
        trained = 1 if m["role"] == "assistant" and m.get("weight", 1) == 1 else 0
        ids += header + body
        mask += [0] * len(header) + [trained] * len(body)
    return ids, mask


def render_for_reply(tokenizer: Tokenizer, messages: list[Message], block_size: int | None = None,
                     room: int = 0) -> list[int]:
    """The prompt that asks for the next reply: the conversation + ``<|im_start|>assistant<|im_sep|>``.

    With ``block_size``, the oldest messages are dropped until the prompt and ``room`` tokens of
    reply fit (a small model's context is short; the latest question matters most). Messages are
    rendered from the newest back and only until the context is full, so a history of thousands
    of messages costs no more than the few that fit.

    >>> from tinylm.tokenizer import CharTokenizer
    >>> tok = CharTokenizer.from_corpus("hi yo user assistant")
    >>> chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}] * 500
    >>> tok.decode(render_for_reply(tok, chat[:-1], block_size=64))  # the 4 newest of 999 messages fit
    '<|im_start|>assistant<|im_sep|>yo<|im_end|><|im_start|>user<|im_sep|>hi<|im_end|><|im_start|>assistant<|im_sep|>yo<|im_end|><|im_start|>user<|im_sep|>hi<|im_end|><|im_start|>assistant<|im_sep|>'
    """
    check_messages(messages)
    start, sep = tokenizer.token_to_id(IM_START), tokenizer.token_to_id(IM_SEP)
    header = [start, *tokenizer.encode("assistant", allow_special=False), sep]
    if block_size is None:
        return render_conversation(tokenizer, messages)[0] + header
    budget = block_size - room - len(header)
    kept: list[list[int]] = []  # newest message first
    for message in reversed(messages):
        ids = render_conversation(tokenizer, [message])[0]  # the template renders message by message
        if kept and sum(map(len, kept)) + len(ids) > budget:
            break
        kept.append(ids)
    ids = [i for message_ids in reversed(kept) for i in message_ids] + header
    if len(ids) + room <= block_size:
        return ids
    # even the last message alone is too long: keep its end
    return ids[-(block_size - room):] if block_size > room else ids


def prompt_messages(example: Example, train_history: bool = True) -> list[Message]:
    """The conversation up to the example's question: its earlier exchanges, then the prompt.

    With ``train_history=False`` the earlier replies get ``"weight": 0`` (read, never trained on).
    """
    weight = {} if train_history else {"weight": 0}
    earlier = [[{"role": "user", "content": q}, {"role": "assistant", "content": a, **weight}] for q, a in example.history]
    return [m for pair in earlier for m in pair] + [{"role": "user", "content": example.prompt}]


def example_messages(example: Example, train_history: bool = True) -> list[Message]:
    """The whole conversation of an example, its answer last."""
    return prompt_messages(example, train_history) + [{"role": "assistant", "content": example.answer}]


def pad_batch(rows: list[tuple[list[int], list[int]]], pad_id: int, block_size: int) -> Batch:
    """(x, y) for a list of rendered (ids, mask): y is the next id where it is an assistant token, else -1.

    Rows are cut to ``block_size + 1`` tokens and right-padded with ``pad_id`` to the longest;
    padding is never a target.

    >>> x, y = pad_batch([([5, 6, 7], [0, 1, 1]), ([5, 6], [0, 1])], pad_id=0, block_size=8)
    >>> x.tolist(), y.tolist()
    ([[5, 6], [5, 0]], [[6, 7], [6, -1]])
    """
    rows = [(ids[:block_size + 1], mask[:block_size + 1]) for ids, mask in rows]
    width = max(len(ids) for ids, _ in rows) - 1
    x = torch.full((len(rows), width), pad_id, dtype=torch.long)
    y = torch.full((len(rows), width), -1, dtype=torch.long)
    for i, (ids, mask) in enumerate(rows):
        n = len(ids) - 1
        x[i, :n] = torch.tensor(ids[:-1])
        targets = torch.tensor(ids[1:])
        y[i, :n] = torch.where(torch.tensor(mask[1:]) == 1, targets, -1)  # (n,) only assistant tokens
    return x, y


# --- user data: JSONL in two formats -------------------------------------------------------------
@dataclass
class ParsedJSONL:
    conversations: list[list[Message]]  # every good line
    errors: list[str]  # "line N: what is wrong", one per bad line


def parse_jsonl(text: str) -> ParsedJSONL:
    """Conversations from JSONL: ``{"input": q, "output": a}`` or ``{"messages": [...]}`` per line.

    A bad line is reported with its number and skipped; the good lines are all kept.

    >>> parsed = parse_jsonl('{"input": "hi", "output": "hello"}\\nnot json')
    >>> len(parsed.conversations), parsed.errors
    (1, ['line 2: not JSON (Expecting value)'])
    """
    conversations, errors = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            errors.append(f"line {number}: not JSON ({err.msg})")
            continue
        except RecursionError:  # [[[[...]]]] thousands deep: no conversation looks like that
            errors.append(f"line {number}: nested too deeply to be a conversation")
            continue
        try:
            conversations.append(conversation_from_row(row))
        except ChatFormatError as err:
            errors.append(f"line {number}: {err}")
    return ParsedJSONL(conversations, errors)


def conversation_from_row(row) -> list[Message]:
    """One JSONL row in either format as a list of messages ending with the assistant's reply."""
    if isinstance(row, dict) and set(row) >= {"input", "output"}:
        if not isinstance(row["input"], str) or not isinstance(row["output"], str):
            raise ChatFormatError('"input" and "output" must be text')
        if not row["input"].strip() or not row["output"].strip():
            raise ChatFormatError('"input" and "output" must not be empty')
        messages = [{"role": "user", "content": row["input"]}, {"role": "assistant", "content": row["output"]}]
    elif isinstance(row, dict) and "messages" in row:
        messages = row["messages"]
        if not isinstance(messages, list):
            raise ChatFormatError('"messages" must be a list')
    else:
        raise ChatFormatError('expected {"input": ..., "output": ...} or {"messages": [...]}')
    check_messages(messages)
    if messages[-1]["role"] != "assistant":
        raise ChatFormatError("the last message must be the assistant's (it is what is trained on)")
    return messages


def conversations_from_pairs(pairs: Iterable[tuple[str, str]]) -> tuple[list[list[Message]], list[str]]:
    """(question, answer) pairs, e.g. a table's rows, as one-turn conversations, and the problems found.

    A pair with both sides empty is skipped silently (an empty table row); any other bad pair is
    reported by its number (from 1) and skipped.
    """
    conversations, problems = [], []
    for number, (question, answer) in enumerate(pairs, 1):
        if not question.strip() and not answer.strip():
            continue
        try:
            conversations.append(conversation_from_row({"input": question, "output": answer}))
        except ChatFormatError as err:
            problems.append(f"table row {number}: {err}")
    return conversations, problems


def readable_conversations(tokenizer: Tokenizer, conversations: list[list[Message]]) -> tuple[list[list[Message]], list[str]]:
    """The conversations whose every character the tokenizer knows, and a problem line for each other one.

    A char model reads an unknown character as ``<|unk|>``: training on it would teach nothing
    (or teach the model to say ``<|unk|>``), so such conversations are skipped, by name.
    """
    known, problems = [], []
    for c in conversations:
        unknown = {u for m in c for u in tokenizer.unknown_pieces(m["content"], allow_special=False)}
        if unknown:
            problems.append(f"skipped {c[0]['content'][:40]!r}: characters this model does not know: "
                            f"{', '.join(repr(u) for u in sorted(unknown))}")
        else:
            known.append(c)
    return known, problems


def messages_from_history(history) -> list[Message]:
    """A chat UI's history as plain messages ``{"role", "content": str}``, ready to render.

    Gradio sends a message's content either as text or as a list of typed parts
    (``[{"type": "text", "text": "hi"}]``), with extra keys such as ``metadata``; the text parts
    are joined and the extra keys dropped. A part that is not text (a file, an image) is refused.

    >>> messages_from_history([{"role": "user", "content": [{"type": "text", "text": "hi"}], "metadata": None},
    ...                        {"role": "assistant", "content": "yo"}])
    [{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': 'yo'}]
    """
    if history is None:
        return []
    if not isinstance(history, list):
        raise ChatFormatError(f"the history must be a list of messages, got {type(history).__name__}")
    messages = []
    for i, m in enumerate(history):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ChatFormatError(f'message {i + 1} must be {{"role": ..., "content": ...}}, got {str(m)[:80]}')
        content = m["content"]
        parts = [content] if isinstance(content, (str, dict)) else content
        if not isinstance(parts, list):
            raise ChatFormatError(f"message {i + 1}'s content must be text, got {type(content).__name__}")
        texts = []
        for part in parts:
            if isinstance(part, dict) and part.get("type", "text") == "text" and isinstance(part.get("text"), str):
                part = part["text"]
            if not isinstance(part, str):
                raise ChatFormatError(f"message {i + 1} has a part that is not text: {str(part)[:80]}")
            texts.append(part)
        messages.append({"role": m["role"], "content": "".join(texts)})
    return messages


# --- supervised fine-tuning -------------------------------------------------------------------
def sft_batches(tokenizer: Tokenizer, block_size: int, batch_size: int,
                draw: Callable[[random.Random], list[Message]], pack: bool = True) -> Callable[[torch.Generator], Batch]:
    """A ``batch_fn`` for ``tinylm.train.train``: ``batch_size`` rows of conversations from ``draw(rng)``.

    With ``pack``, each row holds conversations one after the other until it is full, the last
    one cut where the row ends: the model reads them as one longer chat about unrelated things, and
    a step trains on three or four replies per row instead of one, with no padding. (A cut reply
    still teaches its first tokens; a cut question teaches nothing, as questions are never targets.
    Stopping before the first conversation that does not fit left 14 % of the rows as padding.)
    """
    def batch_fn(generator: torch.Generator) -> Batch:
        rng = random.Random(int(torch.randint(2**31, (1,), generator=generator)))
        rows = []
        for _ in range(batch_size):
            ids, mask = render_conversation(tokenizer, draw(rng))
            while pack and len(ids) < block_size + 1:
                more_ids, more_mask = render_conversation(tokenizer, draw(rng))
                ids, mask = ids + more_ids, mask + more_mask
            rows.append((ids, mask))  # pad_batch cuts it to block_size + 1 tokens
        return pad_batch(rows, tokenizer.pad_id, block_size)
    return batch_fn


def task_draw(tasks: ChatTasks, user: list[list[Message]] = (), user_share: float = 0.0,
              demos: list[Example] | None = None, asides: float = ASIDE_SHARE,
              out_of_scope: float = OUT_OF_SCOPE_SHARE) -> Callable[[random.Random], list[Message]]:
    """Draw training conversations: one of the user's, or a generated exchange (a fresh one, an
    ``out_of_scope`` share of them out of scope and an ``asides`` share with an aside, or one of a
    fixed set of ``demos``)."""
    def draw(rng: random.Random) -> list[Message]:
        if user and rng.random() < user_share:
            return rng.choice(user)
        return example_messages(rng.choice(demos) if demos else tasks.sample(rng, out_of_scope, asides=asides))
    return draw


@torch.no_grad()
def masked_loss(model, tokenizer: Tokenizer, conversations: list[list[Message]], batch_size: int = 64) -> float:
    """Mean cross-entropy on the assistant's tokens only (nats per token): the SFT val loss."""
    model.eval()
    rows = [render_conversation(tokenizer, c) for c in conversations]
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for i in range(0, len(rows), batch_size):
        x, y = (t.to(device) for t in pad_batch(rows[i:i + batch_size], tokenizer.pad_id, model.block_size))
        with autocast(device):
            logits, _ = model(x)
        total += F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), ignore_index=-1, reduction="sum").item()
        count += int((y != -1).sum())
    return total / max(count, 1)


def sft(model, tokenizer: Tokenizer, draw: Callable[[random.Random], list[Message]], config: TrainConfig,
        val: list[list[Message]]) -> Iterator[dict]:
    """Fine-tune ``model`` in place on conversations from ``draw``: the trainer's metrics, step by step.

    The val loss is ``masked_loss`` on ``val`` (held-out conversations), assistant tokens only.
    """
    block_size = model.block_size
    batch_fn = sft_batches(tokenizer, block_size, config.batch_size, draw)

    def eval_fn(m, max_tokens=None):
        return masked_loss(m, tokenizer, val)

    yield from train(model, None, None, config, batch_fn=batch_fn, eval_fn=eval_fn)


# --- replies -----------------------------------------------------------------------------------
def reply_room(block_size: int, max_new_tokens: int) -> int:
    """Context kept free for the reply: up to a quarter of it (a longer reply slides the window on).

    >>> reply_room(128, 160), reply_room(128, 10)
    (32, 10)
    """
    return min(max_new_tokens, block_size // 4)


def reply_stream(model, tokenizer: Tokenizer, messages: list[Message], max_new_tokens: int = 80,
                 temperature: float = 0.0, top_k: int | None = None, top_p: float | None = None,
                 seed: int | None = None, alternatives: int = 0) -> Iterator[SampledToken]:
    """The assistant's next reply, token by token (stops after ``<|im_end|>``, which is yielded)."""
    ids = render_for_reply(tokenizer, messages, model.block_size, room=reply_room(model.block_size, max_new_tokens))
    end = tokenizer.token_to_id(IM_END)
    # a reply is text ended by <|im_end|>: the other special tokens are never the assistant's to write
    suppress = [i for i in tokenizer.non_text_ids if i != end]
    yield from generate(model, ids, max_new_tokens, temperature, top_k, top_p, seed=seed, stop_ids=[end],
                        suppress_ids=suppress,
                        alternatives=alternatives)


def reply_text(tokenizer: Tokenizer, token_ids: Iterable[int]) -> str:
    """Decode a reply without special tokens: the closing ``<|im_end|>``, and any other an
    undertrained model may write (as text they would break the template on the next turn)."""
    specials = set(tokenizer.special_ids.values())
    return tokenizer.decode([i for i in token_ids if i not in specials])


def answer_batch(model, tokenizer: Tokenizer, conversations: list[list[Message]], max_new_tokens: int | list[int] = 32,
                 temperature: float = 0.0, generator: torch.Generator | None = None) -> list[str]:
    """The next reply of many conversations at once (batched generation with a KV cache)."""
    # room for a short reply; a longer one stops where the context is full
    limits = [max_new_tokens] * len(conversations) if isinstance(max_new_tokens, int) else max_new_tokens
    ids = [render_for_reply(tokenizer, messages, model.block_size, reply_room(model.block_size, n))
           for messages, n in zip(conversations, limits)]
    end = tokenizer.token_to_id(IM_END)
    outs = generate_batch(model, ids, max_new_tokens, temperature=temperature, stop_id=end, generator=generator)
    return [reply_text(tokenizer, out) for out in outs]


def hold_out(conversations: list, share: float = 0.2, seed: int = 0) -> tuple[list, list]:
    """Split a user's conversations into (train, val): ``share`` of them held out, at least one.

    With fewer than three there is nothing to spare, and both parts are all of them (say so).

    >>> train, val = hold_out(list(range(10)))
    >>> len(train), len(val), sorted(train + val) == list(range(10))
    (8, 2, True)
    >>> hold_out([1, 2])
    ([1, 2], [1, 2])
    """
    if len(conversations) < 3:
        return list(conversations), list(conversations)
    order = list(range(len(conversations)))
    random.Random(seed).shuffle(order)
    n_val = max(1, round(share * len(conversations)))
    val = set(order[:n_val])
    return ([c for i, c in enumerate(conversations) if i not in val],
            [c for i, c in enumerate(conversations) if i in val])


def finetune(model, tokenizer: Tokenizer, conversations: list[list[Message]], config: TrainConfig,
             tasks: ChatTasks | None = None, user_share: float = 0.5,
             val: list[list[Message]] | None = None) -> Iterator[dict]:
    """Fine-tune a chat model on a user's own conversations (what the Chat tab's button runs).

    Half of each batch (``user_share``) comes from ``conversations``; the rest are the generated
    conversations the model was trained on, so learning the new replies does not wipe out the
    old ones. The val loss is measured on ``val`` (conversations held out with ``hold_out``;
    without them, on the training ones, which only shows how well they are learned by heart).
    """
    if not conversations:
        raise ValueError("give at least one conversation to fine-tune on")
    for c in [*conversations, *(val or [])]:
        check_messages(c)
    draw = task_draw(tasks or ChatTasks(), conversations, user_share=user_share)
    yield from sft(model, tokenizer, draw, config, val=val or conversations)


def is_chat_model(ckpt: Checkpoint) -> bool:
    """Fine-tuned on conversations: a GPT whose tokenizer has the chat tokens and whose checkpoint
    records a fine-tuning stage (``tinylm sft`` and ``rl``, ``finetune-hf`` set ``stage``)."""
    has_chat_tokens = all(ckpt.tokenizer.token_to_id(s) is not None for s in (IM_START, IM_SEP, IM_END))
    return model_kind(ckpt.model) == "gpt" and has_chat_tokens and ckpt.info.get("stage") is not None
