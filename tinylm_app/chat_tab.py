"""The Chat tab: talk to a tiny chat model, see the template and the loss mask, then fine-tune it.

Layout and wiring only. ``tinylm.chat`` does the work: ``reply_stream`` writes a reply token by
token (with each token's probability and its likeliest alternatives), ``render_conversation``
gives the template's token ids and the loss mask, ``parse_jsonl`` reads conversations to train
on and ``finetune`` trains a copy of the model on them. The chat models live in this tab's own
per-session States, apart from the model the other tabs share: the shipped chat model (None =
load ``tinylm/pretrained/chat``) and the one fine-tuned here. Serves ``/chat`` for gradio_client.
Run it alone with ``python -m tinylm_app.chat_tab``.
"""

import contextlib
import copy
import dataclasses
import html
import time
import weakref

import gradio as gr
import pandas as pd

from tinylm_app.session import launch
from tinylm.chat import (
    ChatFormatError,
    check_messages,
    conversations_from_pairs,
    finetune,
    messages_from_history,
    parse_jsonl,
    readable_conversations,
    render_conversation,
    render_for_reply,
    reply_room,
    reply_stream,
    reply_text,
)
from tinylm.checkpoint import Checkpoint, CheckpointError
from tinylm.compare import show_whitespace
from tinylm.plots import loss_frame
from tinylm.predict import TrainingSlots, chunk_by_time, describe_checkpoint, parse_number
from tinylm.pretrained import load_pretrained
from tinylm.tokenizer import IM_END, IM_SEP, IM_START
from tinylm.train import TrainConfig

CHAT_MODEL = "chat"  # the shipped chat model, tinylm/pretrained/chat
SHIPPED, TUNED = "shipped", "tuned"
MODEL_CHOICES = [("shipped chat model", SHIPPED), ("my fine-tuned model", TUNED)]
MAX_MESSAGE_CHARS = 1000  # the textbox's limit; the model's context is the real one (and says so)
MAX_NEW_TOKENS = 400  # tokens one reply may have
DEFAULT_NEW_TOKENS = 160  # more than the shipped model's longest answer, in characters
ALTERNATIVES = 5  # likeliest tokens shown beside each reply token
STREAM_EVERY = 0.05  # seconds between screen updates while a reply is written

MIN_FINETUNE_SECONDS, MAX_FINETUNE_SECONDS = 5, 180  # how long fine-tuning may run
MAX_CONVERSATIONS = 2000  # conversations one fine-tuning reads (more are cut, and said so)
MAX_JSONL_CHARS = 500_000  # characters of pasted JSONL
MAX_COMPARED = 12  # prompts answered before and after fine-tuning
COMPARE_TOKENS = 160  # tokens of each of those answers
MAX_CONCURRENT_FINETUNES = 2  # fine-tunings at once across all visitors
UPDATE_EVERY = 0.33  # seconds between loss-chart updates while fine-tuning
BUSY = "The fine-tuner is busy: {n} fine-tunings are running, the limit on this shared machine. Try again in a minute."

_slots = TrainingSlots(MAX_CONCURRENT_FINETUNES, max_hold_seconds=MAX_FINETUNE_SECONDS + 120)
_in_training = weakref.WeakSet()  # models whose fine-tuning is still running (Stop waits for it to end)

EXAMPLES = ["hi", "What is 12 + 7?", "Spell horse backwards.", "What letter comes after k?",
            "How many letters are in horse?", "What is the capital of France?"]
EXAMPLE_PAIRS = [["What is your favourite letter?", "My favourite letter is q."],
                 ["Do you like cats?", "Yes, cats are great."]]
JSONL_PLACEHOLDER = ('{"input": "What is your favourite number?", "output": "My favourite number is 7."}\n'
                     '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hey!"}]}')
PAIR_COLUMNS = ["question", "answer"]
COMPARE_COLUMNS = ["you asked", "you wanted", "before", "after"]
PROB_COLUMNS = ["#", "token", "probability", f"top {ALTERNATIVES} alternatives"]

