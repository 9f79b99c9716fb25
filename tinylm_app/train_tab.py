"""The Train tab: choose some text, a tokenizer and a model, then watch the loss fall as it learns.

Layout and wiring only. ``tinylm.predict`` does the work: ``app_corpus`` and ``app_run_config``
turn the fields into a run, ``live_training`` trains it and reports a few times a second, and
``tinylm.plots.loss_frame`` makes the chart's table. The trained model becomes the session's
model (``model_state``), so every other tab uses it at once. Serves ``/train`` for gradio_client.
Run it alone with ``python -m tinylm_app.train_tab``.
"""

import contextlib
import dataclasses
import html
import shutil
import tempfile
import time
import weakref
from pathlib import Path

import gradio as gr

from tinylm_app.session import current_model, launch
from tinylm_app.session import model_state as new_model_state
from tinylm.checkpoint import CheckpointError
from tinylm.data import list_datasets, load_dataset_config
from tinylm.plots import loss_frame
from tinylm.predict import (
    TrainingSlots,
    TrainingUpdate,
    app_corpus,
    app_run_config,
    check_run_limits,
    checkpoint_zip,
    describe_checkpoint,
    live_training,
    load_checkpoint_zip,
    model_sizes,
    parse_number,
    sample_text,
    training_summary,
)
from tinylm.pretrained import list_pretrained, load_pretrained
from tinylm.runs import prepare_run

# Guard rails for a public Space: nobody can take the shared CPU for long, or fill its memory.
MAX_CORPUS_CHARS = 2_000_000  # characters of training text (Tiny Shakespeare has 1.1 M)
MAX_STEPS = 20_000  # optimizer steps of one run
MAX_TRAIN_SECONDS = 600  # wall-clock limit of one run, whatever its steps (10 min)
MAX_CONCURRENT_TRAININGS = 2  # runs at once across all visitors; one more is told the trainer is busy
MAX_PARAMS = 5_000_000  # parameters of a model trained here
MAX_LOGITS = 2**25  # batch x positions x vocabulary in one step (33.5 M floats, ~130 MB, x3 for grads)
MAX_VOCAB = 8192  # split/bpe vocabulary size
TIME_BUDGETS = {"30 s": 30, "2 min": 120, "10 min": 600}  # the time presets, in seconds

DOWNLOADS = Path(tempfile.gettempdir()) / "tinylm-downloads"  # checkpoint zips offered for download
KEEP_DOWNLOADS_SECONDS = 3600  # older ones are deleted (Gradio has copied them to its cache by then)

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
_in_training = weakref.WeakSet()  # models whose training is still running (Stop waits for it to end)

CSS = """
.bar { height: 10px; border-radius: 5px; background: #e5e7eb; overflow: hidden; margin: 4px 0 6px; }
.bar > div { height: 100%; background: linear-gradient(90deg, #6366f1, #ec4899); transition: width .3s; }
.line { font-size: 14px; color: var(--body-text-color); font-variant-numeric: tabular-nums; }
.line b { font-weight: 600; }
.desc { font-size: 13.5px; line-height: 1.45; color: var(--body-text-color); padding: 2px 4px; }
.hint { color: var(--body-text-color-subdued); font-size: 13px; }
pre.sample { white-space: pre-wrap; word-break: break-word; font-family: ui-monospace, Menlo, monospace;
             font-size: 13px; line-height: 1.45; margin: 0; padding: 8px 10px; min-height: 7em; max-height: 16em;
             overflow-y: auto; border-radius: 8px; border: 1px solid var(--border-color-primary);
             background: var(--background-fill-secondary); color: var(--body-text-color); }
"""


def _escape(text: str) -> str:
    """HTML-escape, and keep ``${`` and braces from reading as gr.HTML template syntax."""
    return html.escape(text).replace("$", "&#36;").replace("{", "&#123;").replace("}", "&#125;")


def _progress_html(fraction: float, line: str) -> str:
    return f"<div class='bar'><div style='width:{100 * min(max(fraction, 0), 1):.1f}%'></div></div><div class='line'>{line}</div>"


def _sample_html(text: str, title: str) -> str:
    return f"<div class='hint'>{_escape(title)}</div><pre class='sample'>{_escape(text)}</pre>"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _show_update(update: TrainingUpdate) -> str:
    """The progress bar and its line: step, speed, losses, time left."""
    m, train = update.metrics, update.checkpoint.info["train"]
    if not m:
        return _progress_html(0, "Starting… (the first steps are the slowest)")
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
    return _progress_html(1.0 if update.done else fraction, " · ".join(p for p in parts if p))


