"""The Forward pass tab: one forward pass of the session's model, one step per screen.

Layout and wiring only: every handler calls ``tinylm.walkthrough.walkthrough`` on the session's
current model (the shipped one, or the one trained, loaded or edited in the other tabs) and draws
one of its steps as a small heatmap table, with the step's shape and its two sentences. The walk
is computed again on every move, from the live weights, so an edit in the Weights tab shows up at
the next click. Serves ``/walkthrough``. Run it alone with ``python -m tinylm_app.walkthrough_tab``.
"""

import gradio as gr

from tinylm.models import model_kind
from tinylm.walkthrough import Step, Walkthrough, walkthrough
from tinylm_app.guard import Number, Slider
from tinylm_app.html import escape, plural, token_label
from tinylm_app.limits import MAX_WALK_CHARS, MAX_WALK_STEPS
from tinylm_app.predict_tab import EXAMPLE_CONTEXTS
from tinylm_app.session import current_model, launch
from tinylm_app.session import model_state as new_model_state

HOW = """## One forward pass, step by step
Pick a context and a position: this is the path of that one token through the session's model, from
its id to the probability of every next token, with the model's real numbers (rounded) at each step.
Step through with the slider or **Previous** / **Next**. Every number is computed now from the current
weights: edit one in **Weights** and come back.
"""

CSS = """
.walk-title { font-size: 18px; font-weight: 600; margin: 2px 0; }
.walk-shape { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; color: #57606a; }
.walk-explain { font-size: 15px; line-height: 1.55; margin: 8px 0 10px; max-width: 60em; }
.walk-table { border-collapse: collapse; border: 0 !important; font-size: 12px; color: #1f2328; background: #fff;
              font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.walk-table th { font-weight: 500; color: #57606a; padding: 2px 6px; white-space: pre; text-align: right;
                 border: 0 !important; }
.walk-table td { padding: 3px 6px; text-align: right; border: 1px solid #eaeef2; min-width: 3.2em; }
.walk-table td.text { text-align: center; }
.walk-table td.masked { color: #8c959f; background: #f6f8fa; }
.walk-scroll { overflow-x: auto; max-width: 100%; padding-bottom: 4px; }
.walk-tokens { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 14px; line-height: 2; }
.walk-tokens span { padding: 1px 4px; margin: 1px; border-radius: 3px; background: #eef1f4; color: #1f2328; }
.walk-tokens span.read { background: #dbe9f8; }
.walk-tokens span.here { background: #6366f1; color: #fff; }
.walk-next .row { display: flex; align-items: center; gap: 8px; font-size: 13px; margin: 2px 0;
                  color: var(--body-text-color); }
.walk-next .tok { font-family: ui-monospace, Menlo, monospace; flex: 0 0 5em; text-align: right; }
.walk-next .bar { background: #6366f1; height: 12px; border-radius: 2px; }
.walk-error { color: #cf222e; font-size: 14px; }
"""


# ---------------------------------------------------------------------------------------------
# Drawing a walk: the step as a heatmap table, the context as chips, the next tokens as bars


def _cell(value, scale: float) -> str:
    """One table cell: a number coloured by its sign and size (blue < 0 < orange), text as is."""
    if value is None:
        return "<td class='masked'>−∞</td>"
    if isinstance(value, str):
        return f"<td class='text'>{escape(value)}</td>"
    strength = min(abs(value) / scale, 1.0) if scale else 0.0
    colour = "99, 102, 241" if value < 0 else "249, 115, 22"
    return f"<td style='background: rgba({colour}, {0.55 * strength:.2f})'>{value:g}</td>"


def table_html(step: Step) -> str:
    values = step.values
    numbers = [abs(v) for row in values.data for v in row if isinstance(v, (int, float)) and not isinstance(v, bool)]
    scale = max(numbers, default=0.0)
    if values.rows == ["token", "id"]:  # ids are labels, not quantities: no colour
        scale = 0.0
    head = "".join(f"<th>{escape(c)}</th>" for c in ["", *values.columns])
    body = "".join(f"<tr><th>{escape(r)}</th>{''.join(_cell(v, scale) for v in row)}</tr>"
                   for r, row in zip(values.rows, values.data))
    return f"<div class='walk-scroll'><table class='walk-table'><tr>{head}</tr>{body}</table></div>"


def _shape(step: Step) -> str:
    shown = len(step.values.columns)
    cut = f" · {shown} of {step.shape[-1]} shown" if shown < step.shape[-1] else ""
    return "shape (" + ", ".join(str(n) for n in step.shape) + (",)" if len(step.shape) == 1 else ")") + cut


