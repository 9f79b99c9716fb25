"""The Predict tab: give the model a context, see the probability of every next token, then generate.

Layout and wiring only: ``tinylm.predict.top_next_tokens`` answers "what could come next?",
``continue_text`` writes a continuation token by token, and ``tinylm.plots.candidates_frame``
makes the bar chart's table. The model is the session's (``model_state``): the one trained in
the Train tab, an uploaded one, or a shipped one. Serves ``/predict`` and ``/generate`` for
gradio_client. Run it alone with ``python -m tinylm_app.predict_tab``.
"""


import gradio as gr

from tinylm.checkpoint import describe_checkpoint
from tinylm.fields import parse_number
from tinylm.live import chunk_by_time
from tinylm.plots import candidates_frame
from tinylm.pretrained import list_pretrained, load_pretrained
from tinylm.sample import (
    UnknownTokenError,
    context_tokens,
    continue_text,
    sampling_settings,
    top_next_tokens,
)
from tinylm_app.guard import Number, Slider
from tinylm_app.html import escape, model_status, token_label
from tinylm_app.limits import MAX_CONTEXT_CHARS, MAX_K, MAX_NEW_TOKENS
from tinylm_app.session import current_model, launch
from tinylm_app.session import model_state as new_model_state

STREAM_EVERY = 0.1  # seconds between screen updates while generating (each resends the text)
EXAMPLE_CONTEXTS = {  # a context that shows something, by the dataset a model learned from
    "alphabet": "KLM", "names": "em", "phrases_pt": "eu gosto de", "phrases_en": "i like to",
    "tiny_shakespeare": "ROMEO:\nBut soft, what light through yonder ",
}
# probability bins: (lowest probability, css class, legend); blue = expected, orange/red = a surprise
BINS = [(0.8, "p4", "≥ 80%"), (0.5, "p3", "50–80%"), (0.2, "p2", "20–50%"), (0.05, "p1", "5–20%"), (0.0, "p0", "< 5%")]

CSS = """
.tokens { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 14px; line-height: 1.9;
          white-space: pre-wrap; word-break: break-word; padding: 10px; min-height: 5em; border-radius: 8px;
          border: 1px solid var(--border-color-primary); background: #fff; color: #1f2328; }
.tokens span { border-radius: 3px; padding: 1px 0; }
.prompt { color: #6e7781; }
.p4 { background: #b6d4f2; } .p3 { background: #dbe9f8; } .p2 { background: #fdefc3; }
.p1 { background: #fdcf9e; } .p0 { background: #f7a391; }
.legend { font-size: 13px; margin-top: 6px; color: var(--body-text-color-subdued); }
.legend span { color: #1f2328; padding: 1px 6px; border-radius: 3px; margin-left: 4px; }
.chip { display: inline-block; font-family: ui-monospace, Menlo, monospace; font-size: 14px; padding: 2px 6px;
        margin: 2px 3px 2px 0; border-radius: 4px; background: #e0e7ff; color: #1e1b4b; }
.reads { font-size: 14px; color: var(--body-text-color); }
.error { color: #cf222e; font-size: 14px; }
"""


def _unit(ckpt) -> str:
    return {"split": "words", "char": "characters"}.get(ckpt.tokenizer.kind, "tokens")


def _model_card(ckpt) -> str:
    d = describe_checkpoint(ckpt)
    trained = f" · {int(d['steps']):,} steps on *{d['dataset']}*" if d.get("steps") else ""
    val = f" · val loss {d['val_loss']:.3f}" if d.get("val_loss") is not None else ""
    status = model_status(ckpt)
    return (f"**Model: {escape(d['name'])}** — {d['model'].upper()} · {d['tokenizer']} tokenizer ({d['vocab_size']:,} "
            f"tokens) · {d['params']:,} parameters{trained}{val}  \nIt reads only the **last {d['block_size']} "
            f"{_unit(ckpt) if d['block_size'] > 1 else _unit(ckpt)[:-1]}** of the context to guess the next one."
            + (f"  \n{status}" if status else ""))


