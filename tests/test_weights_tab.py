"""The Weights tab: its handlers called directly (a bigram, the shipped MLP and GPT), then the tab
served in-process and driven through gradio_client (/edit_weight, /connect, /imprint), the way a
script uses the Space, with two clients that must not see each other's edits."""

import zipfile

import gradio as gr
import pytest
from gradio_client import Client

from tinylm_app import weights_tab as tab
from tinylm.checkpoint import load_checkpoint
from tinylm.edit import bigram_checkpoint, copy_weights, diff, features, window
from tinylm.pretrained import load_pretrained
from tinylm.sample import next_token_probs, prompt_ids

pytestmark = pytest.mark.filterwarnings("ignore:Cannot display Styler")  # it does show the colours

# what show_model returns, by position: editing, context, weight menu, rows, search, head, first column, then
SHOWN = ["table", "view", "bars", "texts", "picture", "edits", "status", "card", "from", "to"]
ACTED = ["model_state", "editing", *SHOWN]  # what an edit returns


@pytest.fixture
def alphabet_bigram():
    return bigram_checkpoint("alphabet")  # counted in a fraction of a second; after "M" comes "N"


def opened(ckpt):
    """The tab showing ``ckpt``: (editing, context, {name: output})."""
    out = tab.show_model(ckpt, None, "", None, [], 0, 0)
    return out[0], out[1], dict(zip(SHOWN, out[7:]))


def acted(out) -> dict:
    return dict(zip(ACTED, out))


def where(context, name="logits"):
    return [context, name, [], 0, 0]  # context, weight, chosen rows, head, first column


# --- handlers, no server -------------------------------------------------------------------


def test_a_bigram_opens_on_its_whole_table_with_the_current_row_first(alphabet_bigram):
    _, context, shown = opened(alphabet_bigram)
    assert context == "KLM" and "alphabet-bigram-counts" in shown["card"]
    frame = shown["table"].data
    assert frame.iloc[0, 0] == "M" and list(frame.columns[1:4]) == ["↵", "A", "B"]
    assert "background-color: #fde68a" in shown["table"].to_html()  # the current row is marked
    assert "<svg" in shown["picture"] and "data-side='in'" in shown["picture"]
    assert shown["bars"].count("class='row'") == tab.TOP_BARS
    assert "greedy continuation" in shown["texts"] and "KLM" in shown["texts"]


def test_typing_into_the_table_edits_the_weight_and_shows_before_and_after(alphabet_bigram):
    editing, context, shown = opened(alphabet_bigram)
    frame = shown["table"].data.astype(object)
    frame.iloc[0, 2] = "25"  # logits[M, A]
    out = acted(tab.on_table_edit(alphabet_bigram, editing, *where(context), shown["view"], frame))
    tok = alphabet_bigram.tokenizer
    m, a = tok.token_to_id("M"), tok.token_to_id("A")
    assert alphabet_bigram.model.logits[m, a].item() == 25.0
    assert "logits[M, A] = 25" in out["status"] and "→ 100.0%" in out["status"]
    assert "→ 100.0%" in out["bars"]  # the bar of "A": before → after
    assert out["edits"].iloc[0]["old → new"].endswith("→ 25")
    # the table sends its value again after Enter: nothing more happens
    again = acted(tab.on_table_edit(alphabet_bigram, editing, *where(context), out["view"], out["table"].data))
    assert all(isinstance(v, dict) and v.get("__type__") == "update" for v in again.values())
    # ... and when that second send still carries the view from before the edit (the browser had not
    # drawn the first answer yet), the weight already holds 25: the screen keeps its before/after bars
    stale = acted(tab.on_table_edit(alphabet_bigram, editing, *where(context), shown["view"], frame))
    assert all(isinstance(v, dict) and v.get("__type__") == "update" for v in stale.values())
    assert len(editing["session"].history) == 1


def test_a_bad_cell_warns_and_changes_nothing(alphabet_bigram):
    editing, context, shown = opened(alphabet_bigram)
    original = copy_weights(alphabet_bigram.model)
    for bad in ("lots", "nan", "1e9"):
        frame = shown["table"].data.astype(object)
        frame.iloc[0, 2] = bad
        with pytest.warns(UserWarning, match="must be"):  # gr.Warning outside a request is a warning
            out = acted(tab.on_table_edit(alphabet_bigram, editing, *where(context), shown["view"], frame))
        assert out["table"].data.iloc[0, 2] == shown["table"].data.iloc[0, 2]  # the table shows the weight again
    assert not diff(alphabet_bigram.model, original)


