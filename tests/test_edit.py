"""Editing weights by hand: a set weight moves the softmax the way it should, bad input is refused
with the model untouched, undo/redo/reset round-trip, connections add exactly what was asked to
their edge, and imprinted sequences come back from greedy generation, with the val-loss price
measured. The Weights tab's view (``weights_view``) is checked as data in tests/test_weights_tab.py."""

import math

import pytest
import torch

from tinylm.edit import (
    MAX_ABS_WEIGHT,
    EditError,
    EditSession,
    axis_kinds,
    changed_cells,
    connect,
    connect_at,
    connection_strengths,
    diff,
    features,
    head_columns,
    imprint,
    imprint_report,
    memory,
    readout,
    search_tokens,
    set_weight,
    table_slice,
    token_id,
    weight_table,
    window,
)
from tinylm.models import bigram_from_counts, build_model
from tinylm.pretrained import load_pretrained
from tinylm.replay import copy_state_dict
from tinylm.sample import UnknownTokenError, next_token_probs, prompt_ids
from tinylm.tokenizer import CharTokenizer
from tinylm.train import TrainConfig, evaluate, train

# A small text with structure: a model that learned it predicts the letter after each letter.
TEXT = "\n".join(["abcde", "bcdef", "cdefg", "defgh", "efghi", "fghij", "ghijk", "hijkl", "zyxw", "wxyz"] * 30) + "\n"


@pytest.fixture(scope="module")
def tok():
    return CharTokenizer.from_corpus(TEXT)


@pytest.fixture
def bigram(tok):
    return bigram_from_counts(torch.tensor(tok.encode(TEXT)), tok.vocab_size, smoothing=0.5)


@pytest.fixture(scope="module")
def trained_mlp_state(tok):
    """A tiny MLP (context 3) trained for a few hundred steps on TEXT: its weights, to copy."""
    torch.manual_seed(0)
    model = build_model("mlp", vocab_size=tok.vocab_size, block_size=3, n_embd=8, n_hidden=48)
    ids = torch.tensor(tok.encode(TEXT))
    config = TrainConfig(max_steps=250, batch_size=32, seq_len=16, learning_rate=1e-2, warmup_steps=10,
                         eval_interval=10**9)
    for _ in train(model, ids, ids[:200], config):
        pass
    return model.state_dict()


@pytest.fixture
def mlp(tok, trained_mlp_state):
    model = build_model("mlp", vocab_size=tok.vocab_size, block_size=3, n_embd=8, n_hidden=48)
    model.load_state_dict(trained_mlp_state)
    return model.eval()


def odds_of(probs, i) -> float:
    """p / (1 - p): the odds of token i against all the others."""
    return float(probs[i] / (1 - probs[i]))


def ids_of(tok, text):
    return prompt_ids(tok, text)


def same_weights(model, original) -> bool:
    return not diff(model, original)


# --- one weight at a time -------------------------------------------------------------------


def test_raising_a_bigram_logit_raises_exactly_that_probability(bigram, tok):
    a, c, e = (tok.token_to_id(ch) for ch in "ace")
    before_after_a, before_after_e = next_token_probs(bigram, [a]), next_token_probs(bigram, [e])
    edit = set_weight(bigram, "logits", (a, c), bigram.logits[a, c].item() + 3.0)
    after_a = next_token_probs(bigram, [a])
    assert after_a[c] > before_after_a[c] * 5  # e^3 = 20 times the odds
    others = [i for i in range(tok.vocab_size) if i != c]
    assert (after_a[others] < before_after_a[others]).all()  # softmax: the rest share what is left
    assert torch.equal(next_token_probs(bigram, [e]), before_after_e)  # another row: untouched
    assert edit.name == "logits" and edit.index == (a, c) and edit.new == pytest.approx(edit.old + 3.0)


def test_an_mlp_output_bias_moves_its_token_after_every_context(mlp, tok):
    z = tok.token_to_id("z")
    contexts = ["abc", "fgh", "w"]
    before = [float(next_token_probs(mlp, ids_of(tok, c))[z]) for c in contexts]
    set_weight(mlp, "lm_head.bias", z, mlp.lm_head.bias[z].item() + 4.0)
    after = [float(next_token_probs(mlp, ids_of(tok, c))[z]) for c in contexts]
    assert all(a > 10 * b for a, b in zip(after, before))


