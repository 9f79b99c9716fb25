"""Datasets: configs, split rules, generators, loading and the errors a user can run into."""

import random
import string
from pathlib import Path

import pytest
import yaml

from tinylm import data
from tinylm.data import (
    CORPORA_DIR,
    corpus_from_config,
    corpus_from_text,
    generate_alphabet,
    list_datasets,
    load_corpus,
    load_dataset_config,
    parse_dataset_config,
    split_fraction,
    split_lines,
    text_fingerprint,
)

SHIPPED = ("tiny_shakespeare", "names", "alphabet", "phrases_pt", "phrases_en")


def data_file(name: str) -> Path:
    """A file the package ships in tinylm/corpora/."""
    return CORPORA_DIR / name


def write_config(folder: Path, name: str = "toy", **overrides) -> Path:
    """A small valid dataset yaml (inline text), with some keys replaced or added."""
    config = {
        "name": name,
        "description": "A toy corpus.",
        "source": {"kind": "inline", "text": "one line\n" * 50},
        "split": {"rule": "lines", "val": 5, "test": 5, "seed": 0},
        "tokenizer": "split",
        "block_size": 4,
        "model": "mlp",
    }
    config.update(overrides)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


# --- configs ---------------------------------------------------------------------------------


def test_list_datasets_has_the_five():
    assert set(SHIPPED) <= set(list_datasets())


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_yaml_parses(name):
    config = load_dataset_config(name)
    assert config.name == name
    assert config.description and config.block_size >= 1
    assert config.tokenizer in ("char", "split", "bpe", "gpt2")
    assert config.model in ("bigram", "mlp", "gpt")


def test_valid_yaml_parses_and_loads(tmp_path):
    corpus = corpus_from_config(parse_dataset_config(write_config(tmp_path)))
    assert (corpus.train.count("\n"), corpus.val.count("\n"), corpus.test.count("\n")) == (40, 5, 5)


@pytest.mark.parametrize("overrides, key", [
    ({"colour": "blue"}, "colour"),
    ({"source": {"kind": "inline", "text": "x", "encoding": "utf-8"}}, "encoding"),
    ({"split": {"rule": "fraction", "val": 0.1, "seed": 1}}, "seed"),  # fraction has no seed
    ({"source": {"kind": "generator", "generator": "alphabet",
                 "params": {"n_sequences": 5, "min_len": 2, "max_len": 4, "seed": 0, "wrap": True}}},
     "wrap"),
])
def test_unknown_key_fails_naming_it(tmp_path, overrides, key):
    with pytest.raises(ValueError, match=f"unknown key '{key}'"):
        parse_dataset_config(write_config(tmp_path, **overrides))


@pytest.mark.parametrize("overrides, message", [
    ({"tokenizer": "words"}, "'words' is not one of"),
    ({"source": {"kind": "ftp", "url": "x"}}, "'ftp' is not one of"),
    ({"split": {"rule": "lines", "val": 0.1}}, "expected int"),
    ({"block_size": 0}, "block_size"),
])
def test_bad_value_fails_clearly(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        parse_dataset_config(write_config(tmp_path, **overrides))


def test_missing_key_and_wrong_name_fail(tmp_path):
    path = write_config(tmp_path)
    config = yaml.safe_load(path.read_text())
    del config["split"]
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match="missing key 'split'"):
        parse_dataset_config(path)
    renamed = tmp_path / "other.yaml"
    renamed.write_text(write_config(tmp_path, name="toy2").read_text())
    with pytest.raises(ValueError, match="must match the file name"):
        parse_dataset_config(renamed)


# --- the shipped datasets --------------------------------------------------------------------


def test_shakespeare_split_is_nanogpts():
    data_file("tinyshakespeare.txt")
    corpus = load_corpus("tiny_shakespeare")
    assert (len(corpus.train), len(corpus.val), corpus.test) == (1_003_854, 111_540, "")
    assert corpus.fingerprint == "86c4e6aa9db7"  # sha256 of the file (shared/data/SOURCES.md)


def test_names_split_is_eurekalabs_mlp_and_deterministic():
    path = data_file("names.txt")
    corpus = load_corpus("names")
    assert corpus.val.count("\n") == 1000 and corpus.test.count("\n") == 1000
    assert corpus.train.count("\n") == 30_033
    assert all(part.endswith("\n") for part in (corpus.train, corpus.val, corpus.test))
    assert load_corpus("names") == corpus  # same text, same split, every time

    # EurekaLabsAI/mlp data/preprocess.py, line for line
    names = path.read_text().splitlines(keepends=True)
    random.seed(42)
    ix = list(range(len(names)))
    random.shuffle(ix)
    as_text = lambda part: "".join(name.rstrip("\n") + "\n" for name in part)  # noqa: E731
    assert corpus.test == as_text(names[i] for i in ix[:1000])
    assert corpus.val == as_text(names[i] for i in ix[1000:2000])
    assert corpus.train == as_text(names[i] for i in ix[2000:])


