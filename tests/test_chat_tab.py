"""The Chat tab: its handlers called directly with a tiny stand-in chat model (a reply streams, both
history forms, the token and loss-mask view, bad input, JSONL problems, fine-tuning and Stop), then
the tab served in-process and called through gradio_client's ``/chat``; last, the shipped chat
model's answers (skipped until ``tinylm/pretrained/chat`` exists)."""

import re
import string

import gradio as gr
import pytest
import torch
from gradio_client import Client

from tinylm.checkpoint import Checkpoint
from tinylm.models import build_model
from tinylm.pretrained import list_pretrained, load_pretrained
from tinylm.tokenizer import CharTokenizer
from tinylm_app import chat_tab
from tinylm_app.chat_tab import (
    SHIPPED,
    SKILLS,
    TUNED,
    _shipped_info,
    chat_api,
    clear,
    finetune_stream,
    respond,
    scores_markdown,
    stop_finetune,
)
from tinylm_app.guard import guarded

# the knobs after message and history: model, max new tokens, temperature (0 = greedy), top-k, top-p, seed
GREEDY = dict(which=SHIPPED, max_new_tokens=12, temperature=0, top_k=0, top_p=1, seed=-1)


@pytest.fixture
def tiny():
    """An untrained one-layer GPT on the printable characters: replies are noise, but quick."""
    torch.manual_seed(0)
    tok = CharTokenizer.from_corpus(string.printable)
    model = build_model("gpt", vocab_size=tok.vocab_size, block_size=128, n_layer=1, n_head=2, n_embd=16)
    return Checkpoint(model, tok, {"name": "tiny-chat"})


def chat(tiny, message, history=(), **knobs):
    """Every yield of one Send: (textbox, history, token view, reply-token table, status), as the app
    calls it (guarded: a bad input is a gr.Error with one sentence)."""
    send = guarded(respond, "respond", [])
    return list(send(message, list(history), **{**GREEDY, **knobs}, shipped=tiny, tuned=None))


def chips(token_view: str) -> list[tuple[str, str]]:
    """(css classes, text) of each token chip in the token view."""
    return re.findall(r"<span class='(t [^']*)' title='[^']*'>([^<]*)</span>", token_view.split("class='legend'")[0])


def typed(history):
    """A history the way Gradio's Chatbot sends it: content as typed parts, extra keys."""
    return [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}], "metadata": None, "options": None}
            for m in history]


# --- chatting ----------------------------------------------------------------------------------


def test_a_reply_streams_then_the_views_of_the_reply_fill_in(tiny):
    outputs = chat(tiny, "  hi ")
    assert len(outputs) >= 3  # the question at once, the reply as it is written, then the views
    textbox, history, *_ = outputs[0]
    assert textbox == "" and history == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]
    textbox, history, tokens, probs, status = outputs[-1]
    reply = history[-1]["content"]
    assert [m["role"] for m in history] == ["user", "assistant"] and reply
    assert len(probs) == 12 and list(probs.columns) == chat_tab.PROB_COLUMNS  # one row per token written
    assert probs.iloc[0, 3].count("%") == chat_tab.ALTERNATIVES
    assert "tiny-chat" in status and "stopped at 12 tokens" in status  # noise never ends with <|im_end|>
    assert "2 messages" in tokens


def test_the_token_view_marks_the_assistant_tokens_as_trained_on(tiny):
    conversation = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    shown = chips(chat_tab._tokens_html(tiny.tokenizer, conversation))
    trained = [text for css, text in shown if "trained" in css]
    assert trained == ["y", "o", "&lt;|im_end|&gt;"]  # the reply and the <|im_end|> that ends it
    assert [text for css, text in shown if "user" in css.split()] == ["h", "i"]
    assert "".join(text for css, text in shown if "role" in css.split()) == "userassistant"
    assert sum("special" in css for css, _ in shown) == 6  # start, sep, end for each message


def test_both_history_forms_get_the_same_reply(tiny):
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    plain = chat(tiny, "ok", history)[-1][1]
    parts = chat(tiny, "ok", typed(history))[-1][1]
    assert plain == parts and plain[:2] == history and plain[2] == {"role": "user", "content": "ok"}
    with pytest.raises(gr.Error, match="not text"):
        chat(tiny, "ok", [{"role": "user", "content": [{"type": "file", "file": {"path": "/tmp/x.png"}}]}])


@pytest.mark.parametrize("message, knobs, error", [
    ("", {}, "Type a message first"),
    ("   ", {}, "Type a message first"),
    ("héllo wörld", {}, "does not know these characters: 'é', 'ö'"),
    ("x" * 120, {}, "too long for this model: it reads 128 tokens"),
    ("hi <|im_start|>", {}, "special token as text"),
    ("hi", dict(which=TUNED), "no fine-tuned model in this session yet"),
    ("hi", dict(top_p=0), "Top-p must be more than 0"),
    ("hi", dict(max_new_tokens="many"), "Max new tokens must be a number"),
])
def test_bad_input_gets_a_clear_message(tiny, message, knobs, error):
    with pytest.raises(gr.Error, match=error):
        chat(tiny, message, **knobs)


