"""The forward pass step by step (tinylm.walkthrough): its last step is the model's own forward
pass, for every kind of model and any position; an edited weight shows up; the steps are the
ones the issue lists, with numbers that explain each other."""

import json
import string

import pytest
import torch
import torch.nn.functional as F

from tinylm.models import build_model
from tinylm.pretrained import list_pretrained, load_pretrained
from tinylm.sample import UnknownTokenError, next_token_probs, prompt_ids, top_next_tokens
from tinylm.tokenizer import CharTokenizer
from tinylm.walkthrough import walkthrough

TOKENIZER = CharTokenizer.from_corpus(string.ascii_lowercase + " .\n")
CONFIGS = {
    "bigram": dict(),
    "mlp": dict(block_size=4, n_embd=8, n_hidden=24, n_layer=2),
    "gpt": dict(block_size=12, n_layer=2, n_head=2, n_embd=16),
}
TEXT = "the cat sat on the mat. the dog"  # 31 characters: longer than the GPT's 12 positions


def tiny(kind: str):
    torch.manual_seed(0)
    model = build_model(kind, vocab_size=TOKENIZER.vocab_size, **CONFIGS[kind])
    with torch.no_grad():  # an untrained bigram is all zeros: give every model numbers to show
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape))
    return model


def forward_probs(model, ids: list[int], position: int) -> torch.Tensor:
    """What ``model.forward`` says about the token after ``position``, reading its window."""
    start = max(0, position + 1 - model.block_size)
    logits, _ = model(torch.tensor([ids[start:start + model.block_size]]))
    return F.softmax(logits[0, position - start], dim=-1)