def _model_card(model, is_default: bool) -> str:
    d = describe_checkpoint(model)
    trained = f" · trained {int(d['steps']):,} steps on *{d['dataset']}*" if d.get("steps") else ""
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
    return f"<div class='desc'>{_escape(config.description)}</div>", config.tokenizer, config.model, config.block_size


def show_source(source: str):
    dataset = gr.update(visible=source == "dataset")
    return dataset, dataset, gr.update(visible=source == "upload"), gr.update(visible=source == "paste")


def show_sizes(model: str, tokenizer: str, budget: str):
    """Only the fields that apply: a bigram has no sizes, the MLP no heads, the GPT no n_hidden."""
    return (gr.update(visible=model != "bigram"), gr.update(visible=model != "bigram"), gr.update(visible=model == "mlp"),
            gr.update(visible=model == "gpt"), gr.update(visible=model == "gpt"),
            gr.update(visible=tokenizer in ("split", "bpe")), gr.update(visible=budget == "steps"))


def _parse_fields(tokenizer, vocab_size, model, block_size, n_embd, n_hidden, n_layer, n_head, budget, steps,
                  batch_size, learning_rate) -> dict:
    """The typed fields as numbers within the limits, or a ValueError naming the field."""
    if budget == "steps":
        steps, seconds = parse_number(steps, "steps", 1, MAX_STEPS), MAX_TRAIN_SECONDS
    elif budget in TIME_BUDGETS:
        steps, seconds = None, min(TIME_BUDGETS[budget], MAX_TRAIN_SECONDS)
    else:
        raise ValueError(f"unknown budget {budget!r}; choose steps or one of {', '.join(TIME_BUDGETS)}")
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {tokenizer!r}; choose one of {', '.join(TOKENIZERS)}")
    vocab = None
    if tokenizer in ("split", "bpe") and vocab_size not in (None, "", 0):
        vocab = parse_number(vocab_size, "vocab size", 7 if tokenizer == "split" else 261, MAX_VOCAB)
    sizes = model_sizes(model, parse_number(block_size, "block size (context)", 1, 256),
                        parse_number(n_embd, "n_embd", 2, 512), parse_number(n_hidden, "n_hidden", 2, 2048),
                        parse_number(n_layer, "n_layer", 1, 8), parse_number(n_head, "n_head", 1, 16))
    return dict(tokenizer=tokenizer, vocab_size=vocab, model=model, sizes=sizes, steps=steps, seconds=seconds,
                batch_size=parse_number(batch_size, "batch size", 1, 256),
                learning_rate=parse_number(learning_rate, "learning rate", 1e-6, 1.0, integer=False))


def _training(source, dataset, upload, text, tokenizer, vocab_size, model, block_size, n_embd, n_hidden, n_layer,
              n_head, budget, steps, batch_size, learning_rate):
    """The run's TrainingUpdates, holding one of the shared training slots while it lasts."""
    try:
        fields = _parse_fields(tokenizer, vocab_size, model, block_size, n_embd, n_hidden, n_layer, n_head, budget,
                               steps, batch_size, learning_rate)
    except ValueError as err:
        raise gr.Error(str(err)) from err
    ticket, run = _slots.try_acquire(), None
    if ticket is None:
        raise gr.Error(BUSY.format(n=MAX_CONCURRENT_TRAININGS), title="Busy", print_exception=False)
    try:
        try:  # loading, tokenizing and the first batch are where a user's text can be wrong
            corpus = app_corpus(source, dataset, upload, text, max_chars=MAX_CORPUS_CHARS)
            run = prepare_run(app_run_config(corpus, **fields), corpus)
            check_run_limits(run, MAX_PARAMS, MAX_LOGITS)
            _in_training.add(run.model)
            with contextlib.closing(live_training(run, UPDATE_EVERY, SAMPLE_EVERY, SAMPLE_TOKENS)) as updates:
                yield from updates
        except (ValueError, OSError) as err:  # TokenizerError, CheckpointError and friends are ValueErrors
            raise gr.Error(str(err)) from err
    finally:
        _slots.release(ticket)  # also when the Stop button closes this generator
        if run is not None:
            _in_training.discard(run.model)


