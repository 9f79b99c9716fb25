"""The bigram model: the next token depends only on the current one.

The whole model is one table of logits, ``logits[current, next]`` (makemore's ``Bigram``). Row
``i`` is the model's opinion about what follows token ``i``; softmax turns a row into a
probability distribution. Counting bigrams in a corpus and taking logs gives this table in closed
form (``bigram_from_counts``); gradient descent finds the same thing, which makes it the easiest
model to edit by hand.
"""

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class BigramConfig:
    vocab_size: int = 65  # number of distinct tokens
    block_size: int = field(default=1, metadata={"fixed": True})  # tokens of context: always 1 for a bigram


class Bigram(nn.Module):
    blank = None  # no "no token" id: a bigram always reads exactly one real token

    def __init__(self, config: BigramConfig):
        super().__init__()
        self.config = config
        self.block_size = 1
        # zeros: every next token starts equally likely, so the first loss is exactly ln(vocab_size)
        self.logits = nn.Parameter(torch.zeros(config.vocab_size, config.vocab_size))

    def hidden(self, idx):
        """The current token as a one-hot vector, (B, T, vocab_size): it picks its row of the table."""
        return F.one_hot(idx, self.config.vocab_size).to(self.logits.dtype)

    def lm_head(self, x):
        """(B, T, vocab_size) -> logits: a one-hot row times the table is that token's row."""
        return x @ self.logits

    def token_embeddings(self):
        """One vector per token, (vocab_size, vocab_size): a bigram's whole model is its table, so a
        token's row of next-token logits is its vector."""
        return self.logits

    def weight_axes(self, name: str) -> tuple[str, ...]:
        """What each axis of a weight counts: the table is (current token, next token)."""
        return {"logits": ("token", "next")}[name]

    def forward(self, idx, targets=None):
        logits = self.logits[idx]  # (B, T, vocab_size): one row of the table per position, = lm_head(hidden(idx))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
        return logits, loss


def bigram_from_counts(ids: torch.Tensor, vocab_size: int, smoothing: float = 1.0) -> Bigram:
    """The counting bigram of makemore: ``logits[current, next] = log(count(current, next) + smoothing)``.

    Softmax of a row of log-counts is the row's counts normalised, so no training is needed;
    ``smoothing`` (add-k) keeps unseen pairs possible. The table reads as "how often did next
    follow current", which is what a learner then edits.

    >>> import math
    >>> model = bigram_from_counts(torch.tensor([0, 1, 0, 1]), vocab_size=2, smoothing=1.0)
    >>> round(math.exp(model.logits[0, 1].item()))   # "0 then 1" twice, plus the smoothing
    3
    """
    if isinstance(smoothing, bool) or not (isinstance(smoothing, (int, float)) and 0 < smoothing < float("inf")):
        raise ValueError(f"smoothing must be more than 0 (log of a zero count is -infinity), got {smoothing!r}")
    if len(ids) < 2:
        raise ValueError("the text needs at least two tokens to count a pair")
    V = vocab_size
    counts = torch.bincount(ids[:-1] * V + ids[1:], minlength=V * V).view(V, V).float()  # (current, next)
    model = Bigram(BigramConfig(vocab_size=V))
    with torch.no_grad():
        model.logits.copy_(torch.log(counts + smoothing))
    return model.eval()