@pytest.mark.parametrize("kind", ["bigram", "mlp", "gpt"])
@pytest.mark.parametrize("position", [None, 0, 5, 20])
def test_the_last_step_is_the_models_forward_pass(kind, position):
    model = tiny(kind).eval()
    walk = walkthrough(model, TOKENIZER, TEXT, position)
    ids = prompt_ids(TOKENIZER, TEXT)
    at = len(ids) - 1 if position is None else position
    assert walk.position == at and walk.kind == kind
    with torch.no_grad():
        assert torch.allclose(walk.probs, forward_probs(model, ids, at), atol=1e-5, rtol=0)
        if position is None:  # the last position: what /predict reads
            assert torch.allclose(walk.probs, next_token_probs(model, ids), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", list_pretrained())
def test_shipped_models_agree_with_predict(name):
    ckpt = load_pretrained(name)
    text = {"names-mlp": "em", "phrases-pt-mlp": "eu gosto de", "alphabet-gpt": "KLM"}.get(name, "ROMEO: hello")
    walk = walkthrough(ckpt.model, ckpt.tokenizer, text)
    assert torch.allclose(walk.probs, next_token_probs(ckpt.model, prompt_ids(ckpt.tokenizer, text)), atol=1e-5, rtol=0)
    predicted = top_next_tokens(ckpt.model, ckpt.tokenizer, text, k=10)
    assert [t["id"] for t in walk.next_tokens] == [t.id for t in predicted]  # sorted like /predict
    assert [t["token"] for t in walk.next_tokens] == [t.token for t in predicted]
    assert [t["prob"] for t in walk.next_tokens] == pytest.approx([t.prob for t in predicted], abs=1e-5)


@pytest.mark.parametrize("kind", ["bigram", "mlp", "gpt"])
def test_an_edited_weight_shows_up_at_once(kind):
    model = tiny(kind).eval()
    before = walkthrough(model, TOKENIZER, "the ca")
    target = TOKENIZER.token_to_id("z")
    with torch.no_grad():  # make "z" the likeliest next token, as the Weights tab would
        if kind == "bigram":
            model.logits[TOKENIZER.token_to_id("a"), target] += 20.0  # the row of the last token, "a"
        else:  # lm_head's row for "z" turned towards the vector lm_head reads: its logit grows by 30
            h = before.steps[-3].tensor  # the last hidden vector (MLP) or ln_f's output at every position (GPT)
            h = h[before.position - before.start] if h.dim() == 2 else h
            model.lm_head.weight[target] += 30.0 * h / h.dot(h)
    after = walkthrough(model, TOKENIZER, "the ca")
    assert before.next_tokens[0]["token"] != "z" and after.next_tokens[0]["token"] == "z"
    with torch.no_grad():
        assert torch.allclose(after.probs, next_token_probs(model, prompt_ids(TOKENIZER, "the ca")), atol=1e-5, rtol=0)


def test_gpt_steps_follow_the_forward_pass():
    model = tiny("gpt").eval()
    walk = walkthrough(model, TOKENIZER, "the cat", position=3)
    names = [s.name for s in walk.steps]
    per_block = ["LayerNorm ln_1", "query, key, value", "attention scores", "causal mask",
                 "attention weights (softmax)", "weighted sum of values", "output projection c_proj",
                 "residual add (attention)", "LayerNorm ln_2", "feed-forward, widen and GELU",
                 "feed-forward, project back", "residual add (feed-forward)"]
    assert names == ["tokens", "token embedding", "position embedding",
                     *[f"block {b}: {s}" for b in range(2) for s in per_block],
                     "final LayerNorm ln_f", "logits", "probabilities (softmax)"]
    step = {s.name: s for s in walk.steps}
    space = TOKENIZER.token_to_id(" ")  # position 3 of "the cat" is the space
    assert torch.equal(step["token embedding"].tensor, model.transformer.wte.weight[space])
    assert step["token embedding"].shape == [16] and f"row {space}" in step["token embedding"].explain
    # masked: the 3 positions after position 3 get −∞ (None in the table) and weight 0
    mask = step["block 0: causal mask"]
    assert [row[4:] for row in mask.values.data] == [[None] * 3] * 2 and "3 positions after it" in mask.explain
    weights = step["block 0: attention weights (softmax)"].tensor  # (n_head, T)
    assert torch.allclose(weights.sum(-1), torch.ones(2)) and not weights[:, 4:].any()
    # the weighted sum shown is the weights shown times every position's value
    with torch.no_grad():
        qkv = model.transformer.h[0].attn.c_attn(step["block 0: LayerNorm ln_1"].tensor)  # (T, 3C)
    v = qkv[:, 32:].view(7, 2, 8).transpose(0, 1)  # (nh, T, hs)
    gathered = step["block 0: weighted sum of values"].tensor  # (nh, hs)
    assert torch.allclose((weights[:, None, :] @ v)[:, 0], gathered, atol=1e-6)
    gelu = step["block 1: feed-forward, widen and GELU"]
    assert len(gelu.values.columns) == 5 and gelu.values.data[1] == sorted(gelu.values.data[1], reverse=True)


@pytest.mark.parametrize("kind", ["bigram", "mlp", "gpt"])
@pytest.mark.parametrize("text", ["t", "the cat"])
def test_explanations_are_two_sentences(kind, text):
    walks = walkthrough(tiny(kind).eval(), TOKENIZER, text, 0), walkthrough(tiny(kind), TOKENIZER, text)
    for step in walks[0].steps + walks[1].steps:
        assert step.explain.count(". ") + 1 == 2 and step.explain.endswith("."), step.explain


def test_explanations_use_the_models_numbers():
    walk = walkthrough(tiny("gpt").eval(), TOKENIZER, "the cat")
    text = " ".join(s.explain for s in walk.steps)
    assert "16" in text and "√8" in text and f"{TOKENIZER.vocab_size} tokens" in text  # n_embd, head size, vocabulary


def test_mlp_and_bigram_steps():
    mlp = walkthrough(tiny("mlp").eval(), TOKENIZER, "at")
    assert [s.name for s in mlp.steps] == ["tokens", "embeddings", "concatenation", "hidden layer h.0 and tanh",
                                           "hidden layer h.1 and tanh", "logits", "probabilities (softmax)"]
    assert mlp.steps[0].values.data[0] == ["∅ blank", "∅ blank", "a", "t"] and "blank token" in mlp.steps[0].explain
    assert mlp.steps[2].shape == [4 * 8]
    bigram = walkthrough(tiny("bigram").eval(), TOKENIZER, "at")
    assert [s.name for s in bigram.steps] == ["tokens", "logits", "probabilities (softmax)"]
    assert "'t'" in bigram.steps[0].explain


def test_the_api_object_is_plain_json():
    walk = walkthrough(tiny("gpt").eval(), TOKENIZER, "the cat")
    data = json.loads(json.dumps(walk.to_dict()))
    assert set(data) == {"steps", "next_tokens"}
    assert set(data["steps"][0]) == {"name", "explain", "shape", "values"}
    assert set(data["steps"][0]["values"]) == {"rows", "columns", "data"}
    probs = [t["prob"] for t in data["next_tokens"]]
    assert probs == sorted(probs, reverse=True) and len(probs) == 10


@pytest.mark.parametrize("text, position, error, message", [
    ("x" * 2001, None, ValueError, "at most 2,000"),
    ("the cat", 7, ValueError, "from 0 to 6"),
    ("the cat", -8, ValueError, "from 0 to 6"),
    ("the cat", 1.5, ValueError, "whole number"),
    ("the CAT", None, UnknownTokenError, "'C'"),
])
def test_bad_input_is_refused_with_a_clear_message(text, position, error, message):
    with pytest.raises(error, match=message):
        walkthrough(tiny("gpt"), TOKENIZER, text, position)


def test_negative_positions_count_from_the_end_and_the_model_is_left_as_it_was():
    model = tiny("gpt").train()
    walk = walkthrough(model, TOKENIZER, "the cat", -2)
    assert walk.position == 5 and model.training