def train(source, dataset, upload, text, tokenizer, vocab_size, model, block_size, n_embd, n_hidden, n_layer, n_head,
          budget, steps, batch_size, learning_rate, ckpt):
    """The Train button: stream progress, the loss chart and samples; the model goes into the session.

    Yields (model_state, progress, loss chart, sample). The first update puts the live model into
    the session, so Stop keeps whatever it has learned; the last puts a fresh copy of the
    checkpoint there, which tells every tab that the model changed.
    """
    yield gr.skip(), _progress_html(0, "Preparing the data and the tokenizer…"), gr.skip(), gr.skip()
    try:
        for update in _training(source, dataset, upload, text, tokenizer, vocab_size, model, block_size, n_embd,
                                n_hidden, n_layer, n_head, budget, steps, batch_size, learning_rate):
            if not update.metrics:  # before the first step: hand the live model to the session
                yield update.checkpoint, _show_update(update), None, gr.skip()  # None clears the chart
                continue
            state = dataclasses.replace(update.checkpoint) if update.done else gr.skip()
            if update.done and training_summary(update)["stopped_by"] == "time" and budget == "steps":
                gr.Warning(f"Training stopped at the {MAX_TRAIN_SECONDS // 60}-minute limit of this shared machine, "
                           f"after {update.metrics['step']:,} steps. The model keeps what it learned.")
            sample = (_sample_html(update.sample, f"What it writes after {update.metrics['step']:,} steps")
                      if update.sample is not None else gr.skip())
            yield state, _show_update(update), loss_frame(update.history), sample
    except gr.Error as err:  # say it where the progress line was, too
        problem = _progress_html(0, f"<span style='color:#cf222e'>⚠ {_escape(err.message)}</span>")
        yield gr.skip(), problem, gr.skip(), gr.skip()
        raise


def train_api(dataset, text, tokenizer, model, block_size, steps, budget, vocab_size, n_embd, n_hidden, n_layer,
              n_head, batch_size, learning_rate, ckpt):
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
    tokenizer, model = tokenizer or suggested[0], model or suggested[1]
    block_size = block_size or suggested[2]
    update = None
    for update in _training("paste" if text else "dataset", dataset, None, text, tokenizer, vocab_size, model,
                            block_size, n_embd, n_hidden, n_layer, n_head, budget, steps, batch_size, learning_rate):
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
        return gr.skip(), _progress_html(0, "Nothing to stop."), gr.skip()
    deadline = time.monotonic() + UPDATE_EVERY + 5  # the trainer stops at its next update, a moment away
    while ckpt.model in _in_training and time.monotonic() < deadline:
        time.sleep(0.05)
    d = describe_checkpoint(ckpt)
    steps = int(d["steps"] or 0)
    line = f"Stopped after {steps:,} steps. The model keeps what it learned and is now used by every tab."
    sample = _sample_html(sample_text(ckpt.model, ckpt.tokenizer, SAMPLE_TOKENS, seed=steps),
                          f"What it writes after {steps:,} steps")
    return dataclasses.replace(ckpt), _progress_html(1.0, line), sample


def _download_folder() -> Path:
    """A new folder for one zip, clearing out old ones: a public Space runs for weeks."""
    DOWNLOADS.mkdir(exist_ok=True)
    for old in DOWNLOADS.iterdir():
        with contextlib.suppress(FileNotFoundError):  # another session may be clearing it too
            if time.time() - old.stat().st_mtime > KEEP_DOWNLOADS_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=DOWNLOADS))


def show_model(ckpt):
    """When the session's model changes: its card, a fresh checkpoint zip to download, the shipped-model menu."""
    model = current_model(ckpt)
    shipped = list_pretrained()
    return (_model_card(model, ckpt is None), gr.update(value=str(checkpoint_zip(model, _download_folder())),
                                                     label=f"Download {model.name}.zip"),
            gr.update(choices=shipped, value=model.name if model.name in shipped else None))


def use_shipped(name: str):
    try:
        return load_pretrained(name)
    except CheckpointError as err:
        raise gr.Error(str(err)) from err