def _tokens_html(prompt: str, tokens, words: bool = False) -> str:
    """The prompt in grey, then each generated token coloured by its probability (hover: exact value).

    ``words``: the tokens are split words, and the space before each is the joiner, not part of it.
    """
    spans = [f"<span class='prompt'>{escape(prompt)}</span>"]
    for t in tokens:
        css = next(c for low, c, _ in BINS if t.prob >= low)
        space = " " if words and t.token.startswith(" ") else ""
        shown = "↵\n" if t.token == "\n" else t.token[len(space):]
        spans.append(f"{space}<span class='{css}' title='{escape(repr(t.token))} · p = {t.prob:.3f} · id {t.id}'>"
                      f"{escape(shown)}</span>")
    legend = "".join(f"<span class='{c}'>{label}</span>" for _, c, label in BINS)
    return f"<div class='tokens'>{''.join(spans)}</div><div class='legend'>the model's probability for each token:{legend}</div>"


# ---------------------------------------------------------------------------------------------
# Handlers


def show_next(text: str, k, ckpt):
    """What the model reads of ``text``, and its k likeliest next tokens as a bar chart."""
    ckpt = current_model(ckpt)
    try:
        k = parse_number(k, "k", 1, MAX_K)
        reads = context_tokens(ckpt.model, ckpt.tokenizer, text or "")
        candidates = top_next_tokens(ckpt.model, ckpt.tokenizer, text or "", k)
    except (UnknownTokenError, ValueError) as err:  # shown in place: this runs on every keystroke
        return f"<div class='error'>⚠ {escape(str(err))}. Change or remove them to see predictions.</div>", candidates_frame([])
    chips = "".join(f"<span class='chip'>{escape(token_label(t))}</span>" for t in reads)
    start = " (an empty context starts at a line break)" if not text else ""
    return f"<div class='reads'>The model reads{start}: {chips}</div>", candidates_frame(candidates)


def show_model(text: str, k, ckpt):
    """When the session's model changes: its card, an example context that suits it, and its predictions."""
    model = current_model(ckpt)
    example = EXAMPLE_CONTEXTS.get(model.info.get("dataset"), text)
    shipped = list_pretrained()
    menu = gr.update(choices=shipped, value=model.name if model.name in shipped else None)
    return (_model_card(model), menu, example, *show_next(example, k, model))


def generate_stream(text, max_new_tokens, temperature, top_k, top_p, seed, ckpt):
    """The Generate button: stream the continuation, each token coloured by its probability."""
    ckpt = current_model(ckpt)
    try:
        settings = dict(text=text or "", **sampling_settings(max_new_tokens, temperature, top_k, top_p, seed,
                                                              MAX_NEW_TOKENS))
        tokens = []
        for chunk in chunk_by_time(continue_text(ckpt.model, ckpt.tokenizer, **settings), STREAM_EVERY):
            tokens += chunk
            yield _tokens_html(settings["text"], tokens, words=ckpt.tokenizer.kind == "split")
    except (UnknownTokenError, ValueError) as err:
        raise gr.Error(str(err)) from err


def predict_api(text: str, k, ckpt) -> tuple[list[dict], object]:
    """``/predict``: the k likeliest next tokens after ``text``, as [{token, id, prob}, ...].

    The session's model goes back into its State unchanged: a client still using its model
    keeps it past the idle timeout (tinylm_app/session.py).
    """
    model = current_model(ckpt)
    try:
        k = parse_number(k, "k", 1, MAX_K)
        return [c._asdict() for c in top_next_tokens(model.model, model.tokenizer, text or "", k)], ckpt
    except (UnknownTokenError, ValueError) as err:
        raise gr.Error(str(err)) from err


