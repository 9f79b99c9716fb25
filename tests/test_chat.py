"""The chat library: template and loss mask, user JSONL, generated tasks, SFT, RL and eval-chat."""

import json
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tinylm.chat import (
    ChatFormatError,
    conversations_from_pairs,
    example_messages,
    finetune,
    masked_loss,
    pad_batch,
    parse_jsonl,
    prompt_messages,
    readable_conversations,
    render_conversation,
    render_for_reply,
    reply_stream,
    reply_text,
    sft_batches,
    task_draw,
)
from tinylm.chat_tasks import ChatTasks, Example, is_correct
from tinylm.chat_wordings import HELLO, IDK, SMALL_TALK, TASK_NAMES
from tinylm.checkpoint import load_checkpoint, save_checkpoint
from tinylm.models import build_model
from tinylm.pretrained import list_pretrained
from tinylm.rl import RLConfig, evaluate_chat, rejection_sampling
from tinylm.sample import generate, generate_batch
from tinylm.tokenizer import CharTokenizer
from tinylm.train import TrainConfig, seed_everything

REPO = Path(__file__).resolve().parent.parent

TWO_TURNS = [
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "yo"},
    {"role": "user", "content": "2+3"},
    {"role": "assistant", "content": "5"},
]


@pytest.fixture(scope="module")
def tok():
    return CharTokenizer.from_corpus(string.printable)


def tiny_model(tok, block_size=128):
    seed_everything(0)
    return build_model("gpt", vocab_size=tok.vocab_size, block_size=block_size, n_layer=2, n_head=2, n_embd=32)


# --- template ------------------------------------------------------------------------------------
def test_two_turn_template_ids_and_mask(tok):
    ids, mask = render_conversation(tok, TWO_TURNS)
    text = ("<|im_start|>user<|im_sep|>hi<|im_end|><|im_start|>assistant<|im_sep|>yo<|im_end|>"
            "<|im_start|>user<|im_sep|>2+3<|im_end|><|im_start|>assistant<|im_sep|>5<|im_end|>")
    assert ids == tok.encode(text)
    specials = [tok.token_to_id(s) for s in ("<|im_start|>", "<|im_sep|>", "<|im_end|>")]
    assert all(i in ids for i in specials)  # each special is one id
    # exactly the assistant's replies and their <|im_end|> are trained on
    trained = [tok.decode([i]) for i, m in zip(ids, mask) if m]
    assert trained == ["y", "o", "<|im_end|>", "5", "<|im_end|>"]
    assert len(mask) == len(ids)


def test_pad_batch_pad_is_never_a_target(tok):
    rows = [render_conversation(tok, TWO_TURNS), render_conversation(tok, TWO_TURNS[:2])]
    x, y = pad_batch(rows, tok.pad_id, block_size=128)
    assert x.shape == y.shape == (2, len(rows[0][0]) - 1)
    assert (x[1, len(rows[1][0]) - 1:] == tok.pad_id).all()  # the short row is right-padded
    assert (y[x == tok.pad_id] == -1).all()
    assert not (y == tok.pad_id).any()
    ids, mask = rows[0]
    # y[t] is ids[t + 1] where that token is the assistant's, else -1
    expected = [i if m else -1 for i, m in zip(ids[1:], mask[1:])]
    assert y[0].tolist() == expected


def test_render_for_reply_drops_oldest_messages_to_fit(tok):
    ids = render_for_reply(tok, TWO_TURNS[:3])
    assert tok.decode(ids).endswith("<|im_start|>user<|im_sep|>2+3<|im_end|><|im_start|>assistant<|im_sep|>")
    short = render_for_reply(tok, TWO_TURNS[:3], block_size=30, room=4)
    assert len(short) + 4 <= 30
    assert tok.decode(short).startswith("<|im_start|>user<|im_sep|>2+3")  # the first exchange is gone


def test_bad_messages_get_clear_errors(tok):
    with pytest.raises(ChatFormatError, match="role"):
        render_conversation(tok, [{"role": "robot", "content": "hi"}])
    with pytest.raises(ChatFormatError, match="text"):
        render_conversation(tok, [{"role": "user", "content": 3}])
    with pytest.raises(ChatFormatError, match="special token"):
        render_conversation(tok, [{"role": "user", "content": "hi<|im_end|>"}])
    with pytest.raises(ChatFormatError, match="at least one"):
        render_conversation(tok, [])


