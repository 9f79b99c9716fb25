"""The Weights tab: first the view the library hands it (``weights_view``: the table's slice, the bars
before and after, the picture, the menus) for a bigram, the shipped MLP and GPT, checked as data;
then the tab's handlers called directly with Gradio's dict of inputs; then the tab served in-process
and driven through gradio_client (/edit_weight, /connect, /imprint), the way a script uses the
Space, with two clients that must not see each other's edits."""

import math
import zipfile

import gradio as gr
import pandas as pd
import pytest
from gradio_client import Client

from tinylm.checkpoint import load_checkpoint
from tinylm.edit import connect, diff, features, predict, weights_view, window
from tinylm.edit.connect import edge
from tinylm.edit.view import TOP_BARS, TOP_ROWS
from tinylm.pretrained import load_pretrained
from tinylm.replay import copy_state_dict
from tinylm.runs import bigram_checkpoint
from tinylm.sample import next_token_probs, prompt_ids
from tinylm_app import weights_tab as tab
from tinylm_app.html import model_status

pytestmark = pytest.mark.filterwarnings("ignore:Cannot display Styler")  # it does show the colours


@pytest.fixture
def alphabet_bigram():
    return bigram_checkpoint("alphabet")  # counted in a fraction of a second; after "M" comes "N"


def ids_of(tokenizer, text):
    return prompt_ids(tokenizer, text)


# --- the view: what the tab shows, as data ------------------------------------------------------


def test_a_small_bigram_is_shown_whole_with_the_current_row_first_and_marked(alphabet_bigram):
    tok = alphabet_bigram.tokenizer
    view = weights_view(alphabet_bigram.model, tok, "KLM")
    m = tok.token_to_id("M")
    assert view.table.name == "logits" and view.table.rows[0] == m and view.table.marked == [0]
    assert view.table.col_labels[:3] == ["↵", "A", "B"] and len(view.table.cols) == len(view.table.rows) == 27
    assert view.bars[0].label == "N" and len(view.bars) == TOP_BARS and view.after.greedy.startswith("NOP")
    assert [(n.label, n.note) for n in view.picture.inputs] == [("M", "current token")]  # a bigram reads one token
    assert view.picture.outputs[0].label == "N" and len(view.picture.outputs) == TOP_ROWS
    assert view.connect_from == [("M  (current)", 0)]
    assert view.connect_to[0] == (f"N  ({view.bars[0].after:.1%})", f"#{view.bars[0].id}")
    assert view.before is None and view.moved is None and not view.error and not view.warning


def test_the_views_numbers_are_the_models(alphabet_bigram):
    """Bars from the model's softmax, edges = table entries, table values = the weights themselves."""
    model, tok = alphabet_bigram.model, alphabet_bigram.tokenizer
    view = weights_view(model, tok, "KLM")
    probs = next_token_probs(model, ids_of(tok, "KLM"))
    assert [b.after for b in view.bars] == pytest.approx(probs[[b.id for b in view.bars]].tolist())
    m = tok.token_to_id("M")
    assert view.picture.strengths[0] == pytest.approx([model.logits[m, n.id].item() for n in view.picture.outputs])
    assert view.table.values[0] == pytest.approx(model.logits[m, view.table.cols].tolist())
    assert [n.prob for n in view.picture.outputs] == pytest.approx(probs[[n.id for n in view.picture.outputs]].tolist())


def test_before_and_after_show_what_an_edit_moved(alphabet_bigram):
    model, tok = alphabet_bigram.model, alphabet_bigram.tokenizer
    before = predict(model, tok, "KLM")
    connect(model, tok, "M", "Q", 5.0)
    view = weights_view(model, tok, "KLM", before=before)
    q = tok.token_to_id("Q")
    assert view.moved.label == "Q" and view.moved.after > view.moved.before
    bar = next(b for b in view.bars if b.id == q)
    assert bar.before == pytest.approx(float(before.probs[q])) and bar.after == view.moved.after


