"""The Weights tab: change a model by hand instead of training it, and watch the softmax move.

Layout and wiring only. Each redraw asks ``tinylm.edit.weights_view`` for one ``WeightsView`` (the
table's slice, the bars before and after, the continuations, the picture, the menus) and renders
it; each control calls one library function:

- the table (type a number) -> ``EditSession.set_many``; Undo, Redo, Reset -> ``EditSession``;
- the network picture and Connect -> ``connect_at`` (adds the strength to one edge);
- Imprint -> ``imprint_report``; Export -> ``tinylm.checkpoint.checkpoint_zip``;
- Edit another model -> ``tinylm.runs.bigram_checkpoint`` or ``tinylm.pretrained.load_pretrained``.

Handlers take Gradio's dict of inputs and return a dict of the outputs they change. Edits happen
on the session's model (``model_state``), so the Predict tab sees them too. Serves
``/edit_weight``, ``/connect`` and ``/imprint`` for gradio_client. Run it alone with
``python -m tinylm_app.weights_tab``.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import gradio as gr
import pandas as pd

from tinylm.checkpoint import Checkpoint, CheckpointError, checkpoint_zip
from tinylm.data import dataset_texts
from tinylm.edit import (
    DEFAULT_IMPRINT_STRENGTH,
    MAX_STRENGTH,
    Change,
    EditError,
    EditSession,
    WeightsView,
    connect_at,
    edit_table,
    imprint_report,
    predict,
    search_tokens,
    token_id,
    token_label,
    weights_view,
)
from tinylm.pretrained import list_pretrained, load_pretrained
from tinylm.runs import bigram_checkpoint
from tinylm.sample import prompt_ids
from tinylm_app import weights_api
from tinylm_app import weights_html as draw
from tinylm_app.guard import Dataframe, Slider
from tinylm_app.html import escape
from tinylm_app.limits import MAX_CONTEXT_CHARS, MAX_NAME_CHARS
from tinylm_app.session import current_model, download_folder, launch
from tinylm_app.session import model_state as new_model_state

# Gradio warns that an editable table cannot show a Styler's number formats; it does show its colours
warnings.filterwarnings("ignore", message="Cannot display Styler object in interactive mode")

STATIC = Path(__file__).parent / "static"
CSS = (STATIC / "weights.css").read_text()  # bars, continuations, picture, imprint report
PICTURE_JS = (STATIC / "weights.js").read_text()  # drag circles, click two of them to connect
TABLE_CSS = f"<style>{(STATIC / 'weights_table.css').read_text()}</style>"  # row labels that stay in view
BIGRAM_DATASETS = ("names", "alphabet", "phrases_pt", "tiny_shakespeare")
EXAMPLE_CONTEXTS = {"alphabet": "KLM", "names": "em", "phrases_pt": "eu gosto de", "phrases_en": "i like to",
                    "tiny_shakespeare": "ROMEO:\nBut soft, what light through yonder "}

HOW = """**Change a language model by hand instead of training it.** Every number in the table is a
real weight of the model (named as in its `state_dict`); click a cell, type a new value and press
Enter, and the bars show the next-token probabilities **before** (grey) and **after** (blue). Or
draw a connection in the picture, or imprint whole sequences below. Undo, redo and reset are always
there; **Predict** uses the edited model too."""

CONNECT_HOW = """### Draw connections
The network for this context: what the model reads on the left, its likeliest next tokens on the
right. An edge is how much that context token adds to the next token's logit: the logit with the
token minus the logit without it (blue raises, orange lowers). **Connect adds the strength to the
edge**, for every kind of model: a bigram's edge is its table entry `logits[from, to]`, so +5 makes
*to* e⁵ ≈ 150× likelier against each other token after *from*; an MLP's or a GPT's edge is what the
token adds through the output layer, so +5 makes that push 5 logits stronger, by the smallest change
to *to*'s row of the output layer. Undo takes it back."""