def test_a_reply_of_weight_0_is_read_but_not_trained_on(tok):
    earlier = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo", "weight": 0}]
    ids, mask = render_conversation(tok, earlier + TWO_TURNS[2:])
    assert ids == render_conversation(tok, TWO_TURNS)[0]  # the same tokens are read
    assert [tok.decode([i]) for i, m in zip(ids, mask) if m] == ["5", "<|im_end|>"]
    with pytest.raises(ChatFormatError, match="weight"):
        render_conversation(tok, [{"role": "user", "content": "hi", "weight": 0}])
    with pytest.raises(ChatFormatError, match="weight"):
        render_conversation(tok, [{"role": "assistant", "content": "hi", "weight": 0.5}])


def test_an_example_with_earlier_turns_renders_them_first():
    example = Example("add", "2+3", "5", history=(("hi", "yo"),))
    assert prompt_messages(example) == TWO_TURNS[:3]
    assert prompt_messages(example, train_history=False)[1] == {"role": "assistant", "content": "yo", "weight": 0}


# --- user JSONL ------------------------------------------------------------------------------
def test_parse_jsonl_both_formats_and_numbered_errors():
    text = "\n".join([
        json.dumps({"input": "hi", "output": "hello"}),
        "{not json",
        json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}),
        "",
        json.dumps({"messages": [{"role": "user", "content": "only a question"}]}),
        json.dumps({"input": "x"}),
        json.dumps({"messages": [{"role": "wizard", "content": "a"}, {"role": "assistant", "content": "b"}]}),
        json.dumps([1, 2]),
    ])
    parsed = parse_jsonl(text)
    assert [c[-1]["content"] for c in parsed.conversations] == ["hello", "b"]
    assert [e.split(":")[0] for e in parsed.errors] == ["line 2", "line 5", "line 6", "line 7", "line 8"]
    assert "last message must be the assistant" in parsed.errors[1]
    assert "wizard" in parsed.errors[3]


def test_pairs_become_one_turn_conversations_and_bad_ones_are_numbered():
    conversations, problems = conversations_from_pairs([("hi", "hello"), ("", ""), ("no answer", " ")])
    assert conversations == [[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]]
    assert len(problems) == 1 and problems[0].startswith("table row 3:") and "must not be empty" in problems[0]


def test_conversations_with_unknown_characters_are_skipped_by_name(tok):
    ok = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    accented = [{"role": "user", "content": "crème brûlée?"}, {"role": "assistant", "content": "yes"}]
    known, problems = readable_conversations(tok, [ok, accented])
    assert known == [ok]
    assert len(problems) == 1 and "crème" in problems[0] and "'è'" in problems[0] and "'û'" in problems[0]


# --- SFT -------------------------------------------------------------------------------------
def test_an_sft_step_lowers_the_loss_on_assistant_tokens_only(tok):
    model = tiny_model(tok)
    rows = [render_conversation(tok, TWO_TURNS)] * 8
    x, y = pad_batch(rows, tok.pad_id, model.block_size)
    _, loss = model(x, y)
    # the loss is the mean over the assistant's tokens: the same as scoring just those positions
    logits, _ = model(x)
    keep = y != -1
    by_hand = torch.nn.functional.cross_entropy(logits[keep], y[keep])
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-5)
    before = masked_loss(model, tok, [TWO_TURNS])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert masked_loss(model, tok, [TWO_TURNS]) < before


def test_packed_sft_batches_fill_each_row_and_train_on_replies_only(tok):
    """A row is conversations end to end, the last one cut where the row ends: no padding, and the
    targets are exactly the replies' tokens (the cut one's first ones too), never the questions."""
    tasks = ChatTasks()
    conversations = [example_messages(tasks.sample(random.Random(i))) for i in range(100)]
    drawn = iter(conversations)
    x, y = sft_batches(tok, 128, 4, lambda rng: next(drawn))(torch.Generator().manual_seed(0))
    assert x.shape == (4, 128) and not (x == tok.pad_id).any()
    rendered = iter(render_conversation(tok, c) for c in conversations)
    for row in range(4):
        ids, mask = next(rendered)
        while len(ids) < 129:  # the row's conversations, as sft_batches drew them
            more_ids, more_mask = next(rendered)
            ids, mask = ids + more_ids, mask + more_mask
        assert x[row].tolist() == ids[:128]
        assert y[row].tolist() == [t if m else -1 for t, m in zip(ids[1:129], mask[1:129])]
        assert (x[row] == tok.token_to_id("<|im_start|>")).sum() >= 3  # packed: more than one exchange
    im_end = tok.token_to_id("<|im_end|>")
    assert (y == im_end).sum() >= 4  # whole replies are targets, up to their end