@pytest.mark.parametrize("name, context, weight, rows, marked", [
    ("phrases-pt-mlp", "eu gosto de", "lm_head.weight", "top", [0]),  # the output layer: the likeliest next tokens
    ("phrases-pt-mlp", "eu gosto de", "wte.weight", "window", [0, 1, 2, 3]),  # an embedding: the tokens read
    ("alphabet-gpt", "KLM", "lm_head.weight", "top", [0]),
    ("alphabet-gpt", "KLM", "transformer.wte.weight", "window", [0, 1, 2]),
])
def test_the_rows_follow_the_context_for_every_kind(name, context, weight, rows, marked):
    ckpt = load_pretrained(name)
    view = weights_view(ckpt.model, ckpt.tokenizer, context, weight)
    top = [b.id for b in sorted(view.bars, key=lambda b: -b.after)][:TOP_ROWS]
    win = window(ckpt.model, ids_of(ckpt.tokenizer, context))  # the MLP's wte has a row for its blank too
    expected = top if rows == "top" else list(dict.fromkeys(win)) + [t for t in top if t not in win]
    assert view.table.rows == expected and view.table.marked == marked


def test_the_menus_suit_the_weight():
    ckpt = load_pretrained("alphabet-gpt")
    view = weights_view(ckpt.model, ckpt.tokenizer, "KLM", "transformer.h.1.attn.c_proj.weight", head=1)
    assert view.menus.heads == [0, 1] and view.table.cols == list(range(16, 32))  # head 1's columns
    assert view.table.col_labels[:2] == ["h1·0", "h1·1"] and view.table.marked == []
    view = weights_view(ckpt.model, ckpt.tokenizer, "KLM", "transformer.h.0.mlp.c_proj.weight", first_col=40)
    assert view.menus.max_first_col == 128 - 32 and view.table.cols == list(range(40, 72))
    view = weights_view(ckpt.model, ckpt.tokenizer, "KLM", "transformer.h.0.ln_1.bias")
    assert view.table.rows is None and view.menus.row_word == "entries"
    assert ("lm_head.weight  (33 × 32)", "lm_head.weight") in view.menus.weights


def test_a_context_the_vocabulary_lacks_is_named_and_nothing_is_predicted(alphabet_bigram):
    view = weights_view(alphabet_bigram.model, alphabet_bigram.tokenizer, "KL!")
    assert "'!'" in view.error and view.after is None and view.picture is None and view.bars == []
    assert view.table.rows  # the weights are still there to see


def test_rows_from_a_stale_menu_fall_back_to_the_suggestion_with_a_warning(alphabet_bigram):
    view = weights_view(alphabet_bigram.model, alphabet_bigram.tokenizer, "KLM", rows=[999])
    assert "out of range" in view.warning and view.table.rows[0] == alphabet_bigram.tokenizer.token_to_id("M")


def test_connect_adds_the_same_way_for_every_kind_as_the_tab_says():
    """Issue 13: "+5 ≈ 150× likelier" held for the MLP and GPT but a bigram's entry was *set* to 5."""
    for ckpt, context, src, dst in ((bigram_checkpoint("names"), "emb", "b", "y"),
                                    (load_pretrained("alphabet-gpt"), "KLM", "M", "Q")):
        model, tok = ckpt.model, ckpt.tokenizer
        win, y = window(model, ids_of(tok, context)), tok.token_to_id(dst)
        start, p = edge(model, win, len(win) - 1, y)[0], float(next_token_probs(model, ids_of(tok, context))[y])
        connect(model, tok, src, dst, 5.0, context)
        assert edge(model, win, len(win) - 1, y)[0] == pytest.approx(start + 5.0, abs=1e-3)  # added, not set
        if model.blank is None and len(win) == 1:  # the bigram: the odds of y after b, times e^5 exactly
            q = float(next_token_probs(model, ids_of(tok, context))[y])
            assert (q / (1 - q)) / (p / (1 - p)) == pytest.approx(math.e ** 5, rel=1e-3)


# --- the handlers: Gradio's dict of inputs in, a dict of outputs back ---------------------------------


@pytest.fixture
def page():
    with gr.Blocks():
        page, *_ = tab.layout(gr.State(None))
    return page