IMPRINT_HOW = """Type a few sequences, one per line (`abc`, `hello`), and press **Imprint**: tinylm writes
them into the weights *without training*: for every (context → next token) pair of every
sequence it reads the vector the output layer sees after that context (the **key**), and solves
for the smallest change to one layer that makes the next token win by *strength* nats there
(a linear associative memory, as in ROME). Bigram: the table's entries; MLP: rows of `lm_head`;
GPT: the last block's `mlp.c_proj`. Then greedy generation from each first token reproduces the
sequence, and the loss on the dataset's validation text shows what that cost."""


@dataclass
class Editing:
    """The model this session edits, its undo history, and the table as last drawn (one per session)."""

    ckpt: Checkpoint
    session: EditSession
    default: bool  # the default shipped model, loaded here: handed to model_state at the first edit
    view: WeightsView | None = None  # what is on screen
    cell: tuple[int, int | None] | None = None  # the table cell last clicked (row, column; None: its label)
    refused: list | None = None  # cells just refused: the table sends every Enter twice, warn once
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # one edit at a time

    def mark_edited(self) -> None:
        """Say in the model's info how many weights differ from the start (0: none), so that the other
        tabs tell a learner the model was edited by hand (``tinylm_app.html.model_status``)."""
        self.ckpt.info["edited_weights"] = self.session.changed()


@dataclass
class Page:
    """The tab's components, by role: handlers read ``data[page.context]`` and return ``{page.bars: ...}``."""

    model_state: gr.State
    editing: gr.State
    card: gr.Markdown
    context: gr.Textbox
    weight_name: gr.Dropdown
    rows: gr.Dropdown
    search: gr.Textbox
    head: gr.Radio
    first_col: gr.Slider
    table: gr.Dataframe
    status: gr.Markdown
    bars: gr.HTML
    texts: gr.HTML
    picture: gr.HTML
    from_token: gr.Dropdown
    to_token: gr.Dropdown
    strength: gr.Slider
    sequences: gr.Textbox
    imprint_strength: gr.Slider
    imprint_result: gr.HTML
    edits: gr.Dataframe

    @property
    def where(self) -> set:
        """What every redraw reads: the model, the context and what the table shows."""
        return {self.model_state, self.editing, self.context, self.weight_name, self.rows, self.head, self.first_col}

    @property
    def drawn(self) -> set:
        """What every redraw writes."""
        return {self.editing, self.table, self.status, self.bars, self.texts, self.picture, self.edits, self.card,
                self.from_token, self.to_token}


def editing_for(ckpt: Checkpoint | None, editing: Editing | None) -> Editing:
    """The session's model and its EditSession; a new one when the model changed.

    With no model chosen yet (``ckpt`` None) the default shipped model is loaded once and kept
    here, and the first edit hands it to ``model_state`` so every tab sees the edited copy.
    """
    if editing is not None and (editing.ckpt is ckpt or (ckpt is None and editing.default)):
        return editing
    ckpt_ = current_model(ckpt)
    return Editing(ckpt_, EditSession.start(ckpt_.model), default=ckpt is None)


# ---------------------------------------------------------------------------------------------
# Drawing one WeightsView


def _render(page: Page, editing: Editing, data: dict, before=None, change: Change | None = None,
            extra_outputs=(), rows=None) -> dict:
    """Ask the library for the view and set every output that shows it."""
    c = editing.ckpt
    chosen = data.get(page.rows) if rows is None else rows
    view = weights_view(c.model, c.tokenizer, data[page.context], data[page.weight_name], chosen, data[page.head] or 0,
                        data[page.first_col] or 0, before, extra_outputs)
    if view.warning:
        gr.Warning(escape(view.warning))
    editing.view, editing.cell = view, None
    froms = view.connect_from
    return {page.editing: editing,
            page.card: draw.model_card(c),
            page.table: draw.styled_table(view),
            page.status: draw.status_line(change, view),
            page.bars: draw.bars(view),
            page.texts: draw.texts(view),
            page.picture: draw.picture(view),
            page.from_token: gr.update(choices=froms, value=froms[-1][1] if froms else None),
            page.to_token: gr.update(choices=view.connect_to),
            page.edits: draw.edits_frame(editing.session)}