def test_finetune_learns_a_users_pair(tok):
    model = tiny_model(tok)
    pair = [{"role": "user", "content": "ping"}, {"role": "assistant", "content": "pong"}]
    config = TrainConfig(max_steps=150, batch_size=16, learning_rate=3e-3, warmup_steps=10, eval_interval=1000)
    metrics = list(finetune(model, tok, [pair], config, user_share=0.5))
    assert metrics[-1]["done"] and metrics[-1]["val_loss"] < 0.5
    reply = reply_text(tok, [t.id for t in reply_stream(model, tok, pair[:1], max_new_tokens=8)])
    assert reply == "pong"
    with pytest.raises(ValueError, match="at least one"):
        next(finetune(model, tok, [], config))


# --- generation, RL, eval --------------------------------------------------------------------
def test_generate_batch_matches_one_at_a_time(tok):
    model = tiny_model(tok)
    prompts = [tok.encode("hello"), tok.encode("abc"), tok.encode("world"), tok.encode("xyz")]
    batched = generate_batch(model, prompts, 10, temperature=0)
    for ids, out in zip(prompts, batched):
        assert out == [t.id for t in generate(model, ids, 10, temperature=0)]
    limited = generate_batch(model, prompts, [2, 5, 10, 1], temperature=0)
    assert [len(out) for out in limited] == [2, 5, 10, 1]
    assert [out[:len(short)] for out, short in zip(batched, limited)] == limited  # the same tokens, cut
    stop = batched[0][3]
    stopped = generate_batch(model, prompts[:1], 10, stop_id=stop)
    assert stopped[0][-1] == stop and len(stopped[0]) <= 4


def test_reply_stream_gives_alternatives(tok):
    model = tiny_model(tok)
    tokens = list(reply_stream(model, tok, [{"role": "user", "content": "hi"}], max_new_tokens=3, alternatives=5))
    assert len(tokens) == 3
    for t in tokens:
        assert len(t.alternatives) == 5
        assert t.alternatives[0][1] >= t.prob - 1e-6  # the likeliest comes first
        assert sum(p for _, p in t.alternatives) <= 1 + 1e-6


def test_evaluate_chat_scores_exact_match(tok, monkeypatch):
    import tinylm.rl as rl

    sets = {
        "held_out_items": [Example("add", "What is 2 + 3?", "5"), Example("add", "What is 2 + 4?", "6"),
                           Example("reverse", "Spell abc backwards.", "cba")],
        "new_shapes": [Example("add", "2 and 3 make how many?", "5"), Example("reverse", "abc, but backwards", "cba")],
        "new_frames": [],
        "multi_turn": [Example("add", "What is 2 + 3?", "5", history=(("hi", HELLO),)),
                       Example("reverse", "Spell abc backwards.", "cba", history=(("hi", HELLO), ("bye", "Goodbye!")))],
        "out_of_scope": [Example("out_of_scope", "Who is Pele?", IDK), Example("out_of_scope", "Why?", IDK)],
        "out_of_scope_new_phrasings": [Example("out_of_scope", "Pele: who was that?", IDK)],
    }
    replies = {"What is 2 + 3?": "5", "What is 2 + 4?": IDK, "Spell abc backwards.": " cba ", "Who is Pele?": IDK,
               "Why?": "maybe", "2 and 3 make how many?": "6", "abc, but backwards": "cba", "Pele: who was that?": IDK,
               "hi": HELLO}  # small talk: of the trained prompts only "hi" is answered right
    after_hi = {"What is 2 + 3?": "6"}  # the sum goes wrong after "hi", the reversal does not

    def fake_answers(model, tok, conversations, limits):
        return [(after_hi if len(c) > 1 else {}).get(c[-1]["content"], replies.get(c[-1]["content"], ""))
                for c in conversations]

    monkeypatch.setattr(rl, "answer_batch", fake_answers)
    result = evaluate_chat(None, tok, sets)
    n_talk = sum(len(prompts) for prompts, _ in SMALL_TALK)
    assert result["small_talk_trained_prompts"] == round(1 / n_talk, 4)
    assert result["per_task"]["add"]["held_out_items"] == 0.5 and result["per_task"]["reverse"]["held_out_items"] == 1
    assert result["held_out_items"] == 0.75  # the mean over tasks: every task weighs the same
    assert result["held_out_phrasings"] == result["new_shapes"] == 0.5
    assert result["multi_turn"] == 0.5 and result["multi_turn_single"] == 1.0
    assert result["turn_2"] == 0.0 and result["turn_3"] == 1.0
    assert result["idk_out_of_scope"] == 0.5 and result["idk_out_of_scope_new_phrasings"] == 1.0
    assert result["false_idk"] == pytest.approx(1 / 7, abs=1e-4)  # 1 of the 7 in-scope prompts
    assert [m["prompt"] for m in result["mistakes"]["multi_turn"]] == ["What is 2 + 3?"]
    assert is_correct(sets["held_out_items"][2], " cba ")


