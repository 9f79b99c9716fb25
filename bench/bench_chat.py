"""How long a visitor waits for the shipped chat model's whole greedy reply, in the Chat tab.

    python bench/bench_chat.py [--ckpt tinylm/pretrained/chat] [--repeats 3] [--threads 2]

Times the tab's own handler (``chat_tab.respond``: the template, the streamed reply, the token view
and the probability table) until its last update, at the tab's settings (temperature 0, up to 160
new tokens), for every example question the tab offers, and for the same questions asked as the
3rd turn of a conversation (a longer prompt to read). Target: under 1 s. One JSON line each: the
median and the slowest reply over the questions (each the median of ``--repeats`` runs).
"""

import argparse
import statistics
import time

import torch
from common import report

from tinylm.checkpoint import load_checkpoint
from tinylm_app import chat_tab

EARLIER = [{"role": "user", "content": "hi"},
           {"role": "assistant", "content": "Hello! Ask me about letters, words or small sums."},
           {"role": "user", "content": "What is 3 + 4?"}, {"role": "assistant", "content": "7"}]


def reply_seconds(ckpt, question: str, history: list[dict], repeats: int) -> float:
    """The median time from Send to the handler's last update (the whole reply written and shown)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _update in chat_tab.respond(question, list(history), chat_tab.SHIPPED, chat_tab.DEFAULT_NEW_TOKENS,
                                        0, 0, 1, -1, ckpt, None):
            pass
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default=str(chat_tab.PRETRAINED_DIR / chat_tab.CHAT_MODEL))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.ckpt)
    questions = [q for row in chat_tab.SKILLS.values() for q in row]
    reply_seconds(ckpt, questions[0], [], 1)  # warm-up
    for label, history in (("first_turn", []), ("third_turn", EARLIER)):
        seconds = [reply_seconds(ckpt, q, history, args.repeats) for q in questions]
        report(f"chat_reply_seconds_{label}", round(statistics.median(seconds), 3), slowest=round(max(seconds), 3),
               questions=len(questions), ckpt=args.ckpt, params=sum(p.numel() for p in ckpt.model.parameters()))


if __name__ == "__main__":
    main()
