"""One forward pass, step by step, with the model's real numbers.

Pick a context and a position: ``walkthrough`` runs the model's forward pass for that position
one piece at a time and keeps every intermediate result, from the token's id to the probability
of each next token. A GPT (Radford et al. 2019) goes: the token's row of ``wte``, plus its
position's row of ``wpe``, then in every block LayerNorm, query/key/value, the scores q·k/√d,
the causal mask, softmax, the weighted sum of values, ``c_proj``, the residual add, LayerNorm,
the feed-forward MLP and its residual add, and at the end ``ln_f``, ``lm_head`` and softmax. The
MLP of Bengio et al. 2003: the window's embedding rows, concatenated, its tanh layers, ``lm_head``
and softmax. The bigram: a row of its table, and softmax.

Each piece is computed by the model's own submodules (``block.ln_1``, ``block.attn.c_attn``,
``reference_attention``, ``block.mlp.c_fc``, ...) on the live weights, so an edited weight shows
up at once, and the last step's probabilities are the model's ``forward`` (a test checks 1e-5
for every kind). A :class:`Step` holds a name, two sentences with the model's own numbers, the
shape of what was computed, a small rounded table of it, and the full tensor.

>>> from tinylm.pretrained import load_pretrained
>>> ckpt = load_pretrained("alphabet-gpt")
>>> walk = walkthrough(ckpt.model, ckpt.tokenizer, "KLM")
>>> [s.name for s in walk.steps][:4], walk.next_tokens[0]["token"]
(['tokens', 'token embedding', 'position embedding', 'block 0: LayerNorm ln_1'], 'N')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .compare import show_whitespace
from .models import model_kind
from .models.gpt import reference_attention
from .sample import prompt_ids, top_text_tokens

MAX_CONTEXT_CHARS = 2_000  # the context is typed in a public app: bounded
SHOWN_NUMBERS = 16  # numbers of a long vector shown in a table (the shape gives the full size)
SHOWN_POSITIONS = 16  # positions shown in an attention table: those up to the chosen one, and a few after
SHOWN_UNITS = 5  # the most active hidden units shown
TOP = 10  # next tokens listed


@dataclass(frozen=True)
class Table:
    """A small table of rounded numbers (or token texts) as the UI shows it."""

    rows: list[str]  # row labels
    columns: list[str]  # column labels
    data: list[list]  # data[i][j]: a float, an int, a str, or None for −∞ (a masked score)

    def to_dict(self) -> dict:
        return {"rows": self.rows, "columns": self.columns, "data": self.data}


@dataclass(frozen=True)
class Step:
    """One step of the forward pass."""

    name: str  # what is computed ("block 0: attention weights")
    explain: str  # two sentences, with this model's own numbers
    shape: list[int]  # the shape of what this step computed for the chosen position
    values: Table  # a few of its numbers, rounded
    tensor: torch.Tensor = field(repr=False, compare=False)  # all of them

    def to_dict(self) -> dict:
        return {"name": self.name, "explain": self.explain, "shape": self.shape, "values": self.values.to_dict()}


@dataclass(frozen=True)
class Walkthrough:
    """A forward pass for one position of a context, step by step."""

    kind: str  # "gpt", "mlp" or "bigram"
    tokens: list[str]  # the whole context's tokens, as text
    position: int  # the walk predicts the token after tokens[position]
    start: int  # the first token of the window the model reads (see ``window``)
    steps: list[Step]
    next_tokens: list[dict]  # [{token, id, prob}], likeliest first, as /predict returns them

    @property
    def probs(self) -> torch.Tensor:
        """(vocab_size,) the last step's probabilities of the next token."""
        return self.steps[-1].tensor

    def to_dict(self) -> dict:
        """The JSON ``/walkthrough`` returns."""
        return {"steps": [s.to_dict() for s in self.steps], "next_tokens": self.next_tokens}


def window(n_tokens: int, position: int, block_size: int) -> tuple[int, int]:
    """(start, end): the tokens the model reads to predict the token after ``position``.

    At most ``block_size`` tokens that include ``position``; a GPT computes every position of the
    window at once (later ones are masked), the MLP and the bigram read the tokens ending there.

    >>> window(100, 99, 64), window(100, 10, 64), window(5, 3, 1)
    ((36, 100), (0, 64), (3, 4))
    """
    start = max(0, position + 1 - block_size)
    return start, min(n_tokens, start + block_size)


