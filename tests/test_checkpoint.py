"""Checkpoints: save/load round trips, zips, the loss curve, the model card, and clear errors."""

import json
import struct
import tracemalloc
import zipfile

import pytest
import torch

import tinylm.checkpoint as checkpoint
from tinylm.checkpoint import (
    CheckpointError,
    checkpoint_zip,
    describe_checkpoint,
    load_checkpoint,
    load_checkpoint_zip,
    pack_zip,
    save_checkpoint,
    unpack_zip,
    update_info,
)
from tinylm.models import build_model, model_config
from tinylm.sample import top_next_tokens
from tinylm.tokenizer import build_tokenizer

TEXT = "the cat sat on the mat. the dog sat on the log.\n" * 10
TINY = {
    "bigram": ("split", {}),
    "mlp": ("bpe", dict(block_size=3, n_embd=8, n_hidden=16)),
    "gpt": ("char", dict(block_size=8, n_layer=1, n_head=2, n_embd=16)),
}
METRICS = [
    {"step": 1, "train_loss": 3.5, "val_loss": None, "lr": 1e-3, "tokens": 64, "elapsed": 0.01, "done": False},
    {"step": 2, "train_loss": 3.25, "val_loss": 3.375, "lr": 2e-3, "tokens": 128, "elapsed": 0.02, "done": True},
]


def tiny_pair(kind: str):
    """A tokenizer and a freshly initialised model of ``kind`` sized for it (weights not all zero)."""
    tokenizer_kind, config = TINY[kind]
    tokenizer = build_tokenizer(tokenizer_kind, TEXT, 300 if tokenizer_kind == "bpe" else None)
    torch.manual_seed(0)
    model = build_model(kind, vocab_size=tokenizer.vocab_size, **config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))  # the bigram starts as all zeros: make it say something
    return tokenizer, model.eval()


@pytest.fixture
def saved(tmp_path):
    """A saved char-level GPT checkpoint directory (each test gets its own to break)."""
    tokenizer, model = tiny_pair("gpt")
    return save_checkpoint(tmp_path / "ckpt", model, tokenizer, METRICS, name="tiny", dataset="pasted")


def logits(model, tokenizer, text="the cat sat"):
    with torch.no_grad():
        return model(torch.tensor([tokenizer.encode(text)[-model.block_size:]]))[0]


# --- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TINY)
def test_save_load_gives_identical_logits(kind, tmp_path):
    tokenizer, model = tiny_pair(kind)
    save_checkpoint(tmp_path, model, tokenizer, name="tiny")
    loaded = load_checkpoint(tmp_path)
    assert type(loaded.model) is type(model) and not loaded.model.training
    assert loaded.model.config == model.config
    assert loaded.tokenizer.kind == tokenizer.kind and loaded.tokenizer.encode(TEXT) == tokenizer.encode(TEXT)
    assert torch.equal(logits(loaded.model, loaded.tokenizer), logits(model, tokenizer))
    assert loaded.info["model"] == kind and loaded.info["params"] == sum(p.numel() for p in model.parameters())
    assert loaded.name == "tiny"


def test_a_gpt_saved_before_the_activation_field_loads_with_gpt2s_tanh_gelu(tmp_path):
    tokenizer, model = tiny_pair("gpt")
    old = build_model("gpt", **{**model_config(model), "activation": "gelu_tanh"})
    old.load_state_dict(model.state_dict())
    directory = save_checkpoint(tmp_path / "old", old.eval(), tokenizer, [])
    config = json.loads((directory / "config.json").read_text())
    del config["model_config"]["activation"]  # as written before the field existed
    (directory / "config.json").write_text(json.dumps(config))
    loaded = load_checkpoint(directory).model
    assert loaded.config.activation == "gelu_tanh"
    assert torch.equal(logits(loaded, tokenizer), logits(old, tokenizer))


