"""A decoder-only transformer: GPT, as in Radford et al. 2018/2019 ("Language Models are
Unsupervised Multitask Learners") on top of Vaswani et al. 2017 ("Attention Is All You Need").

Read it top to bottom: attention (tokens look at earlier tokens), the MLP (each token thinks on
its own), a Block (both, each with a residual connection around a LayerNorm), and the GPT (token +
position embeddings, a stack of blocks, a final LayerNorm, and the language-model head that shares
its weights with the token embedding). Parameter names follow GPT-2 (``wte``, ``wpe``,
``h.0.attn.c_attn``, ``ln_f``, ``lm_head``) so the weights copy into ``transformers`` unrenamed.

Two ways to compute attention sit side by side: ``reference_attention`` writes out the softmax of
the masked scores, ``F.scaled_dot_product_attention`` is the fused fast path; tests check they
agree. ``KVCache`` keeps the keys and values of earlier positions so that sampling one more token
costs one position of work instead of the whole context.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int = 65  # number of distinct tokens
    block_size: int = 256  # longest context the model can see (number of position embeddings)
    n_layer: int = 4  # number of transformer blocks
    n_head: int = 4  # attention heads per block
    n_embd: int = 128  # width of the residual stream
    dropout: float = 0.0  # dropout probability while training (0 for small data and short runs)
    bias: bool = True  # biases in Linear and LayerNorm, like GPT-2
    # the feed-forward's nonlinearity: "gelu" (exact, with erf; about 3x faster than the tanh
    # approximation on a CPU) or "gelu_tanh" (GPT-2's approximation; checkpoints made before this
    # field existed use it). They differ by less than 1e-3.
    activation: str = "gelu"


def reference_attention(q, k, v, causal: bool = True):
    """softmax(q k^T / sqrt(hs)) v with future positions masked out; q, k, v are (B, nh, T, hs).

    When q is shorter than k (sampling with a cache), q holds the *last* positions of k.
    """
    Tq, Tk = q.size(-2), k.size(-2)
    att = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))  # (B, nh, Tq, Tk)
    if causal:
        # query i sits at position Tk - Tq + i and may look at keys 0 .. that position
        mask = torch.ones(Tq, Tk, dtype=torch.bool, device=q.device).tril(diagonal=Tk - Tq)
        att = att.masked_fill(~mask, float("-inf"))
    att = F.softmax(att, dim=-1)
    return att @ v  # (B, nh, Tq, hs)


class KVCache:
    """Keys and values of the positions seen so far, one pair of tensors per layer."""

    def __init__(self, n_layer: int):
        self.layers = [None] * n_layer  # each: (k, v), both (B, nh, T_so_far, hs)

    @property
    def length(self) -> int:
        return 0 if self.layers[0] is None else self.layers[0][0].size(-2)

    def append(self, layer: int, k, v):
        """Add the new positions' k, v and return all of them."""
        if self.layers[layer] is not None:
            k = torch.cat([self.layers[layer][0], k], dim=-2)
            v = torch.cat([self.layers[layer][1], v], dim=-2)
        self.layers[layer] = (k, v)
        return k, v


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig, layer: int):
        super().__init__()
        assert config.n_embd % config.n_head == 0, "n_embd must be a multiple of n_head"
        self.n_head = config.n_head
        self.layer = layer  # which entry of a KVCache is ours
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)  # heads -> residual
        self.resid_dropout = nn.Dropout(config.dropout)
        self.fast = True  # F.scaled_dot_product_attention; False = reference_attention
        self.fp32_on_cpu = True  # under bf16 autocast on a CPU, attend in fp32 (see forward)

    def forward(self, x, cache: KVCache | None = None):
        B, T, C = x.shape
        qkv = self.c_attn(x)
        if self.fp32_on_cpu and qkv.device.type == "cpu" and qkv.dtype == torch.bfloat16:
            # under bf16 autocast, attend in fp32 on a CPU: PyTorch's CPU flash-attention kernel is
            # about 1.5x slower in bf16 than in fp32 at head size 32 (its backward most of all), and
            # the chat model's step is about 15 % faster this way (python bench/bench_step.py).
            # Casting here, before the heads are split, costs one contiguous copy instead of three
            qkv = qkv.float()
        q, k, v = qkv.split(C, dim=2)  # each (B, T, C)
        # split the channels into heads: (B, T, C) -> (B, nh, T, hs)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            k, v = cache.append(self.layer, k, v)  # (B, nh, T_past + T, hs)
        if self.fast:
            # is_causal assumes square masks, so a single query (sampling) runs unmasked: it may see everything
            causal = q.size(-2) == k.size(-2)
            if not causal and q.size(-2) > 1:
                y = reference_attention(q, k, v)
            else:
                with torch.autocast(q.device.type, enabled=False):  # q, k, v's own dtype decides, not autocast
                    y = F.scaled_dot_product_attention(q, k, v, is_causal=causal,
                                                       dropout_p=self.dropout if self.training else 0.0)
        else:
            y = reference_attention(q, k, v)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble the heads: (B, T, C)
        return self.resid_dropout(self.c_proj(y))


