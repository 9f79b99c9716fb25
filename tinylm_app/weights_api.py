"""The Weights tab for scripts: ``/edit_weight``, ``/connect`` and ``/imprint``, JSON in and out.

Each endpoint edits the session's model, the same one the page edits (``editing_for``, handed in
by ``weights_tab.build``, finds it), records the change in its undo history, and answers with what
the change did: the top next tokens before and after and a greedy continuation, or each imprinted
sequence's reproduction and the val loss it cost. A bad input (a ``ValueError`` from the library)
is refused with one sentence by ``tinylm_app.guard``, and the model is left as it was.

    client.predict("lm_head.weight", [26, 3], 2.5, "ROMEO:", api_name="/edit_weight")
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import gradio as gr

from tinylm.data import dataset_texts
from tinylm.edit import DEFAULT_IMPRINT_STRENGTH, cell_name, connect, imprint_report, parse_index, weight
from tinylm.sample import continue_text, top_next_tokens
from tinylm_app.guard import Number
from tinylm_app.limits import MAX_CONTEXT_CHARS, MAX_NAME_CHARS

API_NEW_TOKENS = 10  # tokens of greedy continuation the API returns (short: every call pays for them)


def _answer(editing_for, ckpt, editing, context, action) -> tuple[dict, object, object]:
    """Run ``action(editing) -> Change`` on the session's model. The JSON: the change, the top 10
    next tokens after ``context`` before and after it, and the greedy continuation."""
    editing = editing_for(ckpt, editing)
    c, context = editing.ckpt, context or ""

    def top() -> list[dict]:
        return [{"token": t.token, "id": t.id, "prob": round(t.prob, 6)}
                for t in top_next_tokens(c.model, c.tokenizer, context)]

    with editing.lock:
        before = top()  # an unknown token in the context is refused here, before any edit
        change = action(editing)  # recorded in the session's history
        editing.mark_edited()
        after = top()
    greedy = "".join(t.token for t in continue_text(c.model, c.tokenizer, context, API_NEW_TOKENS, temperature=0))
    first = [{"name": e.name, "index": list(e.index), "old": e.old, "new": e.new} for e in change.edits[:5]]
    answer = {"change": change.what, "edits": len(change.edits), "first_edits": first, "context": context,
              "before": before, "after": after, "greedy": greedy}
    return answer, c if ckpt is None else gr.skip(), editing  # a default model joins the session


def edit_weight(editing_for, name, index, value, context, ckpt, editing):
    """``/edit_weight``: set ``state_dict()[name][index] = value`` in this session's model.

    ``index`` is [row, col] (or one number for a 1-D weight, or text like "3, 5"); ``value`` a
    number within ±1000. Returns the change, the top-10 next tokens after ``context`` before and
    after it, and the greedy continuation. A bad name, index or value is refused (model unchanged).
    """
    def action(editing):
        model, name_ = editing.ckpt.model, str(name)
        index_ = parse_index(index, weight(model, name_), name_)
        what = f"{cell_name(model, editing.ckpt.tokenizer, name_, index_)} = {value}"
        return editing.session.set(name_, index_, value, what=what)

    return _answer(editing_for, ckpt, editing, context, action)


def connect_tokens(editing_for, from_token, to_token, strength, context, ckpt, editing):
    """``/connect``: after ``from_token`` (its last place in ``context``, or alone), add ``strength``
    (logit units) to its edge to ``to_token``. Returns the same JSON as /edit_weight."""
    def action(editing):
        c = editing.ckpt
        return editing.session.record(connect(c.model, c.tokenizer, from_token, to_token, strength, context or None))

    return _answer(editing_for, ckpt, editing, context, action)


def imprint(editing_for, sequences, strength, ckpt, editing):
    """``/imprint``: write sequences (one per line) into this session's model without training.

    Returns each sequence's greedy reproduction from its first token, the val loss before and
    after, and how many weights changed.
    """
    editing = editing_for(ckpt, editing)
    c, texts = editing.ckpt, dataset_texts(editing.ckpt.info.get("dataset"))
    with editing.lock:
        report = imprint_report(c.model, c.tokenizer, sequences or "", strength,
                                val_text=texts[1] if texts else None, background=texts[0] if texts else None)
        editing.session.record(report.imprint.change)
        editing.mark_edited()
    result = report.imprint
    answer = {"change": result.change.what, "edits": len(result.change.edits), "pairs": result.pairs,
              "conflicts": result.conflicts,
              "reproduced": [{"sequence": r.sequence, "greedy": r.greedy, "ok": r.ok} for r in result.reproduced],
              "val_loss_before": report.val_loss_before, "val_loss_after": report.val_loss_after,
              "val_tokens": report.val_tokens}
    return answer, c if ckpt is None else gr.skip(), editing


def add_endpoints(model_state: gr.State, editing: gr.State, editing_for: Callable) -> None:
    """Hidden fields and buttons behind the three endpoints; ``editing_for(ckpt, editing)`` finds the
    session's model being edited (``weights_tab.editing_for``)."""
    with gr.Group(visible=False):
        name = gr.Textbox(label="name", max_length=MAX_NAME_CHARS)
        index, value = gr.JSON(label="index"), gr.JSON(label="value")
        context = gr.Textbox(label="context", max_length=MAX_CONTEXT_CHARS)
        from_token = gr.Textbox(label="from_token", max_length=MAX_NAME_CHARS)
        to_token = gr.Textbox(label="to_token", max_length=MAX_NAME_CHARS)
        strength = Number(DEFAULT_IMPRINT_STRENGTH, label="strength")
        sequences = gr.Textbox(label="sequences", max_length=MAX_CONTEXT_CHARS)
        edit_button, connect_button, imprint_button = gr.Button(), gr.Button(), gr.Button()
        result = gr.JSON(label="result")
    states, out = [model_state, editing], [result, model_state, editing]
    edit_button.click(partial(edit_weight, editing_for), [name, index, value, context, *states], out,
                      api_name="edit_weight")
    connect_button.click(partial(connect_tokens, editing_for), [from_token, to_token, strength, context, *states], out,
                         api_name="connect")
    imprint_button.click(partial(imprint, editing_for), [sequences, strength, *states], out, api_name="imprint")