def test_gpt_head_stays_tied_after_loading(saved):
    model = load_checkpoint(saved).model
    assert model.lm_head.weight is model.transformer.wte.weight
    with torch.no_grad():
        model.transformer.wte.weight[0, 0] += 1.0  # an edit of the embedding is an edit of the head
    assert model.lm_head.weight[0, 0] == model.transformer.wte.weight[0, 0]


def test_zip_round_trip(saved, tmp_path):
    zip_path = pack_zip(saved, tmp_path / "tiny.zip")
    with zipfile.ZipFile(zip_path) as zf:
        assert sorted(zf.namelist()) == sorted(p.name for p in saved.iterdir())  # flat
    unpacked = unpack_zip(zip_path, tmp_path / "unpacked")
    for path in saved.iterdir():
        assert (unpacked / path.name).read_bytes() == path.read_bytes()
    original, from_zip = load_checkpoint(saved), load_checkpoint(zip_path)
    assert torch.equal(logits(from_zip.model, from_zip.tokenizer), logits(original.model, original.tokenizer))


def test_metrics_csv_round_trip(saved):
    rows = load_checkpoint(saved).metrics
    fields = ("step", "train_loss", "val_loss", "lr", "tokens", "elapsed")
    assert rows == [{k: m[k] for k in fields} for m in METRICS]  # None stays None, numbers come back
    assert (saved / "metrics.csv").read_text().splitlines()[0] == ",".join(fields)


def test_update_info_changes_the_config_and_card_and_leaves_the_weights_alone(saved, tmp_path):
    weights = (saved / "model.safetensors").read_bytes()
    written = {f.name: f.stat().st_mtime_ns for f in saved.iterdir() if f.name not in ("config.json", "README.md")}
    update_info(saved, eval={"held_out_phrasings": 0.5}, params=1)  # params describes the model: not changed
    ckpt = load_checkpoint(saved)
    assert ckpt.info["eval"] == {"held_out_phrasings": 0.5} and ckpt.info["name"] == "tiny"
    assert json.loads((saved / "config.json").read_text())["params"] != 1
    assert (saved / "model.safetensors").read_bytes() == weights
    assert {f.name: f.stat().st_mtime_ns for f in saved.iterdir() if f.name in written} == written
    assert (saved / "README.md").read_text() == checkpoint.model_card(json.loads((saved / "config.json").read_text()))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a checkpoint directory"):
        update_info(tmp_path / "empty", eval={})
    (tmp_path / "empty" / "config.json").write_text('{"model_type": "gpt2"}')  # a transformers folder
    with pytest.raises(CheckpointError, match="not a tinylm checkpoint"):
        update_info(tmp_path / "empty", eval={})


def test_no_metrics_is_an_empty_curve(tmp_path):
    tokenizer, model = tiny_pair("bigram")
    assert load_checkpoint(save_checkpoint(tmp_path, model, tokenizer)).metrics == []


def test_model_card_says_what_it_is(tmp_path):
    tokenizer, model = tiny_pair("gpt")
    save_checkpoint(tmp_path, model, tokenizer, name="alphabet-gpt", dataset="alphabet", val_loss=1.25,
                    command="python -m tinylm train --preset alphabet-gpt")
    card = (tmp_path / "README.md").read_text()
    params = sum(p.numel() for p in model.parameters())
    assert card.startswith("# alphabet-gpt\n")
    assert f"`gpt` language model ({params:,} parameters) with a `char` tokenizer" in card
    assert "| data set | alphabet |" in card and "| val loss | 1.25 |" in card
    assert "python -m tinylm train --preset alphabet-gpt" in card
    assert '"n_layer": 1' in card


def test_the_directory_is_what_the_docs_promise(saved):
    assert {p.name for p in saved.iterdir()} == {"model.safetensors", "config.json", "tokenizer.json",
                                                 "tokenizer_config.json", "metrics.csv", "README.md"}
    config = json.loads((saved / "config.json").read_text())
    assert (config["format"], config["model"], config["tokenizer"]) == ("tinylm-checkpoint", "gpt", "char")
    assert config["model_config"]["n_embd"] == 16 and config["dataset"] == "pasted"