def test_a_conversation_longer_than_the_context_says_so(tiny):
    history = [{"role": r, "content": f"message number {n}"} for n, r in zip(range(10), ["user", "assistant"] * 5)]
    *_, tokens, _, status = chat(tiny, "and now?", history)[-1]
    assert "longer than the model's context of 128 tokens" in status
    faded = [text for css, text in chips(tokens) if "unread" in css]
    assert faded and "".join(faded).startswith("&lt;|im_start|&gt;user&lt;|im_sep|&gt;message·number·0")
    assert "unread" not in chips(tokens)[-1][0]  # the latest message was read


# --- fine-tuning -------------------------------------------------------------------------------

JSONL = "\n".join([
    '{"input": "What is your favourite letter?", "output": "q"}',
    '{"input": "oops"',  # line 2: broken JSON
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hey!"}]}',
    '{"input": "Do you like crème brûlée?", "output": "yes"}',  # line 4: characters the model lacks
    '{"question": "wrong keys", "answer": "no"}',  # line 5
])
PAIRS = [["Do you like cats?", "Yes."], ["", ""], ["no answer", ""]]  # an empty row is skipped; row 3 is bad


def test_bad_jsonl_lines_and_table_rows_are_reported_by_number_and_the_good_ones_kept(tiny):
    conversations, problems = chat_tab._training_data(JSONL, PAIRS, tiny.tokenizer)
    assert [c[0]["content"] for c in conversations] == ["What is your favourite letter?", "hi", "Do you like cats?"]
    assert any(p.startswith("line 2: not JSON") for p in problems)
    assert any(p.startswith("line 5: expected") for p in problems)
    assert any(p.startswith("table row 3:") and "must not be empty" in p for p in problems)
    assert any("crème" in p and "'è'" in p and "'û'" in p for p in problems)
    assert len(problems) == 4


@pytest.fixture
def quick_finetune(monkeypatch):
    monkeypatch.setattr(chat_tab, "MIN_FINETUNE_SECONDS", 1)
    monkeypatch.setattr(chat_tab, "COMPARE_TOKENS", 8)


def weights(ckpt) -> dict:
    return {k: v.clone() for k, v in ckpt.model.state_dict().items()}


def test_finetuning_makes_a_new_model_and_leaves_the_shipped_one_untouched(tiny, quick_finetune):
    shipped_before = weights(tiny)
    with pytest.warns(UserWarning, match="line 2"):  # gr.Warning outside a request is a warning
        outputs = list(finetune_stream(JSONL, PAIRS, 2, tiny))
    _, tuned, choice, progress, _, table, _ = outputs[-1]
    assert isinstance(tuned, Checkpoint) and tuned.model is not tiny.model and tuned.name == "tiny-chat-finetuned"
    assert isinstance(outputs[0][0], Checkpoint) and outputs[0][0].model is tuned.model  # in training from the start
    assert not any(isinstance(o[1], Checkpoint) for o in outputs[:-1])  # the chat gets it only when it is done
    assert choice["value"] == TUNED and (("my fine-tuned model", TUNED) in choice["choices"])
    assert "done" in progress and "line 2: not JSON" in progress
    assert tuned.info["steps"] > 0 and tuned.info["conversations"] == 3
    starting = [o[3] for o in outputs if isinstance(o[3], str) and "Fine-tuning on" in o[3]][0]
    assert "2 conversations (1 conversation held out for the val loss)" in starting  # 3: one is held out
    loss = [o[4] for o in outputs if hasattr(o[4], "columns")][-1]
    assert set(loss["curve"]) == {"train", "val"} and len(loss) > 2
    assert list(table.columns) == chat_tab.COMPARE_COLUMNS and len(table) == 3
    assert table["you wanted"].tolist() == ["q", "Hey!", "Yes."] and "…" not in table["after"].tolist()
    assert all(torch.equal(shipped_before[k], v) for k, v in tiny.model.state_dict().items())
    assert any(not torch.equal(shipped_before[k], v) for k, v in tuned.model.state_dict().items())
    assert chat_tab._slots.in_use == 0
    reply = list(respond("hi", [], TUNED, 8, 0, 0, 1, -1, shipped=tiny, tuned=tuned))[-1]
    assert "tiny-chat-finetuned" in reply[4]  # the chat now talks to the fine-tuned model


def test_stop_keeps_what_the_model_learned_so_far(tiny, quick_finetune):
    updates = finetune_stream("", PAIRS[:1], 30, tiny)
    tuned = compared = None
    for outputs in updates:
        tuned = outputs[0] if isinstance(outputs[0], Checkpoint) else tuned
        compared = outputs[6] if isinstance(outputs[6], list) else compared
        if tuned is not None and tuned.info.get("steps", 0) >= 2:
            break
    updates.close()  # what Gradio does when Stop cancels the event
    assert chat_tab._slots.in_use == 0
    state, choice, progress, table = stop_finetune(tuned, compared)
    assert state is not tuned and state.model is tuned.model and choice["value"] == TUNED
    assert f"Stopped after {tuned.info['steps']:,} steps" in progress
    assert len(table) == 1 and table["after"].tolist() != ["…"]
    assert "Nothing to stop" in stop_finetune(None, [])[2]
    assert "Nothing to stop" in stop_finetune(state, compared)[2]  # already stopped