@pytest.mark.parametrize("value", ["abc", "", None, True, [1.0], float("nan"), "nan", float("inf"), "-inf",
                                   MAX_ABS_WEIGHT * 2, "1e6"])
def test_a_bad_value_is_refused_and_the_model_is_unchanged(bigram, value):
    original = copy_state_dict(bigram)
    with pytest.raises(EditError, match="must be"):
        set_weight(bigram, "logits", (6, 7), value)
    assert same_weights(bigram, original)


@pytest.mark.parametrize("name, index, message", [
    ("logits", (99, 0), "out of range"), ("logits", (0, -1), "out of range"), ("logits", (0,), "give 2 indices"),
    ("logits", (0, 0, 0), "give 2 indices"), ("logits", "x", "whole numbers"), ("logits", (1.5, 0), "whole number"),
    ("lm_head.weight", (0, 0), "no weight named"),
])
def test_a_bad_index_or_name_is_refused_and_the_model_is_unchanged(bigram, name, index, message):
    original = copy_state_dict(bigram)
    with pytest.raises(EditError, match=message):
        set_weight(bigram, name, index, 1.0)
    assert same_weights(bigram, original)


def test_an_index_may_be_typed_as_text(bigram):
    assert set_weight(bigram, "logits", " 3, 4 ", 2.0).index == (3, 4)
    assert set_weight(bigram, "logits", "[5, 6]", 2.0).index == (5, 6)


def test_undo_redo_and_reset_round_trip(mlp, tok):
    session = EditSession.start(mlp)
    original = copy_state_dict(mlp)
    session.set("lm_head.weight", (7, 3), 2.5)
    session.set("wte.weight", (tok.vocab_size, 0), -1.0)  # the blank row exists too
    session.record(connect(mlp, tok, "c", "z", 6.0, context="abc"))
    session.record(imprint(mlp, tok, ["wzy"], 3.0).change)
    edited = copy_state_dict(mlp)
    assert len(session.history) == 4 and len(diff(mlp, original)) == len({(e.name, e.index) for e in session.edits()})
    while session.undo():
        pass
    assert same_weights(mlp, original) and session.undo() is None
    while session.redo():
        pass
    assert same_weights(mlp, edited) and session.redo() is None
    session.undo()
    session.set("lm_head.bias", 4, 1.0)  # a new edit after an undo: the undone one cannot come back
    assert session.redo() is None
    session.reset_cell("lm_head.bias", 4)
    session.reset_row("lm_head.weight", 7)
    assert mlp.lm_head.weight[7, 3].item() == original["lm_head.weight"][7, 3].item()
    session.reset_all()
    assert same_weights(mlp, original)
    session.undo()  # even "reset everything" can be taken back
    assert not same_weights(mlp, original)


def test_set_many_is_all_or_nothing(bigram):
    session = EditSession.start(bigram)
    original = copy_state_dict(bigram)
    with pytest.raises(EditError, match="finite"):
        session.set_many("logits", [((1, 1), 3.0), ((2, 2), "inf")])
    assert same_weights(bigram, original) and not session.history
    change = session.set_many("logits", [((1, 1), 3.0), ((2, 2), "4")])
    assert [(e.index, e.new) for e in change.edits] == [((1, 1), 3.0), ((2, 2), 4.0)]


def test_diff_lists_each_changed_weight_once_even_when_tied():
    model = load_pretrained("alphabet-gpt").model
    original = copy_state_dict(model)
    set_weight(model, "lm_head.weight", (9, 2), 0.5)  # lm_head is transformer.wte: one tensor, two names
    set_weight(model, "transformer.h.0.ln_1.bias", 3, 0.25)
    changed = {(e.name, e.index) for e in diff(model, original)}
    assert changed == {("transformer.wte.weight", (9, 2)), ("transformer.h.0.ln_1.bias", (3,))}
    assert model.transformer.wte.weight[9, 2].item() == 0.5


