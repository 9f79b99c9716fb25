"""Hugging Face interop: tinylm -> transformers logits, tokenizer export, model cards, the experiment
zip, the CLI, and a Hub push that fails fast offline and never leaks the token."""

import csv
import io
import json
import logging
import socket
import threading
import zipfile

import pytest
import torch
import yaml

from tinylm import card, hf, hub
from tinylm.card import card_metadata, save_experiment
from tinylm.chat import ChatFormatError, render_conversation, render_for_reply, reply_stream
from tinylm.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from tinylm.hf import HubError, export_transformers, import_transformers
from tinylm.hub import push_to_hub
from tinylm.models import build_model
from tinylm.sample import continue_text
from tinylm.tokenizer import IM_END, IM_SEP, IM_START, build_tokenizer

TEXT = "the cat sat on the mat. the dog sat on the log.\n" * 10
METRICS = [
    {"step": 1, "train_loss": 3.5, "val_loss": None, "lr": 1e-3, "tokens": 64, "elapsed": 0.01},
    {"step": 2, "train_loss": 3.25, "val_loss": 3.375, "lr": 2e-3, "tokens": 128, "elapsed": 0.02},
]
INFO = {"name": "tiny-cat", "dataset": "cats", "corpus_sha256": "abc123def456", "seed": 7,
        "command": "python -m tinylm train --data cats --steps 2"}
FAKE_TOKEN = "hf_tinylmTESTtokenDoNotLeak1234567890"


def tiny_gpt(tokenizer_kind="char", bias=True, seed=0, activation="gelu"):
    tok = build_tokenizer(tokenizer_kind, TEXT)
    torch.manual_seed(seed)
    model = build_model("gpt", vocab_size=tok.vocab_size, block_size=12, n_layer=2, n_head=2, n_embd=16, bias=bias,
                        activation=activation)
    with torch.no_grad():  # random biases and LayerNorm gains, so a wrong copy cannot hide behind zeros/ones
        for name, p in model.named_parameters():
            if not name.endswith("wte.weight"):
                p.add_(0.1 * torch.randn_like(p))
    return Checkpoint(model.eval(), tok, dict(INFO), list(METRICS))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    ckpt = tiny_gpt()
    return ckpt, export_transformers(ckpt, tmp_path_factory.mktemp("hf") / "tiny-cat")


# --- the GPT as a transformers GPT-2 ------------------------------------------------------------
@pytest.mark.parametrize("bias,activation,hf_name", [(True, "gelu", "gelu"), (False, "gelu", "gelu"),
                                                     (True, "gelu_tanh", "gelu_new")])