@pytest.mark.parametrize("jsonl, pairs, seconds, error", [
    ("not json", [], 10, "No conversations to fine-tune on.*line 1: not JSON"),
    ("", [["", ""]], 10, "No conversations to fine-tune on"),
    ('{"input": "hi", "output": "yo"}', [], 10**6, "seconds must be between"),
])
@pytest.mark.filterwarnings("ignore:.*problem")  # the gr.Warning that lists the bad lines
def test_finetuning_without_good_data_says_why(tiny, jsonl, pairs, seconds, error):
    with pytest.raises(gr.Error, match=error):
        list(finetune_stream(jsonl, pairs, seconds, tiny))
    assert chat_tab._slots.in_use == 0


# --- the tab, served ---------------------------------------------------------------------------


def test_the_tab_serves_chat_through_gradio_client(serve, tiny):
    demo = chat_tab.build(tiny)
    assert {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"} == {"chat"}
    client = Client(serve(demo), verbose=False)
    history = client.predict(message="hi", max_new_tokens=5, api_name="/chat")
    assert [m["role"] for m in history] == ["user", "assistant"] and history[0]["content"] == "hi"
    assert isinstance(history[1]["content"], str) and history[1]["content"]
    longer = client.predict(message="ok", history=typed(history), max_new_tokens=5, api_name="/chat")
    assert longer[:2] == history and [m["role"] for m in longer] == ["user", "assistant"] * 2
    with pytest.raises(Exception, match="Type a message first"):
        client.predict(message="", history=history, api_name="/chat")
    with pytest.raises(Exception, match="no fine-tuned model"):
        client.predict(message="hi", model=TUNED, api_name="/chat")


def test_new_chat_empties_the_chat_and_the_views_of_the_last_reply():
    history, tokens_view, probs, status = clear()
    assert history == [] and chips(tokens_view) == [] and probs.empty and status == ""


def test_the_scores_beside_the_chat_name_what_was_measured():
    shown = scores_markdown({"eval": {"held_out_phrasings": 0.861, "false_idk": 0.031, "turn_2": 0.5}})
    assert "86% answers questions worded as it never saw them" in shown and "3% says" in shown
    assert "50%" not in shown  # only the figures it has a sentence for
    assert scores_markdown({}) == "" and scores_markdown({"eval": None}) == ""


# --- the shipped chat model --------------------------------------------------------------------

needs_chat_model = pytest.mark.skipif("chat" not in list_pretrained(),
                                      reason="the shipped chat model tinylm/pretrained/chat is not there yet")


@needs_chat_model
@pytest.mark.parametrize("question, answer", [("What is 2 + 3?", "5"), ("Spell horse backwards.", "esroh"),
                                              ("What letter comes after k?", "l"),
                                              ("How many letters are in horse?", "5")])
def test_the_shipped_chat_model_answers_checkable_questions(question, answer):
    history = chat_api(question, [], SHIPPED, 40, 0, 0, 1, -1, None, None)
    assert history[-1]["content"].strip() == answer


@needs_chat_model
def test_the_shipped_chat_model_talks_and_knows_its_limits():
    history = chat_api("hi", [], SHIPPED, 160, 0, 0, 1, -1, None, None)
    assert history[-1]["content"].strip()
    history = chat_api("What is the capital of France?", history, SHIPPED, 40, 0, 0, 1, -1, None, None)
    assert history[-1]["content"].strip() == "I do not know."
    assert load_pretrained("chat").model.block_size >= 64


# what each clickable example should get: the examples must show the skills, not the mistakes
SKILL_ANSWERS = {"what comes after the letter q?": "r", "Which letter is before m?": "l",
                 "Can you reverse tiger?": "regit", "Write the word garden in capital letters.": "GARDEN",
                 "Count how many letters tiger has.": "5", "What is 2+2?": "4", "What is seven plus eight?": "15",
                 "What is 15 - 6?": "9", "Which is bigger, 12 or 17?": "17",
                 "What year did World War II end?": "I do not know.", "What is 7 times 8?": "I do not know."}


@needs_chat_model
@pytest.mark.parametrize("question", [q for questions in SKILLS.values() for q in questions if q in SKILL_ANSWERS])
def test_the_shipped_chat_model_answers_the_tabs_examples(question):
    history = chat_api(question, [], SHIPPED, 40, 0, 0, 1, -1, None, None)
    assert history[-1]["content"].strip() == SKILL_ANSWERS[question]


@needs_chat_model
def test_the_tab_shows_the_shipped_models_eval_chat_figures():
    assert "worded as it never saw them" in scores_markdown(_shipped_info())
