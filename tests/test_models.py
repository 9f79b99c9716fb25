"""Models: the shared contract, an honest first loss, causality, the fast paths and learning."""

import math

import pytest
import torch
import torch.nn.functional as F

from tinylm.models import KVCache, bigram_from_counts, build_model, count_params, make_config, model_kind
from tinylm.models.gpt import reference_attention

VOCAB = 11
TINY = {  # small enough that every test here runs in a fraction of a second
    "bigram": dict(vocab_size=VOCAB),
    "mlp": dict(vocab_size=VOCAB, block_size=3, n_embd=8, n_hidden=32),
    "gpt": dict(vocab_size=VOCAB, block_size=16, n_layer=2, n_head=2, n_embd=16),
}
KINDS = tuple(TINY)


def tiny_model(kind: str, seed: int = 0, random_table: bool = False):
    """A freshly initialised model; ``random_table`` gives the bigram (all zeros at first) opinions."""
    torch.manual_seed(seed)
    model = build_model(kind, **TINY[kind]).eval()
    if random_table and kind == "bigram":
        with torch.no_grad():
            model.logits.normal_()
    return model


def random_ids(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


# --- the contract ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_logits_shape_and_no_loss_without_targets(kind):
    model = tiny_model(kind)
    logits, loss = model(random_ids(3, 7))
    assert logits.shape == (3, 7, VOCAB)
    assert loss is None
    assert model_kind(model) == kind
    assert count_params(model) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("kind", KINDS)
def test_logits_are_the_head_of_the_hidden_state(kind):
    """The contract the weight editor and the forward-pass walk-through build on."""
    model = tiny_model(kind, random_table=True)
    idx = random_ids(2, 5)
    hidden = model.hidden(idx)
    assert hidden.shape[:2] == (2, 5)
    assert torch.allclose(model.lm_head(hidden), model(idx)[0], atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_every_weight_says_what_its_axes_count(kind):
    """weight_axes: one word per axis of every weight, and exactly one output layer (a "next" axis)."""
    model = tiny_model(kind)
    words = {"token", "next", "embd", "input", "neuron", "channel", "position", "qkv", "head"}
    for name, tensor in model.state_dict().items():
        axes = model.weight_axes(name)
        assert len(axes) == tensor.dim() and set(axes) <= words, name
    outputs = [n for n in model.state_dict() if "next" in model.weight_axes(n) and model.get_parameter(n).dim() == 2]
    assert outputs == [{"bigram": "logits"}.get(kind, "lm_head.weight")]


@pytest.mark.parametrize("kind", KINDS)
def test_only_the_mlp_has_a_blank_token_and_it_reads_it_before_the_start(kind):
    model = tiny_model(kind)
    if kind != "mlp":
        assert model.blank is None
        return
    assert model.blank == VOCAB  # wte's extra row
    padded = torch.tensor([[model.blank, model.blank, 3]])
    assert torch.allclose(model.hidden(torch.tensor([[3]]))[:, -1], model.hidden(padded)[:, -1], atol=1e-6)


def test_gpt_last_mlp_activations_lead_to_the_logits():
    """What the weight editor's imprint reads (the last c_proj's input) sits on the real forward pass."""
    model = tiny_model("gpt")
    idx = random_ids(2, 9)
    act, x = model.last_mlp_activations(idx)
    assert act.shape == (2, 9, 4 * 16) and x.shape == (2, 9, 16)
    assert torch.allclose(model.lm_head(model.transformer.ln_f(x)), model(idx)[0], atol=1e-6)
    block = model.transformer.h[-1]
    before_mlp = x - block.mlp.c_proj(act)  # the stream the last MLP read: its output is c_proj(act)
    assert torch.allclose(block.mlp(block.ln_2(before_mlp)), block.mlp.c_proj(act), atol=1e-5)


def test_bigram_from_counts_is_the_counting_model():
    ids = torch.tensor([1, 2, 1, 2, 1, 3])
    model = bigram_from_counts(ids, VOCAB, smoothing=0.5)
    probs = torch.softmax(model(torch.tensor([[1]]))[0][0, -1], dim=-1)
    assert float(probs[2]) == pytest.approx((2 + 0.5) / (3 + 0.5 * VOCAB))  # 1 -> 2 twice, 1 -> 3 once
    for bad in (0, -1.0, float("nan"), float("inf"), "1"):
        with pytest.raises(ValueError, match="smoothing must be more than 0"):
            bigram_from_counts(ids, VOCAB, smoothing=bad)
    with pytest.raises(ValueError, match="two tokens"):
        bigram_from_counts(ids[:1], VOCAB)


@pytest.mark.parametrize("kind", KINDS)
def test_initial_loss_is_about_ln_vocab(kind):
    model = tiny_model(kind)
    _, loss = model(random_ids(8, 12, seed=1), random_ids(8, 12, seed=2))
    if kind == "bigram":  # an all-zero table: every next token exactly equally likely
        assert loss.item() == pytest.approx(math.log(VOCAB), abs=1e-6)
    else:
        assert abs(loss.item() - math.log(VOCAB)) < 0.3


@pytest.mark.parametrize("kind", KINDS)
def test_targets_of_minus_one_are_ignored(kind):
    model = tiny_model(kind, random_table=True)
    x, y = random_ids(2, 10, seed=1), random_ids(2, 10, seed=2)
    masked = y.clone()
    masked[:, :4] = -1  # e.g. padding, or the prompt of a chat example
    _, loss = model(x, masked)
    # the loss is the mean over the other positions only, whatever the masked targets were
    logits, _ = model(x)
    expected = torch.nn.functional.cross_entropy(logits[:, 4:].reshape(-1, VOCAB), y[:, 4:].reshape(-1))
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)
    assert loss.item() != pytest.approx(model(x, y)[1].item(), abs=1e-6)


def test_make_config_rejects_unknown_fields_by_name():
    with pytest.raises(ValueError, match="GPTConfig has no field 'n_heads'"):
        make_config("gpt", vocab_size=5, n_heads=2)
    with pytest.raises(ValueError, match="MLPConfig has no field 'colour'"):
        make_config("mlp", colour="blue")
    with pytest.raises(ValueError, match="unknown model kind 'rnn'"):
        make_config("rnn")
    assert make_config("gpt", vocab_size=5, n_layer=1).n_layer == 1


def test_build_model_rejects_an_unknown_kind_by_name():
    with pytest.raises(ValueError, match="unknown model kind 'rnn'; choose one of bigram, mlp, gpt"):
        build_model("rnn", vocab_size=5)


def test_gpt_refuses_a_sequence_longer_than_its_block():
    model = tiny_model("gpt")
    with pytest.raises(ValueError, match="longer than block_size 16"):
        model(random_ids(1, 17))


def test_gpt_ties_the_embedding_and_the_head():
    model = tiny_model("gpt")
    assert model.lm_head.weight is model.transformer.wte.weight
    keys = set(model.state_dict())
    assert {"transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight",
            "transformer.ln_f.weight", "lm_head.weight"} <= keys  # GPT-2's parameter names


# --- causality ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mlp", "gpt", "bigram"])
def test_future_tokens_do_not_change_past_logits(kind):
    model = tiny_model(kind, random_table=True)
    x = random_ids(1, 12, seed=3)
    logits, _ = model(x)
    for t in range(11):
        changed = x.clone()
        changed[0, t + 1:] = (changed[0, t + 1:] + 1) % VOCAB  # change every token after t
        new_logits, _ = model(changed)
        torch.testing.assert_close(new_logits[0, :t + 1], logits[0, :t + 1], rtol=0, atol=1e-6)
        assert not torch.allclose(new_logits[0, t + 1], logits[0, t + 1])  # ...but the future does move


def test_mlp_sees_exactly_block_size_tokens():
    model = tiny_model("mlp")  # block_size 3: position 5 reads tokens 3, 4, 5
    x = random_ids(1, 8, seed=4)
    logits, _ = model(x)
    changed = x.clone()
    changed[0, :3] = (changed[0, :3] + 1) % VOCAB
    torch.testing.assert_close(model(changed)[0][0, 5:], logits[0, 5:], rtol=0, atol=1e-6)
    changed[0, 3] = (changed[0, 3] + 1) % VOCAB
    assert not torch.allclose(model(changed)[0][0, 5], logits[0, 5])


# --- the GPT's fast paths agree with the plain ones -----------------------------------------


def test_fast_attention_matches_the_reference():
    model = tiny_model("gpt")
    x = random_ids(3, 16, seed=5)
    fast, _ = model(x)
    model.set_fast_attention(False)
    reference, _ = model(x)
    torch.testing.assert_close(fast, reference, rtol=0, atol=1e-5)


def test_under_bf16_autocast_a_cpu_attends_in_fp32(monkeypatch):
    """bf16 autocast on a CPU: the matrix products in bf16, the fused attention in fp32 (PyTorch's CPU
    flash kernel is slower in bf16, bench/bench_step.py); the logits stay within bf16's rounding of fp32's."""
    model = tiny_model("gpt")
    x = random_ids(3, 16, seed=5)
    exact, _ = model(x)
    seen = []  # the dtype of every query that reaches the fused attention
    sdpa = F.scaled_dot_product_attention
    monkeypatch.setattr(F, "scaled_dot_product_attention", lambda q, k, v, **kw: seen.append(q.dtype) or sdpa(q, k, v, **kw))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed, _ = model(x)
    assert seen == [torch.float32] * len(model.transformer.h)
    torch.testing.assert_close(mixed.float(), exact, rtol=0, atol=0.05)
    for block in model.transformer.h:  # the switch bench/bench_step.py times: attention in bf16 too
        block.attn.fp32_on_cpu = False
    seen.clear()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model(x)
    assert set(seen) == {torch.bfloat16}


def test_reference_attention_with_a_shorter_query_sees_the_past():
    # the last 3 queries against 7 keys give the last 3 rows of full causal attention
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 2, 7, 4, generator=g) for _ in range(3))
    full = reference_attention(q, k, v)
    torch.testing.assert_close(reference_attention(q[:, :, -3:], k, v), full[:, :, -3:])


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("chunk", [1, 3])
def test_kv_cache_matches_a_full_forward(fast, chunk):
    model = tiny_model("gpt")
    model.set_fast_attention(fast)
    x = random_ids(2, 16, seed=6)
    full, _ = model(x)
    cache = KVCache(len(model.transformer.h))
    pieces = [model(x[:, :4], cache=cache)[0]]  # the prompt, then `chunk` tokens at a time
    for start in range(4, 16, chunk):
        pieces.append(model(x[:, start:start + chunk], cache=cache)[0])
    assert cache.length == 16
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="longer than block_size"):
        model(x[:, :1], cache=cache)


