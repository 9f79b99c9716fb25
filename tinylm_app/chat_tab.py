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
import functools
import json
from pathlib import Path

import gradio as gr
import pandas as pd

from tinylm.chat import (
    ChatFormatError,
    check_messages,
    conversations_from_pairs,
    finetune,
    hold_out,
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
from tinylm.fields import parse_number
from tinylm.live import TrainingSlots, chunk_by_time
from tinylm.plots import loss_frame
from tinylm.pretrained import PRETRAINED_DIR, load_pretrained
from tinylm.sample import sampling_settings
from tinylm.tokenizer import IM_END, IM_SEP, IM_START
from tinylm.train import TrainConfig
from tinylm_app.guard import Dataframe, Number, Slider, examples, refuse, sentence
from tinylm_app.html import PROGRESS_CSS, escape, model_line, plural, progress_html, token_label
from tinylm_app.limits import (
    MAX_CONCURRENT_FINETUNES,
    MAX_CONVERSATIONS,
    MAX_HISTORY_MESSAGES,
    MAX_JSONL_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_REPLY_TOKENS,
)
from tinylm_app.session import launch

CHAT_MODEL = "chat"  # the shipped chat model, tinylm/pretrained/chat
SHIPPED, TUNED = "shipped", "tuned"
MODEL_CHOICES = [("shipped chat model", SHIPPED), ("my fine-tuned model", TUNED)]
DEFAULT_NEW_TOKENS = 160  # more than the shipped model's longest answer, in characters
ALTERNATIVES = 5  # likeliest tokens shown beside each reply token
STREAM_EVERY = 0.05  # seconds between screen updates while a reply is written

MIN_FINETUNE_SECONDS, MAX_FINETUNE_SECONDS = 5, 180  # how long fine-tuning may run
MAX_COMPARED = 12  # prompts answered before and after fine-tuning
COMPARE_TOKENS = 160  # tokens of each of those answers
UPDATE_EVERY = 0.33  # seconds between loss-chart updates while fine-tuning
BUSY = "The fine-tuner is busy: {n} fine-tunings are running, the limit on this shared machine. Try again in a minute."

_slots = TrainingSlots(MAX_CONCURRENT_FINETUNES, max_hold_seconds=MAX_FINETUNE_SECONDS + 120)

# the example questions, a row per skill: worded as a visitor would, not only as the model was drilled
SKILLS = {
    "letters": ["what comes after the letter q?", "Which letter is before m?"],
    "words": ["Can you reverse tiger?", "Write the word garden in capital letters.",
              "Count how many letters tiger has."],
    "numbers": ["What is 2+2?", "What is seven plus eight?", "What is 15 - 6?", "Which is bigger, 12 or 17?"],
    "talk": ["hi", "Who are you?", "What year did World War II end?", "What is 7 times 8?"],
}
CANNOT = ("It cannot do anything else: no facts about the world, no sums past 20, no times tables, no opinions. "
          "To those it should say *I do not know.*")
# eval-chat's figures shown beside the chat, in the order shown (tinylm/pretrained/chat/config.json "eval")
SCORES = {
    "held_out_phrasings": "answers questions worded as it never saw them",
    "held_out_items": "answers new words and numbers in wordings it trained on",
    "multi_turn": "answers the same later in a conversation",
    "idk_out_of_scope_new_phrasings": "says *I do not know.* to what it cannot know",
    "false_idk": "says *I do not know.* to what it could answer",
}
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

CSS = PROGRESS_CSS + (Path(__file__).parent / "static" / "chat.css").read_text()  # the token chips, the legend


def scores_markdown(info: dict) -> str:
    """The shipped model's eval-chat figures as a short list (empty if it was never evaluated)."""
    scores = info.get("eval") or {}
    lines = [f"- {scores[key]:.0%} {label}" for key, label in SCORES.items() if isinstance(scores.get(key), float)]
    if not lines:
        return ""
    return ("**How often it is right** (`python -m tinylm eval-chat`, greedy, on questions no training stage "
            "saw):\n" + "\n".join(lines))


@functools.cache
def _shipped_info() -> dict:
    """The shipped chat model's config.json, read once (the weights load on the first message)."""
    path = PRETRAINED_DIR / CHAT_MODEL / "config.json"
    return json.loads(path.read_text()) if path.exists() else {}


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
        chips.append(f"<span class='{css}' title='{title}'>{escape(token_label(tok.decode([i])))}</span>")
    legend = ("<span class='t special'>special</span><span class='t role'>role</span>"
              "<span class='t user'>user</span><span class='t assistant trained'>assistant · trained on</span>")
    faded = f" Faded: {unread} tokens that no longer fit in the context." if unread else ""
    return (f"<div class='chat-tokens'>{''.join(chips)}</div><div class='legend'>{len(messages)} messages, {len(ids)} tokens, "
            f"{sum(mask)} trained on (mask = 1, underlined): the assistant's words and the {escape(IM_END)} that "
            f"ends them.{faded} {legend}</div>")


def _tokens_html_empty() -> str:
    return "<div class='chat-tokens hint'>Send a message to see the tokens the model reads.</div>"


def _probs_frame(tok, tokens) -> pd.DataFrame:
    """The last reply token by token: its probability and the model's likeliest alternatives."""
    rows = [(n, token_label(tok.decode([t.id])), f"{t.prob:.1%}",
             "  ".join(f"{token_label(tok.decode([i]))} {p:.1%}" for i, p in t.alternatives))
            for n, t in enumerate(tokens, 1)]
    return pd.DataFrame(rows, columns=PROB_COLUMNS).astype({"#": "int64"})


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
        return _shipped_chat_model()
    except CheckpointError as err:
        raise gr.Error(f"The shipped chat model is not installed: {err}") from err


@functools.lru_cache(maxsize=1)
def _shipped_chat_model() -> Checkpoint:
    """The shipped chat model, loaded once and shared by every session: chatting only reads it,
    and fine-tuning trains a copy."""
    return load_pretrained(CHAT_MODEL)


def _conversation(tok, block_size: int, room: int, message: str, history) -> list[dict]:
    """The history plus the new message, or a gr.Error saying what the model cannot read."""
    message = (message or "").strip()
    if not message:
        raise gr.Error("Type a message first.", print_exception=False)
    unknown = tok.unknown_pieces(message, allow_special=False)
    if unknown:
        shown = ", ".join(map(repr, unknown))
        raise gr.Error(f"This model does not know these characters: {shown}. It reads only the characters it "
                       "learned from; write the message without them.", print_exception=False)
    alone = [{"role": "user", "content": message}]
    if isinstance(history, list):  # only the latest messages can fit the context anyway
        history = history[-MAX_HISTORY_MESSAGES:]
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
    settings = sampling_settings(max_new_tokens, temperature, top_k, top_p, seed, MAX_REPLY_TOKENS)
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
    notes = [f"{model_line(ckpt)} · {len(tokens)} tokens"]
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
    """New chat (or the chat's own trash button): empty the chat and the views of the last reply."""
    return [], _tokens_html_empty(), _probs_frame(None, []), ""


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


def finetune_stream(jsonl, pairs, seconds, shipped, request: gr.Request = None):
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
        gr.Warning(sentence(f"{len(problems)} problem(s) in your data; the good conversations are kept. "
                            + "; ".join(problems[:5])))
    if not conversations:
        raise gr.Error("No conversations to fine-tune on: paste JSONL lines or fill in the table." +
                       (f" Problems: {'; '.join(problems[:5])}" if problems else ""))
    try:
        seconds = parse_number(seconds, "seconds", MIN_FINETUNE_SECONDS, MAX_FINETUNE_SECONDS, integer=False)
    except ValueError as err:
        raise gr.Error(str(err)) from err
    session = getattr(request, "session_hash", None) or object()
    if _slots.holds(session):
        raise refuse("This session is already fine-tuning a model: stop it first, or wait for it to finish")
    ticket = _slots.try_acquire(session)
    if ticket is None:
        raise gr.Error(BUSY.format(n=MAX_CONCURRENT_FINETUNES), title="Busy", print_exception=False)
    tuned = Checkpoint(copy.deepcopy(base.model), tok, {**base.info, "name": f"{base.name}-finetuned",
                                                        "base": base.name, "conversations": len(conversations)})
    config = TrainConfig(max_steps=10**6, max_seconds=seconds, batch_size=32, learning_rate=1e-3, eval_interval=50)
    skip, history = gr.skip, []  # skip(): leave that output as it is
    try:
        _slots.trains(ticket, tuned.model)
        asking = f"Answering {min(len(conversations), MAX_COMPARED)} of your prompts before training…"
        yield tuned, skip(), skip(), progress_html(0, asking, problems), None, skip(), skip()  # None clears the chart
        compared = [(c[:-1], c[-1]["content"], _answer(base, c[:-1])) for c in conversations[:MAX_COMPARED]]
        train, val = hold_out(conversations)  # the val line is measured on conversations it never trains on
        held = (f"{plural(len(val), 'conversation')} held out for the val loss" if len(conversations) >= 3
                else "too few to hold any out: the val loss is measured on the same ones")
        starting = progress_html(0, f"Fine-tuning on {plural(len(train), 'conversation')} ({held})…", problems)
        yield skip(), skip(), skip(), starting, skip(), _compare_frame(compared), compared
        with contextlib.closing(finetune(tuned.model, tok, train, config, val=val)) as metrics:
            for chunk in chunk_by_time(metrics, UPDATE_EVERY):
                history += chunk
                tuned.info["steps"] = history[-1]["step"]
                line = progress_html(history[-1]["elapsed"] / seconds, _finetune_line(history[-1], seconds), problems)
                yield skip(), skip(), skip(), line, loss_frame(history), skip(), skip()
    except ValueError as err:
        raise gr.Error(str(err)) from err
    finally:
        _slots.release(ticket)  # also when Stop closes this generator
    tuned.info.update(val_loss=history[-1]["val_loss"] if history else None, finished=True)
    after = [_answer(tuned, prompt) for prompt, _, _ in compared]
    line = (_finetune_line(history[-1], seconds) + " · done. <b>my fine-tuned model</b> now answers in the chat."
            if history else "No training step fitted in the time.")
    yield (skip(), dataclasses.replace(tuned), gr.update(choices=MODEL_CHOICES, value=TUNED),
           progress_html(1.0, line, problems), skip(), _compare_frame(compared, after), skip())


def stop_finetune(tuned, compared):
    """After Stop has cancelled fine-tuning: keep the model as trained so far, and answer the prompts again.

    ``tuned`` is the model that was in training; it becomes the session's fine-tuned model.
    """
    if tuned is None or tuned.info.get("finished"):
        return gr.skip(), gr.skip(), progress_html(0, "Nothing to stop."), gr.skip()
    _slots.wait_until_stopped(tuned.model, timeout=UPDATE_EVERY + 5)  # it stops at its next update, a moment away
    tuned.info["finished"] = True
    after = [_answer(tuned, prompt) for prompt, _, _ in compared]
    line = (f"Stopped after {plural(tuned.info.get('steps', 0), 'step')}. <b>my fine-tuned model</b> keeps what it learned "
            "and now answers in the chat.")
    return (dataclasses.replace(tuned), gr.update(choices=MODEL_CHOICES, value=TUNED), progress_html(1.0, line),
            _compare_frame(compared, after) if compared else gr.skip())


# ---------------------------------------------------------------------------------------------
# Layout


def build(model: Checkpoint | None = None) -> gr.Blocks:
    """The tab; ``model`` stands in for the shipped chat model (None: load ``tinylm/pretrained/chat``)."""
    with gr.Blocks(title="tinylm: chat") as demo:
        shipped = gr.State(model)  # None (the app): every session shares one read-only shipped model
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
                    new_chat = gr.Button("New chat", scale=1, min_width=80)
                for skill, questions in SKILLS.items():
                    examples(questions, message, label=skill)
                gr.Markdown(CANNOT, elem_classes="hint")
                status = gr.Markdown(elem_id="chat-status")
            with gr.Column(scale=2, min_width=300):
                gr.Markdown(scores_markdown(_shipped_info()), elem_id="chat-scores")
                which = gr.Radio(MODEL_CHOICES[:1], value=SHIPPED, label="Model",
                                 info="my fine-tuned model appears here once you fine-tune one below")
                temperature = Slider(0, 2, value=0, step=0.05, label="temperature",
                                        info="0 = greedy: always the likeliest token. Honest for a model whose "
                                             "answers can be checked; raise it to see other answers it finds likely")
                with gr.Row():
                    top_k = Slider(0, 100, value=0, step=1, label="top-k", info="0 = off")
                    top_p = Slider(0.05, 1, value=1, step=0.05, label="top-p", info="1 = off")
                with gr.Row():
                    seed = Number(-1, label="seed", info="-1 = random", precision=0, minimum=-1)
                    max_new_tokens = Slider(1, MAX_REPLY_TOKENS, value=DEFAULT_NEW_TOKENS, step=1, label="max new tokens")
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
                pairs = Dataframe(pd.DataFrame(EXAMPLE_PAIRS, columns=PAIR_COLUMNS), headers=PAIR_COLUMNS,
                                     label="Question / answer pairs", interactive=True, datatype="str", wrap=True)
                seconds = Slider(MIN_FINETUNE_SECONDS, MAX_FINETUNE_SECONDS, value=60, step=5, label="seconds",
                                    info="how long to train")
                with gr.Row():
                    finetune_button = gr.Button("Fine-tune", variant="primary", scale=3)
                    stop_button = gr.Button("Stop", variant="stop", scale=1)
            with gr.Column(scale=3, min_width=360):
                progress = gr.HTML(progress_html(0, "Press <b>Fine-tune</b> to start."), css_template=CSS,
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
            api_inputs = [gr.Textbox("", label="message", max_length=MAX_MESSAGE_CHARS), gr.JSON([], label="history"),
                          gr.Textbox(SHIPPED, label="model", max_length=MAX_NAME_CHARS), Number(DEFAULT_NEW_TOKENS, label="max_new_tokens", precision=0),
                          Number(0.0, label="temperature"), Number(0, label="top_k", precision=0),
                          Number(1.0, label="top_p"), Number(-1, label="seed", precision=0)]
            api_button = gr.Button()
            api_result = gr.JSON(label="history")

        # -- wiring ------------------------------------------------------------------------
        knobs = [which, max_new_tokens, temperature, top_k, top_p, seed, shipped, tuned]
        hidden = dict(api_visibility="private", show_progress="hidden")
        gr.on([message.submit, send.click], respond, [message, chatbot, *knobs],
              [message, chatbot, tokens_view, probs, status], **hidden)
        gr.on([new_chat.click, chatbot.clear], clear, None, [chatbot, tokens_view, probs, status], **hidden)
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