@torch.no_grad()
def walkthrough(model, tokenizer, text: str, position: int | None = None, top: int = TOP) -> Walkthrough:
    """The forward pass of ``model`` on ``text``, step by step, for the token after ``position``.

    ``position`` counts tokens of the context from 0 (negative from the end); None is the last
    token, whose next token is what ``/predict`` shows. An empty text starts at a line break.
    Raises ValueError for a context that is too long or a position outside it, and
    ``UnknownTokenError`` (a ValueError) for pieces the vocabulary lacks.
    """
    if not isinstance(text, str):
        raise ValueError(f"the context must be text, got {type(text).__name__}")
    if len(text) > MAX_CONTEXT_CHARS:
        raise ValueError(f"the context has {len(text):,} characters; the walkthrough reads at most "
                         f"{MAX_CONTEXT_CHARS:,}, so shorten it")
    ids = prompt_ids(tokenizer, text)
    n = len(ids)
    if position is None:
        position = n - 1
    if isinstance(position, bool) or not isinstance(position, int) or not -n <= position < n:
        raise ValueError(f"the context has {n} tokens, so the position must be a whole number from 0 to {n - 1} "
                         f"(or -1 for the last), got {position!r}")
    position %= n
    start, end = window(n, position, model.block_size)
    idx = torch.tensor([ids[start:end]])  # (1, T)
    kind = model_kind(model)
    was_training = model.training
    model.eval()  # dropout off: the numbers of an inference
    try:
        steps = STEPS[kind](model, _Names(tokenizer), idx, position - start)
    finally:
        model.train(was_training)
    probs = steps[-1].tensor
    best = top_text_tokens(probs, tokenizer, top)  # as /predict: text tokens only
    next_tokens = [{"token": tokenizer.decode([i]), "id": i, "prob": p}
                   for i, p in zip(best.indices.tolist(), best.values.tolist())]
    return Walkthrough(kind, [tokenizer.decode([i]) for i in ids], position, start, steps, next_tokens)


# ---------------------------------------------------------------------------------------------
# Small tables and labels