ABOUT = f"""## Chat with a tiny model
A chat model is a language model that read thousands of conversations written in one **template**:
`{IM_START}user{IM_SEP}What is 2 + 3?{IM_END}{IM_START}assistant{IM_SEP}5{IM_END}`. To answer, the app
writes your conversation in that template, adds `{IM_START}assistant{IM_SEP}` and lets the model
continue until it writes `{IM_END}`. The shipped model knows letters, short words and small sums (try
the examples) and says *I do not know.* to the rest: it is far too small to know anything about the world.
"""

CSS = """
.chat-tokens { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; line-height: 2.2;
               word-break: break-all; padding: 10px; min-height: 4em; border-radius: 8px;
               border: 1px solid var(--border-color-primary); background: #fff; color: #1f2328; }
.chat-tokens .t { border-radius: 3px; padding: 2px 1px; margin-right: 1px; white-space: pre; }
.t.special { background: #e9d5ff; color: #581c87; font-size: 11px; }
.t.role { background: #e5e7eb; color: #374151; }
.t.user { background: #dbeafe; }
.t.assistant { background: #fef3c7; }
.t.trained { box-shadow: inset 0 -3px 0 #16a34a; }
.t.unread { opacity: .35; }
.legend { font-size: 13px; margin-top: 6px; color: var(--body-text-color-subdued); }
.legend .t { color: #1f2328; padding: 1px 6px; margin-left: 4px; }
.hint { color: var(--body-text-color-subdued); font-size: 13px; }
.bar { height: 10px; border-radius: 5px; background: #e5e7eb; overflow: hidden; margin: 4px 0 6px; }
.bar > div { height: 100%; background: linear-gradient(90deg, #6366f1, #ec4899); transition: width .3s; }
.line { font-size: 14px; color: var(--body-text-color); font-variant-numeric: tabular-nums; }
.problems { font-size: 13px; color: #9a3412; margin: 4px 0 0; }
"""


def _escape(text: str) -> str:
    """HTML-escape, and keep ``${`` and braces from reading as gr.HTML template syntax."""
    return html.escape(text).replace("$", "&#36;").replace("{", "&#123;").replace("}", "&#125;")


def _token_text(tok, token_id: int) -> str:
    """One token as text, whitespace made visible (· space, ↵ line break)."""
    return show_whitespace(tok.decode([token_id])) or "∅"


def _model_line(ckpt: Checkpoint) -> str:
    d = describe_checkpoint(ckpt)
    return (f"**{d['name']}** · {d['model'].upper()} · {d['tokenizer']} tokenizer ({d['vocab_size']:,} tokens) · "
            f"context {d['block_size']} tokens · {d['params']:,} parameters")


def _tokens_html(tok, messages, unread: int = 0) -> str:
    """The conversation as the model reads it: one chip per token, the loss mask underlined.

    Specials are violet, role names grey, the user's words blue, the assistant's yellow; a green
    underline marks mask = 1 (what fine-tuning trains on). The first ``unread`` tokens did not fit
    in the model's context and are faded.
    """
    ids, mask = render_conversation(tok, messages)
    start, sep, end = (tok.token_to_id(s) for s in (IM_START, IM_SEP, IM_END))
    chips, in_header = [], False
    for n, (i, m) in enumerate(zip(ids, mask)):
        if i in (start, sep, end):
            kind, in_header = "special", i == start
        else:
            kind = "assistant" if m else "role" if in_header else "user"
        css = f"t {kind}{' trained' if m else ''}{' unread' if n < unread else ''}"
        title = f"id {i} · {'trained on (mask 1)' if m else 'read, not trained on (mask 0)'}"
        chips.append(f"<span class='{css}' title='{title}'>{_escape(_token_text(tok, i))}</span>")
    legend = ("<span class='t special'>special</span><span class='t role'>role</span>"
              "<span class='t user'>user</span><span class='t assistant trained'>assistant · trained on</span>")
    faded = f" Faded: {unread} tokens that no longer fit in the context." if unread else ""
    return (f"<div class='chat-tokens'>{''.join(chips)}</div><div class='legend'>{len(messages)} messages, {len(ids)} tokens, "
            f"{sum(mask)} trained on (mask = 1, underlined): the assistant's words and the {_escape(IM_END)} that "
            f"ends them.{faded} {legend}</div>")


