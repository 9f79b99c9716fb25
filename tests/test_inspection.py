"""tinylm.inspection: the numbers behind the Inspect tab, on tiny seeded models and a tokenizer
trained in the test (plus one shipped model where the real thing matters)."""


import numpy as np
import pytest
import torch

from tinylm import inspection as ti
from tinylm.models import build_model
from tinylm.models.gpt import reference_attention
from tinylm.tokenizer import CharTokenizer
from tinylm.train import evaluate

TEXT = "the cat sat on the mat. the dog ate the hat. " * 8
TOK = CharTokenizer.from_corpus(TEXT)
V = TOK.vocab_size
TINY = {
    "bigram": dict(vocab_size=V),
    "mlp": dict(vocab_size=V, block_size=3, n_embd=8, n_hidden=16, n_layer=2),
    "gpt": dict(vocab_size=V, block_size=16, n_layer=2, n_head=2, n_embd=16),
}


def tiny(kind, seed=0):
    torch.manual_seed(seed)
    model = build_model(kind, **TINY[kind]).eval()
    if kind == "bigram":
        with torch.no_grad():
            model.logits.normal_()  # zeros would predict a tie everywhere
    return model


IDS = TOK.encode(TEXT)


@pytest.mark.parametrize("kind", ["bigram", "mlp", "gpt"])
def test_scores_match_evaluate(kind):
    model = tiny(kind)
    scores = ti.score_tokens(model, IDS, k=3)
    assert scores.loss.shape == (len(IDS) - 1,) and scores.top_ids.shape == (len(IDS) - 1, 3)
    assert scores.loss.mean().item() == pytest.approx(evaluate(model, torch.tensor(IDS)), abs=1e-5)
    # the loss at each position is -log p(true token); where the true token is the first choice, its prob matches
    hit = scores.predicted == scores.targets
    assert torch.allclose((-scores.loss[hit]).exp(), scores.top_probs[hit, 0], atol=1e-5)
    assert (scores.top_probs[:, :-1] >= scores.top_probs[:, 1:]).all()


def test_scores_respect_max_tokens_and_need_two_tokens():
    assert len(ti.score_tokens(tiny("mlp"), IDS, max_tokens=50).loss) == 50
    with pytest.raises(ValueError, match="two tokens"):
        ti.score_tokens(tiny("mlp"), IDS[:1])


def test_confusion_rows_sum_to_token_counts():
    scores = ti.score_tokens(tiny("gpt"), IDS)
    conf = ti.confusion_matrix(scores, n=5)
    targets = scores.targets
    assert len(conf.tokens) == 5 and conf.matrix.shape == (5, 6)
    for row, token in enumerate(conf.tokens):
        assert conf.matrix[row].sum() == conf.counts[row] == int((targets == token).sum())
    assert list(conf.counts) == sorted(conf.counts, reverse=True)  # most frequent first
    # the diagonal counts the right guesses
    for row, token in enumerate(conf.tokens):
        assert conf.matrix[row, row] == int(((targets == token) & (scores.predicted == token)).sum())


def test_token_errors_worst_first_with_the_wrong_guess():
    scores = ti.score_tokens(tiny("mlp"), IDS)
    rows = ti.token_errors(scores, TOK, top=4, min_count=3)
    assert 0 < len(rows) <= 4
    assert [r["mean_loss"] for r in rows] == sorted((r["mean_loss"] for r in rows), reverse=True)
    for r in rows:
        assert r["count"] >= 3 and 0 <= r["accuracy"] <= 1
        assert (r["predicted_instead"] is None) == (r["times"] == 0)


def test_surprisal_spans_rebuild_the_text():
    scores = ti.score_tokens(tiny("bigram"), IDS)
    spans = ti.surprisal_spans(scores, TOK, k=2)
    assert "".join(s["text"] for s in spans) == TEXT
    assert spans[0]["loss"] is None and spans[1]["loss"] == pytest.approx(float(scores.loss[0]))
    assert len(spans[1]["top"]) == 2 and spans[1]["top"][0][1] >= spans[1]["top"][1][1]