def inputs(page, ckpt, editing=None, context="", name=None, **more) -> dict:
    """What Gradio would hand a handler: every component of the page, with these values."""
    data = {page.model_state: ckpt, page.editing: editing, page.context: context, page.weight_name: name,
            page.rows: [], page.head: 0, page.first_col: 0, page.from_token: None, page.to_token: None,
            page.strength: 5.0, page.table: None, page.sequences: "", page.imprint_strength: 4.0, page.search: ""}
    return {**data, **{getattr(page, key): value for key, value in more.items()}}


def opened(page, ckpt):
    """The tab showing ``ckpt``: (editing, its view, the data of the next event)."""
    out = tab.show_model(page, inputs(page, ckpt))
    editing = out[page.editing]
    return editing, editing.view, inputs(page, ckpt, editing, out[page.context], editing.view.table.name)


def typed(view, row: int, col: int, value) -> pd.DataFrame:
    """The table as the browser sends it back (the values as drawn, rounded) with one cell typed over."""
    frame = tab.draw.styled_table(view).data.astype(object)
    frame.iloc[row, col + 1] = value
    return frame


def skipped(out) -> bool:
    return out == gr.skip()


def test_typing_into_the_table_edits_the_weight_and_shows_before_and_after(page, alphabet_bigram):
    editing, view, data = opened(page, alphabet_bigram)
    assert data[page.context] == "KLM" and "unedited" in tab.draw.model_card(alphabet_bigram)
    frame = typed(view, 0, 1, "25")  # logits[M, A]
    out = tab.on_table_edit(page, {**data, page.table: frame})
    tok = alphabet_bigram.tokenizer
    m, a = tok.token_to_id("M"), tok.token_to_id("A")
    assert alphabet_bigram.model.logits[m, a].item() == 25.0
    assert [e.index for e in editing.session.edits()] == [(m, a)]  # that cell only: the others came back rounded
    # the other tabs learn that the model was edited by hand (Predict, Inspect: tinylm_app.html.model_status)
    assert alphabet_bigram.info["edited_weights"] == 1 and "edited by hand" in model_status(alphabet_bigram)
    assert "1 weight edited" in out[page.card]
    assert editing.view.moved.label == "A" and editing.view.moved.after == pytest.approx(1.0, abs=1e-3)
    assert "logits[M, A] = 25" in out[page.status] and out[page.edits].iloc[0]["old → new"].endswith("→ 25")
    # the browser sends every Enter twice: the second finds the weight already holding 25 and does nothing
    assert skipped(tab.on_table_edit(page, {**data, page.table: frame}))
    assert len(editing.session.history) == 1


def test_a_bad_cell_warns_once_and_changes_nothing(page, alphabet_bigram):
    editing, view, data = opened(page, alphabet_bigram)
    original = copy_state_dict(alphabet_bigram.model)
    for bad in ("lots", "nan", "1e9"):
        frame = typed(editing.view, 0, 2, bad)
        with pytest.warns(UserWarning, match="must be"):  # gr.Warning outside a request is a warning
            out = tab.on_table_edit(page, {**data, page.table: frame})
        assert out[page.editing].view.table.values == view.table.values  # the table shows the weights again
        assert skipped(tab.on_table_edit(page, {**data, page.table: frame}))  # the second send: no second warning
    assert not diff(alphabet_bigram.model, original)


def test_undo_redo_and_reset_from_the_buttons(page, alphabet_bigram):
    editing, _, data = opened(page, alphabet_bigram)
    model, original = alphabet_bigram.model, copy_state_dict(alphabet_bigram.model)
    out = tab.draw_connection(page, {**data, page.from_token: 0, page.to_token: "A", page.strength: 9.0})
    assert "connect M → A +9" in out[page.status]
    edited = copy_state_dict(model)
    assert "undo: connect M → A" in tab.undo(page, data)[page.status] and not diff(model, original)
    tab.undo(page, data, redo=True)
    assert not diff(model, edited)
    with pytest.warns(UserWarning, match="nothing to redo"):
        tab.undo(page, data, redo=True)
    a_column = editing.view.table.cols.index(alphabet_bigram.tokenizer.token_to_id("A"))
    tab.on_select(page, data, gr.SelectData(None, {"index": [0, a_column + 1], "value": 9.0}))
    tab.reset_cell(page, data)
    assert not diff(model, original)
    tab.draw_connection(page, {**data, page.from_token: 0, page.to_token: "#8"})
    tab.on_select(page, data, gr.SelectData(None, {"index": [0, 0], "value": "M"}))
    tab.reset_cell(page, data, whole_row=True)
    assert not diff(model, original)
    tab.draw_connection(page, {**data, page.from_token: 0, page.to_token: "Q"})
    assert "reset everything" in tab.reset_all(page, data)[page.status] and not diff(model, original)
    assert alphabet_bigram.info["edited_weights"] == 0 and not model_status(alphabet_bigram)