def step_html(walk: Walkthrough, index: int) -> str:
    step = walk.steps[index]
    return (f"<div class='walk-title'>Step {index + 1} of {len(walk.steps)}: {escape(step.name)}</div>"
            f"<div class='walk-shape'>{escape(_shape(step))}</div>"
            f"<div class='walk-explain'>{escape(step.explain)}</div>{table_html(step)}")


def tokens_html(walk: Walkthrough) -> str:
    """The context's tokens; the ones the guess depends on in blue, the chosen position dark."""
    chips = []
    for i, token in enumerate(walk.tokens):
        css = "here" if i == walk.position else "read" if walk.start <= i < walk.position else ""
        chips.append(f"<span class='{css}' title='position {i}'>{escape(token_label(token))}</span>")
    return (f"<div class='walk-tokens'>{''.join(chips)}</div><div class='walk-shape'>position {walk.position} of "
            f"{len(walk.tokens)} tokens (dark); the guess for the next token also reads the blue ones</div>")


def next_html(walk: Walkthrough) -> str:
    rows = "".join(f"<div class='row'><span class='tok'>{escape(token_label(t['token']))}</span>"
                   f"<span class='bar' style='width: {max(1, round(300 * t['prob']))}px'></span>{t['prob']:.1%}</div>"
                   for t in walk.next_tokens)
    return f"<div class='walk-next'><b>After position {walk.position}, the model expects:</b>{rows}</div>"


# ---------------------------------------------------------------------------------------------
# Handlers: one walkthrough each, then drawing


def _position(value) -> int | None:
    """The position slider's value as a token index; None (the last token) when it is unset."""
    return None if value is None or value < 0 else int(value)


def walk_view(context: str, position, step, ckpt, reset_position: bool = False) -> dict:
    """Walk the session's model through ``context`` and draw step ``step`` (1-based) of it.

    Returns {"position", "step"} (slider updates) and {"step_html", "tokens_html", "next_html"};
    a context the model cannot read leaves the sliders alone and says why in the step's place.
    """
    ckpt = current_model(ckpt)
    try:
        walk = walkthrough(ckpt.model, ckpt.tokenizer, context or "", None if reset_position else _position(position))
    except ValueError as err:  # an unknown character, a context too long: said in place, on every keystroke
        message = f"<div class='walk-error'>⚠ {escape(str(err))}</div>"
        return {"step_html": message, "tokens_html": "", "next_html": ""}
    index = min(max(int(step or 1), 1), len(walk.steps)) - 1
    return {
        "position": gr.update(maximum=max(len(walk.tokens) - 1, 1), value=walk.position),
        "step": gr.update(maximum=len(walk.steps), value=index + 1),
        "step_html": step_html(walk, index),
        "tokens_html": tokens_html(walk),
        "next_html": next_html(walk),
    }


def redraw(context: str, position, step, ckpt) -> dict:
    """The same walk drawn again from the weights as they are now; the sliders are left alone.

    Nothing to redraw before the page has a context (the tab was opened while the page loads).
    """
    if not context:
        return {"step_html": gr.skip(), "tokens_html": gr.skip(), "next_html": gr.skip()}
    return {name: value for name, value in walk_view(context, position, step, ckpt).items() if name.endswith("_html")}


def model_view(ckpt) -> dict:
    """When the session's model changes: its name, a context that suits it, and step 1 of its walk."""
    model = current_model(ckpt)
    context = EXAMPLE_CONTEXTS.get(model.info.get("dataset"), "")
    kind = {"gpt": "a GPT", "mlp": "an MLP (Bengio et al. 2003)", "bigram": "a bigram model"}[model_kind(model.model)]
    reads = model.model.block_size
    card = (f"**Model: {escape(model.name)}**: {kind} that reads at most {plural(reads, 'token')} "
            f"({model.tokenizer.kind} tokenizer, {model.tokenizer.vocab_size:,} tokens).")
    return {"card": card, "context": context, **walk_view(context, None, 1, model, reset_position=True)}


def walkthrough_api(context: str, position: int, ckpt) -> dict:
    """``/walkthrough``: {steps: [{name, explain, shape, values}], next_tokens: [{token, id, prob}]}.

    ``position`` counts the context's tokens from 0; -1 (the default) is the last token.
    """
    ckpt = current_model(ckpt)
    try:
        position = int(position) if isinstance(position, float) and position.is_integer() else position
        return walkthrough(ckpt.model, ckpt.tokenizer, context or "", position).to_dict()
    except ValueError as err:
        raise gr.Error(str(err)) from err