def _menus(page: Page, view: WeightsView) -> dict:
    """The weight, row, search, head and column controls that suit the weight just drawn."""
    m = view.menus
    rows_label = f"{m.row_word.capitalize()} to show (empty: follow the context)"
    return {page.weight_name: gr.update(choices=m.weights, value=view.table.name),
            page.rows: gr.update(choices=m.rows, value=[], label=rows_label),
            page.search: gr.update(visible=m.searchable),
            page.head: gr.update(visible=bool(m.heads), choices=m.heads or [0], value=0),
            page.first_col: gr.update(visible=m.max_first_col > 0, maximum=max(m.max_first_col, 1), value=0)}


# ---------------------------------------------------------------------------------------------
# Handlers: a dict of inputs in, a dict of changed outputs back


def show_model(page: Page, data: dict) -> dict:
    """A new model in the session (or the page loaded): its output layer, an example context, its picture."""
    ckpt, editing = data[page.model_state], data[page.editing]
    if editing is not None and (editing.ckpt is ckpt or (ckpt is None and editing.default)):
        return gr.skip()  # our own first edit put the model into the session: nothing is new
    editing = editing_for(ckpt, None)
    context = EXAMPLE_CONTEXTS.get(editing.ckpt.info.get("dataset"), data[page.context] or "")
    data = {**data, page.context: context, page.weight_name: None, page.head: 0, page.first_col: 0}
    out = _render(page, editing, data, rows=[])
    return {**out, **_menus(page, editing.view), page.context: context}


def on_context(page: Page, data: dict) -> dict:
    """The context changed (typed, pasted, or set with a new model): redraw, unless it is drawn already."""
    editing = editing_for(data[page.model_state], data[page.editing])
    if editing.view is not None and editing.view.context == (data[page.context] or ""):
        return gr.skip()  # show_model set it and drew it: one redraw is enough
    return _render(page, editing, data)


def on_view(page: Page, data: dict) -> dict:
    """The rows, the head or the columns changed: redraw (no edit, no before)."""
    return _render(page, editing_for(data[page.model_state], data[page.editing]), data)


def on_weight(page: Page, data: dict) -> dict:
    """Another weight chosen: redraw it with the suggested rows, and the controls that suit it."""
    editing = editing_for(data[page.model_state], data[page.editing])
    out = _render(page, editing, {**data, page.head: 0, page.first_col: 0}, rows=[])
    return {**out, **_menus(page, editing.view)}


def search_rows(page: Page, data: dict) -> dict:
    """Big vocabularies: tokens matching the search become row choices (the chosen ones stay)."""
    tokenizer = editing_for(data[page.model_state], data[page.editing]).ckpt.tokenizer
    query, keep = data[page.search] or "", [int(c) for c in data[page.rows] or []]
    found = search_tokens(tokenizer, query)
    if query and not found:
        gr.Warning(f"no token contains {escape(query)!r}")
    return {page.rows: gr.update(choices=[(f"{token_label(tokenizer, i)}  #{i}", i)
                                          for i in dict.fromkeys(keep + found)], value=keep)}


def _act(page: Page, data: dict, action, extra_outputs=()) -> dict:
    """Run ``action(editing) -> Change`` and redraw with before/after, or warn and change nothing.

    ``action`` returns None when there is nothing to do (the table sent its value again).
    """
    editing = editing_for(data[page.model_state], data[page.editing])
    with editing.lock:  # the table sends each Enter twice, at once: one edit at a time per session
        try:
            before = predict(editing.ckpt.model, editing.ckpt.tokenizer, data[page.context] or "")
        except ValueError:  # a token the vocabulary lacks: the bars say so
            before = None
        try:
            change = action(editing)
        except (EditError, ValueError) as err:  # UnknownTokenError is a ValueError too
            gr.Warning(escape(str(err)))
            return _render(page, editing, data)
        if change is None:
            return gr.skip()  # nothing to do: the screen stays as it is
        editing.mark_edited()
        out = _render(page, editing, data, before, change, extra_outputs)
    return {**out, page.model_state: editing.ckpt} if data[page.model_state] is None else out