def test_rejection_sampling_keeps_only_correct_answers(tok, monkeypatch):
    import tinylm.rl as rl

    model = tiny_model(tok)
    tasks = ChatTasks()
    seen = []  # what the fine-tuning draws

    def fake_rollouts(model, tokenizer, examples, samples, temperature, generator, max_new_tokens):
        # the first sample of every other prompt is right, the rest wrong
        return [[e.answer if i % 2 == 0 and s == 0 else "nope" for s in range(samples)] for i, e in enumerate(examples)]

    def fake_sft(model, tokenizer, draw, config, val):
        seen.extend(draw(random.Random(k)) for k in range(50))
        yield {"step": 1, "train_loss": 0.0, "val_loss": None}

    monkeypatch.setattr(rl, "rollouts", fake_rollouts)
    monkeypatch.setattr(rl, "sft", fake_sft)
    # 40 prompts, about half of them after earlier turns: 20 are kept, so some surely have turns
    config = RLConfig(rounds=2, prompts_per_round=40, samples_per_prompt=4, steps_per_round=1)
    out = list(rejection_sampling(model, tok, tasks, config, val=[]))
    rounds = [m for m in out if "pass_at_1" in m]
    assert [r["round"] for r in rounds] == [1, 2]
    assert rounds[0]["pass_at_1"] == pytest.approx(20 / 160) and rounds[0]["pass_at_k"] == 0.5
    assert rounds[0]["kept"] == 20 and rounds[0]["frontier"] == 20
    assert all(m[-1]["content"] != "nope" for m in seen)
    # a prompt asked after earlier turns keeps them as context, never trained on
    assert any(len(m) > 2 for m in seen)
    assert all(m.get("weight", 1) == 0 for c in seen for m in c[:-1] if m["role"] == "assistant")


def test_rl_round_runs_for_real(tok):
    model = tiny_model(tok)
    config = RLConfig(rounds=1, prompts_per_round=8, samples_per_prompt=2, steps_per_round=2, batch_size=4)
    out = list(rejection_sampling(model, tok, ChatTasks(), config, val=[TWO_TURNS]))
    assert 0 <= out[0]["pass_at_1"] <= out[0]["pass_at_k"] <= 1


