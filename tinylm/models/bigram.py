"""The bigram model: the next token depends only on the current one.

The whole model is one table of logits, ``logits[current, next]`` (makemore's ``Bigram``). Row
``i`` is the model's opinion about what follows token ``i``; softmax turns a row into a
probability distribution. Counting bigrams in a corpus and taking logs gives this table in closed
form; gradient descent finds the same thing, which makes it the easiest model to edit by hand.
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

    def forward(self, idx, targets=None):
        logits = self.logits[idx]  # (B, T, vocab_size): one row of the table per position, = lm_head(hidden(idx))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
        return logits, loss