def on_table_edit(page: Page, data: dict) -> dict:
    """Cells typed into the table: each changed cell becomes an edit (one change for all of them)."""

    def action(editing: Editing):
        frame, view = data[page.table], editing.view
        if view is None or frame is None:
            raise EditError("the table is not ready yet")
        typed = frame.iloc[:, 1:].values.tolist() if isinstance(frame, pd.DataFrame) else [r[1:] for r in frame]
        if typed == editing.refused:  # the browser sends every Enter twice: the refusal was said once
            editing.refused = None
            return None
        editing.refused = typed
        change = edit_table(editing.session, editing.ckpt.tokenizer, view.table, typed)  # None: the second send
        editing.refused = None  # of an edit that was made (the weights hold it already)
        return change

    return _act(page, data, action)


def on_select(page: Page, data: dict, evt: gr.SelectData) -> None:
    """Remember the clicked cell, for Reset cell / Reset row (column None: the row's label)."""
    editing = data[page.editing]
    if editing is not None and evt.index is not None:
        i, j = evt.index
        editing.cell = (i, j - 1 if j >= 1 else None)


def reset_cell(page: Page, data: dict, whole_row: bool = False) -> dict:
    """Reset cell / Reset row: the clicked cell (or its row) back to the weights editing began with."""

    def action(editing: Editing):
        if editing.cell is None or editing.view is None:
            raise EditError("click a cell of the table first")
        (i, j), table = editing.cell, editing.view.table
        if whole_row:
            return editing.session.reset_row(table.name, table.index(i, 0)[0])
        if j is None:
            raise EditError("that is the row's label: click a number")
        return editing.session.reset_cell(table.name, table.index(i, j))

    return _act(page, data, action)


def reset_all(page: Page, data: dict) -> dict:
    """Every weight back to the start (one change: Undo brings the edits back)."""
    return _act(page, data, lambda editing: editing.session.reset_all())


def undo(page: Page, data: dict, redo: bool = False) -> dict:
    """Undo (or Redo) the last change."""
    def action(editing: Editing):
        change = editing.session.redo() if redo else editing.session.undo()
        if change is None:
            raise EditError(f"nothing to {'redo' if redo else 'undo'}")
        return Change(f"{'redo' if redo else 'undo'}: {change.what}", change.edits)

    return _act(page, data, action)


def draw_connection(page: Page, data: dict, position=None, to_token=None) -> dict:
    """The Connect button (or two circles clicked): add the strength to one edge of the picture."""
    position = data[page.from_token] if position is None else position
    to_token = data[page.to_token] if to_token is None else to_token

    def action(editing: Editing):
        if position is None:
            raise EditError("choose a context token to connect from")
        c = editing.ckpt
        ids = prompt_ids(c.tokenizer, data[page.context] or "")
        change = connect_at(c.model, ids, int(position), token_id(c.tokenizer, to_token, "the next token"),
                            data[page.strength], c.tokenizer)
        return editing.session.record(change)

    try:
        extra = [token_id(editing_for(data[page.model_state], data[page.editing]).ckpt.tokenizer, to_token)]
    except EditError:
        extra = []
    return _act(page, data, action, extra)


def connect_from_picture(page: Page, data: dict, evt: gr.EventData) -> dict:
    """Two circles clicked in the picture: the same as Connect, with the clicked tokens."""
    clicked = getattr(evt, "_data", None) or {}
    if not isinstance(clicked, dict) or clicked.get("position") is None or clicked.get("to_id") is None:
        raise EditError("click a context token, then a next token")
    return draw_connection(page, data, clicked["position"], clicked["to_id"])


def imprint_sequences(page: Page, data: dict) -> dict:
    """The Imprint button: write the sequences in, then show each greedy reproduction and the val loss."""
    reports = []

    def action(editing: Editing):
        c, texts = editing.ckpt, dataset_texts(editing.ckpt.info.get("dataset"))
        report = imprint_report(c.model, c.tokenizer, data[page.sequences] or "", data[page.imprint_strength],
                                val_text=texts[1] if texts else None, background=texts[0] if texts else None)
        reports.append(report)
        return editing.session.record(report.imprint.change)

    out = _act(page, data, action)
    return {**out, page.imprint_result: draw.imprint_result(reports[0])} if reports else out


