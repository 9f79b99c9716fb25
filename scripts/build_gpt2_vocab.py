"""Rebuild GPT-2's tokenizer files (vocab.json, merges.txt) from OpenAI's gpt2.tiktoken.

GPT-2 (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners") tokenizes
with byte-level BPE. OpenAI published its tables as `encoder.json` + `vocab.bpe`; Hugging Face
ships the same bytes as `vocab.json` + `merges.txt`. Neither is on PyPI, but the MIT-licensed
`openai-whisper` sdist carries `whisper/assets/gpt2.tiktoken`, the same tokenizer in tiktoken's
format: one line per token, `base64(token_bytes) rank`. This script turns that file back into
the two classic files, byte for byte.

The method:
1. Bytes -> printable strings. GPT-2 never stores raw bytes in its files: `bytes_to_unicode`
   maps each of the 256 byte values to a visible unicode character (printable ASCII and Latin-1
   map to themselves; space, control bytes and a few others are shifted to U+0100 and above, so
   the space byte 0x20 becomes 'Ġ'). A token's string is its bytes mapped one by one.
2. vocab.json is {token string: rank} for the 50,256 ranks, plus `<|endoftext|>` = 50256,
   serialised as OpenAI did: `json.dumps` with its defaults (ASCII escapes, ", " and ": ").
3. merges.txt lists one merge per line, "left right", in the order BPE applies them. The
   tiktoken file only has ranks, but a rank *is* a merge priority: the token of rank r was
   created by merge number r - 256. To find which two parts it merges, run BPE on the token's
   own bytes using only merges of rank < r (every merge that existed before it). BPE stops
   with exactly two parts, and those two parts are the merge. Example: ' the' (rank 262) is
   bytes ' ', 't', 'h', 'e'; 'th' (rank 400) is too late, 'he' (rank 258) is early enough, and
   ' t' (rank 256) comes first, so BPE gives [' t', 'he'] and the merge line is "Ġt he".
4. merges.txt starts with the header "#version: 0.2" and ends with a newline, like vocab.bpe.

The result is checked against the sizes and sha256 of OpenAI's published files (the hashes
that tiktoken pins for encoder.json and vocab.bpe), then loaded into a `tokenizers` byte-level
BPE and used to encode and round-trip some text. If `tiktoken` is importable, its encodings
(which use ranks only, not merges) are compared with those of `tokenizers` (merges only).

Usage:
    python scripts/build_gpt2_vocab.py                  # find or download the sdist, build, verify
    python scripts/build_gpt2_vocab.py path/to/openai_whisper-20250625.tar.gz
    python scripts/build_gpt2_vocab.py path/to/gpt2.tiktoken
    python scripts/build_gpt2_vocab.py --verify         # only verify the files already written
"""

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

WHISPER_VERSION = "20250625"
SDIST_NAME = f"openai_whisper-{WHISPER_VERSION}.tar.gz"
TIKTOKEN_MEMBER = "whisper/assets/gpt2.tiktoken"  # path inside the sdist, after its top folder
OUT_DIR = Path(__file__).resolve().parents[1] / "tinylm" / "assets" / "gpt2"

ENDOFTEXT = "<|endoftext|>"
ENDOFTEXT_ID = 50256
MERGES_HEADER = "#version: 0.2"

# OpenAI's encoder.json / vocab.bpe (= Hugging Face gpt2 vocab.json / merges.txt):
# file name -> (size in bytes, sha256). The hashes are the ones tiktoken's openai_public.py
# checks when it downloads these files.
EXPECTED = {
    "vocab.json": (1_042_301, "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"),
    "merges.txt": (456_318, "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"),
}

# GPT-2's pre-tokenizer regex; only needed for the optional tiktoken cross-check.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

# Texts for the round-trip and cross-check: accents, emoji (incl. ZWJ sequences), CJK, code,
# odd whitespace and the special token in the middle of text.
SAMPLE_TEXTS = [
    "Hello world",
    " the",
    "The quick brown fox jumps over the lazy dog.",
    "naïve café, Zürich, São Paulo, Ελληνικά, русский текст",
    "emoji: 😀👍🏽 👨‍👩‍👧‍👦 🇫🇷 ✨",
    "CJK: 你好，世界。日本語のテキスト。한국어 문장.",
    "def f(x):\n\treturn {'a': x ** 2}  # comment\n\n\n",
    "   leading spaces, trailing tabs\t\t\r\n and \u00a0non-breaking\u2028separator",
    "numbers 1234567890 3.14159 -42 1e-9",
    "a<|endoftext|>b",
]


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> character table (openai/gpt-2 src/encoder.py).

    Bytes that are printable in Latin-1 keep their own character; the other 68 bytes get
    U+0100 + n in byte order, so every token string is visible and whitespace-free:
    bytes_to_unicode()[ord("a")] == "a", bytes_to_unicode()[ord(" ")] == "Ġ" (U+0120).
    """
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    table = {b: chr(b) for b in printable}
    n = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + n)
            n += 1
    return table


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def token_str(token: bytes) -> str:
    """The vocab.json spelling of a token: token_str(b" the") == "Ġthe"."""
    return "".join(BYTE_TO_CHAR[b] for b in token)


# ---------------------------------------------------------------------------------------------
# Getting gpt2.tiktoken (and whisper's LICENSE) out of the sdist
# ---------------------------------------------------------------------------------------------

def download_sdist(dest: Path) -> Path:
    """pip-download the openai-whisper source distribution (no wheel, no dependencies)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           f"openai-whisper=={WHISPER_VERSION}", "-d", str(dest)]
    print("downloading:", " ".join(cmd))
    subprocess.run(cmd, check=True)
    return dest / SDIST_NAME


