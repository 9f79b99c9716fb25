"""The command line, run as a user runs it: ``python -m tinylm ...`` in a fresh process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.served  # subprocesses: left out of the inner loop

REPO = Path(__file__).resolve().parent.parent


def tinylm(*args: str) -> subprocess.CompletedProcess:
    """Run ``python -m tinylm ARGS`` from the repo root with this environment (offline, data dir)."""
    # one thread: the models here are tiny, and two threads stall each other on a busy machine
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "tinylm", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def last_json(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_clean_error(result: subprocess.CompletedProcess, message: str) -> None:
    """Exit non-zero with one line 'error: ...' on stderr, and no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny GPT trained on the alphabet data set by the CLI: (checkpoint dir, its JSON line)."""
    out = tmp_path_factory.mktemp("cli") / "alphabet-gpt"
    result = tinylm("train", "--data", "alphabet", "--model", "gpt", "--n-layer", "1", "--n-head", "2",
                    "--n-embd", "16", "--block-size", "8", "--steps", "30", "--out", str(out), "--quiet")
    return out, last_json(result)


# --- tokenize -------------------------------------------------------------------------------


def test_tokenize_gpt2():
    line = last_json(tinylm("tokenize", "--tokenizer", "gpt2", "--json", "Hello world"))
    assert line["ids"] == [15496, 995]
    assert line["tokens"] == ["Hello", " world"]
    assert line["vocab_size"] == 50257
    chat_line = last_json(tinylm("tokenize", "--tokenizer", "gpt2", "--json", "<|im_start|>hi"))
    assert chat_line["tokens"] == ["<", "|", "im", "_", "start", "|", ">", "hi"]  # text to GPT-2


def test_tokenize_gpt2_chat_has_the_chat_tokens():
    line = last_json(tinylm("tokenize", "--tokenizer", "gpt2-chat", "--json", "<|im_start|>hi"))
    assert line["ids"] == [50258, 5303] and line["vocab_size"] == 50261


def test_tokenize_char_on_a_dataset():
    line = last_json(tinylm("tokenize", "--tokenizer", "char", "--corpus", "alphabet", "--json", "ABC"))
    assert line["tokens"] == ["A", "B", "C"]
    assert line["ids"][1] == line["ids"][0] + 1 and line["ids"][2] == line["ids"][0] + 2  # sorted vocabulary


# --- train, eval, sample --------------------------------------------------------------------


def test_train_reports_and_saves(trained):
    out, line = trained
    assert line["steps"] == 30
    assert 0 < line["val_loss"] < 4  # below ln(33) ~ 3.5 plus a margin: it learned something or nearly
    assert line["seconds"] > 0 and line["params"] > 0
    assert (out / "model.safetensors").is_file() and (out / "README.md").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["params"] == line["params"] and config["dataset"] == "alphabet"


def test_eval_reproduces_the_val_loss(trained):
    out, line = trained
    evaluated = last_json(tinylm("eval", "--ckpt", str(out)))
    assert evaluated["dataset"] == "alphabet"
    assert evaluated["val_loss"] == pytest.approx(line["val_loss"], abs=2e-4)


def test_sample_continues_the_prompt(trained):
    out, _ = trained
    result = tinylm("sample", "--ckpt", str(out), "--prompt", "K", "--max-new-tokens", "5", "--temperature", "0")
    assert result.returncode == 0, result.stderr
    text = result.stdout.rstrip("\n")
    assert text.startswith("K") and len(text) == 6  # the prompt and five characters


def test_train_on_a_dataset_yaml_of_your_own(tmp_path):
    """--data my.yaml trains on the text the YAML describes, split its way, not on the YAML itself."""
    import yaml

    from tinylm.data import text_fingerprint

    text = "".join(f"{word}\n" for word in ["abc", "bcd", "cde", "def"] * 30)
    (tmp_path / "letters.yaml").write_text(yaml.safe_dump({
        "name": "letters", "description": "runs of three letters", "source": {"kind": "inline", "text": text},
        "split": {"rule": "lines", "val": 10, "test": 0, "seed": 1}}))
    line = last_json(tinylm("train", "--data", str(tmp_path / "letters.yaml"), "--model", "bigram", "--steps", "5",
                            "--out", str(tmp_path / "out"), "--quiet"))
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["dataset"] == "letters" and config["corpus_sha256"] == text_fingerprint(text)
    assert line["steps"] == 5


# --- bad input: one clear line, no traceback ------------------------------------------------


def test_unknown_dataset_fails_clearly(tmp_path):
    assert_clean_error(tinylm("train", "--data", "no_such_dataset", "--steps", "1", "--out", str(tmp_path), "--quiet"),
                       "unknown dataset 'no_such_dataset'")


def test_missing_checkpoint_fails_clearly(tmp_path):
    assert_clean_error(tinylm("eval", "--ckpt", str(tmp_path / "missing")), "no checkpoint directory")


def test_a_prompt_outside_the_vocabulary_fails_clearly(trained):
    out, _ = trained
    result = tinylm("sample", "--ckpt", str(out), "--prompt", "k?", "--max-new-tokens", "5")
    assert_clean_error(result, "not in this model's char vocabulary: 'k', '?'")
    assert result.stdout == ""