class _Names:
    """Token ids as short visible labels ("·" a space, "↵" a line break), decoded once each."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.vocab_size = tokenizer.vocab_size
        self.cache: dict[int, str] = {}

    def __call__(self, i: int) -> str:
        i = int(i)
        if i not in self.cache:
            blank = i >= self.vocab_size  # the MLP's "before the start" token
            self.cache[i] = "∅ blank" if blank else show_whitespace(self.tokenizer.decode([i])) or "∅"
        return self.cache[i]


def _round(x, digits: int = 3):
    x = float(x)
    return None if math.isinf(x) and x < 0 else round(x, digits)


def _vectors(rows: dict[str, torch.Tensor], width: int = SHOWN_NUMBERS) -> Table:
    """Named vectors as the rows of one table: their first ``width`` numbers."""
    n = min(width, min(v.numel() for v in rows.values()))
    return Table(list(rows), [str(j) for j in range(n)], [[_round(x) for x in v[:n].tolist()] for v in rows.values()])


def _columns(rows: dict[str, torch.Tensor], columns: list[int], labels: list[str], digits: int = 3) -> Table:
    """The chosen columns of some vectors (units, tokens, positions), labelled."""
    return Table(list(rows), labels, [[_round(v[j], digits) for j in columns] for v in rows.values()])


def _top(values: torch.Tensor, name: str, names: _Names, k: int = TOP, digits: int = 3) -> Table:
    """The ``k`` largest of ``values`` over the vocabulary, labelled with their tokens."""
    order = torch.topk(values, min(k, values.numel())).indices.tolist()
    return _columns({name: values}, order, [names(i) for i in order], digits)


def _stats(v: torch.Tensor) -> str:
    return f"mean {float(v.mean()):.2f}, spread {float(v.std(unbiased=False)):.2f}"


def _shown_positions(p: int, T: int, width: int = SHOWN_POSITIONS) -> list[int]:
    """Up to ``width`` positions around ``p``: the ones before it, itself, and up to 4 after it.

    >>> _shown_positions(63, 64)[0], _shown_positions(2, 64)[-1]
    (48, 15)
    """
    after = min(4, T - 1 - p)
    lo = max(0, p + 1 + after - width)
    return list(range(lo, min(T, lo + width)))


def _softmax_steps(logits: torch.Tensor, names: _Names, read_by: str) -> list[Step]:
    """The last two steps of every model: the logits of the vocabulary, and softmax."""
    V = logits.numel()
    best = int(logits.argmax())
    probs = F.softmax(logits.float(), dim=-1)  # (V,)
    top = torch.topk(probs, min(TOP, V))
    return [
        Step("logits",
             f"{read_by} gives each of the {V} tokens of the vocabulary a score, a logit. '{names(best)}' scores "
             f"highest ({float(logits[best]):.2f}); the lowest score is {float(logits.min()):.2f}.",
             [V], _top(logits, "logit", names), logits),
        Step("probabilities (softmax)",
             f"Softmax exponentiates the {V} logits and divides by their sum, so they are positive and add up to 1. "
             f"The model gives '{names(best)}' {float(probs[best]):.1%}, and its {len(top.indices)} likeliest "
             f"tokens {float(top.values.sum()):.1%} together.",
             [V], _top(probs, "probability", names, digits=4), probs),
    ]


# ---------------------------------------------------------------------------------------------
# The bigram: a row of the table


def bigram_steps(model, names: _Names, idx: torch.Tensor, p: int) -> list[Step]:
    token = int(idx[0, p])
    logits = model.logits[idx][0, p]  # (V,): row `token` of the table, as forward reads it
    V = logits.numel()
    return [
        Step("tokens",
             f"A bigram model reads only the current token: '{names(token)}', id {token}. Whatever came before it "
             f"makes no difference to the guess.",
             [1], Table(["token", "id"], [str(p)], [[names(token)], [token]]), idx[0, p:p + 1]),
        *_softmax_steps(logits, names, f"Row {token} of the model's one table ({V} × {V} logits)"),
    ]


# ---------------------------------------------------------------------------------------------
# The MLP (Bengio et al. 2003): a window of embeddings, concatenated, through tanh layers


def mlp_steps(model, names: _Names, idx: torch.Tensor, p: int) -> list[Step]:
    k, E, V = model.block_size, model.config.n_embd, model.config.vocab_size
    context = model.contexts(idx)[0, p]  # (k,) the ids the model reads; V is the blank token
    slots = [str(j - k) for j in range(k)]  # -k .. -1: how far back each slot is
    blanks = int((context == V).sum())
    if blanks == 1:
        before = f"The first slot lies before the start of the text and holds the blank token (id {V})."
    elif blanks:
        before = f"The first {blanks} slots lie before the start of the text and hold the blank token (id {V})."
    else:
        before = "Anything earlier makes no difference to the guess."
    steps = [Step("tokens",
                  f"To guess the next token the MLP reads a fixed window of the last {k} tokens, ending at "
                  f"'{names(context[-1])}'. {before}",
                  [k], Table(["token", "id"], slots, [[names(i) for i in context.tolist()], context.tolist()]),
                  context)]

    emb = model.wte(context)  # (k, E)
    rows = {f"{s}: {names(i)}": e for s, i, e in zip(slots, context.tolist(), emb)}
    steps.append(Step("embeddings",
                      f"Each token is looked up in the embedding table wte ({V + 1} × {E}): its one-hot vector times "
                      f"wte picks its row of {E} numbers. The same token gets the same row in any slot.",
                      [k, E], _vectors(rows), emb))

    x = emb.view(-1)  # (k * E,) as forward's .view(B, T, -1)
    steps.append(Step("concatenation",
                      f"The {k} rows are laid end to end into one vector of {k} × {E} = {k * E} numbers. Unlike "
                      f"attention, the slot decides which weights read a token: numbers 0 to {E - 1} always come "
                      f"from the oldest slot.",
                      [k * E], _vectors({"x": x}), x))

    for i, layer in enumerate(model.h):
        pre = layer(x)  # (n_hidden,) W x + b
        x = torch.tanh(pre)  # the model's nonlinearity (MLP.hidden)
        active = torch.topk(x.abs(), min(SHOWN_UNITS, x.numel())).indices.tolist()
        saturated = int((x.abs() > 0.97).sum())
        steps.append(Step(f"hidden layer h.{i} and tanh",
                          f"h.{i} ({layer.in_features} → {layer.out_features}) multiplies by a weight matrix and adds "
                          f"a bias, then tanh squashes each unit into −1..1. {saturated} of the {x.numel()} units are "
                          f"saturated (|tanh| > 0.97); the table shows the {len(active)} strongest.",
                          [x.numel()], _columns({f"h.{i}(x)": pre, "tanh": x}, active, [f"unit {u}" for u in active]),
                          x))
    return steps + _softmax_steps(model.lm_head(x), names, f"lm_head ({x.numel()} → {V})")


# ---------------------------------------------------------------------------------------------
# The GPT: embeddings, then blocks of attention and feed-forward on the residual stream


def _layer_norm_step(name: str, ln, x: torch.Tensor, p: int, weights: str) -> Step:
    out = ln(x)  # (T, C)
    return Step(name,
                f"LayerNorm shifts and scales the {x.size(-1)} numbers of position {p} to mean 0 and spread 1 (they "
                f"had {_stats(x[p])}), then multiplies by {weights}.weight and adds {weights}.bias. Normalising first "
                f"keeps the numbers the next layer reads in the range it learned.",
                [x.size(-1)], _vectors({"in": x[p], "out": out[p]}), out)


def _heads(rows: torch.Tensor, shown: list[int], labels: list[str]) -> Table:
    """One row per head of an (n_head, T) tensor, at the positions shown."""
    return _columns({f"head {h}": row for h, row in enumerate(rows)}, shown, labels)


def gpt_steps(model, names: _Names, idx: torch.Tensor, p: int) -> list[Step]:
    tr = model.transformer
    T, C, V = idx.size(1), model.config.n_embd, model.config.vocab_size
    ids = idx[0].tolist()
    token = ids[p]
    shown = _shown_positions(p, T)  # the table columns of per-position steps
    labels = [f"{j}: {names(ids[j])}" for j in shown]
    steps = [Step("tokens",
                  f"The GPT reads the {T} tokens of the context at once, one position each. This walk follows "
                  f"position {p}, '{names(token)}' (id {token}), to the model's guess for the token after it.",
                  [T], Table(["token", "id"], [str(j) for j in shown], [[names(ids[j]) for j in shown],
                                                                         [ids[j] for j in shown]]), idx[0])]

    tok_emb = tr.wte(idx)[0]  # (T, C)
    steps.append(Step("token embedding",
                      f"Token id {token} as a one-hot vector ({V} numbers, all 0 but a 1 at {token}) times wte "
                      f"({V} × {C}) picks row {token} of wte. These {C} numbers are all the model knows about "
                      f"'{names(token)}' before it reads the context.",
                      [C], _vectors({f"wte[{token}]": tok_emb[p]}), tok_emb[p]))
    pos_emb = tr.wpe(torch.arange(T))  # (T, C)
    x = tr.drop(tok_emb + pos_emb)  # (T, C) the residual stream
    steps.append(Step("position embedding",
                      f"Attention cannot tell positions apart by itself, so row {p} of wpe ({model.block_size} × {C}, "
                      f"one row per position) is added. The sum, size {float(x[p].norm()):.2f}, is the residual "
                      f"stream: every block reads it and adds to it.",
                      [C], _vectors({f"wte[{token}]": tok_emb[p], f"wpe[{p}]": pos_emb[p], "x": x[p]}), x))

    for b, block in enumerate(tr.h):
        attn, name = block.attn, f"block {b}"
        nh, hs = attn.n_head, C // attn.n_head
        steps.append(_layer_norm_step(f"{name}: LayerNorm ln_1", block.ln_1, x, p, f"h.{b}.ln_1"))
        q, k, v = attn.c_attn(steps[-1].tensor).split(C, dim=-1)  # each (T, C)
        q, k, v = (t.view(T, nh, hs).transpose(0, 1) for t in (q, k, v))  # each (nh, T, hs)
        steps.append(Step(f"{name}: query, key, value",
                          f"c_attn ({C} → {3 * C}) turns each position's vector into a query, a key and a value of "
                          f"{C} numbers, cut into {nh} heads of {hs}. The query says what position {p} looks for, a "
                          f"key what a position offers, a value what it passes on.",
                          [3, nh, hs], _vectors({"q (head 0)": q[0, p], "k (head 0)": k[0, p], "v (head 0)": v[0, p]}),
                          torch.stack([q[:, p], k[:, p], v[:, p]])))

        scores = (k @ q[:, p, :, None])[..., 0] / math.sqrt(hs)  # (nh, T): q·k for every key
        head, best = divmod(int(scores[:, :p + 1].argmax()), T)
        steps.append(Step(f"{name}: attention scores",
                          f"Each head compares position {p}'s query with every position's key: their dot product "
                          f"divided by √{hs} = {math.sqrt(hs):.2f}. The highest score up to position {p} is head "
                          f"{head}'s for '{names(ids[best])}' (position {best}), {float(scores[head, best]):.2f}.",
                          [nh, T], _heads(scores, shown, labels), scores))

        masked = scores.masked_fill(torch.arange(T) > p, float("-inf"))  # (nh, T)
        later = T - 1 - p
        if later:
            explain = (f"Position {p} may not read the {later} position{'s' if later > 1 else ''} after it: in "
                       f"training that would show it the answer. Their scores become −∞, which softmax turns into "
                       f"a weight of 0.")
        else:
            explain = (f"A position may read itself and earlier positions only: later scores become −∞, which "
                       f"softmax turns into a weight of 0. Position {p} is the last one, so here nothing is hidden.")
        steps.append(Step(f"{name}: causal mask", explain, [nh, T], _heads(masked, shown, labels), masked))

        weights = F.softmax(masked, dim=-1)  # (nh, T)
        head, best = divmod(int(weights.argmax()), T)
        steps.append(Step(f"{name}: attention weights (softmax)",
                          f"Softmax turns each head's scores into weights that add up to 1. Head {head} reads "
                          f"'{names(ids[best])}' (position {best}) most, with weight {float(weights[head, best]):.2f}.",
                          [nh, T], _heads(weights, shown, labels), weights))

        y = reference_attention(q[None], k[None], v[None])[0]  # (nh, T, hs), every position as forward does
        y = y.transpose(0, 1).reshape(T, C)  # re-assemble the heads: (T, C)
        steps.append(Step(f"{name}: weighted sum of values",
                          f"Each head adds up the value vectors of the positions it reads, weighted by those numbers: "
                          f"{nh} vectors of {hs}. Side by side they make {C} numbers again, what position {p} "
                          f"gathered from its context.",
                          [nh, hs], _vectors({f"head {h}": y[p, h * hs:(h + 1) * hs] for h in range(nh)}),
                          y[p].view(nh, hs)))

        a = attn.c_proj(y)  # (T, C)
        steps.append(Step(f"{name}: output projection c_proj",
                          f"c_proj ({C} × {C}) mixes what the {nh} heads found into one vector of {C} numbers. Its "
                          f"size is {float(a[p].norm()):.2f}, against the residual stream's {float(x[p].norm()):.2f}.",
                          [C], _vectors({"heads": y[p], "c_proj": a[p]}), a))

        new_x = x + a  # x = x + attn(ln_1(x))
        steps.append(Step(f"{name}: residual add (attention)",
                          f"The block adds attention's result to the residual stream instead of replacing it: "
                          f"x + attn(ln_1(x)). The stream's size goes from {float(x[p].norm()):.2f} to "
                          f"{float(new_x[p].norm()):.2f}.",
                          [C], _vectors({"x": x[p], "attention": a[p], "x + attention": new_x[p]}), new_x))
        x = new_x

        steps.append(_layer_norm_step(f"{name}: LayerNorm ln_2", block.ln_2, x, p, f"h.{b}.ln_2"))
        u = block.mlp.c_fc(steps[-1].tensor)  # (T, 4C)
        g = block.mlp.act(u)  # (T, 4C)
        active = torch.topk(g[p], min(SHOWN_UNITS, g.size(-1))).indices.tolist()
        steps.append(Step(f"{name}: feed-forward, widen and GELU",
                          f"c_fc widens the {C} numbers to {u.size(-1)} hidden units, and GELU lets positive values "
                          f"through and squashes negative ones towards 0. {int((g[p] > 0).sum())} of the "
                          f"{u.size(-1)} units are positive here; the most active is unit {active[0]}, at "
                          f"{float(g[p, active[0]]):.2f}.",
                          [u.size(-1)], _columns({"c_fc": u[p], "GELU": g[p]}, active, [f"unit {i}" for i in active]),
                          g[p]))
        m = block.mlp.c_proj(g)  # (T, C)
        steps.append(Step(f"{name}: feed-forward, project back",
                          f"c_proj ({u.size(-1)} → {C}) maps the hidden units back to the width of the residual "
                          f"stream. Each position does this alone: attention moved information between positions, "
                          f"the feed-forward computes on it.",
                          [C], _vectors({"feed-forward": m[p]}), m))
        new_x = x + m  # x = x + mlp(ln_2(x))
        steps.append(Step(f"{name}: residual add (feed-forward)",
                          f"Again the result is added to the stream: x + mlp(ln_2(x)). Its size goes from "
                          f"{float(x[p].norm()):.2f} to {float(new_x[p].norm()):.2f}.",
                          [C], _vectors({"x": x[p], "feed-forward": m[p], "x + feed-forward": new_x[p]}), new_x))
        x = new_x

    steps.append(_layer_norm_step("final LayerNorm ln_f", tr.ln_f, x, p, "ln_f"))
    tied = model.lm_head.weight is tr.wte.weight
    reader = f"lm_head ({C} → {V})" + (", the dot product with each token's row of wte (the same matrix: weight "
                                        "tying)," if tied else "")
    return steps + _softmax_steps(model.lm_head(steps[-1].tensor)[p], names, reader)


STEPS = {"bigram": bigram_steps, "mlp": mlp_steps, "gpt": gpt_steps}  # one walk per kind of model
