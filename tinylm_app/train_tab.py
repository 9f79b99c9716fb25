"""The Train tab: choose some text, a tokenizer and a model, then watch the loss fall as it learns.

Layout and wiring only. ``tinylm.predict`` does the work: ``app_corpus`` and ``app_run_config``
turn the fields into a run, ``live_training`` trains it and reports a few times a second, and
``tinylm.plots.loss_frame`` makes the chart's table. The trained model becomes the session's
model (``model_state``), so every other tab uses it at once. Serves ``/train`` for gradio_client.
Run it alone with ``python -m tinylm_app.train_tab``.
"""

import contextlib
import dataclasses

import gradio as gr

from tinylm.checkpoint import (
    CheckpointError,
    checkpoint_zip,
    describe_checkpoint,
    load_checkpoint_zip,
)
from tinylm.data import list_datasets, load_dataset_config
from tinylm.fields import parse_number
from tinylm.live import (
    TrainingSlots,
    TrainingUpdate,
    app_corpus,
    app_run_config,
    check_run_limits,
    live_training,
    sample_text,
    training_summary,
)
from tinylm.models import config_fields
from tinylm.plots import loss_frame
from tinylm.pretrained import list_pretrained, load_pretrained
from tinylm.runs import planned_size, prepare_run
from tinylm_app.guard import Number, Slider, refuse, sentence
from tinylm_app.html import PROGRESS_CSS, escape, plural, progress_html
from tinylm_app.limits import (
    MAX_CONCURRENT_TRAININGS,
    MAX_CORPUS_CHARS,
    MAX_LOGITS,
    MAX_NAME_CHARS,
    MAX_PARAMS,
    MAX_STEPS,
    MAX_TRAIN_SECONDS,
    MAX_UNPACKED_BYTES,
    MAX_VOCAB,
)
from tinylm_app.session import current_model, download_folder, launch
from tinylm_app.session import model_state as new_model_state

TIME_BUDGETS = {"30 s": 30, "2 min": 120, "10 min": 600}  # the time presets, in seconds

UPDATE_EVERY = 0.5  # seconds between chart updates (2 a second: each one resends the chart)
SAMPLE_EVERY = 3.0  # seconds between samples of the model's text
SAMPLE_TOKENS = 100  # tokens per sample (KV-cache generation: a few ms for these models)

DATA_SOURCES = [("a dataset", "dataset"), ("upload a .txt file", "upload"), ("paste text", "paste")]
TOKENIZERS = ["char", "split", "bpe", "gpt2"]
MODELS = [("bigram", "bigram"), ("MLP (Bengio 2003)", "mlp"), ("GPT", "gpt")]
DEFAULT_DATASET = "names"
BUSY = ("The trainer is busy: {n} trainings are running, the limit on this shared machine. Try again in a "
        "minute, or train on your own computer: pip install -r requirements.txt && python -m tinylm train --help")

_slots = TrainingSlots(MAX_CONCURRENT_TRAININGS, max_hold_seconds=MAX_TRAIN_SECONDS + 120)

CSS = PROGRESS_CSS + """
.desc { font-size: 13.5px; line-height: 1.45; color: var(--body-text-color); padding: 2px 4px; }
.hint { color: var(--body-text-color-subdued); font-size: 13px; }
pre.sample { white-space: pre-wrap; word-break: break-word; font-family: ui-monospace, Menlo, monospace;
             font-size: 13px; line-height: 1.45; margin: 0; padding: 8px 10px; min-height: 7em; max-height: 16em;
             overflow-y: auto; border-radius: 8px; border: 1px solid var(--border-color-primary);
             background: var(--background-fill-secondary); color: var(--body-text-color); }
"""


