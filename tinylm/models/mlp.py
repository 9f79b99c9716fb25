"""The multilayer perceptron language model of Bengio et al. 2003, "A Neural Probabilistic
Language Model" (as in makemore and EurekaLabsAI/mlp).

To predict the token at position t+1 the model looks at the ``block_size`` tokens ending at t:
it looks each one up in an embedding table, concatenates the vectors, passes them through one or
two tanh hidden layers and maps the last hidden vector to one logit per vocabulary entry.

Positions near the start of a sequence have fewer than ``block_size`` tokens before them; the
missing ones are a learned "blank" token (the extra row ``vocab_size`` of ``wte``), so the model
can also start from a short prompt.

A fast path sits beside the readable one. The first hidden layer reads the concatenated
embeddings, so its weight splits into one slice per context position, and
``W @ concat(e_1, ..., e_k) = W_1 @ e_1 + ... + W_k @ e_k``. Multiplying every row of ``wte`` by
every slice once gives one table per position (``first_layer_tables``); the layer is then k table
look-ups and a sum (``F.embedding_bag``) instead of a (tokens x k*n_embd) @ (k*n_embd x n_hidden)
matrix product: the same numbers, and less work whenever a batch has more positions than the
vocabulary has tokens (training on characters; not sampling one prompt). It needs the embeddings to
reach the layer unchanged, so it is off while ``dropout`` is on; ``token_dropout`` keeps it on.
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
    # word dropout (Gal & Ghahramani 2016): while training, each context token is replaced by the
    # blank token with this probability. It regularises like dropout at a fraction of the cost
    # (one random number per token, not one per activation) and keeps the fast path on.
    token_dropout: float = 0.0


class MLP(nn.Module):
    def __init__(self, config: MLPConfig):
        super().__init__()
        if config.n_layer < 1:
            raise ValueError(f"an MLP needs at least one hidden layer, got n_layer={config.n_layer}")
        self.config = config
        self.block_size = config.block_size
        self.blank = config.vocab_size  # the id of the blank token, read where there is no token
        # one extra row: the blank token that fills context before the start of the sequence
        self.wte = nn.Embedding(config.vocab_size + 1, config.n_embd)
        widths = [config.block_size * config.n_embd] + [config.n_hidden] * config.n_layer
        self.h = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.lm_head = nn.Linear(config.n_hidden, config.vocab_size)
        # dropout (Srivastava et al. 2014): a small corpus like names is memorised without it
        self.drop = nn.Dropout(config.dropout)
        self.fast = True  # the first layer as table look-ups (see the module's docstring); False = readable
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
        blank = torch.full((B, self.block_size - 1), self.blank, dtype=idx.dtype, device=idx.device)
        padded = torch.cat([blank, idx], dim=1)  # (B, block_size - 1 + T)
        return padded.unfold(1, self.block_size, 1)  # (B, T, block_size)

    def hidden(self, idx):
        """The last hidden layer's activations, (B, T, n_hidden): what lm_head reads."""
        B, T = idx.shape
        ctx = self.contexts(idx)  # (B, T, block_size)
        if self.training and self.config.token_dropout > 0:  # forget some tokens, as if before the start
            forget = torch.rand(ctx.shape, device=ctx.device) < self.config.token_dropout
            ctx = ctx.masked_fill(forget, self.blank)
        # the tables cost (vocab_size + 1) positions' worth of the matrix product: worth it for batches
        # with more positions than that (training), not for one short prompt or a big vocabulary
        if self.fast and not (self.training and self.drop.p > 0) and B * T > self.config.vocab_size + 1:
            x = self.drop(torch.tanh(self.first_layer_fast(ctx)))  # (B, T, n_hidden)
            later = self.h[1:]
        else:
            x = self.drop(self.wte(ctx).view(B, T, -1))  # (B, T, block_size * n_embd)
            later = self.h
        for layer in later:
            x = self.drop(torch.tanh(layer(x)))  # (B, T, n_hidden)
        return x

    def first_layer_tables(self):
        """(block_size, vocab_size + 1, n_hidden): what each token adds to the first layer from each position.

        ``tables[i, v]`` is ``W_i @ wte[v]``, with ``W_i`` the columns of ``h[0].weight`` that read
        context position i.
        """
        n_hidden, k, n_embd = self.config.n_hidden, self.block_size, self.config.n_embd
        W = self.h[0].weight.view(n_hidden, k, n_embd)  # columns grouped by context position
        return torch.einsum("ve,hke->kvh", self.wte.weight, W)

    def first_layer_fast(self, ctx):
        """``h[0]`` of the concatenated embeddings of ``ctx`` (B, T, block_size), as look-ups: (B, T, n_hidden)."""
        B, T, _ = ctx.shape
        tables = self.first_layer_tables().reshape(-1, self.config.n_hidden)  # position i's table at rows i*(V+1)..
        rows = ctx + torch.arange(self.block_size, device=ctx.device) * (self.config.vocab_size + 1)
        summed = F.embedding_bag(rows.reshape(B * T, self.block_size), tables, mode="sum")  # (B*T, n_hidden)
        return summed.view(B, T, -1) + self.h[0].bias

    def token_embeddings(self):
        """One vector per token, (vocab_size, n_embd): ``wte`` without the extra "blank" row."""
        return self.wte.weight[: self.config.vocab_size]

    def weight_axes(self, name: str) -> tuple[str, ...]:
        """What each axis of a weight counts: "token" (wte's rows, the blank last), "embd", "input"
        (the first layer reads block_size embeddings side by side), "neuron", "next" (lm_head's rows)."""
        if name == "wte.weight":
            return ("token", "embd")
        if name.startswith("lm_head."):
            return ("next", "neuron")[: self.get_parameter(name).dim()]
        layer, kind = name.split(".")[1:]  # "h.0.weight" -> "0", "weight"
        return ("neuron", "input" if layer == "0" else "neuron") if kind == "weight" else ("neuron",)

    def forward(self, idx, targets=None):
        logits = self.lm_head(self.hidden(idx))  # (B, T, vocab_size)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
        return logits, loss
