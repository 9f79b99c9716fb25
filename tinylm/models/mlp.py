"""The multilayer perceptron language model of Bengio et al. 2003, "A Neural Probabilistic
Language Model" (as in makemore and EurekaLabsAI/mlp).

To predict the token at position t+1 the model looks at the ``block_size`` tokens ending at t:
it looks each one up in an embedding table, concatenates the vectors, passes them through one or
two tanh hidden layers and maps the last hidden vector to one logit per vocabulary entry.

Positions near the start of a sequence have fewer than ``block_size`` tokens before them; the
missing ones are a learned "blank" token (the extra row ``vocab_size`` of ``wte``), so the model
can also start from a short prompt.
"""

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class MLPConfig:
    vocab_size: int = 27  # number of distinct tokens
    block_size: int = 3  # tokens of context (3 characters for names, 4 words for phrases)
    n_embd: int = 48  # size of one token's embedding vector
    n_hidden: int = 512  # width of each tanh hidden layer
    n_layer: int = 1  # number of hidden layers (1 or 2)
    dropout: float = 0.0  # dropout on the embeddings and hidden activations while training


class MLP(nn.Module):
    def __init__(self, config: MLPConfig):
        super().__init__()
        if config.n_layer < 1:
            raise ValueError(f"an MLP needs at least one hidden layer, got n_layer={config.n_layer}")
        self.config = config
        self.block_size = config.block_size
        # one extra row: the blank token that fills context before the start of the sequence
        self.wte = nn.Embedding(config.vocab_size + 1, config.n_embd)
        widths = [config.block_size * config.n_embd] + [config.n_hidden] * config.n_layer
        self.h = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.lm_head = nn.Linear(config.n_hidden, config.vocab_size)
        # dropout (Srivastava et al. 2014): a small corpus like names is memorised without it
        self.drop = nn.Dropout(config.dropout)
        # small output weights: the first loss is close to ln(vocab_size) instead of much higher
        with torch.no_grad():
            self.lm_head.weight.mul_(0.1)
            self.lm_head.bias.zero_()

    def contexts(self, idx):
        """For every position t, the ids of the ``block_size`` tokens ending at t.

        >>> MLP(MLPConfig(vocab_size=5, block_size=2)).contexts(torch.tensor([[1, 2, 3]]))
        tensor([[[5, 1],
                 [1, 2],
                 [2, 3]]])
        """
        B, T = idx.shape
        blank = torch.full((B, self.block_size - 1), self.config.vocab_size, dtype=idx.dtype, device=idx.device)
        padded = torch.cat([blank, idx], dim=1)  # (B, block_size - 1 + T)
        return padded.unfold(1, self.block_size, 1)  # (B, T, block_size)

    def hidden(self, idx):
        """The last hidden layer's activations, (B, T, n_hidden): what lm_head reads."""
        B, T = idx.shape
        x = self.drop(self.wte(self.contexts(idx)).view(B, T, -1))  # (B, T, block_size * n_embd)
        for layer in self.h:
            x = self.drop(torch.tanh(layer(x)))  # (B, T, n_hidden)
        return x

    def forward(self, idx, targets=None):
        logits = self.lm_head(self.hidden(idx))  # (B, T, vocab_size)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
        return logits, loss