def _sample_html(text: str, title: str) -> str:
    return f"<div class='hint'>{escape(title)}</div><pre class='sample'>{escape(text)}</pre>"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _show_update(update: TrainingUpdate) -> str:
    """The progress bar and its line: step, speed, losses, time left."""
    m, train = update.metrics, update.checkpoint.info["train"]
    if not m:
        return progress_html(0, "Starting… (the first steps are the slowest)")
    fraction = max(m["step"] / train["max_steps"] if train["max_steps"] >= 1 else 0,
                   m["elapsed"] / train["max_seconds"] if train["max_seconds"] else 0)
    steps = f"step <b>{m['step']:,}</b>" + (f" / {train['max_steps']:,}" if train["max_steps"] >= 1 else "")
    val = update.checkpoint.info.get("val_loss")
    parts = [steps, f"{m['tokens_per_s']:,.0f} tokens/s", f"train loss <b>{m['train_loss']:.3f}</b>"]
    parts += [f"val loss <b>{val:.3f}</b>"] if val is not None else []
    if update.done:
        parts += [f"done in {_duration(m['elapsed'])}. This model is now used by every tab."]
    else:
        parts += [f"{_duration(update.eta)} left" if update.eta is not None else ""]
    return progress_html(1.0 if update.done else fraction, " · ".join(p for p in parts if p))


def _model_card(model, is_default: bool) -> str:
    d = describe_checkpoint(model)
    trained = f" · trained {plural(int(d['steps']), 'step')} on *{d['dataset']}*" if d.get("steps") else ""
    val = f" · val loss {d['val_loss']:.3f}" if d.get("val_loss") is not None else ""
    default = " (the default; train one or pick another below)" if is_default else ""
    return (f"**Current model: {d['name']}**{default}  \n{d['model'].upper()} · {d['tokenizer']} tokenizer "
            f"({d['vocab_size']:,} tokens) · context {d['block_size']} tokens · {d['params']:,} parameters{trained}{val}")


# ---------------------------------------------------------------------------------------------
# Handlers


def dataset_defaults(name: str):
    """A dataset's description and its suggested tokenizer, model and context length."""
    try:
        config = load_dataset_config(name)
    except ValueError as err:
        raise gr.Error(str(err)) from err
    return f"<div class='desc'>{escape(config.description)}</div>", config.tokenizer, config.model, config.block_size


def show_source(source: str):
    dataset = gr.update(visible=source == "dataset")
    return dataset, dataset, gr.update(visible=source == "upload"), gr.update(visible=source == "paste")


def show_sizes(model: str, tokenizer: str, budget: str):
    """Only the fields that apply: a bigram has no sizes, the MLP no heads, the GPT no n_hidden."""
    return (gr.update(visible=model != "bigram"), gr.update(visible=model != "bigram"), gr.update(visible=model == "mlp"),
            gr.update(visible=model == "gpt"), gr.update(visible=model == "gpt"),
            gr.update(visible=tokenizer in ("split", "bpe")), gr.update(visible=budget == "steps"))


def _parse_fields(form: dict) -> dict:
    """The form's typed fields as numbers within the limits, or a ValueError naming the field."""
    tokenizer, model, budget, vocab_size = form["tokenizer"], form["model"], form["budget"], form["vocab_size"]
    if budget == "steps":
        steps, seconds = parse_number(form["steps"], "steps", 1, MAX_STEPS), MAX_TRAIN_SECONDS
    elif budget in TIME_BUDGETS:
        steps, seconds = None, min(TIME_BUDGETS[budget], MAX_TRAIN_SECONDS)
    else:
        raise ValueError(f"unknown budget {budget!r}; choose steps or one of {', '.join(TIME_BUDGETS)}")
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {tokenizer!r}; choose one of {', '.join(TOKENIZERS)}")
    vocab = None
    if tokenizer in ("split", "bpe") and vocab_size not in (None, "", 0):
        vocab = parse_number(vocab_size, "vocab size", 7 if tokenizer == "split" else 261, MAX_VOCAB)
    if model not in [value for _, value in MODELS]:
        raise ValueError(f"unknown model {model!r}; choose bigram, mlp or gpt")
    gpt = model == "gpt"  # the fields the form shows for it (see show_sizes): n_layer and n_head are the GPT's
    sizes = config_fields(model, block_size=parse_number(form["block_size"], "block size (context)", 1, 256),
                          n_embd=parse_number(form["n_embd"], "n_embd", 2, 512),
                          n_hidden=parse_number(form["n_hidden"], "n_hidden", 2, 2048),
                          n_layer=parse_number(form["n_layer"], "n_layer", 1, 8) if gpt else None,
                          n_head=parse_number(form["n_head"], "n_head", 1, 16) if gpt else None)
    return dict(tokenizer=tokenizer, vocab_size=vocab, model=model, sizes=sizes, steps=steps, seconds=seconds,
                batch_size=parse_number(form["batch_size"], "batch size", 1, 256),
                learning_rate=parse_number(form["learning_rate"], "learning rate", 1e-6, 1.0, integer=False))