def _tokens_html_empty() -> str:
    return "<div class='chat-tokens hint'>Send a message to see the tokens the model reads.</div>"


def _probs_frame(tok, tokens) -> pd.DataFrame:
    """The last reply token by token: its probability and the model's likeliest alternatives."""
    rows = [(n, _token_text(tok, t.id), f"{t.prob:.1%}",
             "  ".join(f"{_token_text(tok, i)} {p:.1%}" for i, p in t.alternatives))
            for n, t in enumerate(tokens, 1)]
    return pd.DataFrame(rows, columns=PROB_COLUMNS).astype({"#": "int64"})


def _progress_html(fraction: float, line: str, problems: list[str] = ()) -> str:
    shown = "".join(f"<div>⚠ {_escape(p)}</div>" for p in problems[:10])
    more = f"<div>… and {len(problems) - 10} more</div>" if len(problems) > 10 else ""
    bad = f"<div class='problems'>{shown}{more}</div>" if problems else ""
    return (f"<div class='bar'><div style='width:{100 * min(max(fraction, 0), 1):.1f}%'></div></div>"
            f"<div class='line'>{line}</div>{bad}")


def _compare_frame(compared, after=None) -> pd.DataFrame:
    """Each (prompt, wanted, before) with the answer after fine-tuning (… while it trains)."""
    after = after or ["…"] * len(compared)
    return pd.DataFrame([(prompt[-1]["content"], wanted, before, a) for (prompt, wanted, before), a in zip(compared, after)],
                        columns=COMPARE_COLUMNS)


# ---------------------------------------------------------------------------------------------
# Handlers


def chat_model(which: str, shipped: Checkpoint | None, tuned: Checkpoint | None) -> Checkpoint:
    """The model the chat talks to: this session's fine-tuned one, or the shipped chat model."""
    if which == TUNED:
        if tuned is None:
            raise gr.Error("There is no fine-tuned model in this session yet: fine-tune one below first.")
        return tuned
    if which != SHIPPED:
        raise gr.Error(f"Unknown model {which!r}: choose {SHIPPED!r} or {TUNED!r}.")
    if shipped is not None:
        return shipped
    try:
        return load_pretrained(CHAT_MODEL)
    except CheckpointError as err:
        raise gr.Error(f"The shipped chat model is not installed: {err}") from err


def _sampling(max_new_tokens, temperature, top_k, top_p, seed) -> dict:
    """reply_stream's settings from the fields: top_k 0 and top_p 1 switch those filters off, seed -1 is random."""
    try:
        top_k = parse_number(top_k, "top-k", 0, 100_000)
        top_p = parse_number(top_p, "top-p", 0.0, 1.0, integer=False)
        seed = parse_number(seed, "seed", -1, 2**63 - 1) if seed not in (None, "") else -1
        if top_p == 0:
            raise ValueError("top-p must be more than 0 (1 keeps every token)")
        return dict(max_new_tokens=parse_number(max_new_tokens, "max new tokens", 1, MAX_NEW_TOKENS),
                    temperature=parse_number(temperature, "temperature", 0.0, 10.0, integer=False),
                    top_k=top_k or None, top_p=None if top_p >= 1 else top_p, seed=None if seed < 0 else seed)
    except ValueError as err:
        raise gr.Error(str(err)) from err


def _conversation(tok, block_size: int, room: int, message: str, history) -> list[dict]:
    """The history plus the new message, or a gr.Error saying what the model cannot read."""
    message = (message or "").strip()
    if not message:
        raise gr.Error("Type a message first.", print_exception=False)
    unknown = [s.text for s in tok.spans(message, allow_special=False) if s.unknown]
    if unknown:
        shown = ", ".join(repr(u) for u in dict.fromkeys(unknown))
        raise gr.Error(f"This model does not know these characters: {shown}. It reads only the characters it "
                       "learned from; write the message without them.", print_exception=False)
    alone = [{"role": "user", "content": message}]
    try:
        messages = messages_from_history(history) + alone
        check_messages(messages)
    except ChatFormatError as err:
        raise gr.Error(f"Cannot read this conversation: {err}", print_exception=False) from err
    if len(render_for_reply(tok, alone)) + room > block_size:
        raise gr.Error(f"That message is too long for this model: it reads {block_size} tokens at a time and keeps "
                       f"{room} of them for its reply. Shorten it (or lower max new tokens).", print_exception=False)
    return messages