# --- the MLP's fast first layer agrees with the plain one --------------------------------------


@pytest.mark.parametrize("n_layer", [1, 2])
def test_mlp_fast_first_layer_matches_the_readable_one(n_layer):
    torch.manual_seed(0)
    model = build_model("mlp", **{**TINY["mlp"], "n_layer": n_layer}).eval()
    x = random_ids(3, 16, seed=7)  # 48 positions > 12 table rows: the fast path
    used = []
    model.first_layer_fast = lambda ctx, f=model.first_layer_fast: used.append(1) or f(ctx)
    fast, _ = model(x)
    model.fast = False
    readable, _ = model(x)
    assert used == [1]
    torch.testing.assert_close(fast, readable, rtol=0, atol=1e-5)
    assert torch.equal(fast.argmax(-1), readable.argmax(-1))  # the same greedy choices


def test_mlp_fast_first_layer_gives_the_same_gradients():
    grads = []
    for fast in (True, False):
        torch.manual_seed(0)
        model = build_model("mlp", **TINY["mlp"]).train()  # no dropout: the fast path trains too
        model.fast = fast
        _, loss = model(random_ids(3, 16, seed=7), random_ids(3, 16, seed=8))
        loss.backward()
        grads.append({name: p.grad for name, p in model.named_parameters()})
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=0, atol=1e-6, msg=name)