def planned(**form) -> str:
    """The size of the model the fields describe, before Train is pressed (the tokenizer is built to count)."""
    if form["source"] == "upload":
        return "<span class='hint'>Its size is counted when training starts, from the uploaded text.</span>"
    try:
        fields = _parse_fields(form)
        corpus = app_corpus(form["source"], form["dataset"], None, form["text"], MAX_CORPUS_CHARS)
        params, vocab = planned_size(app_run_config(corpus, **fields), corpus)
    except ValueError as err:  # empty text, a bad field: the Train button says it in full
        return f"<span class='hint'>⚠ {escape(sentence(str(err)))}</span>"
    over = f" — over the limit of {MAX_PARAMS:,} here: make it smaller" if params > MAX_PARAMS else ""
    return f"This model: **{params:,} parameters** (a vocabulary of {vocab:,} tokens){over}"


def _session(request: gr.Request | None) -> object:
    """Who is training: the visitor's session, or a fresh object when called outside a request."""
    return getattr(request, "session_hash", None) or object()


def _training(session, form: dict):
    """The run's TrainingUpdates, holding one of the shared training slots while it lasts (one per session).

    ``form`` holds the Train tab's fields by name (source, dataset, ..., learning_rate), as typed.
    """
    fields = _parse_fields(form)
    if _slots.holds(session):
        raise refuse("This session is already training a model: stop it first, or wait for it to finish")
    ticket, run = _slots.try_acquire(session), None
    if ticket is None:
        raise gr.Error(BUSY.format(n=MAX_CONCURRENT_TRAININGS), title="Busy", print_exception=False)
    try:
        try:  # loading, tokenizing and the first batch are where a user's text can be wrong
            corpus = app_corpus(form["source"], form["dataset"], form["upload"], form["text"], MAX_CORPUS_CHARS)
            run = prepare_run(app_run_config(corpus, **fields), corpus)
            check_run_limits(run, MAX_PARAMS, MAX_LOGITS)
            _slots.trains(ticket, run.model)
            with contextlib.closing(live_training(run, UPDATE_EVERY, SAMPLE_EVERY, SAMPLE_TOKENS)) as updates:
                yield from updates
        except OSError as err:  # a dataset file that cannot be read (ValueErrors say what to change already)
            raise refuse(str(err)) from err
    finally:
        _slots.release(ticket)  # also when the Stop button closes this generator


def train(ckpt, request: gr.Request = None, **form):
    """The Train button: stream progress, the loss chart and samples; the model goes into the session.

    ``form``: the tab's fields by name, passed by keyword (the event's inputs_kwargs, see build).

    Yields (model_state, progress, loss chart, sample). The first update puts the live model into
    the session, so Stop keeps whatever it has learned; the last puts a fresh copy of the
    checkpoint there, which tells every tab that the model changed.
    """
    yield gr.skip(), progress_html(0, "Preparing the data and the tokenizer…"), gr.skip(), gr.skip()
    try:
        for update in _training(_session(request), form):
            if not update.metrics:  # before the first step: hand the live model to the session
                yield update.checkpoint, _show_update(update), None, gr.skip()  # None clears the chart
                continue
            state = dataclasses.replace(update.checkpoint) if update.done else gr.skip()
            if update.done and training_summary(update)["stopped_by"] == "time" and form["budget"] == "steps":
                gr.Warning(f"Training stopped at the {MAX_TRAIN_SECONDS // 60}-minute limit of this shared machine, "
                           f"after {plural(update.metrics['step'], 'step')}. The model keeps what it learned.")
            sample = (_sample_html(update.sample, f"What it writes after {plural(update.metrics['step'], 'step')}")
                      if update.sample is not None else gr.skip())
            yield state, _show_update(update), loss_frame(update.history), sample
    except (gr.Error, ValueError) as err:  # say it where the progress line was, too
        message = escape(sentence(getattr(err, "message", err)))
        problem = progress_html(0, f"<span style='color:#cf222e'>⚠ {message}</span>")
        yield gr.skip(), problem, gr.skip(), gr.skip()
        raise