def use_upload(path):
    if not path:
        raise gr.Error("Choose a checkpoint .zip to upload first.")
    try:
        return load_checkpoint_zip(path)
    except (CheckpointError, OSError) as err:
        raise gr.Error(f"Could not load that checkpoint: {err}") from err


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
                        vocab_size = gr.Number(0, label="vocab size", info="0: all words / 1024", precision=0,
                                               minimum=0, maximum=MAX_VOCAB, visible=tokenizer0 in ("split", "bpe"),
                                               min_width=120)
                    model = gr.Radio(MODELS, value=model0, label="3 · Model",
                                     info="bigram: 1 token of context · MLP: a fixed window · GPT: attention")
                    with gr.Row():
                        block_size = gr.Slider(1, 256, value=block0, step=1, label="context (block_size)",
                                               visible=model0 != "bigram")
                        n_embd = gr.Slider(8, 512, value=64, step=8, label="n_embd", visible=model0 != "bigram")
                    with gr.Row():
                        n_hidden = gr.Slider(16, 2048, value=256, step=16, label="n_hidden", visible=model0 == "mlp")
                        n_layer = gr.Slider(1, 8, value=2, step=1, label="n_layer", visible=model0 == "gpt")
                        n_head = gr.Slider(1, 16, value=4, step=1, label="n_head", visible=model0 == "gpt")
                with gr.Group():
                    with gr.Row():
                        budget = gr.Radio(["steps", *TIME_BUDGETS], value="30 s", label="4 · How long",
                                          info=f"at most {MAX_TRAIN_SECONDS // 60} min")
                        steps = gr.Number(500, label="steps", precision=0, minimum=1, maximum=MAX_STEPS, visible=False,
                                          min_width=120)
                    with gr.Accordion("More settings", open=False):
                        with gr.Row():
                            batch_size = gr.Slider(1, 256, value=32, step=1, label="batch size")
                            learning_rate = gr.Number(3e-3, label="learning rate", minimum=1e-6, maximum=1.0)
                with gr.Row():
                    train_button = gr.Button("Train", variant="primary", scale=3)
                    stop_button = gr.Button("Stop", variant="stop", scale=1)
            with gr.Column(scale=3, min_width=360):
                progress = gr.HTML(_progress_html(0, "Press <b>Train</b> to start."), css_template=CSS, js_on_load=None)
                # starts as None: a LinePlot whose first table is empty draws no lines later (Gradio 6.31)
                loss_plot = gr.LinePlot(None, x="step", y="loss", color="curve", label="Loss: train (violet), val (pink)",
                                        color_map={"train": "#6366f1", "val": "#ec4899"}, y_title="loss (nats per token)",
                                        height=300)
                sample = gr.HTML(_sample_html("", "What the model writes appears here every few seconds."),
                                 css_template=CSS, js_on_load=None)
                with gr.Group():
                    card = gr.Markdown(padding=True)
                    with gr.Row(equal_height=True):
                        download = gr.DownloadButton("Download the model (.zip)", variant="secondary", size="sm",
                                                     min_width=160)
                        upload_ckpt = gr.UploadButton("Upload a checkpoint (.zip)", file_types=[".zip"], size="sm",
                                                      type="filepath", variant="secondary", min_width=160)
                        shipped = gr.Dropdown(list_pretrained(), value=None, label="Use a shipped model", min_width=160)

        # hidden: the api-only /train endpoint, with defaults that follow the chosen dataset
        with gr.Group(visible=False):
            api_inputs = [gr.Textbox(DEFAULT_DATASET), gr.Textbox(""), gr.Textbox(""), gr.Textbox(""),
                          gr.Number(0, precision=0), gr.Number(200, precision=0), gr.Textbox("steps"),
                          gr.Number(0, precision=0), gr.Number(64, precision=0), gr.Number(256, precision=0),
                          gr.Number(2, precision=0), gr.Number(4, precision=0), gr.Number(32, precision=0),
                          gr.Number(3e-3)]
            api_button = gr.Button()
            api_result = gr.JSON(label="metrics")

        # -- wiring ------------------------------------------------------------------------
        source.change(show_source, source, [dataset, dataset_info, upload, text], api_visibility="private",
                      show_progress="hidden")
        dataset.change(dataset_defaults, dataset, [dataset_info, tokenizer, model, block_size], api_visibility="private",
                       show_progress="hidden")
        gr.on([model.change, tokenizer.change, budget.change], show_sizes, [model, tokenizer, budget],
              [block_size, n_embd, n_hidden, n_layer, n_head, vocab_size, steps], api_visibility="private",
              show_progress="hidden")
        fields = [source, dataset, upload, text, tokenizer, vocab_size, model, block_size, n_embd, n_hidden, n_layer,
                  n_head, budget, steps, batch_size, learning_rate, model_state]
        train_event = train_button.click(train, fields, [model_state, progress, loss_plot, sample],
                                         api_name="train_stream", api_visibility="undocumented", show_progress="hidden",
                                         concurrency_limit=MAX_CONCURRENT_TRAININGS + 2, concurrency_id="tinylm-train")
        # cancel first, then report: Gradio cancels an event only once the cancelling one has finished
        stop_button.click(None, cancels=[train_event]).then(stop, model_state, [model_state, progress, sample],
                                                            api_visibility="private")
        api_button.click(train_api, [*api_inputs, model_state], [api_result, model_state], api_name="train",
                         concurrency_limit=MAX_CONCURRENT_TRAININGS + 2, concurrency_id="tinylm-train")
        gr.on([model_state.change, demo.load], show_model, model_state, [card, download, shipped],
              api_visibility="private", show_progress="hidden")
        shipped.input(use_shipped, shipped, model_state, api_visibility="private")
        upload_ckpt.upload(use_upload, upload_ckpt, model_state, api_visibility="private")
    return demo


if __name__ == "__main__":
    launch(build())