# --- corrupt checkpoints --------------------------------------------------------------------


def edit_config(path, change):
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def truncate(path, keep):
    path.write_bytes(path.read_bytes()[:keep])


CORRUPTIONS = {
    "truncated weights": (lambda d: truncate(d / "model.safetensors", -200), "could not load the weights"),
    "weights cut in the header": (lambda d: truncate(d / "model.safetensors", 20), "could not load the weights"),
    "garbage config": (lambda d: (d / "config.json").write_text("{model: gpt,"), "config.json is not valid JSON"),
    "binary config": (lambda d: (d / "config.json").write_bytes(b"\xff\xfe\x00"), "config.json is not valid JSON"),
    "foreign config": (lambda d: (d / "config.json").write_text("[1, 2, 3]"), "not a tinylm checkpoint config"),
    "missing tokenizer": (lambda d: (d / "tokenizer.json").unlink(), "tokenizer.json is missing"),
    "missing weights": (lambda d: (d / "model.safetensors").unlink(), "model.safetensors is missing"),
    "garbage tokenizer": (lambda d: (d / "tokenizer.json").write_text("nope"), "not a valid tokenizer file"),
    "vocab mismatch": (lambda d: edit_config(d / "config.json", lambda c: c["model_config"].update(vocab_size=99)),
                       "mismatched checkpoint: the model has 99 token ids, the tokenizer"),
    "extra layer": (lambda d: edit_config(d / "config.json", lambda c: c["model_config"].update(n_layer=2)),
                    "weights do not match the config: missing"),
    "wrong width": (lambda d: edit_config(d / "config.json", lambda c: c["model_config"].update(n_embd=32)),
                    "could not load the weights"),
    "unknown field": (lambda d: edit_config(d / "config.json", lambda c: c["model_config"].update(colour=1)),
                      "GPTConfig has no field 'colour'"),
    "unknown model": (lambda d: edit_config(d / "config.json", lambda c: c.update(model="rnn")),
                      "describes no model this version can build.*'rnn'"),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_corrupt_checkpoint_fails_clearly(saved, corruption):
    corrupt, message = CORRUPTIONS[corruption]
    corrupt(saved)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(saved)


def test_missing_directory_fails_clearly(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint directory"):
        load_checkpoint(tmp_path / "nowhere")


def test_a_zip_that_is_not_a_zip_fails_clearly(tmp_path):
    fake = tmp_path / "model.zip"
    fake.write_bytes(b"PK this is not really a zip file")
    with pytest.raises(CheckpointError, match="not a readable zip file"):
        load_checkpoint(fake)
    with pytest.raises(CheckpointError, match="not a readable zip file"):
        unpack_zip(fake, tmp_path / "out")


def test_unpack_zip_stays_in_its_directory(tmp_path):
    zip_path = tmp_path / "evil.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("../../escaped.txt", "x")
        zf.writestr("nested/dir/config.json", "{}")
    out = unpack_zip(zip_path, tmp_path / "a" / "b")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "escaped.txt"]
    assert not (tmp_path / "escaped.txt").exists()


def test_unpack_zip_refuses_a_zip_bomb(tmp_path):
    zip_path = tmp_path / "big.zip"
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.safetensors", b"\0" * 10_000)  # compresses to almost nothing
    with pytest.raises(CheckpointError, match="unpacks to more than"):
        unpack_zip(zip_path, tmp_path / "out", max_bytes=5_000)
    assert not (tmp_path / "out").exists()


def _lying_zip(path, size: int) -> None:
    """A zip of ``size`` zero bytes whose headers claim the file has 1,000 bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.safetensors", b"\0" * size)
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local and central headers
        at = data.find(signature)
        struct.pack_into("<I", data, at + offset, 1000)
    path.write_bytes(bytes(data))


def test_unpack_zip_counts_the_bytes_it_unpacks_not_the_bytes_a_header_claims(tmp_path):
    _lying_zip(tmp_path / "bomb.zip", 64 * 2**20)  # 64 MB of zeros in a ~64 kB file
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError):
            unpack_zip(tmp_path / "bomb.zip", tmp_path / "out", max_bytes=2**20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20  # streamed a megabyte at a time, never the whole 64 MB
    assert sum(f.stat().st_size for f in (tmp_path / "out").iterdir()) <= 2**20


def test_unpack_zip_refuses_an_archive_of_many_files(tmp_path):
    with zipfile.ZipFile(tmp_path / "many.zip", "w") as zf:
        for i in range(checkpoint.MAX_ZIP_FILES + 1):
            zf.writestr(f"f{i}.txt", "x")
    with pytest.raises(CheckpointError, match="files"):
        unpack_zip(tmp_path / "many.zip", tmp_path / "out")


def test_a_loaded_checkpoint_saves_again_with_its_own_info(tmp_path):
    from tinylm.checkpoint import load_checkpoint, save_checkpoint
    from tinylm.models import build_model
    from tinylm.tokenizer import CharTokenizer

    tok = CharTokenizer.from_corpus("abcabc")
    model = build_model("mlp", vocab_size=tok.vocab_size, block_size=2, n_embd=4, n_hidden=8)
    save_checkpoint(tmp_path / "a", model, tok, [], name="first", dataset="pasted")
    ckpt = load_checkpoint(tmp_path / "a")
    save_checkpoint(tmp_path / "b", ckpt.model, ckpt.tokenizer, ckpt.metrics, **ckpt.info)  # info repeats model/tokenizer
    assert load_checkpoint(tmp_path / "b").info["name"] == "first"


def test_loading_a_zip_leaves_no_unpacked_files_behind(tmp_path, monkeypatch):
    import tempfile

    from tinylm.checkpoint import load_checkpoint, pack_zip, save_checkpoint
    from tinylm.models import build_model
    from tinylm.tokenizer import CharTokenizer

    tok = CharTokenizer.from_corpus("abcabc")
    save_checkpoint(tmp_path / "c", build_model("bigram", vocab_size=tok.vocab_size), tok)
    zip_path = pack_zip(tmp_path / "c", tmp_path / "c.zip")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert load_checkpoint(zip_path).model.logits.shape[0] == tok.vocab_size
    assert list(scratch.iterdir()) == []


# --- checkpoints in and out -----------------------------------------------------------------------


def test_a_checkpoint_survives_the_zip_round_trip(alphabet, tmp_path):
    path = checkpoint_zip(alphabet, tmp_path)  # a loaded checkpoint: its info repeats model, tokenizer...
    assert path.name == "alphabet-gpt.zip"
    again = load_checkpoint_zip(path)
    assert describe_checkpoint(again) == describe_checkpoint(alphabet)
    assert top_next_tokens(again.model, again.tokenizer, "KLM", 3) == top_next_tokens(alphabet.model, alphabet.tokenizer, "KLM", 3)


def test_a_checkpoint_name_cannot_leave_the_download_folder(alphabet, tmp_path):
    sneaky = type(alphabet)(alphabet.model, alphabet.tokenizer, {**alphabet.info, "name": "../../evil"})
    path = checkpoint_zip(sneaky, tmp_path / "downloads")
    assert path.parent == tmp_path / "downloads" and path.name == "-..-evil.zip"


def test_a_bad_upload_gets_a_clear_checkpoint_error(alphabet, tmp_path):
    not_zip = tmp_path / "model.zip"
    not_zip.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(CheckpointError, match="not a zip file"):
        load_checkpoint_zip(not_zip)
    good = checkpoint_zip(alphabet, tmp_path / "good")
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(broken, "w") as dst:
        for name in src.namelist():
            if name != "model.safetensors":
                dst.writestr(name, src.read(name))
    with pytest.raises(CheckpointError, match="model.safetensors is missing"):
        load_checkpoint_zip(broken)