def train_api(dataset, text, tokenizer, model, block_size, steps, budget, vocab_size, n_embd, n_hidden, n_layer,
              n_head, batch_size, learning_rate, ckpt, request: gr.Request = None):
    """``/train``: train a model for this session and return its final metrics as JSON.

    It trains on ``text`` if given, else on the shipped ``dataset``. An empty tokenizer or model
    and block_size 0 take the dataset's suggestions (char, GPT and 8 for text). budget is "steps"
    (then ``steps`` counts) or "30 s", "2 min", "10 min"; vocab_size 0 means every word (split)
    or 1024 (bpe). The model then answers this session's ``/predict`` and ``/generate``.
    """
    suggested = ("char", "gpt", 8)
    if not text:
        try:
            config = load_dataset_config(dataset)
        except ValueError as err:
            raise gr.Error(str(err)) from err
        suggested = (config.tokenizer, config.model, config.block_size)
    form = dict(source="paste" if text else "dataset", dataset=dataset, upload=None, text=text,
                tokenizer=tokenizer or suggested[0], vocab_size=vocab_size, model=model or suggested[1],
                block_size=block_size or suggested[2], n_embd=n_embd, n_hidden=n_hidden, n_layer=n_layer,
                n_head=n_head, budget=budget, steps=steps, batch_size=batch_size, learning_rate=learning_rate)
    update = None
    for update in _training(_session(request), form):
        # the first yield hands the live model to the session; the empty ones let a client's
        # job.cancel() stop training within a third of a second, keeping what was learned
        yield gr.skip(), update.checkpoint if not update.metrics else gr.skip()
    yield training_summary(update), dataclasses.replace(update.checkpoint)


def stop(ckpt):
    """After the Stop button has cancelled the training event: keep the model as trained so far.

    Gradio closes the training generator at its next update (a third of a second at most); the
    report waits for that, so its step count is the model's.
    """
    if ckpt is None:
        return gr.skip(), progress_html(0, "Nothing to stop."), gr.skip()
    _slots.wait_until_stopped(ckpt.model, timeout=UPDATE_EVERY + 5)  # it stops at its next update, a moment away
    d = describe_checkpoint(ckpt)
    steps = int(d["steps"] or 0)
    line = f"Stopped after {plural(steps, 'step')}. The model keeps what it learned and is now used by every tab."
    sample = _sample_html(sample_text(ckpt.model, ckpt.tokenizer, SAMPLE_TOKENS, seed=steps),
                          f"What it writes after {plural(steps, 'step')}")
    return dataclasses.replace(ckpt), progress_html(1.0, line), sample


def show_model(ckpt):
    """When the session's model changes: its card, the download reset, the shipped-model menu."""
    model = current_model(ckpt)
    shipped = list_pretrained()
    return (_model_card(model, ckpt is None), gr.update(value=None, visible=False),
            gr.update(choices=shipped, value=model.name if model.name in shipped else None))


def make_download(ckpt):
    """The Prepare button: zip the current model now, and offer the zip (built on click, not per visit)."""
    model = current_model(ckpt)
    path = checkpoint_zip(model, download_folder())
    return gr.update(value=str(path), label=f"Download {path.name} ({path.stat().st_size / 2**20:.1f} MB)",
                     visible=True)


def use_upload(path):
    if not path:
        raise refuse("Choose a checkpoint .zip to upload first")
    try:
        return load_checkpoint_zip(path, MAX_PARAMS, MAX_UNPACKED_BYTES)
    except (CheckpointError, OSError) as err:
        raise refuse(f"Could not load that checkpoint: {err}") from err


# ---------------------------------------------------------------------------------------------
# Layout