def test_the_picture_connects_two_clicked_circles(page, alphabet_bigram):
    editing, _, data = opened(page, alphabet_bigram)
    q = alphabet_bigram.tokenizer.token_to_id("Q")
    out = tab.connect_from_picture(page, {**data, page.strength: 6.0}, gr.EventData(None, {"position": 0, "to_id": q}))
    assert "connect M → Q +6" in out[page.status] and q in [n.id for n in editing.view.picture.outputs]


def test_imprint_reproduces_the_sequences_and_prices_them(page, alphabet_bigram):
    _, _, data = opened(page, alphabet_bigram)
    out = tab.imprint_sequences(page, {**data, page.sequences: "AZQ\nXJB"})
    assert out[page.imprint_result].count("✓ reproduced") == 2 and "validation text" in out[page.imprint_result]
    assert "imprint 'AZQ', 'XJB' at 4" in out[page.status]
    with pytest.warns(UserWarning, match="at least one sequence"):
        out = tab.imprint_sequences(page, {**data, page.sequences: ""})
    assert page.imprint_result not in out  # no result drawn


def test_a_pasted_context_redraws_once(page, alphabet_bigram):
    """Issue 13: a paste changes the box without an input event, so the tab listens to .change, and
    skips the context it has just drawn (setting it with a new model must not draw it twice)."""
    editing, _, data = opened(page, alphabet_bigram)
    assert skipped(tab.on_context(page, data))  # show_model drew "KLM" already
    out = tab.on_context(page, {**data, page.context: "XY"})
    assert editing.view.context == "XY" and editing.view.bars[0].label == "Z" and page.bars in out


def test_every_shipped_kind_opens_and_edits(page):
    for name in ("phrases-pt-mlp", "alphabet-gpt"):
        ckpt = load_pretrained(name)
        editing, view, data = opened(page, ckpt)
        assert view.table.name == "lm_head.weight" and view.table.rows
        out = tab.on_table_edit(page, {**data, page.table: typed(view, 0, 0, "3.5")})
        assert ckpt.model.lm_head.weight[view.table.index(0, 0)].item() == 3.5 and "3.5" in out[page.status]
    out = tab.on_weight(page, {**data, page.weight_name: "transformer.h.1.attn.c_proj.weight"})
    assert out[page.head]["visible"] is True and editing.view.table.cols == list(range(16))  # head 0's columns


def test_searching_tokens_offers_them_as_rows_and_keeps_the_chosen(page, alphabet_bigram):
    _, _, data = opened(page, alphabet_bigram)
    tok = alphabet_bigram.tokenizer
    out = tab.search_rows(page, {**data, page.search: "Q", page.rows: [tok.token_to_id("A")]})
    choices = [value for _, value in out[page.rows]["choices"]]
    assert choices[:2] == [tok.token_to_id("A"), tok.token_to_id("Q")] and out[page.rows]["value"] == [choices[0]]
    with pytest.warns(UserWarning, match="no token contains"):
        tab.search_rows(page, {**data, page.search: "qq"})


def test_the_default_model_is_loaded_once_and_handed_to_the_session(page):
    editing, view, data = opened(page, None)
    out = tab.on_table_edit(page, {**data, page.table: typed(view, 0, 0, "2.0")})
    ckpt = out[page.model_state]
    assert ckpt is editing.ckpt and len(editing.session.history) == 1
    # the change event this causes finds the same model: the screen is left as it is
    assert skipped(tab.show_model(page, inputs(page, ckpt, editing, data[page.context])))


