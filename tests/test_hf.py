"""Hugging Face interop: tinylm -> transformers logits, tokenizer export, model cards, the experiment
zip, the CLI, and a Hub push that fails fast offline and never leaks the token."""

import csv
import io
import json
import logging
import time
import zipfile

import pytest
import torch
import yaml

from tinylm import hf
from tinylm.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from tinylm.hf import (
    HubError,
    export_transformers,
    import_transformers,
    push_to_hub,
    save_experiment,
)
from tinylm.models import build_model
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
    # greedy decoding there = argmax of tinylm's logits here, token by token
    expected = list(prompt)
    for _ in range(len(ids) - len(prompt)):
        expected.append(int(ckpt.model(torch.tensor([expected]))[0][0, -1].argmax()))
    assert len(ids) > len(prompt) and ids == expected


def test_import_transformers_round_trip(exported):
    ckpt, out = exported
    back = import_transformers(out)
    idx = torch.randint(0, ckpt.tokenizer.vocab_size, (2, 12))
    assert torch.allclose(back.model(idx)[0], ckpt.model(idx)[0], atol=1e-5)
    assert back.tokenizer.encode("the dog") == ckpt.tokenizer.encode("the dog")
    assert back.info["dataset"] == "cats"


# --- tokenizers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["char", "gpt2"])
def test_tokenizer_round_trip_through_autotokenizer(kind, tmp_path):
    from transformers import AutoTokenizer

    ckpt = tiny_gpt(kind) if kind == "char" else None
    if kind == "gpt2":  # a 50k vocab needs no model to test the tokenizer: export its files only
        tok = build_tokenizer("gpt2")
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
    assert hf.plot_loss_curve([], tmp_path / "empty.png").read_bytes()[:4] == b"\x89PNG"


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


def test_push_offline_fails_at_once_with_a_clear_message(tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    caplog.set_level(logging.DEBUG)
    started = time.perf_counter()
    with pytest.raises(HubError, match="offline") as err:
        push_to_hub(tiny_gpt(), "someone/tiny-cat", token=FAKE_TOKEN)
    assert time.perf_counter() - started < 1.0
    assert "export" in str(err.value)  # says what to do instead
    out = capsys.readouterr()
    scan_for_token([tmp_path], str(err.value), caplog.text, out.out, out.err)


def test_cli_push_offline_exits_with_the_message_and_no_token(tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ckpt = tiny_gpt()
    save_checkpoint(tmp_path / "ckpt", ckpt.model, ckpt.tokenizer, ckpt.metrics, **ckpt.info)
    args = parse(["push", "--ckpt", str(tmp_path / "ckpt"), "--repo", "someone/tiny", "--token", FAKE_TOKEN])
    started = time.perf_counter()
    with pytest.raises(SystemExit) as err:
        args.func(args)
    assert time.perf_counter() - started < 1.0
    assert str(err.value).startswith("error: cannot push to the Hub: HF_HUB_OFFLINE")
    out = capsys.readouterr()
    scan_for_token([tmp_path], str(err.value), caplog.text, out.out, out.err)


def test_push_without_a_token_says_where_to_get_one(monkeypatch):
    monkeypatch.setattr(hf, "hub_offline_reason", lambda timeout=2.0: None)
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

    monkeypatch.setattr(hf, "hub_offline_reason", lambda timeout=2.0: None)
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
    started = time.perf_counter()
    reason = hf.hub_offline_reason(timeout=1.0)
    assert time.perf_counter() - started < 1.5
    assert reason and "tinylm-no-such-host.invalid" in reason


# --- a Hub tokenizer for the Tokenizers tab ------------------------------------------------------
def test_hub_tokenizer_offline_says_so_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(HubError, match="offline"):
        hf.load_hub_tokenizer("tinylm-test/not-cached-anywhere")
    assert time.perf_counter() - started < 1.0


def test_hub_tokens_match_the_tokenizer(tmp_path):
    from transformers import AutoTokenizer

    tok = build_tokenizer("gpt2")
    tok.save(tmp_path)
    pieces = hf.hub_tokens(AutoTokenizer.from_pretrained(tmp_path), "Hello world!")
    assert [i for i, _ in pieces] == tok.encode("Hello world!")
    assert "".join(p for _, p in pieces) == "Hello world!"


def test_download_zips_for_the_app(tmp_path):
    ckpt = tiny_gpt()
    ckpt.info["name"] = "../evil/name"
    exp = hf.experiment_zip(ckpt, tmp_path)
    assert exp.parent == tmp_path and exp.name.endswith("-experiment.zip")
    assert load_checkpoint(exp).metrics[-1]["val_loss"] == 3.375
    hf_zip = hf.transformers_zip(ckpt, tmp_path)
    with zipfile.ZipFile(hf_zip) as zf:
        assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(zf.namelist())


# --- the app panel (handlers called directly) ----------------------------------------------------
def test_hub_panel_handlers(tmp_path, monkeypatch, caplog):
    gr = pytest.importorskip("gradio")
    from tinylm_app import hub_panel

    monkeypatch.setattr(hub_panel, "DOWNLOADS", tmp_path)
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
def test_trainer_finetune_lowers_the_loss(tmp_path, capsys):
    pytest.importorskip("accelerate")  # transformers' Trainer needs it
    ckpt = tiny_gpt()
    ckpt.model = build_model("gpt", vocab_size=ckpt.tokenizer.vocab_size, block_size=48, n_layer=1, n_head=2,
                             n_embd=16).eval()
    export_transformers(ckpt, tmp_path / "base")
    lines = [{"input": "the cat", "output": "sat on the mat."}, {"input": "the dog", "output": "sat on the log."}]
    (tmp_path / "chat.jsonl").write_text("\n".join(json.dumps(x) for x in lines * 4) + "\n")
    args = parse(["finetune-hf", "--model", str(tmp_path / "base"), "--data", str(tmp_path / "chat.jsonl"),
                  "--out", str(tmp_path / "tuned"), "--steps", "15", "--lr", "1e-2"])
    args.func(args)
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["steps"] == 15 and result["last_loss"] < result["first_loss"] * 0.8
    back = import_transformers(tmp_path / "tuned")  # and it comes back into tinylm
    assert back.model.config.block_size == 48


def test_chat_jsonl_bad_line_is_named(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"input": "a", "output": "b"}\n{oops\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        hf.read_jsonl(tmp_path / "bad.jsonl")
    with pytest.raises(ValueError, match='"input"'):
        hf.chat_example({"prompt": "a"})


def test_chat_features_keep_the_answer_when_the_context_is_short():
    class Chars:  # one id per character is enough here
        def encode(self, text, add_special_tokens=False):
            return [ord(c) for c in text]

    [feature] = hf.chat_features(Chars(), [{"input": "a long question", "output": "y"}], max_length=14)
    answer = [ord(c) for c in "y" + hf.IM_END]  # 11 ids: the prompt keeps only its last 3
    assert feature["input_ids"][-11:] == answer and len(feature["input_ids"]) == 14
    assert feature["labels"] == [-100] * 3 + answer
