"""Sampling speed at batch 1 from the shipped char GPT: KV cache vs the plain reference loop.

    python bench/bench_sampling.py [--tokens 500]

The reference runs the whole (cropped) context through the model for every new token, like
nanoGPT's generate; the cached path feeds one token at a time. Target: >= 1,000 tokens/s cached.
"""

import argparse
import time

from common import report

from tinylm.pretrained import load_pretrained
from tinylm.sample import generate, prompt_ids

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="shakespeare-char-gpt")
parser.add_argument("--tokens", type=int, default=500)
args = parser.parse_args()

ckpt = load_pretrained(args.model)
ids = prompt_ids(ckpt.tokenizer, "ROMEO:")
for use_cache in (True, False):
    list(generate(ckpt.model, ids, 20, temperature=1.0, seed=0, use_cache=use_cache))  # warm up
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        n = sum(1 for _ in generate(ckpt.model, ids, args.tokens, temperature=1.0, seed=0, use_cache=use_cache))
        best = max(best, n / (time.perf_counter() - started))
    report("sample_tokens_per_s", round(best), kv_cache=use_cache, model=args.model, new_tokens=args.tokens,
           block_size=ckpt.model.block_size)