def export(page: Page, data: dict) -> str:
    """The edited model as a checkpoint .zip (it loads in the Train tab, the CLI, or load_checkpoint)."""
    editing = editing_for(data[page.model_state], data[page.editing])
    source, n = editing.ckpt, editing.session.changed()
    name = source.name if n == 0 or source.name.endswith("-edited") else f"{source.name}-edited"
    info = {**source.info, "name": name, "edited_weights": n}
    edited = Checkpoint(source.model, source.tokenizer, info, source.metrics)
    return str(checkpoint_zip(edited, download_folder()))


def load_model(choice: str):
    """The model picker: a counted bigram of a dataset, or a shipped model (a fresh copy)."""
    if not choice:
        return gr.skip()
    kind, _, name = choice.partition(":")
    try:
        return bigram_checkpoint(name) if kind == "bigram" else load_pretrained(name)
    except (CheckpointError, ValueError, OSError) as err:
        raise gr.Error(str(err)) from err


def _model_choices() -> list[tuple[str, str]]:
    bigrams = [(f"bigram counted from {d}" + (" (words)" if d.startswith("phrases") else ""), f"bigram:{d}")
               for d in BIGRAM_DATASETS]
    return bigrams + [(f"{name} (shipped)", f"shipped:{name}") for name in list_pretrained()]


# ---------------------------------------------------------------------------------------------
# Layout and wiring


def layout(model_state: gr.State) -> tuple[Page, gr.Dropdown, dict[str, gr.Button], gr.File]:
    """The tab's components, placed: the page, the model picker, the buttons by name, the export file."""
    editing = gr.State(None)  # an Editing: the model being edited, its undo history, the table on screen
    gr.Markdown(HOW)
    with gr.Row(equal_height=True):
        with gr.Column(scale=4, min_width=320):  # on a phone, the card gets a line of its own
            card = gr.Markdown(elem_id="weights-card")
        picker = gr.Dropdown(_model_choices(), value=None, label="Edit another model", scale=2, min_width=220,
                             info="a bigram is counted in a second: the easiest to edit")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            context = gr.Textbox("", label="Context", lines=1, max_lines=4, max_length=MAX_CONTEXT_CHARS,
                                 placeholder="Some text; the model predicts what comes next (empty: a line start)")
            with gr.Row():
                weight_name = gr.Dropdown([], label="Weight (state_dict name, shape)", scale=3, min_width=220)
                rows = gr.Dropdown([], value=[], multiselect=True, label="Rows to show (empty: follow the context)",
                                   scale=3, min_width=220)
            with gr.Row():
                search = gr.Textbox(label="Search tokens", max_length=MAX_NAME_CHARS, visible=False, scale=2,
                                    placeholder="type part of a token, then Enter")
                head = gr.Radio([0], value=0, label="attention head", visible=False, scale=2)
                first_col = Slider(0, 1, value=0, step=1, label="first column", visible=False, scale=2)
            table = Dataframe(interactive=True, label="Weights: click a cell, type a number, press Enter",
                              max_height=430, static_columns=[0], elem_id="weights-table")  # labels: TABLE_CSS
            with gr.Row():
                buttons = {name: gr.Button(label, size="sm", min_width=80, variant=variant) for name, label, variant in
                           (("undo", "↶ Undo", "secondary"), ("redo", "↷ Redo", "secondary"),
                            ("cell", "Reset cell", "secondary"), ("row", "Reset row", "secondary"),
                            ("all", "Reset all", "stop"))}
            status = gr.Markdown(elem_id="weights-status")
        with gr.Column(scale=2, min_width=300):
            bars = gr.HTML(css_template=CSS, head=TABLE_CSS, elem_id="weights-bars")
            texts = gr.HTML(css_template=CSS)
    gr.Markdown(CONNECT_HOW)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            picture = gr.HTML(css_template=CSS, js_on_load=PICTURE_JS, elem_id="weights-picture")
        with gr.Column(scale=2, min_width=300):
            from_token = gr.Dropdown([], label="From (a token of the context)")
            to_token = gr.Dropdown([], allow_custom_value=True, label="To (a next token: pick or type it, or #id)")
            strength = Slider(-MAX_STRENGTH / 10, MAX_STRENGTH / 10, value=5, step=0.5,
                              label="strength: added to the edge (logit units; +5 = e⁵ ≈ 150× the odds)")
            buttons["connect"] = gr.Button("Connect", variant="primary")
    with gr.Accordion("Imprint sequences (no training)", open=True):
        gr.Markdown(IMPRINT_HOW)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=300):
                sequences = gr.Textbox("", label="Sequences, one per line", lines=3, max_lines=10,
                                       max_length=MAX_CONTEXT_CHARS)
                imprint_strength = Slider(0.5, 15, value=DEFAULT_IMPRINT_STRENGTH, step=0.5,
                                          label="strength (nats the next token wins by)")
                buttons["imprint"] = gr.Button("Imprint", variant="primary")
            with gr.Column(scale=3, min_width=300):
                imprint_result = gr.HTML(css_template=CSS, elem_id="imprint-result")
    with gr.Accordion("Edits so far, and export", open=False):
        edits = gr.Dataframe(draw.edits_frame(EditSession(None, {})), interactive=False, max_height=300)
        with gr.Row():
            buttons["export"] = gr.Button("Export the edited model (.zip)", min_width=200)
            export_file = gr.File(label="checkpoint", interactive=False, min_width=200)
    page = Page(model_state, editing, card, context, weight_name, rows, search, head, first_col, table, status, bars,
                texts, picture, from_token, to_token, strength, sequences, imprint_strength, imprint_result, edits)
    return page, picker, buttons, export_file