def test_undo_redo_and_reset_from_the_buttons(alphabet_bigram):
    editing, context, _ = opened(alphabet_bigram)
    model, original = alphabet_bigram.model, copy_weights(alphabet_bigram.model)
    out = acted(tab.draw_connection(alphabet_bigram, editing, *where(context), 0, "A", 9.0))  # from M, the only token read
    assert "connect M → A at 9" in out["status"]
    edited = copy_weights(model)
    assert "undo: connect M → A" in acted(tab.undo(alphabet_bigram, editing, *where(context)))["status"]
    assert not diff(model, original)
    acted(tab.redo(alphabet_bigram, editing, *where(context)))
    assert not diff(model, edited)
    with pytest.warns(UserWarning, match="nothing to redo"):
        tab.redo(alphabet_bigram, editing, *where(context))
    view = tab.on_select(out["view"], gr.SelectData(None, {"index": [0, 2], "value": 9.0}))
    acted(tab.reset_cell(alphabet_bigram, editing, *where(context), view))
    assert not diff(model, original)
    acted(tab.draw_connection(alphabet_bigram, editing, *where(context), 0, "#8", 9.0))
    acted(tab.reset_row(alphabet_bigram, editing, *where(context), view))
    assert not diff(model, original)
    acted(tab.draw_connection(alphabet_bigram, editing, *where(context), 0, "Q", 9.0))
    out = acted(tab.reset_all(alphabet_bigram, editing, *where(context)))
    assert not diff(model, original) and "reset everything" in out["status"]


def test_the_picture_connects_two_clicked_circles(alphabet_bigram):
    editing, context, _ = opened(alphabet_bigram)
    q = alphabet_bigram.tokenizer.token_to_id("Q")
    event = gr.EventData(None, {"position": 0, "to_id": q})
    out = acted(tab.connect_from_picture(alphabet_bigram, editing, *where(context), 6.0, event))
    assert "connect M → Q at 6" in out["status"] and f"data-out='{q}'" in out["picture"]


def test_imprint_reproduces_the_sequences_and_prices_them(alphabet_bigram):
    editing, context, _ = opened(alphabet_bigram)
    out = tab.imprint_sequences(alphabet_bigram, editing, *where(context), "AZQ\nXJB", 4.0)
    result, status = out[-1], acted(out[:-1])["status"]
    assert result.count("✓ reproduced") == 2 and "Loss on the dataset's validation text" in result
    assert "imprint 'AZQ', 'XJB' at 4" in status
    with pytest.warns(UserWarning, match="at least one sequence"):
        out = tab.imprint_sequences(alphabet_bigram, editing, *where(context), "", 4.0)
    assert out[-1] is not None and not isinstance(out[-1], str)  # no result drawn


def test_every_shipped_kind_opens_and_edits():
    for name in ("phrases-pt-mlp", "alphabet-gpt"):
        ckpt = load_pretrained(name)
        editing, context, shown = opened(ckpt)
        weight_name = shown["view"]["name"]
        assert weight_name == "lm_head.weight" and shown["view"]["rows"]
        frame = shown["table"].data.astype(object)
        frame.iloc[0, 1] = "3.5"
        out = acted(tab.on_table_edit(ckpt, editing, *where(context, weight_name), shown["view"], frame))
        row, col = shown["view"]["rows"][0], shown["view"]["cols"][0]
        assert ckpt.model.lm_head.weight[row, col].item() == 3.5 and "3.5" in out["status"]
    head = tab.on_weight(ckpt, editing, context, "transformer.h.1.attn.c_proj.weight", 0, 0)
    assert head[3]["visible"] is True and head[6]["cols"] == list(range(16))  # the head picker, head 0's columns


def test_the_default_model_is_loaded_once_and_handed_to_the_session():
    editing, context, shown = opened(None)
    frame = shown["table"].data.astype(object)
    frame.iloc[0, 1] = "2.0"
    out = acted(tab.on_table_edit(None, editing, *where(context, shown["view"]["name"]), shown["view"], frame))
    ckpt = out["model_state"]
    assert ckpt is editing["ckpt"] and len(editing["session"].history) == 1
    # the change event this causes finds the same model: the screen is left as it is
    assert all(v.get("__type__") == "update" for v in tab.show_model(ckpt, editing, context, None, [], 0, 0))


def test_export_writes_a_checkpoint_with_the_edits(alphabet_bigram, tmp_path):
    editing, context, _ = opened(alphabet_bigram)
    tab.draw_connection(alphabet_bigram, editing, *where(context), 0, "Q", 7.5)
    path = tab.export(alphabet_bigram, editing)
    assert zipfile.is_zipfile(path) and path.endswith("alphabet-bigram-counts-edited.zip")
    loaded = load_checkpoint(path)
    m, q = alphabet_bigram.tokenizer.token_to_id("M"), alphabet_bigram.tokenizer.token_to_id("Q")
    assert loaded.model.logits[m, q].item() == 7.5 and loaded.info["edited_weights"] == 1


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
    f = features(default.model, [window(default.model, ids)])[0]
    j = int(f.abs().argmax())
    value = default.model.lm_head.weight[z, j].item() + 40 / f[j].item()
    answer = client.predict("lm_head.weight", [z, j], value, "ROMEO:", api_name="/edit_weight")
    first = answer["first_edits"][0]
    assert first["name"] == "lm_head.weight" and first["index"] == [z, j] and first["new"] == pytest.approx(value, rel=1e-6)
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
    untouched = other.predict("lm_head.weight", [0, 0], 0.0, "ROMEO:", api_name="/edit_weight")
    assert untouched["before"][0]["token"] != "z"  # the other client's model never saw the connection
    answer = client.predict("xqzv\nzzx", 4.0, api_name="/imprint")
    assert [r["ok"] for r in answer["reproduced"]] == [True, True]
    assert answer["val_loss_after"] > answer["val_loss_before"] and answer["edits"] > 0
    with pytest.raises(Exception, match="single token"):
        client.predict("x", 4.0, api_name="/imprint")