# ---------------------------------------------------------------------------------------------
# Layout

def build(model_state: gr.State | None = None, tab: gr.Tab | None = None) -> gr.Blocks:
    """The tab; ``model_state`` is the session's current model, shared with the other tabs.

    ``tab``, when given, is the ``gr.Tab`` this is built in: selecting it walks the model again, so
    edits made in another tab are on screen as soon as this one is.
    """
    with gr.Blocks(title="tinylm: forward pass") as demo:
        if model_state is None:
            model_state = new_model_state()
        gr.Markdown(HOW)
        card_view = gr.Markdown()
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                context_box = gr.Textbox(label="Context", lines=2, max_lines=6, max_length=MAX_WALK_CHARS,
                                         elem_id="walk-context",
                                         placeholder="Type some text (empty starts at a line break)")
                tokens_view = gr.HTML(css_template=CSS, js_on_load=None, elem_id="walk-tokens")
                # the maxima are set per walk; these bound what the server accepts (it checks the first maximum)
                position_slider = Slider(0, MAX_WALK_CHARS, value=0, step=1, elem_id="walk-position",
                                            label="Position: the token whose next token is predicted",
                                            info="starts at the last token")
            next_view = gr.HTML(css_template=CSS, js_on_load=None, elem_id="walk-next")
        with gr.Row(equal_height=True):
            previous = gr.Button("◀ Previous", scale=1, min_width=120)
            step_slider = Slider(1, MAX_WALK_STEPS, value=1, step=1, label="Step", scale=6, elem_id="walk-step-slider")
            following = gr.Button("Next ▶", scale=1, min_width=120, variant="primary")
        step_view = gr.HTML(css_template=CSS, js_on_load=None, elem_id="walk-step")

        # hidden: the api-only endpoint returns plain JSON
        with gr.Group(visible=False):
            api_position = Number(-1, precision=0, minimum=-MAX_WALK_CHARS, maximum=MAX_WALK_CHARS, label="position")
            api_button, api_result = gr.Button(), gr.JSON(label="walkthrough")

        # -- wiring: every move walks the model again, from the live weights --------------------
        shown = {"card": card_view, "context": context_box, "position": position_slider, "step": step_slider,
                 "step_html": step_view, "tokens_html": tokens_view, "next_html": next_view}

        def draw(view: dict) -> dict:
            return {shown[name]: value for name, value in view.items()}

        def new_model(ckpt):
            return draw(model_view(ckpt))

        def new_context(context, step, ckpt):  # a new context starts at its last token
            return draw(walk_view(context, None, step, ckpt, reset_position=True))

        def move(context, position, step, ckpt):
            return draw(walk_view(context, position, step, ckpt))

        def previous_step(context, position, step, ckpt):
            return draw(walk_view(context, position, step - 1, ckpt))

        def next_step(context, position, step, ckpt):
            return draw(walk_view(context, position, step + 1, ckpt))

        def back_on_the_tab(context, position, step, ckpt):
            return draw(redraw(context, position, step, ckpt))

        hidden = dict(api_visibility="private", show_progress="hidden")
        walk_outputs = [shown[name] for name in ("position", "step", "step_html", "tokens_html", "next_html")]
        where = [context_box, position_slider, step_slider, model_state]
        gr.on([model_state.change, demo.load], new_model, [model_state], list(shown.values()), **hidden)
        if tab is not None:  # back on this tab: the same context and step, from the weights as they are now
            tab.select(back_on_the_tab, where, [step_view, tokens_view, next_view], **hidden)
        # the position slider is no input of a new context: Gradio would refuse its old value when a
        # shorter context has just lowered its maximum
        context_box.input(new_context, [context_box, step_slider, model_state], walk_outputs,
                          trigger_mode="always_last", **hidden)  # typed, not set by new_model: it walks already
        gr.on([position_slider.input, step_slider.input], move, where, walk_outputs, trigger_mode="always_last",
              **hidden)
        previous.click(previous_step, where, walk_outputs, **hidden)
        following.click(next_step, where, walk_outputs, **hidden)
        api_button.click(walkthrough_api, [context_box, api_position, model_state], api_result, api_name="walkthrough")
    return demo


if __name__ == "__main__":
    launch(build())
