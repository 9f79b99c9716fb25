"""Does the exported chat model answer in transformers as it does in tinylm? Counts identical replies.

    python bench/hf_chat_parity.py [--model chat] [--prompts 150] [--conversations 30]

Exports the shipped chat model, then asks transformers' pipeline("text-generation") with a list of
messages (greedy) and tinylm's reply_stream (what `python -m tinylm chat` runs) the same questions:
one-turn questions drawn from the chat tasks, then conversations of up to three turns whose earlier
replies are tinylm's. Only conversations that fit the context with room for the reply are asked
(tinylm would drop old messages, transformers cannot).
"""

import argparse
import random
import tempfile

from common import report

from tinylm.chat import render_for_reply, reply_stream, reply_text
from tinylm.chat_tasks import ChatTasks
from tinylm.hf import export_transformers
from tinylm.pretrained import load_pretrained

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="chat")
parser.add_argument("--prompts", type=int, default=150)
parser.add_argument("--conversations", type=int, default=30)
args = parser.parse_args()

from transformers import pipeline  # noqa: E402  (after common set the offline environment)

ckpt = load_pretrained(args.model)
tok, block_size = ckpt.tokenizer, ckpt.model.block_size
tasks, rng = ChatTasks(seed=ckpt.info.get("split_seed", 0)), random.Random(0)
with tempfile.TemporaryDirectory() as tmp:
    chat = pipeline("text-generation", model=str(export_transformers(ckpt, f"{tmp}/{args.model}")))

    def both(messages, n):
        """(tinylm's reply, transformers' reply), or None when the conversation does not fit."""
        if len(render_for_reply(tok, messages)) + n > block_size:
            return None
        ours = reply_text(tok, [t.id for t in reply_stream(ckpt.model, tok, messages, n)])
        theirs = chat(messages, do_sample=False, max_new_tokens=n)[0]["generated_text"][-1]["content"]
        return ours, theirs

    one_turn = [both([{"role": "user", "content": tasks.sample(rng).prompt}], block_size // 4)
                for _ in range(args.prompts)]
    one_turn = [pair for pair in one_turn if pair]
    turns = []
    for _ in range(args.conversations):
        messages = []
        for _ in range(3):
            messages.append({"role": "user", "content": tasks.sample(rng).prompt})
            pair = both(messages, 16)
            if pair is None:
                break
            turns.append(pair)
            messages.append({"role": "assistant", "content": pair[0]})
report("hf_chat_identical_one_turn", sum(a == b for a, b in one_turn), of=len(one_turn), model=args.model)
report("hf_chat_identical_multi_turn_replies", sum(a == b for a, b in turns), of=len(turns), model=args.model)