def generate_api(text, max_new_tokens, temperature, top_k, top_p, seed, ckpt) -> tuple[dict, object]:
    """``/generate``: {text: prompt + continuation, continuation, tokens: [{token, id, prob}, ...]}."""
    model = current_model(ckpt)
    try:
        settings = dict(text=text or "", **sampling_settings(max_new_tokens, temperature, top_k, top_p, seed,
                                                              MAX_NEW_TOKENS))
        tokens = [t._asdict() for t in continue_text(model.model, model.tokenizer, **settings)]
    except (UnknownTokenError, ValueError) as err:
        raise gr.Error(str(err)) from err
    continuation = "".join(t["token"] for t in tokens)
    return {"text": settings["text"] + continuation, "continuation": continuation, "tokens": tokens}, ckpt


# ---------------------------------------------------------------------------------------------
# Layout


def build(model_state: gr.State | None = None) -> gr.Blocks:
    """The tab; ``model_state`` is the session's current model, shared with the other tabs."""
    with gr.Blocks(title="tinylm: predict") as demo:
        if model_state is None:
            model_state = new_model_state()
        with gr.Row(equal_height=True):
            card = gr.Markdown(scale=4)
            shipped = gr.Dropdown(list_pretrained(), value=None, label="Switch to a shipped model", scale=1, min_width=200)
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                context = gr.Textbox("", label="Context", lines=3, max_lines=8, max_length=MAX_CONTEXT_CHARS,
                                     placeholder="Type some text (empty starts at a line break)…")
                k = Slider(1, MAX_K, value=10, step=1, label="k: how many candidates to show")
                reads = gr.HTML(css_template=CSS, js_on_load=None)
            with gr.Column(scale=3, min_width=360):
                chart = gr.BarPlot(candidates_frame([]), x="token", y="prob", sort="-y", tooltip="all", height=300, y_lim=[0, None],
                                   label="The next token: the model's probabilities", y_title="probability",
                                   x_title="candidate next token (· is a space, ↵ a line break)", color_map=None)
        gr.Markdown("### Generate\nThe model picks a token, appends it to the context and repeats. **temperature** "
                    "flattens (>1) or sharpens (<1) the probabilities, 0 always takes the likeliest; **top-k** and "
                    "**top-p** cut the unlikely tail before drawing; the same **seed** draws the same text.")
        with gr.Row():
            temperature = Slider(0, 2, value=0.8, step=0.05, label="temperature", info="0 = greedy")
            top_k = Slider(0, 200, value=0, step=1, label="top-k", info="0 = off")
            top_p = Slider(0.05, 1, value=1, step=0.05, label="top-p", info="1 = off")
            seed = Number(-1, label="seed", info="-1 = random", precision=0, minimum=-1)
            max_new_tokens = Slider(1, MAX_NEW_TOKENS, value=200, step=1, label="max new tokens")
        with gr.Row():
            generate_button = gr.Button("Generate", variant="primary", scale=3)
            stop_button = gr.Button("Stop", variant="stop", scale=1)
        output = gr.HTML(_tokens_html("", []), css_template=CSS, js_on_load=None)

        # hidden: the api-only endpoints return plain JSON
        with gr.Group(visible=False):
            predict_button, generate_hidden = gr.Button(), gr.Button()
            predict_result, generate_result = gr.JSON(label="candidates"), gr.JSON(label="generation")

        # -- wiring ------------------------------------------------------------------------
        hidden = dict(api_visibility="private", show_progress="hidden")
        gr.on([context.change, k.release], show_next, [context, k, model_state], [reads, chart],
              trigger_mode="always_last", **hidden)
        gr.on([model_state.change, demo.load], show_model, [context, k, model_state],
              [card, shipped, context, reads, chart], **hidden)
        shipped.input(load_pretrained, shipped, model_state, **hidden)
        sampling = [context, max_new_tokens, temperature, top_k, top_p, seed, model_state]
        generating = generate_button.click(generate_stream, sampling, output, **hidden)
        stop_button.click(None, cancels=[generating], **hidden)
        predict_button.click(predict_api, [context, k, model_state], [predict_result, model_state], api_name="predict")
        generate_hidden.click(generate_api, sampling, [generate_result, model_state], api_name="generate")
    return demo


if __name__ == "__main__":
    launch(build())