def test_mlp_token_dropout_forgets_context_only_while_training():
    torch.manual_seed(0)
    model = build_model("mlp", **{**TINY["mlp"], "token_dropout": 1.0})  # forget every token
    x = random_ids(2, 16, seed=9)
    model.train()
    forgot, _ = model(x)  # every position sees only blanks: one distribution everywhere
    torch.testing.assert_close(forgot, forgot[:1, :1].expand_as(forgot))
    model.eval()
    remembered, _ = model(x)
    assert not torch.allclose(remembered[0, 0], remembered[0, 5])
    model.config.token_dropout = 0.0
    torch.testing.assert_close(model(x)[0], remembered, rtol=0, atol=0)  # eval: no dropout at all


def test_gpt_activation_exact_by_default_and_gpt2_tanh_on_request():
    exact = tiny_model("gpt")
    torch.manual_seed(0)
    tanh = build_model("gpt", **TINY["gpt"], activation="gelu_tanh").eval()
    assert exact.config.activation == "gelu"
    x = random_ids(2, 16, seed=10)
    diff = (exact(x)[0] - tanh(x)[0]).abs().max().item()
    assert 0 < diff < 1e-3  # the same weights: the two GELUs differ a little, not much
    with pytest.raises(ValueError, match="unknown activation 'relu'"):
        build_model("gpt", **TINY["gpt"], activation="relu")


# --- every model can learn ------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_tiny_model_overfits_a_tiny_batch(kind):
    # windows of a fixed cycle through the vocabulary: the next token is a function of the
    # current one, so even the bigram can drive the loss to zero
    cycle = torch.randperm(VOCAB, generator=torch.Generator().manual_seed(0)).repeat(3)  # (33,)
    starts = (0, 3, 7, 9)
    x = torch.stack([cycle[s:s + 12] for s in starts])  # (4, 12)
    y = torch.stack([cycle[s + 1:s + 13] for s in starts])
    model = tiny_model(kind).train()
    lr = 0.5 if kind == "bigram" else 1e-2  # the bigram table: one weight per pair, a big step
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    for _ in range(100):
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.1
    assert (model(x)[0].argmax(-1) == y).all()