# --- the command line and the shipped model ---------------------------------------------------
def run_cli(*args, timeout=300):
    result = subprocess.run([sys.executable, "-m", "tinylm", *args], cwd=REPO, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.mark.served
@pytest.mark.parametrize("option", ["--asides", "--out-of-scope"])
def test_cli_sft_refuses_a_share_outside_0_to_1(tmp_path, option):
    result = subprocess.run([sys.executable, "-m", "tinylm", "sft", "--base", str(tmp_path), "--out", str(tmp_path / "o"),
                             option, "1.5"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and f"{option} is a share of the questions, between 0 and 1" in result.stderr


def test_task_draw_asks_the_out_of_scope_share_it_is_given():
    tasks, rng = ChatTasks(), random.Random(0)
    for share in (0.0, 0.5):
        draw = task_draw(tasks, out_of_scope=share, asides=0)
        replies = [draw(rng)[-1]["content"] for _ in range(2000)]
        assert abs(sum(r == IDK for r in replies) / len(replies) - share) < 0.04, share
        demos = tasks.demonstrations(2000, out_of_scope=share, asides=0)  # sft --demos: the same mix
        assert abs(sum(e.answer == IDK for e in demos) / len(demos) - share) < 0.04, share


@pytest.mark.heavy
def test_cli_sft_rl_eval_chat_pipeline(tok, tmp_path):
    base = tmp_path / "base"
    save_checkpoint(base, tiny_model(tok), tok, [], name="tiny-base")
    data = tmp_path / "mine.jsonl"
    data.write_text('{"input": "ping", "output": "pong"}\nbroken\n')
    sft = run_cli("sft", "--base", str(base), "--out", str(tmp_path / "sft"), "--steps", "3", "--batch-size", "4",
                  "--data", str(data), "--quiet", "--threads", "1")
    assert "line 2" in sft.stderr  # the bad line is reported, the good one used
    assert json.loads(sft.stdout.splitlines()[-1])["user_conversations"] == 1
    small_eval = ("--per-task", "3", "--out-of-scope", "4", "--multi-turn", "1", "--threads", "1", "--save")
    run_cli("eval-chat", "--ckpt", str(tmp_path / "sft"), *small_eval)
    run_cli("rl", "--ckpt", str(tmp_path / "sft"), "--out", str(tmp_path / "rl"), "--rounds", "1", "--prompts", "4",
            "--samples", "2", "--steps", "2", "--batch-size", "4", "--threads", "1")
    out = run_cli("eval-chat", "--ckpt", str(tmp_path / "rl"), *small_eval)
    result = json.loads(out.stdout.splitlines()[-1])
    info = load_checkpoint(tmp_path / "rl").info  # --save: the figures travel with the model, the SFT's kept
    assert info["eval"]["held_out_phrasings"] == result["held_out_phrasings"]
    assert info["eval_sft"] == load_checkpoint(tmp_path / "sft").info["eval"]
    card = (tmp_path / "rl" / "README.md").read_text()  # the card shows them, after SFT and now
    before, now = info["eval_sft"]["held_out_phrasings"], result["held_out_phrasings"]
    assert f"| held out phrasings | {before:.3f} | {now:.3f} |" in card
    assert set(result["per_task"]) == set(TASK_NAMES)
    for key in ("held_out_items", "held_out_phrasings", "unseen_number_pairs", "multi_turn", "multi_turn_single",
                "idk_out_of_scope", "idk_out_of_scope_new_phrasings", "false_idk"):
        assert 0 <= result[key] <= 1, key
    assert "held out phrasings" in out.stderr  # the per-task table
    # more SFT on top: the new model has no figures until it is evaluated (the Chat tab shows them)
    run_cli("sft", "--base", str(tmp_path / "rl"), "--out", str(tmp_path / "more"), "--steps", "2", "--batch-size", "4",
            "--quiet", "--threads", "1", "--precision", "bf16", "--asides", "0.5", "--out-of-scope", "0.1")
    info = load_checkpoint(tmp_path / "more").info
    assert not {"eval", "eval_sft", "rl"} & set(info) and info["asides"] == 0.5 and info["out_of_scope"] == 0.1


@pytest.mark.heavy
@pytest.mark.skipif("chat" not in list_pretrained(), reason="the shipped chat model is not built yet")
def test_eval_chat_on_the_shipped_model_is_what_it_ships_with():
    """The figures the shipped model records (config.json "eval": its card and the Chat tab show them,
    the README quotes them) are what eval-chat measures now."""
    shipped = REPO / "tinylm" / "pretrained" / "chat"
    out = run_cli("eval-chat", "--ckpt", str(shipped), "--threads", "1", timeout=900)
    result = json.loads(out.stdout.splitlines()[-1])
    recorded = load_checkpoint(shipped).info["eval"]
    for key in ("held_out_items", "held_out_phrasings", "idk_out_of_scope_new_phrasings", "false_idk", "multi_turn"):
        assert result[key] == pytest.approx(recorded[key], abs=0.01), key
    assert result["small_talk_trained_prompts"] >= 0.9