def test_export_writes_a_checkpoint_with_the_edits(page, alphabet_bigram):
    _, _, data = opened(page, alphabet_bigram)
    tab.draw_connection(page, {**data, page.from_token: 0, page.to_token: "Q", page.strength: 7.5})
    path = tab.export(page, data)
    assert zipfile.is_zipfile(path) and path.endswith("alphabet-bigram-counts-edited.zip")
    loaded = load_checkpoint(path)
    m, q = alphabet_bigram.tokenizer.token_to_id("M"), alphabet_bigram.tokenizer.token_to_id("Q")
    assert loaded.model.logits[m, q].item() == pytest.approx(alphabet_bigram.model.logits[m, q].item())
    assert loaded.info["edited_weights"] == 1


def test_the_model_picker_counts_a_bigram_or_loads_a_copy():
    ckpt = tab.load_model("bigram:alphabet")
    assert ckpt.name == "alphabet-bigram-counts" and ckpt.info["val_loss"] < 1.0
    assert tab.load_model("shipped:alphabet-gpt").model is not load_pretrained("alphabet-gpt").model
    with pytest.raises(gr.Error, match="unknown dataset"):
        tab.load_model("bigram:nonsense")


# --- the tab served, through gradio_client ---------------------------------------------------


@pytest.fixture(scope="module")
def url(serve):
    return serve(tab.build())


def test_the_endpoints_are_listed(url):
    endpoints = Client(url, verbose=False).view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/edit_weight", "/connect", "/imprint"} <= set(endpoints)


def test_edit_weight_through_the_api_moves_the_distribution(url):
    client = Client(url, verbose=False)  # the default shipped model: this client's own copy
    default = tab.current_model(None)
    ids = prompt_ids(default.tokenizer, "ROMEO:")
    z = default.tokenizer.token_to_id("z")
    # lm_head row "z" . (the vector it reads after "ROMEO:"): raise it along that vector's biggest entry
    h = features(default.model, [window(default.model, ids)])[0]
    j = int(h.abs().argmax())
    value = default.model.lm_head.weight[z, j].item() + 40 / h[j].item()
    answer = client.predict("lm_head.weight", [z, j], value, "ROMEO:", api_name="/edit_weight")
    first = answer["first_edits"][0]
    assert first["name"] == "lm_head.weight" and first["index"] == [z, j]
    assert first["new"] == pytest.approx(value, rel=1e-6)
    assert answer["before"][0]["prob"] == pytest.approx(float(next_token_probs(default.model, ids).max()), abs=1e-5)
    assert answer["before"][0]["token"] != "z" and answer["after"][0]["token"] == "z"
    for index, bad, message in (([z, j], "nan", "must be a finite number"), ([z, j], "lots", "must be a number"),
                                  ([z, j], 5000, "between -1000 and 1000"), ([10_000, 0], 1.0, "out of range"),
                                  ("1, 2, 3", 1.0, "give 2 indices")):
        with pytest.raises(Exception, match=message):
            client.predict("lm_head.weight", index, bad, "ROMEO:", api_name="/edit_weight")
    with pytest.raises(Exception, match="no weight named"):
        client.predict("lm_head.bias", 0, 1.0, "ROMEO:", api_name="/edit_weight")
    again = client.predict("lm_head.weight", [z, j], value, "ROMEO:", api_name="/edit_weight")
    assert again["before"][0]["token"] == "z"  # refused edits left the model as the first call made it


def test_connect_and_imprint_through_the_api_on_this_clients_model_only(url):
    client, other = Client(url, verbose=False), Client(url, verbose=False)
    answer = client.predict(":", "z", 40.0, "ROMEO:", api_name="/connect")  # edge: logit with ":" minus without
    assert answer["after"][0]["token"] == "z" and answer["before"][0]["token"] != "z"
    assert "connect : → z +40" in answer["change"]
    untouched = other.predict("lm_head.weight", [0, 0], 0.0, "ROMEO:", api_name="/edit_weight")
    assert untouched["before"][0]["token"] != "z"  # the other client's model never saw the connection
    answer = client.predict("xqzv\nzzx", 4.0, api_name="/imprint")
    assert [r["ok"] for r in answer["reproduced"]] == [True, True]
    assert answer["val_loss_after"] > answer["val_loss_before"] and answer["edits"] > 0
    with pytest.raises(Exception, match="single token"):
        client.predict("x", 4.0, api_name="/imprint")