def read_sources(path: Path) -> tuple[bytes, str | None]:
    """Return (contents of gpt2.tiktoken, whisper's LICENSE text or None) from a sdist or a file."""
    if not tarfile.is_tarfile(path):
        return path.read_bytes(), None  # a bare gpt2.tiktoken: no license beside it
    with tarfile.open(path) as tar:
        names = tar.getnames()
        # members look like "openai_whisper-20250625/whisper/assets/gpt2.tiktoken"
        tiktoken_name = next(n for n in names if n.split("/", 1)[-1] == TIKTOKEN_MEMBER)
        license_name = next((n for n in names if n.split("/", 1)[-1] == "LICENSE"), None)
        tiktoken_data = tar.extractfile(tiktoken_name).read()
        license_text = tar.extractfile(license_name).read().decode() if license_name else None
    return tiktoken_data, license_text


def parse_tiktoken(data: bytes) -> dict[bytes, int]:
    """Parse lines of `base64(token_bytes) rank` into {token_bytes: rank}."""
    ranks = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


# ---------------------------------------------------------------------------------------------
# Building vocab.json and merges.txt
# ---------------------------------------------------------------------------------------------

def split_token(token: bytes, rank: int, ranks: dict[bytes, int]) -> list[bytes]:
    """Run byte-level BPE on `token` with only the merges of rank < `rank`.

    Each step merges the adjacent pair whose concatenation has the lowest rank, as GPT-2's BPE
    does; for a token in the vocabulary it stops with the two parts that merge `rank` joins.
    split_token(b" the", 262, ranks) == [b" t", b"he"]
    """
    parts = [bytes([b]) for b in token]
    while len(parts) > 1:
        best_rank, best_i = rank, -1
        for i in range(len(parts) - 1):
            pair_rank = ranks.get(parts[i] + parts[i + 1], rank)
            if pair_rank < best_rank:
                best_rank, best_i = pair_rank, i
        if best_i < 0:
            break  # no merge older than `rank` applies any more
        parts[best_i:best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return parts


def build_files(ranks: dict[bytes, int]) -> tuple[str, str]:
    """Return the text of vocab.json and merges.txt for the BPE ranks of gpt2.tiktoken."""
    by_rank = sorted(ranks, key=ranks.get)

    # vocab.json: token string -> id, in id order, with the special token last
    vocab = {token_str(token): ranks[token] for token in by_rank}
    vocab[ENDOFTEXT] = ENDOFTEXT_ID
    vocab_json = json.dumps(vocab)  # defaults = OpenAI's encoder.json: ASCII escapes, ", " / ": "

    # merges.txt: every multi-byte token, in rank order, as the two parts that formed it
    merge_lines = [MERGES_HEADER]
    for token in by_rank:
        if len(token) < 2:
            continue  # the 256 single bytes are the starting alphabet, not merges
        parts = split_token(token, ranks[token], ranks)
        assert len(parts) == 2, f"rank {ranks[token]} {token!r} splits into {parts!r}"
        merge_lines.append(f"{token_str(parts[0])} {token_str(parts[1])}")
    merges_txt = "\n".join(merge_lines) + "\n"
    return vocab_json, merges_txt


def write_license(out_dir: Path, license_text: str) -> None:
    """Save whisper's MIT notice, with a line on where the files in out_dir came from."""
    header = (
        f"vocab.json and merges.txt in this directory were derived from {TIKTOKEN_MEMBER} in\n"
        f"openai-whisper=={WHISPER_VERSION} (PyPI sdist) by scripts/build_gpt2_vocab.py.\n"
        "That file is distributed under the following license:\n\n"
    )
    with open(out_dir / "LICENSE", "w", encoding="utf-8", newline="") as f:
        f.write(header + license_text)


# ---------------------------------------------------------------------------------------------
# Verifying
# ---------------------------------------------------------------------------------------------

def check(ok: bool, what: str) -> None:
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        raise SystemExit(f"verification failed: {what}")


def verify(out_dir: Path) -> None:
    """Check the files byte for byte, then check that they tokenize like GPT-2."""
    vocab_path, merges_path = out_dir / "vocab.json", out_dir / "merges.txt"

    # 1. the exact bytes OpenAI published
    for name, (size, sha256) in EXPECTED.items():
        data = (out_dir / name).read_bytes()
        check(len(data) == size, f"{name}: {len(data):,} bytes (expected {size:,})")
        digest = hashlib.sha256(data).hexdigest()
        check(digest == sha256, f"{name}: sha256 {digest[:16]}... matches OpenAI's file")

    # 2. the structure: 50,257 ids with no gaps, 50,000 merges, merge i creates token 256 + i
    vocab = json.loads(vocab_path.read_text(encoding="utf-8"))
    merges = [line.split(" ") for line in merges_path.read_text(encoding="utf-8").splitlines()[1:]]
    check(len(vocab) == 50257 and sorted(vocab.values()) == list(range(50257)),
          f"vocab.json: {len(vocab):,} entries with ids 0..50256")
    check(vocab[ENDOFTEXT] == ENDOFTEXT_ID, f"vocab.json: {ENDOFTEXT} = {ENDOFTEXT_ID}")
    check(len(merges) == 50000 and all(len(m) == 2 for m in merges),
          f"merges.txt: {len(merges):,} merges")
    check(all(vocab[a + b] == 256 + i for i, (a, b) in enumerate(merges)),
          "merges.txt: merge i produces token 256 + i")

    # 3. a byte-level BPE built from the two files encodes like GPT-2
    try:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    except ImportError:
        raise SystemExit("verification needs the `tokenizers` package: pip install tokenizers")
    tok = Tokenizer(models.BPE.from_file(str(vocab_path), str(merges_path)))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)  # GPT-2's regex + bytes
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([ENDOFTEXT])
    for text, ids in [("Hello world", [15496, 995]), (" the", [262]), (ENDOFTEXT, [ENDOFTEXT_ID])]:
        got = tok.encode(text).ids
        check(got == ids, f"tokenizers: {text!r} -> {got}")
    for text in SAMPLE_TEXTS:
        ids = tok.encode(text).ids
        back = tok.decode(ids, skip_special_tokens=False)
        check(back == text, f"tokenizers: round trip of {text[:24]!r}... ({len(ids)} tokens)")

    # 4. optional: tiktoken (BPE by ranks) and tokenizers (BPE by merges) agree
    try:
        import tiktoken
    except ImportError:
        print("skip  tiktoken cross-check (tiktoken not installed)")
        return
    enc = tiktoken.Encoding(
        name="gpt2-from-vocab-json",
        pat_str=GPT2_PATTERN,
        mergeable_ranks={bytes(CHAR_TO_BYTE[c] for c in s): i
                         for s, i in vocab.items() if s != ENDOFTEXT},
        special_tokens={ENDOFTEXT: ENDOFTEXT_ID},
    )
    for text in SAMPLE_TEXTS:
        ids = enc.encode(text, allowed_special="all")
        check(ids == tok.encode(text).ids, f"tiktoken agrees on {text[:24]!r}...")