def test_changed_cells_reads_what_a_table_sends_back():
    shown = [[0.5, 1.0, -2.0]]
    assert changed_cells(shown, [[0.5, "1.0", -2.0]], [3], [0, 1, 2]) == []
    changed = changed_cells(shown, [[0.5, "9", float("nan")]], [3], [0, 1, 2])
    assert [index for index, _ in changed] == [(3, 1), (3, 2)]  # NaN is never "the same" (set_weight refuses it)
    assert changed_cells([[1.0, 2.0]], [[1.0, "x"]], None, [5, 6]) == [((6,), "x")]  # a 1-D weight


# --- tables ---------------------------------------------------------------------------------


def test_weight_tables_are_labelled_by_token(mlp, tok):
    a, b = tok.token_to_id("a"), tok.token_to_id("b")
    rows, cols, values = weight_table(mlp, "lm_head.weight", rows=[a, b], cols=[0, 1], tokenizer=tok)
    assert rows == ["a", "b"] and cols == ["n0", "n1"] and values[1][0] == pytest.approx(mlp.lm_head.weight[b, 0].item())
    rows, cols, _ = weight_table(mlp, "wte.weight", rows=[tok.vocab_size], cols=[0], tokenizer=tok)
    assert rows == ["⟨blank⟩"]
    rows, cols, values = weight_table(mlp, "lm_head.bias", cols=[a], tokenizer=tok)
    assert rows == ["bias"] and cols == ["a"] and len(values) == 1
    rows, cols, _ = weight_table(mlp, "h.0.weight", rows=[0], cols=[0, 8], tokenizer=tok)
    assert cols == ["t0·e0", "t1·e0"]  # the first layer reads block_size embeddings side by side
    with pytest.raises(EditError, match="out of range"):
        weight_table(mlp, "lm_head.weight", rows=[tok.vocab_size])


def test_the_output_layer_is_found_through_the_contract(bigram, mlp, tok, alphabet):
    """readout: W @ hidden + bias are the logits, for every kind, and W writes through to the model."""
    for model, ids in ((bigram, ids_of(tok, "ab")), (mlp, ids_of(tok, "abc")),
                       (alphabet.model, ids_of(alphabet.tokenizer, "KLM"))):
        name, W, bias = readout(model)
        h = features(model, [window(model, ids)])[0]
        logits = W @ h + (0 if bias is None else bias)
        assert torch.allclose(logits, model(torch.tensor([ids]))[0][0, -1], atol=1e-5), name
        assert W.data_ptr() == model.get_parameter(name).data_ptr()
    assert readout(bigram)[0] == "logits" and readout(alphabet.model)[0] == "lm_head.weight"


def test_a_gpt_shows_an_attention_heads_output_projection():
    model = load_pretrained("alphabet-gpt").model
    assert axis_kinds(model, "transformer.h.1.attn.c_proj.weight") == ("channel", "head")
    cols = head_columns(model, 1)
    assert cols == list(range(16, 32))  # n_embd 32, two heads of 16
    _, labels, _ = weight_table(model, "transformer.h.1.attn.c_proj.weight", rows=[0], cols=cols[:2])
    assert labels == ["h1·0", "h1·1"]
    _, labels, _ = weight_table(model, "transformer.h.0.attn.c_attn.weight", rows=[0, 32, 64], cols=[0])
    with pytest.raises(EditError, match="heads 0..1"):
        head_columns(model, 2)
    with pytest.raises(EditError, match="no attention heads"):
        head_columns(build_model("mlp", vocab_size=5), 0)


def test_table_slices_follow_the_context(bigram, mlp, tok):
    m, n = tok.token_to_id("j"), tok.token_to_id("k")
    rows, cols = table_slice(bigram, tok, "logits", ids_of(tok, "hij"), [n])
    assert rows[0] == m and len(rows) == len(cols) == tok.vocab_size - 6  # the whole table, current row first
    rows, cols = table_slice(mlp, tok, "wte.weight", ids_of(tok, "ab"), [n])
    assert rows[:3] == [tok.vocab_size, tok.token_to_id("a"), tok.token_to_id("b")] and cols == list(range(8))
    rows, cols = table_slice(mlp, tok, "lm_head.weight", ids_of(tok, "ab"), [n, m], first_col=40)
    assert rows == [n, m] and cols == list(range(16, 48))  # a window of 32 columns, kept inside the weight
    assert table_slice(mlp, tok, "lm_head.bias", ids_of(tok, "ab"), [n], chosen=[m]) == (None, [m])