ACTIVATIONS = {"gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh")}


class MLP(nn.Module):
    """Position-wise feed-forward: widen 4x, GELU, project back."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        if config.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {config.activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        self.act = ACTIVATIONS[config.activation]
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.act(self.c_fc(x))))


class Block(nn.Module):
    """One transformer block, pre-LayerNorm: communicate (attention), then compute (MLP)."""

    def __init__(self, config: GPTConfig, layer: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config, layer)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, cache: KVCache | None = None):
        x = x + self.attn(self.ln_1(x), cache)
        x = x + self.mlp(self.ln_2(x))
        return x


# what each axis of a weight counts, by its name without the layer (the weight editor labels its tables with it)
WEIGHT_AXES = {"transformer.wte.weight": ("token", "channel"), "lm_head.weight": ("next", "channel"),
               "transformer.wpe.weight": ("position", "channel"), "attn.c_attn.weight": ("qkv", "channel"),
               "attn.c_attn.bias": ("qkv",), "attn.c_proj.weight": ("channel", "head"),
               "mlp.c_fc.weight": ("neuron", "channel"), "mlp.c_fc.bias": ("neuron",),
               "mlp.c_proj.weight": ("channel", "neuron")}


class GPT(nn.Module):
    blank = None  # no "no token" id: a GPT simply reads a shorter context

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.block_size = config.block_size
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),  # token embeddings
            wpe=nn.Embedding(config.block_size, config.n_embd),  # position embeddings
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList(Block(config, i) for i in range(config.n_layer)),
            ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # weight tying (Press & Wolf 2017): reading a token in and writing it out share one matrix
        self.transformer.wte.weight = self.lm_head.weight
        self.apply(self._init_weights)
        # GPT-2: scale the projections into the residual stream by 1/sqrt(2 * n_layer)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def embed(self, idx, start: int = 0):
        """Token plus position embeddings of idx (B, T) whose first token sits at ``start``: (B, T, C)."""
        T = idx.size(1)
        if start + T > self.block_size:
            raise ValueError(f"sequence of length {start + T} is longer than block_size {self.block_size}")
        pos = torch.arange(start, start + T, device=idx.device)  # (T,)
        return self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))  # (B, T, C)

    def hidden(self, idx, cache: KVCache | None = None):
        """The final LayerNorm's output, (B, T, n_embd): what lm_head reads."""
        x = self.embed(idx, 0 if cache is None else cache.length)  # a cache holds the positions before idx
        for block in self.transformer.h:
            x = block(x, cache)
        return self.transformer.ln_f(x)  # (B, T, C)

    def last_mlp_activations(self, idx):
        """(act, x): what the last block's ``mlp.c_proj`` reads, (B, T, 4 * n_embd), and the residual
        stream it writes into, entering ln_f, (B, T, n_embd). ``lm_head(ln_f(x))`` are the logits.

        The weight editor writes key -> value pairs into that c_proj (``tinylm.edit.imprint``), with
        ``act`` as the keys: the GPT's lm_head is its token embedding too, so it is not written.
        """
        *first, last = self.transformer.h
        x = self.embed(idx)
        for block in first:
            x = block(x)
        x = x + last.attn(last.ln_1(x))  # the last block written out, to keep what its MLP computes
        act = last.mlp.act(last.mlp.c_fc(last.ln_2(x)))  # (B, T, 4 * n_embd)
        return act, x + last.mlp.dropout(last.mlp.c_proj(act))

    def weight_axes(self, name: str) -> tuple[str, ...]:
        """What each axis of a weight counts: "token", "next", "position", "channel" (the residual
        stream), "qkv" (c_attn's query, key and value rows), "head" (the heads' outputs side by side),
        "neuron" (the MLP's 4 * n_embd units). LayerNorms and the other biases are channels."""
        short = name.split(".", 3)[-1] if name.startswith("transformer.h.") else name  # "attn.c_attn.weight"
        return WEIGHT_AXES.get(short, ("channel",) * self.get_parameter(name).dim())

    def forward(self, idx, targets=None, cache: KVCache | None = None):
        logits = self.lm_head(self.hidden(idx, cache))  # (B, T, vocab_size)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
        return logits, loss

    def token_embeddings(self) -> torch.Tensor:
        """One vector per token, (vocab_size, n_embd): the table ``wte`` the model looks tokens up in."""
        return self.transformer.wte.weight

    def set_fast_attention(self, fast: bool) -> None:
        """Switch every layer between the fused fast path and the readable reference."""
        for block in self.transformer.h:
            block.attn.fast = fast