def respond(message, history, which, max_new_tokens, temperature, top_k, top_p, seed, shipped, tuned):
    """Send a message: stream the reply, then show the tokens the model read and each reply token's odds.

    Yields (textbox, chat history, token view, reply-token table, status line).
    """
    ckpt = chat_model(which, shipped, tuned)
    tok, block_size = ckpt.tokenizer, ckpt.model.block_size
    settings = _sampling(max_new_tokens, temperature, top_k, top_p, seed)
    room = reply_room(block_size, settings["max_new_tokens"])  # what reply_stream keeps free for the reply
    messages = _conversation(tok, block_size, room, message, history)
    unread = len(render_for_reply(tok, messages)) - len(render_for_reply(tok, messages, block_size, room))
    yield "", [*messages, {"role": "assistant", "content": ""}], gr.skip(), gr.skip(), "*writing…*"
    tokens, conversation = [], messages
    try:
        for chunk in chunk_by_time(reply_stream(ckpt.model, tok, messages, **settings, alternatives=ALTERNATIVES),
                                   STREAM_EVERY):
            tokens += chunk
            conversation = [*messages, {"role": "assistant", "content": reply_text(tok, [t.id for t in tokens])}]
            yield gr.skip(), conversation, gr.skip(), gr.skip(), gr.skip()
    except ValueError as err:
        raise gr.Error(str(err)) from err
    notes = [f"{_model_line(ckpt)} · {len(tokens)} tokens"]
    if unread:
        notes.append(f"⚠ The conversation is longer than the model's context of {block_size} tokens: it read only "
                     f"the latest messages (the faded tokens below were dropped).")
    if tokens and tokens[-1].id != tok.token_to_id(IM_END):
        notes.append(f"The reply stopped at {settings['max_new_tokens']} tokens, before the model ended it.")
    yield "", conversation, _tokens_html(tok, conversation, unread), _probs_frame(tok, tokens), "  \n".join(notes)


def chat_api(message, history, model, max_new_tokens, temperature, top_k, top_p, seed, shipped, tuned) -> list[dict]:
    """``/chat``: the history ([{role, content}, ...]) with the message and the model's reply added.

    ``history`` may give each content as text or as Gradio's typed parts ([{"type": "text", "text": ...}]);
    the answer always uses text. ``model`` is "shipped" or "tuned" (this session's fine-tuned model).
    """
    for outputs in respond(message, history, model, max_new_tokens, temperature, top_k, top_p, seed, shipped, tuned):
        pass
    return outputs[1]


def clear():
    """The chat's trash button emptied the chat: empty the views of the last reply too."""
    return _tokens_html_empty(), _probs_frame(None, []), ""


def _answer(ckpt: Checkpoint, messages) -> str:
    """The model's greedy reply to a conversation (for the before/after table)."""
    return reply_text(ckpt.tokenizer, [t.id for t in reply_stream(ckpt.model, ckpt.tokenizer, messages, COMPARE_TOKENS)])


def _training_data(jsonl: str, pairs, tok) -> tuple[list[list[dict]], list[str]]:
    """The conversations to fine-tune on, from the JSONL box and the table, and the problems found.

    Bad JSONL lines and table rows are reported by number and skipped; so are conversations with
    characters the model does not know (they would read as <|unk|>). Every good one is kept.
    """
    if len(jsonl or "") > MAX_JSONL_CHARS:
        raise gr.Error(f"The JSONL is {len(jsonl):,} characters, over the limit of {MAX_JSONL_CHARS:,}.")
    parsed = parse_jsonl(jsonl or "")
    rows = pairs.values.tolist() if isinstance(pairs, pd.DataFrame) else list(pairs or [])
    # a table cell may be empty (NaN) and a row short: each row becomes a (question, answer) of text
    texts = [tuple("" if pd.isna(v) else str(v) for v in (list(row) + ["", ""])[:2]) for row in rows]
    from_table, table_problems = conversations_from_pairs(texts)
    known, unreadable = readable_conversations(tok, list(parsed.conversations) + from_table)
    problems = list(parsed.errors) + table_problems + unreadable
    if len(known) > MAX_CONVERSATIONS:
        problems.append(f"only the first {MAX_CONVERSATIONS:,} of {len(known):,} conversations are used")
    return known[:MAX_CONVERSATIONS], problems