def build(model_state: gr.State | None = None) -> gr.Blocks:
    """The tab; ``model_state`` is the session's current model, shared with the other tabs."""
    with gr.Blocks(title="tinylm: weights") as demo:
        page, picker, buttons, export_file = layout(model_state or new_model_state())
        hidden = {"api_visibility": "private", "show_progress": "hidden"}

        # Gradio hands event data to a parameter typed gr.EventData; a partial hides the type, so these two are defs
        def selected(data: dict, evt: gr.SelectData) -> None:
            on_select(page, data, evt)

        def clicked(data: dict, evt: gr.EventData) -> dict:
            return connect_from_picture(page, data, evt)

        where, drawn = page.where, page.drawn
        controls = {page.context, page.weight_name, page.rows, page.search, page.head, page.first_col}
        gr.on([page.model_state.change, demo.load], partial(show_model, page), where, drawn | controls, **hidden)
        # .change, not .input: a paste changes the box without an input event (issue 13); on_context
        # skips a context that is already drawn, so setting it with a new model does not draw twice
        page.context.change(partial(on_context, page), where, drawn, trigger_mode="always_last", **hidden)
        gr.on([page.rows.input, page.head.input, page.first_col.release], partial(on_view, page), where, drawn,
              trigger_mode="always_last", **hidden)
        page.weight_name.input(partial(on_weight, page), where, drawn | controls, **hidden)
        page.search.submit(partial(search_rows, page), {page.model_state, page.editing, page.search, page.rows},
                           page.rows, **hidden)
        acting = drawn | {page.model_state}
        page.table.input(partial(on_table_edit, page), where | {page.table}, acting, **hidden)
        page.table.select(selected, {page.editing}, None, **hidden)
        for name, fn in (("undo", undo), ("redo", partial(undo, redo=True)), ("cell", reset_cell),
                         ("row", partial(reset_cell, whole_row=True)), ("all", reset_all)):
            buttons[name].click(partial(fn, page), where, acting, **hidden)
        connecting = where | {page.from_token, page.to_token, page.strength}
        buttons["connect"].click(partial(draw_connection, page), connecting, acting, **hidden)
        page.picture.submit(clicked, connecting, acting, **hidden)
        buttons["imprint"].click(partial(imprint_sequences, page), where | {page.sequences, page.imprint_strength},
                                 acting | {page.imprint_result}, **hidden)
        buttons["export"].click(partial(export, page), {page.model_state, page.editing}, export_file, **hidden)
        picker.input(load_model, picker, page.model_state, **hidden)
        weights_api.add_endpoints(page.model_state, page.editing, editing_for)
    return demo


if __name__ == "__main__":
    launch(build())
