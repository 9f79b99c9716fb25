"""BPE training and GPT-2 encoding speed on 1 MB of text (Tiny Shakespeare, 1,115,394 chars).

    python bench/bench_tokenizers.py

Best of 3 runs each (the machine is shared); targets: both under 1 s.
"""

import time

from common import report, shakespeare_text

from tinylm.tokenizer import BPETokenizer, build_tokenizer, gpt2_tokenizer


def best_of(n, fn):
    times = []
    for _ in range(n):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


text = shakespeare_text()
seconds, tok = best_of(3, lambda: BPETokenizer.train(text, vocab_size=2048))
report("bpe_train_seconds", round(seconds, 3), chars=len(text), vocab_size=tok.vocab_size)

gpt2 = gpt2_tokenizer()
seconds, ids = best_of(3, lambda: gpt2.encode(text))
report("gpt2_encode_seconds", round(seconds, 3), chars=len(text), tokens=len(ids))

char = build_tokenizer("char", text)
seconds, ids = best_of(3, lambda: char.encode(text))
report("char_encode_seconds", round(seconds, 3), chars=len(text), tokens=len(ids))