def _finetune_line(m: dict, seconds: float) -> str:
    val = f" · val loss <b>{m['val_loss']:.3f}</b>" if m.get("val_loss") is not None else ""
    return (f"step <b>{m['step']:,}</b> · train loss <b>{m['train_loss']:.3f}</b>{val} · "
            f"{m['elapsed']:.0f} s of {seconds:g} s")


def finetune_stream(jsonl, pairs, seconds, shipped):
    """The Fine-tune button: train a copy of the shipped chat model on the user's conversations.

    Yields (model in training, fine-tuned model, model choice, progress, loss chart, before/after
    table, compared prompts). The first yield hands the live copy to the session's "in training"
    state, so Stop keeps what it learned; it becomes the fine-tuned model the chat uses only when
    it is done (or stopped), never while it changes. The shipped model is never touched.
    """
    base = chat_model(SHIPPED, shipped, None)
    tok = base.tokenizer
    conversations, problems = _training_data(jsonl, pairs, tok)
    if problems:
        gr.Warning(f"{len(problems)} problem(s) in your data; the good conversations are kept. " + "; ".join(problems[:5]))
    if not conversations:
        raise gr.Error("No conversations to fine-tune on: paste JSONL lines or fill in the table." +
                       (f" Problems: {'; '.join(problems[:5])}" if problems else ""))
    try:
        seconds = parse_number(seconds, "seconds", MIN_FINETUNE_SECONDS, MAX_FINETUNE_SECONDS, integer=False)
    except ValueError as err:
        raise gr.Error(str(err)) from err
    ticket = _slots.try_acquire()
    if ticket is None:
        raise gr.Error(BUSY.format(n=MAX_CONCURRENT_FINETUNES), title="Busy", print_exception=False)
    tuned = Checkpoint(copy.deepcopy(base.model), tok, {**base.info, "name": f"{base.name}-finetuned",
                                                        "base": base.name, "conversations": len(conversations)})
    config = TrainConfig(max_steps=10**6, max_seconds=seconds, batch_size=32, learning_rate=1e-3, eval_interval=50)
    skip, history = gr.skip, []  # skip(): leave that output as it is
    try:
        _in_training.add(tuned.model)
        asking = f"Answering {min(len(conversations), MAX_COMPARED)} of your prompts before training…"
        yield tuned, skip(), skip(), _progress_html(0, asking, problems), None, skip(), skip()  # None clears the chart
        compared = [(c[:-1], c[-1]["content"], _answer(base, c[:-1])) for c in conversations[:MAX_COMPARED]]
        starting = _progress_html(0, f"Fine-tuning on {len(conversations)} conversations…", problems)
        yield skip(), skip(), skip(), starting, skip(), _compare_frame(compared), compared
        with contextlib.closing(finetune(tuned.model, tok, conversations, config)) as metrics:
            for chunk in chunk_by_time(metrics, UPDATE_EVERY):
                history += chunk
                tuned.info["steps"] = history[-1]["step"]
                line = _progress_html(history[-1]["elapsed"] / seconds, _finetune_line(history[-1], seconds), problems)
                yield skip(), skip(), skip(), line, loss_frame(history), skip(), skip()
    except ValueError as err:
        raise gr.Error(str(err)) from err
    finally:
        _slots.release(ticket)  # also when Stop closes this generator
        _in_training.discard(tuned.model)
    tuned.info.update(val_loss=history[-1]["val_loss"] if history else None, finished=True)
    after = [_answer(tuned, prompt) for prompt, _, _ in compared]
    line = (_finetune_line(history[-1], seconds) + " · done. <b>my fine-tuned model</b> now answers in the chat."
            if history else "No training step fitted in the time.")
    yield (skip(), dataclasses.replace(tuned), gr.update(choices=MODEL_CHOICES, value=TUNED),
           _progress_html(1.0, line, problems), skip(), _compare_frame(compared, after), skip())