def test_transformers_logits_equal_tinylm(bias, activation, hf_name, tmp_path):
    from transformers import AutoModelForCausalLM, GPT2LMHeadModel

    ckpt = tiny_gpt(bias=bias, activation=activation)
    out = export_transformers(ckpt, tmp_path / "m")
    assert json.loads((out / "config.json").read_text())["activation_function"] == hf_name
    hf_model = AutoModelForCausalLM.from_pretrained(out).eval()
    assert isinstance(hf_model, GPT2LMHeadModel)
    assert import_transformers(out).model.config.activation == activation
    idx = torch.randint(0, ckpt.tokenizer.vocab_size, (3, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, _ = ckpt.model(idx)
        theirs = hf_model(idx).logits
    assert torch.allclose(ours, theirs, atol=1e-4), (ours - theirs).abs().max()


def test_export_directory_has_the_hf_files(exported):
    _, out = exported
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"} <= names
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "gpt2" and config["activation_function"] == "gelu"


def test_pipeline_loads_the_export_offline(exported):
    from transformers import pipeline

    ckpt, out = exported
    generate = pipeline("text-generation", model=str(out))
    prompt = ckpt.tokenizer.encode("the cat")
    ids = generate("the cat", max_new_tokens=3, do_sample=False, return_tensors=True)[0]["generated_token_ids"]
    ids = list(ids)
    # greedy decoding there = tinylm's greedy continuation here, token by token (special tokens
    # suppressed in both: the export's generation config says which)
    expected = prompt + [t.id for t in continue_text(ckpt.model, ckpt.tokenizer, "the cat", 3, temperature=0)]
    assert len(ids) > len(prompt) and ids == expected


def test_import_transformers_round_trip(exported):
    ckpt, out = exported
    back = import_transformers(out)
    idx = torch.randint(0, ckpt.tokenizer.vocab_size, (2, 12))
    assert torch.allclose(back.model(idx)[0], ckpt.model(idx)[0], atol=1e-5)
    assert back.tokenizer.encode("the dog") == ckpt.tokenizer.encode("the dog")
    assert back.info["dataset"] == "cats"


# --- tokenizers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["char", "gpt2-chat"])
def test_tokenizer_round_trip_through_autotokenizer(kind, tmp_path):
    from transformers import AutoTokenizer

    ckpt = tiny_gpt(kind) if kind == "char" else None
    if kind == "gpt2-chat":  # a 50k vocab needs no model to test the tokenizer: export its files only
        tok = build_tokenizer(kind)
        tok.save(tmp_path)
    else:
        tok = ckpt.tokenizer
        export_transformers(ckpt, tmp_path)
    auto = AutoTokenizer.from_pretrained(tmp_path)
    text = f"{IM_START}cat{IM_SEP}the dog sat.\n{IM_END}<|endoftext|>"  # only characters the char vocab has
    ids = tok.encode(text)
    assert auto.encode(text, add_special_tokens=False) == ids
    assert auto.decode(ids) == tok.decode(ids) == text
    assert auto.encode("user xyz!", add_special_tokens=False) == tok.encode("user xyz!")  # <|unk|> alike
    assert auto.pad_token == "<|pad|>" and auto.eos_token == "<|endoftext|>"
    assert auto.convert_tokens_to_ids(IM_END) == tok.token_to_id(IM_END)


def test_pure_gpt2_stays_gpt2_through_autotokenizer(tmp_path):
    from transformers import AutoTokenizer

    build_tokenizer("gpt2").save(tmp_path)
    auto = AutoTokenizer.from_pretrained(tmp_path)
    assert len(auto) == 50257 and auto.pad_token is None and auto.eos_token_id == 50256
    assert auto.encode(f"{IM_START}hi<|endoftext|>", add_special_tokens=False) == \
        [27, 91, 320, 62, 9688, 91, 29, 5303, 50256]


# --- MLP and bigram ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["mlp", "bigram"])
def test_mlp_and_bigram_export_as_safetensors_with_a_card(kind, tmp_path):
    tok = build_tokenizer("char", TEXT)
    model = build_model(kind, vocab_size=tok.vocab_size, **({"block_size": 3, "n_embd": 8, "n_hidden": 16}
                                                             if kind == "mlp" else {})).eval()
    out = export_transformers(Checkpoint(model, tok, dict(INFO), []), tmp_path / "m")
    assert (out / "model.safetensors").exists() and (out / "tokenizer.json").exists()
    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["library_name"] == "tinylm" and meta["tinylm"]["model"] == kind
    assert "load_checkpoint" in card and "transformers` has no" in card
    back = import_transformers(out)  # = load_checkpoint
    idx = torch.randint(0, tok.vocab_size, (2, 5))
    assert torch.equal(back.model(idx)[0], model(idx)[0])


def test_gpt_card_metadata_and_usage(exported):
    _, out = exported
    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "text-generation"
    assert meta["tinylm"]["dataset"] == "cats" and meta["tinylm"]["seed"] == 7
    assert 'pipeline("text-generation"' in card and INFO["command"] in card


# --- the experiment zip --------------------------------------------------------------------------
def test_experiment_zip_round_trip(tmp_path):
    ckpt = tiny_gpt()
    path = save_experiment(ckpt, tmp_path / "exp.zip", command="python -m tinylm train --seed 7")
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "metrics.csv",
                "loss_curve.png", "README.md"} <= names
        assert zf.read("loss_curve.png")[:8] == b"\x89PNG\r\n\x1a\n"
        config = json.loads(zf.read("config.json"))
        rows = list(csv.DictReader(io.StringIO(zf.read("metrics.csv").decode())))
        card = zf.read("README.md").decode()
    assert config["dataset"] == "cats" and config["corpus_sha256"] == "abc123def456" and config["seed"] == 7
    assert config["command"] == "python -m tinylm train --seed 7"
    assert [float(r["train_loss"]) for r in rows] == [3.5, 3.25]
    assert yaml.safe_load(card.split("---")[1])["tinylm"]["corpus_sha256"] == "abc123def456"

    back = load_checkpoint(path)  # what the app's import does
    idx = torch.randint(0, ckpt.tokenizer.vocab_size, (2, 12))
    assert torch.equal(back.model(idx)[0], ckpt.model(idx)[0])
    assert [m["val_loss"] for m in back.metrics] == [None, 3.375]
    assert back.info["seed"] == 7 and back.tokenizer.encode("the cat") == ckpt.tokenizer.encode("the cat")


def test_loss_curve_png_without_metrics(tmp_path):
    assert card.plot_loss_curve([], tmp_path / "empty.png").read_bytes()[:4] == b"\x89PNG"


# --- the CLI -------------------------------------------------------------------------------------
def parse(argv):
    from tinylm.cli import build_parser

    return build_parser().parse_args(argv)


def test_cli_export(tmp_path, capsys):
    ckpt = tiny_gpt()
    save_checkpoint(tmp_path / "ckpt", ckpt.model, ckpt.tokenizer, ckpt.metrics, **ckpt.info)
    args = parse(["export", "--ckpt", str(tmp_path / "ckpt"), "--out", str(tmp_path / "hf")])
    args.func(args)
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["format"] == "transformers" and "model.safetensors" in result["files"]
    assert (tmp_path / "hf" / "config.json").exists()


# --- push: offline, fast, and never the token ----------------------------------------------------
def scan_for_token(paths, *texts):
    for text in texts:
        assert FAKE_TOKEN not in text
    for root in paths:
        for path in root.rglob("*"):
            if path.is_file():
                assert FAKE_TOKEN.encode() not in path.read_bytes(), path
                if path.suffix == ".zip":
                    with zipfile.ZipFile(path) as zf:
                        assert all(FAKE_TOKEN.encode() not in zf.read(n) for n in zf.namelist())


def no_network(monkeypatch):
    """Fail the test if anything opens a connection or talks to the Hub."""
    def refuse(*args, **kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr("huggingface_hub.HfApi.__init__", refuse)


def test_push_offline_fails_at_once_with_a_clear_message(tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    caplog.set_level(logging.DEBUG)
    no_network(monkeypatch)  # "at once": before any connection, upload or export
    with pytest.raises(HubError, match="offline") as err:
        push_to_hub(tiny_gpt(), "someone/tiny-cat", token=FAKE_TOKEN)
    assert "export" in str(err.value)  # says what to do instead
    out = capsys.readouterr()
    scan_for_token([tmp_path], str(err.value), caplog.text, out.out, out.err)


def test_cli_push_offline_exits_with_the_message_and_no_token(tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ckpt = tiny_gpt()
    save_checkpoint(tmp_path / "ckpt", ckpt.model, ckpt.tokenizer, ckpt.metrics, **ckpt.info)
    args = parse(["push", "--ckpt", str(tmp_path / "ckpt"), "--repo", "someone/tiny", "--token", FAKE_TOKEN])
    no_network(monkeypatch)
    with pytest.raises(SystemExit) as err:
        args.func(args)
    assert str(err.value).startswith("error: cannot push to the Hub: HF_HUB_OFFLINE")
    out = capsys.readouterr()
    scan_for_token([tmp_path], str(err.value), caplog.text, out.out, out.err)


def test_push_without_a_token_says_where_to_get_one(monkeypatch):
    monkeypatch.setattr(hub, "hub_offline_reason", lambda timeout=2.0: None)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(HubError, match="HF_TOKEN"):
        push_to_hub(tiny_gpt(), "someone/tiny-cat")


def test_bad_repo_id_is_refused_before_anything_else():
    with pytest.raises(HubError, match="user/model-name"):
        push_to_hub(tiny_gpt(), "no-slash")


def test_a_refused_upload_never_shows_the_token(tmp_path, monkeypatch, caplog, capsys):
    """The Hub (faked) answers with an error that quotes the token: the message must not."""
    import huggingface_hub

    uploaded = {}

    class FakeApi:
        def __init__(self, token=None):
            uploaded["token_given"] = token == FAKE_TOKEN

        def create_repo(self, repo_id, **kwargs):
            return f"https://huggingface.co/{repo_id}"

        def upload_folder(self, repo_id, folder_path, **kwargs):
            from pathlib import Path
            uploaded["files"] = {p.name: p.read_bytes() for p in Path(folder_path).iterdir()}
            raise PermissionError(f"401 Unauthorized: invalid token {FAKE_TOKEN}")

    monkeypatch.setattr(hub, "hub_offline_reason", lambda timeout=2.0: None)
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(HubError, match="401 Unauthorized") as err:
        push_to_hub(tiny_gpt(), "someone/tiny-cat")
    assert uploaded["token_given"]  # the token reached huggingface_hub, and only it
    assert {"config.json", "model.safetensors", "README.md"} <= set(uploaded["files"])
    assert all(FAKE_TOKEN.encode() not in data for data in uploaded["files"].values())
    assert err.value.__cause__ is None and err.value.__suppress_context__
    out = capsys.readouterr()
    scan_for_token([tmp_path], str(err.value), caplog.text, out.out, out.err)


def test_hub_unreachable_answers_within_the_timeout(monkeypatch):
    """Not offline by flag, but the network is down (here: a host that cannot resolve)."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "https://tinylm-no-such-host.invalid")
    reason = hub.hub_offline_reason(timeout=1.0)
    assert reason and "tinylm-no-such-host.invalid" in reason


def test_a_hub_that_never_answers_is_given_up_after_the_timeout(monkeypatch):
    """A connection that hangs is abandoned: the answer comes from the timeout, not the network."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    hang = threading.Event()
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: hang.wait(60))
    try:
        assert hub.hub_offline_reason(timeout=0.2) == "no answer from huggingface.co within 0.2 s"
    finally:
        hang.set()


# --- a Hub tokenizer for the Tokenizers tab ------------------------------------------------------
def test_hub_tokenizer_offline_says_so_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    no_network(monkeypatch)  # the local cache is tried, then the flag answers: no connection
    with pytest.raises(HubError, match="offline"):
        hub.load_hub_tokenizer("tinylm-test/not-cached-anywhere")


@pytest.mark.parametrize("repo_id", ["/etc", "../secrets", "tinylm/pretrained/chat", "a/b/c", "x" * 300])
def test_a_hub_tokenizer_id_is_never_a_path(repo_id):
    with pytest.raises(HubError, match="is not a Hub model id"):
        hub.load_hub_tokenizer(repo_id)


def test_hub_tokens_match_the_tokenizer(tmp_path):
    from transformers import AutoTokenizer

    tok = build_tokenizer("gpt2")
    tok.save(tmp_path)
    pieces = hub.hub_tokens(AutoTokenizer.from_pretrained(tmp_path), "Hello world!")
    assert [i for i, _ in pieces] == tok.encode("Hello world!")
    assert "".join(p for _, p in pieces) == "Hello world!"


def test_download_zips_for_the_app(tmp_path):
    ckpt = tiny_gpt()
    ckpt.info["name"] = "../evil/name"
    exp = card.experiment_zip(ckpt, tmp_path)
    assert exp.parent == tmp_path and exp.name.endswith("-experiment.zip")
    assert load_checkpoint(exp).metrics[-1]["val_loss"] == 3.375
    hf_zip = hf.transformers_zip(ckpt, tmp_path)
    with zipfile.ZipFile(hf_zip) as zf:
        assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(zf.namelist())


# --- the app panel (handlers called directly) ----------------------------------------------------
def test_hub_panel_handlers(tmp_path, monkeypatch, caplog):
    gr = pytest.importorskip("gradio")
    from tinylm_app import hub_panel, session

    monkeypatch.setattr(session, "DOWNLOADS", tmp_path)
    ckpt = tiny_gpt()
    assert load_checkpoint(hub_panel.make_experiment(ckpt)).metrics[-1]["train_loss"] == 3.25
    assert zipfile.is_zipfile(hub_panel.make_transformers(ckpt))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(gr.Error, match="offline") as err:
        hub_panel.push(ckpt, "someone/tiny", FAKE_TOKEN, True)
    with pytest.raises(gr.Error, match="offline"):
        hub_panel.hub_tokenize("tinylm-test/not-cached-anywhere", "hi")
    scan_for_token([tmp_path], str(err.value), caplog.text)
    assert isinstance(hub_panel.build(), gr.Blocks) and isinstance(hub_panel.build_tokenizer_lookup(), gr.Blocks)


# --- fine-tuning the export with transformers' Trainer --------------------------------------------
def test_trainer_finetune_lowers_the_loss_and_exports_a_chat_model(tmp_path, capsys):
    """finetune-hf reads JSONL with tinylm.chat.parse_jsonl (both formats, a bad line named and
    skipped), and its result is an export again: a chat template, the stage in the card, and a
    folder the CLI's --ckpt reads."""
    pytest.importorskip("accelerate")  # transformers' Trainer needs it
    ckpt = tiny_gpt()
    ckpt.model = build_model("gpt", vocab_size=ckpt.tokenizer.vocab_size, block_size=48, n_layer=1, n_head=2,
                             n_embd=16).eval()
    ckpt.info["eval"] = {"mean_task_accuracy": 0.5}  # measured on the model before fine-tuning
    export_transformers(ckpt, tmp_path / "base")
    lines = [json.dumps({"input": "the cat", "output": "sat on the mat."}),
             json.dumps({"messages": [{"role": "user", "content": "the dog"},
                                      {"role": "assistant", "content": "sat on the log."}]}),
             "{oops", json.dumps({"input": "the cat"})]
    (tmp_path / "chat.jsonl").write_text("\n".join(lines * 4) + "\n")
    args = parse(["finetune-hf", "--model", str(tmp_path / "base"), "--data", str(tmp_path / "chat.jsonl"),
                  "--out", str(tmp_path / "tuned"), "--steps", "15", "--lr", "1e-2"])
    args.func(args)
    out = capsys.readouterr()
    result = json.loads(out.out.strip().splitlines()[-1])
    assert result["steps"] == 15 and result["conversations"] == 8
    assert result["last_loss"] < result["first_loss"] * 0.8
    assert "chat.jsonl line 3: not JSON" in out.err and "line 4:" in out.err  # reported, skipped
    tuned = load_checkpoint(tmp_path / "tuned")  # the folder loads where a checkpoint does
    assert tuned.model.config.block_size == 48 and tuned.info["stage"] == "finetune-hf"
    assert tuned.info["finetune_hf"]["data"] == "chat.jsonl"
    assert "eval" not in tuned.info  # those figures described the model before
    card = (tmp_path / "tuned" / "README.md").read_text()
    assert "| finetune-hf | chat.jsonl | 15 |" in card and "finetune-hf --model" in card
    config = json.loads((tmp_path / "tuned" / "tokenizer_config.json").read_text())
    assert config["chat_template"] == hf.CHAT_TEMPLATE


def test_finetune_needs_the_chat_tokens(tmp_path):
    ckpt = tiny_gpt()
    ckpt.tokenizer = build_tokenizer("gpt2")
    ckpt.model = build_model("gpt", vocab_size=ckpt.tokenizer.vocab_size, block_size=8, n_layer=1, n_head=1, n_embd=8)
    export_transformers(ckpt, tmp_path / "gpt2")
    with pytest.raises(ValueError, match="no chat tokens"):
        hf.finetune_transformers(tmp_path / "gpt2", [[{"role": "user", "content": "hi"},
                                                      {"role": "assistant", "content": "yo"}]], tmp_path / "out")


def test_trainer_features_are_render_conversation_and_keep_the_reply_when_too_long():
    tok = build_tokenizer("char", TEXT)
    conversation = [{"role": "user", "content": "the cat sat on the mat"}, {"role": "assistant", "content": "log"}]
    ids, mask = render_conversation(tok, conversation)
    [whole] = hf.trainer_features(tok, [conversation], max_length=len(ids))
    assert whole["input_ids"] == ids and whole["labels"] == [i if m else -100 for i, m in zip(ids, mask)]
    [cut] = hf.trainer_features(tok, [conversation], max_length=10)
    assert cut["input_ids"] == ids[-10:]  # the start of the question goes, the reply stays
    assert tok.decode([i for i in cut["labels"] if i != -100]) == "log" + IM_END


# --- a chat model transformers can use ------------------------------------------------------------
CHAT_TEXT = TEXT + "user assistant system hello? 0123456789 +-="
CONVERSATIONS = [
    [{"role": "user", "content": "the cat"}],
    [{"role": "user", "content": "the cat"}, {"role": "assistant", "content": "sat on the mat."}],
    [{"role": "system", "content": "be short"}, {"role": "user", "content": "hello?"},
     {"role": "assistant", "content": "the dog."}, {"role": "user", "content": "2 + 3 = ?"},
     {"role": "assistant", "content": "5"}],
    [{"role": "user", "content": "Ω not in the vocabulary é"}, {"role": "assistant", "content": ""}],
    [{"role": "user", "content": "  spaces\n\tand lines  "}, {"role": "assistant", "content": "ok\n"}],
]


def tiny_chat(block_size=128, seed=0):
    """A char chat model as `tinylm sft` + `rl` leave one (random weights): any such checkpoint."""
    tok = build_tokenizer("char", CHAT_TEXT)
    torch.manual_seed(seed)
    model = build_model("gpt", vocab_size=tok.vocab_size, block_size=block_size, n_layer=2, n_head=2, n_embd=32).eval()
    info = {"name": "tiny-chat", "dataset": "cats", "train": {"max_steps": 40}, "base": "out/base", "stage": "rl",
            "demos": 300, "steps": 20, "val_loss": 1.25, "command": "python -m tinylm sft --base out/base",
            "rl": [{"round": 1, "pass_at_1": 0.5}, {"round": 2, "pass_at_1": 0.625}],
            "command_rl": "python -m tinylm rl --ckpt out/sft",
            "eval_sft": {"task_accuracy": {"add": 0.25}, "mean_task_accuracy": 0.5, "prompts": {"in_scope": 8}},
            "eval": {"task_accuracy": {"add": 0.375}, "mean_task_accuracy": 0.75, "prompts": {"in_scope": 8}}}
    return Checkpoint(model, tok, info, [])


@pytest.fixture(scope="module")
def chat_export(tmp_path_factory):
    ckpt = tiny_chat()
    return ckpt, export_transformers(ckpt, tmp_path_factory.mktemp("hf") / "tiny-chat")


@pytest.mark.parametrize("number", range(len(CONVERSATIONS)))
def test_chat_template_gives_render_conversations_ids_and_mask(chat_export, number):
    from transformers import AutoTokenizer

    ckpt, out = chat_export
    auto = AutoTokenizer.from_pretrained(out)
    messages = CONVERSATIONS[number]
    ids, mask = render_conversation(ckpt.tokenizer, messages)
    rendered = auto.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    assert rendered["input_ids"] == ids
    assert rendered["assistant_masks"] == mask
    prompt = auto.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    assert prompt["input_ids"] == render_for_reply(ckpt.tokenizer, messages)


def test_chat_template_leaves_a_weight_0_reply_out_of_the_mask(chat_export):
    """OpenAI's fine-tuning format marks an earlier reply not to learn from with "weight": 0."""
    from transformers import AutoTokenizer

    ckpt, out = chat_export
    auto = AutoTokenizer.from_pretrained(out)
    messages = CONVERSATIONS[2]
    weighted = [{**m, "weight": 0} if m["content"] == "the dog." else m for m in messages]
    rendered = auto.apply_chat_template(weighted, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = render_conversation(ckpt.tokenizer, messages)
    assert rendered["input_ids"] == ids
    reply = ckpt.tokenizer.encode("5" + IM_END)  # only the last reply is learned
    assert [i for i, m in zip(ids, rendered["assistant_masks"]) if m] == reply and sum(mask) > len(reply)


@pytest.mark.parametrize("messages, message", [
    ([{"role": "tool", "content": "x"}], "role tool"),
    ([{"role": "user", "content": f"a {IM_END} b"}], "special token"),
])
def test_chat_template_refuses_what_tinylm_refuses(chat_export, messages, message):
    from jinja2.exceptions import TemplateError
    from transformers import AutoTokenizer

    auto = AutoTokenizer.from_pretrained(chat_export[1])
    with pytest.raises(ChatFormatError):
        render_conversation(chat_export[0].tokenizer, messages)
    with pytest.raises(TemplateError, match=message):
        auto.apply_chat_template(messages, tokenize=False)


def test_chat_template_names_every_role_and_special_token_tinylm_has():
    from tinylm.chat import ROLES
    from tinylm.tokenizer import SPECIAL_TOKENS, UNK

    assert all(f"'{name}'" in hf.CHAT_TEMPLATE for name in (*ROLES, *SPECIAL_TOKENS, UNK))


def test_chat_template_refuses_special_token_text_tinylm_would_read_as_characters(chat_export):
    """tinylm renders "<|endoftext|>" in a message as characters, a transformers tokenizer would
    read one special id: the template refuses rather than differ."""
    from jinja2.exceptions import TemplateError
    from transformers import AutoTokenizer

    auto = AutoTokenizer.from_pretrained(chat_export[1])
    with pytest.raises(TemplateError, match="special token <\\|endoftext\\|>"):
        auto.apply_chat_template([{"role": "user", "content": "the <|endoftext|> end"}], tokenize=False)


def test_chat_export_ends_replies_at_im_end_and_stops_at_the_context(chat_export):
    ckpt, out = chat_export
    im_end = ckpt.tokenizer.token_to_id(IM_END)
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["eos_token_id"] == im_end and generation["max_length"] == ckpt.model.block_size
    assert json.loads((out / "tokenizer_config.json").read_text())["model_max_length"] == ckpt.model.block_size


def test_a_language_model_export_has_no_chat_template(exported):
    ckpt, out = exported
    assert "chat_template" not in json.loads((out / "tokenizer_config.json").read_text())
    assert json.loads((out / "generation_config.json").read_text())["eos_token_id"] == ckpt.tokenizer.eot_id


def test_pipeline_with_messages_answers_like_tinylm(chat_export):
    """Greedy replies, token for token, of a random char chat model (no shipped numbers)."""
    from transformers import pipeline

    ckpt, out = chat_export
    chat = pipeline("text-generation", model=str(out))
    for messages in CONVERSATIONS[:3]:
        messages = messages[:-1] if messages[-1]["role"] == "assistant" else messages  # the reply is asked for
        n = 12
        assert len(render_for_reply(ckpt.tokenizer, messages)) + n <= ckpt.model.block_size
        ours = [t.id for t in reply_stream(ckpt.model, ckpt.tokenizer, messages, max_new_tokens=n)]
        theirs = chat(messages, do_sample=False, max_new_tokens=n, return_tensors=True)[0]["generated_token_ids"]
        prompt = render_for_reply(ckpt.tokenizer, messages)
        assert list(theirs[:len(prompt)]) == prompt and list(theirs[len(prompt):]) == ours


def test_pipeline_stops_at_the_context_by_itself_and_refuses_a_longer_prompt(chat_export):
    from transformers import pipeline

    ckpt, out = chat_export
    chat = pipeline("text-generation", model=str(out))
    messages = [{"role": "user", "content": "the cat"}]
    ids = chat(messages, do_sample=False, return_tensors=True)[0]["generated_token_ids"]  # no max_new_tokens
    assert len(ids) <= ckpt.model.block_size
    with pytest.raises(ValueError, match=f"max_length` is set to {ckpt.model.block_size}"):
        chat([{"role": "user", "content": "the cat " * (ckpt.model.block_size // 8)}], do_sample=False)


def test_chat_card_has_license_eval_figures_and_every_stage(chat_export):
    ckpt, out = chat_export
    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["license"] == "mit" and "conversational" in meta["tags"]
    [entry] = meta["model-index"]
    [result] = entry["results"]
    figures = {m["type"]: m["value"] for m in result["metrics"]}
    assert figures == {"task_accuracy/add": 0.375, "mean_task_accuracy": 0.75}  # counts are not figures
    assert "| base | cats | 40 |" in card
    assert "| SFT | 300 generated conversations | 20 | masked val loss 1.2500 |" in card
    assert "| RL | 2 rounds of rejection sampling on checkable tasks | - | pass@1 0.625 in the last round |" in card
    assert "| mean task accuracy | 0.500 | 0.750 |" in card
    assert "python -m tinylm rl --ckpt out/sft  # RL" in card
    assert 'pipeline("text-generation"' in card and "do_sample=False" in card


def test_language_model_card_has_license_and_val_loss_figure(exported):
    ckpt, out = exported
    ckpt.info["val_loss"] = 2.5
    meta = card_metadata(ckpt)
    assert meta["license"] == "mit"
    [result] = meta["model-index"][0]["results"]
    assert result["dataset"]["name"] == "cats" and result["metrics"][0] == {
        "type": "loss", "name": "val loss (nats/token)", "value": 2.5}


# --- the CLI reads what it exports ----------------------------------------------------------------
def test_load_checkpoint_reads_an_export_and_its_zip(chat_export, tmp_path):
    ckpt, out = chat_export
    for path in (out, hf.transformers_zip(ckpt, tmp_path)):
        back = load_checkpoint(path)
        idx = torch.randint(0, ckpt.tokenizer.vocab_size, (2, 16))
        assert torch.allclose(back.model(idx)[0], ckpt.model(idx)[0], atol=1e-5)
        assert back.info["stage"] == "rl" and back.tokenizer.kind == "char"


def chat_cli(monkeypatch, capsys, ckpt: str, questions: list[str], *options: str) -> list[str]:
    """`python -m tinylm chat --ckpt CKPT` in this process, one session: the bot's replies."""
    from tinylm.cli import main

    lines = iter([*questions, ""])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    capsys.readouterr()
    main(["chat", "--ckpt", ckpt, *options])
    return [line[len("bot> "):] for line in capsys.readouterr().out.splitlines() if line.startswith("bot> ")]


SHIPPED_QUESTIONS = ["what is 2 + 3?", "what letter comes after c?", "reverse the word cat", "hello",
                     "who is the president of france?", "how many letters in apple?", "which is bigger, 7 or 4?",
                     "spell dog backwards", "what is 9 - 5?", "uppercase the word sun"]


def test_the_shipped_chat_model_answers_the_same_in_transformers_and_tinylm(tmp_path, monkeypatch, capsys):
    """Exported, the shipped chat model answers transformers' pipeline as `tinylm chat` answers
    (greedy), and `tinylm chat --ckpt EXPORT` answers the same again."""
    from transformers import pipeline

    from tinylm.pretrained import PRETRAINED_DIR, load_pretrained

    ckpt = load_pretrained("chat")
    out = export_transformers(ckpt, tmp_path / "chat")
    n = ckpt.model.block_size // 4
    questions = [q for q in SHIPPED_QUESTIONS  # those this vocabulary reads, with room for a reply
                 if not any(s.unknown for s in ckpt.tokenizer.spans(q, allow_special=False))
                 and len(render_for_reply(ckpt.tokenizer, [{"role": "user", "content": q}])) + n <= ckpt.model.block_size]
    assert len(questions) >= 6
    chat = pipeline("text-generation", model=str(out))
    theirs = [chat([{"role": "user", "content": q}], do_sample=False, max_new_tokens=n)[0]["generated_text"][-1]["content"]
              for q in questions]
    ours = [chat_cli(monkeypatch, capsys, str(PRETRAINED_DIR / "chat"), [q], "--max-new-tokens", str(n))[0]
            for q in questions]
    assert theirs == ours
    from_export = [chat_cli(monkeypatch, capsys, str(out), [q], "--max-new-tokens", str(n))[0] for q in questions[:3]]
    assert from_export == ours[:3]


def test_cli_eval_and_sample_read_an_export(tmp_path, capsys):
    from tinylm.cli import main
    from tinylm.pretrained import load_pretrained

    ckpt = load_pretrained("alphabet-gpt")
    out = export_transformers(ckpt, tmp_path / "alphabet")
    main(["eval", "--ckpt", str(out)])
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluated["dataset"] == "alphabet" and evaluated["val_loss"] == pytest.approx(ckpt.info["val_loss"], abs=2e-3)
    main(["sample", "--ckpt", str(out), "--prompt", "K", "--temperature", "0",
          "--max-new-tokens", str(2 * ckpt.model.block_size)])  # past the context: tinylm slides its window
    assert capsys.readouterr().out.startswith("KLM")