def test_alphabet_generator_is_deterministic_and_consecutive():
    sequences = generate_alphabet(500, min_len=3, max_len=10, seed=7)
    assert sequences == generate_alphabet(500, min_len=3, max_len=10, seed=7)
    assert sequences != generate_alphabet(500, min_len=3, max_len=10, seed=8)
    for sequence in sequences:
        assert 3 <= len(sequence) <= 10
        assert sequence in string.ascii_uppercase  # a run of consecutive letters
    corpus = load_corpus("alphabet")
    assert corpus == load_corpus("alphabet")
    assert all(line in string.ascii_uppercase for line in corpus.train.splitlines())


@pytest.mark.parametrize("name", ["phrases_pt", "phrases_en"])
def test_phrases_have_at_least_60_sentences(name):
    corpus = load_corpus(name)
    lines = (corpus.train + corpus.val).splitlines()
    assert len(lines) >= 60 and len(set(lines)) == len(lines)
    assert corpus.val.count("\n") == corpus.config.split.val
    if name == "phrases_pt":
        assert "café" in corpus.train + corpus.val  # accents survive


# --- the split rules -------------------------------------------------------------------------


def test_split_fraction():
    assert split_fraction("abcdefghij", val=0.2) == ("abcdefgh", "ij")


def test_split_lines_is_pure():
    lines = [f"line{i}" for i in range(20)]
    state = random.getstate()
    train, val, test = split_lines(lines, val=3, test=2, seed=1)
    assert random.getstate() == state  # the global random state is untouched
    assert (len(train), len(val), len(test)) == (15, 3, 2)
    assert sorted(train + val + test) == sorted(lines)
    assert split_lines(lines, val=3, test=2, seed=1) == (train, val, test)
    with pytest.raises(ValueError, match="too few"):
        split_lines(lines[:4], val=3, test=2, seed=1)


# --- pasted text and files -------------------------------------------------------------------


def test_pasted_text():
    text = "the cat sat on the mat. " * 20
    corpus = corpus_from_text(text)
    assert corpus.name == "pasted" and corpus.config is None and corpus.test == ""
    assert corpus.train + corpus.val == text
    assert len(corpus.val) == len(text) - int(len(text) * 0.9)
    assert corpus.fingerprint == text_fingerprint(text) and len(corpus.fingerprint) == 12


def test_txt_file(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_text("roses are red\nviolets are blue\n" * 10, encoding="utf-8")
    corpus = load_corpus(str(path))
    assert corpus.name == "poem"
    assert corpus.train + corpus.val == path.read_text()


# --- errors ----------------------------------------------------------------------------------


def test_empty_text_fails(tmp_path):
    with pytest.raises(ValueError, match="is empty"):
        corpus_from_text("  \n\t ")
    path = tmp_path / "blank.txt"
    path.write_text("\n\n   \n")
    with pytest.raises(ValueError, match="is empty"):
        load_corpus(str(path))


def test_binary_file_fails(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="not UTF-8 text"):
        load_corpus(str(path))


def test_oversize_text_fails(tmp_path):
    with pytest.raises(ValueError, match="limit of 100 characters"):
        corpus_from_text("a" * 101, max_chars=100)
    path = tmp_path / "big.txt"
    path.write_text("b" * 1000)
    with pytest.raises(ValueError, match="limit of 100 characters"):
        load_corpus(str(path), max_chars=100)


def test_unknown_dataset_lists_the_available_ones():
    with pytest.raises(ValueError, match="unknown dataset 'shakespear'.*tiny_shakespeare"):
        load_corpus("shakespear")
    with pytest.raises(ValueError, match="available: .*names"):
        load_dataset_config("shakespear")


def test_missing_file_fails(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_corpus(str(tmp_path / "nothing.txt"))
    # a dataset whose data file is nowhere, offline: say which variable to set, and the URL
    monkeypatch.setenv("TINYLM_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data, "CORPORA_DIR", tmp_path)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="TINYLM_DATA_DIR.*raw.githubusercontent.com"):
        load_corpus("tiny_shakespeare")