def stop_finetune(tuned, compared):
    """After Stop has cancelled fine-tuning: keep the model as trained so far, and answer the prompts again.

    ``tuned`` is the model that was in training; it becomes the session's fine-tuned model.
    """
    if tuned is None or tuned.info.get("finished"):
        return gr.skip(), gr.skip(), _progress_html(0, "Nothing to stop."), gr.skip()
    deadline = time.monotonic() + UPDATE_EVERY + 5  # the trainer stops at its next update, a moment away
    while tuned.model in _in_training and time.monotonic() < deadline:
        time.sleep(0.05)
    tuned.info["finished"] = True
    after = [_answer(tuned, prompt) for prompt, _, _ in compared]
    line = (f"Stopped after {tuned.info.get('steps', 0):,} steps. <b>my fine-tuned model</b> keeps what it learned "
            "and now answers in the chat.")
    return (dataclasses.replace(tuned), gr.update(choices=MODEL_CHOICES, value=TUNED), _progress_html(1.0, line),
            _compare_frame(compared, after) if compared else gr.skip())


# ---------------------------------------------------------------------------------------------
# Layout


def build(model: Checkpoint | None = None) -> gr.Blocks:
    """The tab; ``model`` stands in for the shipped chat model (None: load ``tinylm/pretrained/chat``)."""
    with gr.Blocks(title="tinylm: chat") as demo:
        shipped = gr.State(model)  # deep-copied for each session
        tuned = gr.State(None)  # this session's fine-tuned model
        training = gr.State(None)  # the copy being fine-tuned now (Stop keeps it)
        compared = gr.State([])  # (prompt messages, wanted reply, reply before) of the last fine-tuning
        gr.Markdown(ABOUT)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                # the model's raw text: as Markdown, a reply such as "---" or "*" would turn into formatting
                chatbot = gr.Chatbot(label="Chat", height=380, elem_id="chat-bot", feedback_options=None,
                                     render_markdown=False, buttons=["copy", "copy_all"],
                                     placeholder="Ask something, or pick an example below.")
                with gr.Row(equal_height=True):
                    message = gr.Textbox("", label="Message", show_label=False, scale=5, max_length=MAX_MESSAGE_CHARS,
                                         placeholder="Type a message and press Enter…", elem_id="chat-message")
                    send = gr.Button("Send", variant="primary", scale=1, min_width=80)
                gr.Examples(EXAMPLES, message, label="Try", api_visibility="private")
                status = gr.Markdown(elem_id="chat-status")
            with gr.Column(scale=2, min_width=300):
                which = gr.Radio(MODEL_CHOICES[:1], value=SHIPPED, label="Model",
                                 info="my fine-tuned model appears here once you fine-tune one below")
                temperature = gr.Slider(0, 2, value=0, step=0.05, label="temperature",
                                        info="0 = greedy: always the likeliest token. Honest for a model whose "
                                             "answers can be checked; raise it to see other answers it finds likely")
                with gr.Row():
                    top_k = gr.Slider(0, 100, value=0, step=1, label="top-k", info="0 = off")
                    top_p = gr.Slider(0.05, 1, value=1, step=0.05, label="top-p", info="1 = off")
                with gr.Row():
                    seed = gr.Number(-1, label="seed", info="-1 = random", precision=0, minimum=-1)
                    max_new_tokens = gr.Slider(1, MAX_NEW_TOKENS, value=DEFAULT_NEW_TOKENS, step=1, label="max new tokens")
        gr.Markdown("### What the model reads\nThe whole conversation in the template, one chip per token (hover for "
                    "its id). Fine-tuning trains only on the **underlined** tokens, the assistant's: the model learns "
                    "to answer, never to imitate the user.")
        tokens_view = gr.HTML(_tokens_html_empty(), css_template=CSS, js_on_load=None, elem_id="chat-tokens")
        probs = gr.Dataframe(_probs_frame(None, []), label="The last reply, token by token: the model's probability "
                             "for each token it wrote, and the tokens it found likeliest there", interactive=False,
                             wrap=True, max_height=320)

        gr.Markdown("### Fine-tune on my conversations\nPaste JSONL, one conversation a line, as "
                    '`{"input": ..., "output": ...}` or `{"messages": [...]}`, and/or fill in the table. A copy of '
                    "the shipped model trains on them (mixed half and half with what it learned before, so it keeps "
                    "its old answers) and becomes **my fine-tuned model**; the shipped one stays as it is.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                jsonl = gr.Textbox("", label="JSONL", lines=5, max_lines=12, max_length=MAX_JSONL_CHARS,
                                   placeholder=JSONL_PLACEHOLDER)
                pairs = gr.Dataframe(pd.DataFrame(EXAMPLE_PAIRS, columns=PAIR_COLUMNS), headers=PAIR_COLUMNS,
                                     label="Question / answer pairs", interactive=True, datatype="str", wrap=True)
                seconds = gr.Slider(MIN_FINETUNE_SECONDS, MAX_FINETUNE_SECONDS, value=60, step=5, label="seconds",
                                    info="how long to train")
                with gr.Row():
                    finetune_button = gr.Button("Fine-tune", variant="primary", scale=3)
                    stop_button = gr.Button("Stop", variant="stop", scale=1)
            with gr.Column(scale=3, min_width=360):
                progress = gr.HTML(_progress_html(0, "Press <b>Fine-tune</b> to start."), css_template=CSS,
                                   js_on_load=None)
                # starts as None: a LinePlot whose first table is empty draws no lines later (Gradio 6.31)
                loss_plot = gr.LinePlot(None, x="step", y="loss", color="curve", height=260,
                                        label="Loss on the assistant's tokens: train (violet), val = your conversations (pink)",
                                        color_map={"train": "#6366f1", "val": "#ec4899"}, y_title="loss (nats per token)")
                before_after = gr.Dataframe(_compare_frame([]), label="Your prompts, answered before and after "
                                            "(temperature 0)", interactive=False, wrap=True,
                                            column_widths=["28%", "24%", "24%", "24%"])

        # hidden: the api-only /chat endpoint, history in and out as JSON
        with gr.Group(visible=False):
            api_inputs = [gr.Textbox(""), gr.JSON([]), gr.Textbox(SHIPPED), gr.Number(DEFAULT_NEW_TOKENS, precision=0),
                          gr.Number(0.0), gr.Number(0, precision=0), gr.Number(1.0), gr.Number(-1, precision=0)]
            api_button = gr.Button()
            api_result = gr.JSON(label="history")

        # -- wiring ------------------------------------------------------------------------
        knobs = [which, max_new_tokens, temperature, top_k, top_p, seed, shipped, tuned]
        hidden = dict(api_visibility="private", show_progress="hidden")
        gr.on([message.submit, send.click], respond, [message, chatbot, *knobs],
              [message, chatbot, tokens_view, probs, status], **hidden)
        chatbot.clear(clear, None, [tokens_view, probs, status], **hidden)  # the chat's own trash button
        finetuning = finetune_button.click(finetune_stream, [jsonl, pairs, seconds, shipped],
                                           [training, tuned, which, progress, loss_plot, before_after, compared],
                                           **hidden,
                                           concurrency_limit=MAX_CONCURRENT_FINETUNES + 2, concurrency_id="tinylm-chat-ft")
        # cancel first, then report: Gradio cancels an event only once the cancelling one has finished
        stop_button.click(None, cancels=[finetuning]).then(stop_finetune, [training, compared],
                                                           [tuned, which, progress, before_after], **hidden)
        api_button.click(chat_api, [*api_inputs, shipped, tuned], api_result, api_name="chat")
    return demo


if __name__ == "__main__":
    launch(build())