def build(model_state: gr.State | None = None) -> gr.Blocks:
    """The tab; ``model_state`` is the session's current model, shared with the other tabs."""
    datasets = list_datasets()
    default = DEFAULT_DATASET if DEFAULT_DATASET in datasets else datasets[0]
    description, tokenizer0, model0, block0 = dataset_defaults(default)
    with gr.Blocks(title="tinylm: train") as demo:
        if model_state is None:
            model_state = new_model_state()
        gr.Markdown("Pick some text, a tokenizer and a model, and press **Train**. The chart shows the **loss**: "
                    "how surprised the model is by the next token (lower is better). *train* is measured on the text "
                    "it learns from, *val* on text it never sees; when val stops falling, it has learned what it can.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                with gr.Group():
                    source = gr.Radio(DATA_SOURCES, value="dataset", label="1 · Text to learn from")
                    dataset = gr.Dropdown(datasets, value=default, label="Dataset", show_label=False)
                    dataset_info = gr.HTML(description, css_template=CSS, js_on_load=None, padding=True)
                    upload = gr.File(label=f"A UTF-8 .txt file (up to {MAX_CORPUS_CHARS // 1_000_000} M characters)",
                                     file_types=[".txt"], type="filepath", visible=False)
                    text = gr.Textbox("", label="Your text (the last 10% is kept aside for the val loss)", lines=6,
                                      max_lines=12, max_length=MAX_CORPUS_CHARS, visible=False,
                                      placeholder="Paste a few thousand characters or more…")
                with gr.Group():
                    with gr.Row():
                        tokenizer = gr.Radio(TOKENIZERS, value=tokenizer0, label="2 · Tokenizer",
                                             info="char: letters · split: words · bpe: learned pieces · gpt2: GPT-2's 50k")
                        vocab_size = Number(0, label="vocab size", info="0: all words / 1024", precision=0,
                                               minimum=0, maximum=MAX_VOCAB, visible=tokenizer0 in ("split", "bpe"),
                                               min_width=120)
                    model = gr.Radio(MODELS, value=model0, label="3 · Model",
                                     info="bigram: 1 token of context · MLP: a fixed window · GPT: attention")
                    with gr.Row():
                        block_size = Slider(1, 256, value=block0, step=1, label="context (block_size)",
                                               visible=model0 != "bigram")
                        n_embd = Slider(8, 512, value=64, step=8, label="n_embd", visible=model0 != "bigram")
                    with gr.Row():
                        n_hidden = Slider(16, 2048, value=256, step=16, label="n_hidden", visible=model0 == "mlp")
                        n_layer = Slider(1, 8, value=2, step=1, label="n_layer", visible=model0 == "gpt")
                        n_head = Slider(1, 16, value=4, step=1, label="n_head", visible=model0 == "gpt")
                    size_line = gr.Markdown(padding=True)  # the parameter count, before training
                with gr.Group():
                    with gr.Row():
                        budget = gr.Radio(["steps", *TIME_BUDGETS], value="30 s", label="4 · How long",
                                          info=f"at most {MAX_TRAIN_SECONDS // 60} min")
                        steps = Number(500, label="steps", precision=0, minimum=1, maximum=MAX_STEPS, visible=False,
                                          min_width=120)
                    with gr.Accordion("More settings", open=False):
                        with gr.Row():
                            batch_size = Slider(1, 256, value=32, step=1, label="batch size")
                            learning_rate = Number(3e-3, label="learning rate", minimum=1e-6, maximum=1.0)
                with gr.Row():
                    train_button = gr.Button("Train", variant="primary", scale=3)
                    stop_button = gr.Button("Stop", variant="stop", scale=1)
            with gr.Column(scale=3, min_width=360):
                progress = gr.HTML(progress_html(0, "Press <b>Train</b> to start."), css_template=CSS, js_on_load=None)
                # starts as None: a LinePlot whose first table is empty draws no lines later (Gradio 6.31)
                loss_plot = gr.LinePlot(None, x="step", y="loss", color="curve", label="Loss: train (violet), val (pink: 2,048 val tokens every 2 s, all of them at the end)",
                                        color_map={"train": "#6366f1", "val": "#ec4899"}, y_title="loss (nats per token)",
                                        height=300)
                sample = gr.HTML(_sample_html("", "What the model writes appears here every few seconds."),
                                 css_template=CSS, js_on_load=None)
                with gr.Group():
                    card = gr.Markdown(padding=True)
                    with gr.Row(equal_height=True):
                        prepare = gr.Button("Download the model (.zip)", variant="secondary", size="sm",
                                            min_width=160)
                        download = gr.DownloadButton("Download", variant="primary", size="sm", min_width=160,
                                                     visible=False)
                        upload_ckpt = gr.UploadButton("Upload a checkpoint (.zip)", file_types=[".zip"], size="sm",
                                                      type="filepath", variant="secondary", min_width=160)
                        shipped = gr.Dropdown(list_pretrained(), value=None, label="Use a shipped model", min_width=160)

        # hidden: the api-only /train endpoint, with defaults that follow the chosen dataset
        with gr.Group(visible=False):
            name = dict(max_length=MAX_NAME_CHARS)
            api_inputs = [gr.Textbox(DEFAULT_DATASET, label="dataset", **name),
                          gr.Textbox("", label="text", max_length=MAX_CORPUS_CHARS),
                          gr.Textbox("", label="tokenizer", **name), gr.Textbox("", label="model", **name),
                          Number(0, label="block_size", precision=0), Number(200, label="steps", precision=0),
                          gr.Textbox("steps", label="budget", **name), Number(0, label="vocab_size", precision=0),
                          Number(64, label="n_embd", precision=0), Number(256, label="n_hidden", precision=0),
                          Number(2, label="n_layer", precision=0), Number(4, label="n_head", precision=0),
                          Number(32, label="batch_size", precision=0), Number(3e-3, label="learning_rate")]
            api_button = gr.Button()
            api_result = gr.JSON(label="metrics")

        # -- wiring ------------------------------------------------------------------------
        source.change(show_source, source, [dataset, dataset_info, upload, text], api_visibility="private",
                      show_progress="hidden")
        suggested_for = gr.State(default)  # the dataset whose suggestions the form took

        def suggest(name, shown):
            """A dataset's suggestions, once per pick: Gradio's dropdown reports a pick twice, a moment
            apart, and the second report must not undo a model chosen in between."""
            return (gr.skip(),) * 5 if name == shown else (*dataset_defaults(name), name)

        dataset.change(suggest, [dataset, suggested_for], [dataset_info, tokenizer, model, block_size, suggested_for],
                       api_visibility="private", show_progress="hidden")
        gr.on([model.change, tokenizer.change, budget.change], show_sizes, [model, tokenizer, budget],
              [block_size, n_embd, n_hidden, n_layer, n_head, vocab_size, steps], api_visibility="private",
              show_progress="hidden")
        form = dict(source=source, dataset=dataset, upload=upload, text=text, tokenizer=tokenizer,
                    vocab_size=vocab_size, model=model, block_size=block_size, n_embd=n_embd, n_hidden=n_hidden,
                    n_layer=n_layer, n_head=n_head, budget=budget, steps=steps, batch_size=batch_size,
                    learning_rate=learning_rate)
        sized = [source, dataset, text, tokenizer, vocab_size, model, block_size, n_embd, n_hidden, n_layer, n_head]
        gr.on([c.change for c in sized] + [demo.load], planned, None, size_line, inputs_kwargs=form,
              api_visibility="private", show_progress="hidden", trigger_mode="always_last")
        train_event = train_button.click(train, [model_state], [model_state, progress, loss_plot, sample],
                                         inputs_kwargs=form,
                                         api_name="train_stream", api_visibility="undocumented", show_progress="hidden",
                                         concurrency_limit=MAX_CONCURRENT_TRAININGS + 2, concurrency_id="tinylm-train")
        # cancel first, then report: Gradio cancels an event only once the cancelling one has finished
        stop_button.click(None, cancels=[train_event]).then(stop, model_state, [model_state, progress, sample],
                                                            api_visibility="private")
        api_button.click(train_api, [*api_inputs, model_state], [api_result, model_state], api_name="train",
                         concurrency_limit=MAX_CONCURRENT_TRAININGS + 2, concurrency_id="tinylm-train")
        gr.on([model_state.change, demo.load], show_model, model_state, [card, download, shipped],
              api_visibility="private", show_progress="hidden")
        prepare.click(make_download, model_state, download, api_visibility="private")
        shipped.input(load_pretrained, shipped, model_state, api_visibility="private")
        upload_ckpt.upload(use_upload, upload_ckpt, model_state, api_visibility="private")
    return demo


if __name__ == "__main__":
    launch(build())