def test_search_finds_tokens_by_text(tok):
    assert search_tokens(tok, "a")[0] == tok.token_to_id("a")  # exact first, then "<|pad|>", ...
    assert search_tokens(tok, "\n") == search_tokens(tok, "↵") == [tok.token_to_id("\n")]
    assert search_tokens(tok, "") == []


def test_a_token_is_named_by_its_text_its_mark_or_its_id(tok):
    newline = tok.token_to_id("\n")
    assert token_id(tok, "\n") == token_id(tok, "↵") == token_id(tok, f"#{newline}") == token_id(tok, newline) == newline
    for bad, message in (("ab", "not one token"), ("#999", "out of range"), (-1, "out of range"), ("", "not one token"),
                         (None, "not one token"), (True, "not one token")):
        with pytest.raises(EditError, match=message):
            token_id(tok, bad)


# --- connections ----------------------------------------------------------------------------


def test_a_bigram_connection_is_its_table_entry_and_connect_adds_to_it(bigram, tok):
    a, z = tok.token_to_id("a"), tok.token_to_id("z")
    start = bigram.logits[a, z].item()
    odds = odds_of(next_token_probs(bigram, [a]), z)
    change = connect(bigram, tok, "a", "z", 3.0)
    assert bigram.logits[a, z].item() == pytest.approx(start + 3.0) and len(change.edits) == 1
    assert odds_of(next_token_probs(bigram, [a]), z) == pytest.approx(odds * math.e ** 3, rel=1e-4)  # e^3 the odds
    assert "connect a → z +3" in change.what and f"edge {start:.2f} → {start + 3:.2f}" in change.what
    conn = connection_strengths(bigram, [a], [z])
    assert conn.inputs == [(0, a)] and conn.strengths == [[pytest.approx(start + 3.0)]]


def test_mlp_edges_are_what_the_token_adds_to_each_logit(mlp, tok):
    ids = ids_of(tok, "cde")
    outputs = [tok.token_to_id("f"), tok.token_to_id("z")]
    conn = connection_strengths(mlp, ids, outputs)
    assert [t for _, t in conn.inputs] == ids
    with torch.no_grad():  # by hand: the logits with the context, minus with its first token blanked
        full = mlp(torch.tensor([ids]))[0][0, -1]
        blanked = mlp(torch.tensor([[tok.vocab_size] + ids[1:]]))[0][0, -1]
    assert conn.strengths[0] == pytest.approx((full - blanked)[outputs].tolist(), abs=1e-4)


@pytest.mark.parametrize("kind", ["mlp", "gpt"])
def test_connect_adds_to_the_edge_exactly_and_changes_only_that_tokens_output_row(kind, mlp, tok):
    if kind == "gpt":
        ckpt = load_pretrained("alphabet-gpt")
        model, tok, context, src, dst = ckpt.model, ckpt.tokenizer, "KLM", "L", "Q"
    else:
        model, context, src, dst = mlp, "cde", "d", "z"
    ids, dst_id = ids_of(tok, context), tok.token_to_id(dst)
    before = float(next_token_probs(model, ids)[dst_id])
    position = [p for p, t in enumerate(window(model, ids)) if t == tok.token_to_id(src)][-1]

    def edge_now():
        conn = connection_strengths(model, ids, [dst_id])
        return conn.strengths[[p for p, _ in conn.inputs].index(position)][0]

    start = edge_now()
    change = connect(model, tok, src, dst, 8.0, context=context)
    assert edge_now() == pytest.approx(start + 8.0, abs=1e-3)
    assert {e.index[0] for e in change.edits} == {dst_id} and {e.name for e in change.edits} == {"lm_head.weight"}
    assert float(next_token_probs(model, ids)[dst_id]) > before