@pytest.mark.parametrize("kind", ["bigram", "mlp", "gpt"])
def test_the_token_map_places_every_text_token_and_no_special_one(kind):
    model = tiny(kind)
    assert model.token_embeddings().shape[0] == V  # one row per token, for every kind of model
    p = ti.token_map(model, TOK)
    text = [i for i in range(V) if i not in TOK.non_text_ids]
    assert p.ids == text and p.coords.shape == (len(text), 2) and 0 < p.explained[1] <= p.explained[0] <= 1


def test_nearest_tokens_finds_the_parallel_vector():
    vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.1], [-1.0, 0.0]])
    assert ti.nearest_tokens(vectors, 0, k=2)[0][0] == 2


def test_attention_rows_sum_to_one_and_never_look_ahead():
    model = tiny("gpt")
    att = ti.attention_maps(model, IDS[:12])
    assert att.shape == (2, 2, 12, 12)
    assert torch.allclose(att.sum(-1), torch.ones(2, 2, 12))
    assert (att.triu(diagonal=1) == 0).all()
    assert att[:, :, 0, 0].eq(1).all()  # the first position can only look at itself


def test_attention_matches_the_model_s_own_attention():
    """The maps times v give exactly what reference_attention gives inside the first block."""
    model = tiny("gpt")
    idx = torch.tensor([IDS[:10]])
    tr = model.transformer
    x = tr.wte(idx) + tr.wpe(torch.arange(10))
    block = tr.h[0]
    q, k, v = block.attn.c_attn(block.ln_1(x)).split(16, dim=2)
    q, k, v = (t.view(1, 10, 2, 8).transpose(1, 2) for t in (q, k, v))
    att = ti.attention_maps(model, idx[0])[0]  # (nh, T, T)
    assert torch.allclose(att @ v[0], reference_attention(q, k, v)[0], atol=1e-5)


def test_attention_needs_a_gpt_and_keeps_the_last_block():
    with pytest.raises(ValueError, match="only the GPT"):
        ti.attention_maps(tiny("mlp"), IDS[:5])
    assert ti.attention_maps(tiny("gpt"), IDS[:40]).shape[-1] == 16


def test_hidden_activations_per_layer():
    mlp = ti.hidden_activations(tiny("mlp"), IDS[:7])
    assert len(mlp) == 2 and mlp[0].shape == (7, 16) and mlp[0].abs().max() <= 1
    assert torch.allclose(mlp[-1], tiny("mlp").hidden(torch.tensor([IDS[:7]]))[0])
    gpt = ti.hidden_activations(tiny("gpt"), IDS[:7])
    assert len(gpt) == 2 and gpt[0].shape == (7, 64)
    assert ti.hidden_activations(tiny("bigram"), IDS[:7]) == []


def test_random_direction_is_filter_normalised():
    model = tiny("mlp")
    d = ti.random_direction(model, torch.Generator().manual_seed(1))
    w = model.h[0].weight
    assert torch.allclose(d["h.0.weight"].norm(dim=1), w.detach().norm(dim=1), rtol=1e-4)
    assert d["h.0.bias"].eq(0).all()


@pytest.mark.parametrize("kind", ["mlp", "gpt"])
def test_loss_surface_centre_is_the_model_s_loss(kind):
    model = tiny(kind)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    frames = list(ti.iter_loss_surface(model, IDS, steps=5, max_tokens=100))
    surface = frames[-1]
    assert len(frames) == 5 and surface.done == surface.total == 25 and not np.isnan(surface.losses).any()
    assert np.isnan(frames[0].losses[1:]).all()  # one row at a time
    loss = evaluate(model, torch.tensor(IDS[:101]))
    assert surface.losses[2, 2] == pytest.approx(loss, abs=1e-6) == surface.center_loss
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the model is not moved


def test_loss_surface_is_seeded():
    a = ti.loss_surface(tiny("mlp"), IDS, steps=3, max_tokens=50, generator=torch.Generator().manual_seed(3))
    b = ti.loss_surface(tiny("mlp"), IDS, steps=3, max_tokens=50, generator=torch.Generator().manual_seed(3))
    assert np.array_equal(a.losses, b.losses)