# ---------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", type=Path,
                        help=f"{SDIST_NAME} or gpt2.tiktoken (default: look in --sdist-dir, "
                             "else pip-download the sdist into a temporary directory)")
    parser.add_argument("--sdist-dir", type=Path, default=Path("/tmp/whisper_sdist"),
                        help="directory searched for a previously downloaded sdist")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR,
                        help="where vocab.json, merges.txt and LICENSE are written")
    parser.add_argument("--verify", action="store_true",
                        help="do not rebuild; only verify the files already in --out-dir")
    args = parser.parse_args()

    if not args.verify:
        source = args.source
        if source is None:
            source = args.sdist_dir / SDIST_NAME
            if not source.exists():
                source = download_sdist(Path(tempfile.mkdtemp(prefix="whisper_sdist_")))
        print(f"reading {source}")
        tiktoken_data, license_text = read_sources(source)
        ranks = parse_tiktoken(tiktoken_data)

        t0 = time.perf_counter()
        vocab_json, merges_txt = build_files(ranks)
        print(f"recovered {len(merges_txt.splitlines()) - 1:,} merges from {len(ranks):,} ranks "
              f"in {time.perf_counter() - t0:.1f}s")

        args.out_dir.mkdir(parents=True, exist_ok=True)
        # newline="" so that "\n" is written as is on every platform
        with open(args.out_dir / "vocab.json", "w", encoding="utf-8", newline="") as f:
            f.write(vocab_json)
        with open(args.out_dir / "merges.txt", "w", encoding="utf-8", newline="") as f:
            f.write(merges_txt)
        if license_text is not None:
            write_license(args.out_dir, license_text)
        print(f"wrote {args.out_dir}")

    verify(args.out_dir)
    print("all checks passed")


if __name__ == "__main__":
    main()