def test_connect_refuses_tokens_that_are_not_there(mlp, tok):
    original = copy_state_dict(mlp)
    with pytest.raises(EditError, match="not in the context"):
        connect(mlp, tok, "z", "a", 3.0, context="abc")
    with pytest.raises(EditError, match="not one token"):
        connect(mlp, tok, "q", "a", 3.0)
    with pytest.raises(EditError, match="not one token"):
        connect(mlp, tok, "a", "ab", 3.0)
    with pytest.raises(EditError, match="strength must be between"):
        connect_at(mlp, ids_of(tok, "abc"), 2, 7, 1e9)
    assert same_weights(mlp, original)


# --- imprinting -----------------------------------------------------------------------------


def test_a_bigram_imprints_sequences_it_never_saw(bigram, tok):
    result = imprint(bigram, tok, "zac\nwbd", strength=2.0)
    assert [(r.sequence, r.greedy, r.ok) for r in result.reproduced] == [("zac", "ac", True), ("wbd", "bd", True)]
    assert result.pairs == 4 and not result.conflicts
    assert {e.name for e in result.change.edits} == {"logits"} and len(result.change.edits) == 4  # one entry per pair


def test_sequences_that_disagree_are_reported_and_the_last_wins(bigram, tok):
    result = imprint(bigram, tok, ["abc", "abd"])
    assert [r.ok for r in result.reproduced] == [False, True]
    assert result.conflicts == ["after 'b': 'c' or 'd' (the last one wins)"]


def test_a_trained_mlp_imprints_in_closed_form_and_pays_a_little_val_loss(mlp, tok):
    val = TEXT[:400]
    report = imprint_report(mlp, tok, ["zac", "wbd", "kaz"], strength=3.0, val_text=val, background=TEXT)
    assert all(r.ok for r in report.imprint.reproduced)
    assert {e.name for e in report.imprint.change.edits} == {"lm_head.weight"}
    assert {e.index[0] for e in report.imprint.change.edits} == {tok.token_to_id(c) for c in "acbdz"}  # targets only
    assert report.val_loss_before == pytest.approx(evaluate(load_state(mlp, tok, report), torch.tensor(tok.encode(val))),
                                                   abs=1e-6)
    assert report.val_loss_before < report.val_loss_after < report.val_loss_before + 1.0
    assert report.val_tokens == len(tok.encode(val)) - 1


def load_state(mlp, tok, report):
    """The model as it was before the imprint (the edits undone on a copy)."""
    import copy

    from tinylm.edit import apply_edits

    before = copy.deepcopy(mlp)
    apply_edits(before, report.imprint.change.edits, undo=True)
    return before


def test_a_gpt_imprints_through_its_last_mlp_and_keeps_its_embeddings():
    ckpt = load_pretrained("alphabet-gpt")
    name, _ = memory(ckpt.model)
    val, train_text = "ABCDEFGH\nKLMNOP\nDEFGHIJ\n" * 20, "\n".join("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i:i + 6] for i in range(20)) * 10
    report = imprint_report(ckpt.model, ckpt.tokenizer, ["HELLO"], 4.0, val_text=val, background=train_text)
    assert report.imprint.reproduced[0].ok and report.imprint.reproduced[0].greedy == "ELLO"
    assert {e.name for e in report.imprint.change.edits} == {name} == {"transformer.h.1.mlp.c_proj.weight"}
    assert report.val_loss_after < report.val_loss_before + 1.5  # "HELLO" fights the alphabet, but not all of it


@pytest.mark.parametrize("sequences, strength, error, message", [
    ("", 2.0, EditError, "at least one sequence"), ("\n \n", 2.0, EditError, "at least one sequence"),
    ("a", 2.0, EditError, "single token"), ("ab!", 2.0, UnknownTokenError, "'!'"),
    ("ab", 0.0, EditError, "more than 0"), ("ab", -1.0, EditError, "more than 0"),
    ("ab", float("nan"), EditError, "finite"), ("ab", 1e9, EditError, "between"),
])
def test_bad_imprints_are_refused_and_the_model_is_unchanged(mlp, tok, sequences, strength, error, message):
    original = copy_state_dict(mlp)
    with pytest.raises(error, match=message):
        imprint_report(mlp, tok, sequences, strength, val_text=TEXT[:100])
    assert same_weights(mlp, original)
