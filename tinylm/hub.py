"""The Hugging Face Hub: push a model, try any tokenizer, and know at once when the Hub is out of reach.

The Hub token is only ever passed to ``huggingface_hub``: it is never logged, printed, stored or
put into an error message (``_scrub``).
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlparse

from .card import hub_model_card
from .checkpoint import Checkpoint, load_checkpoint
from .hf import HubError, export_transformers


def hub_offline_reason(timeout: float = 2.0) -> str | None:
    """Why the Hub cannot be reached right now (None when it can), within ``timeout`` seconds.

    ``HF_HUB_OFFLINE=1`` answers at once; otherwise one TCP connection to the Hub's host is tried
    (name lookup included) in a thread that is abandoned after ``timeout``.
    """
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE"):
        return "HF_HUB_OFFLINE is set: this machine is offline for the Hugging Face Hub"
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    result: list[str | None] = [f"no answer from {host} within {timeout:g} s"]

    def probe():
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result[0] = None
        except OSError as err:
            result[0] = f"cannot reach {host}: {err.strerror or err}"

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return result[0]


def resolve_token(token: str | None = None) -> str:
    """The token to push with: the argument, else ``HF_TOKEN``; a clear error when there is none."""
    token = (token or "").strip() or os.environ.get("HF_TOKEN", "").strip()
    if not token:
        raise HubError("no Hugging Face token: paste a write token (huggingface.co/settings/tokens) or set HF_TOKEN")
    return token


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "hf_***") if token else text


def push_to_hub(ckpt: Checkpoint | str | Path, repo_id: str, token: str | None = None, private: bool = False,
                timeout: float = 2.0) -> str:
    """Export ``ckpt`` (a Checkpoint or a checkpoint dir/zip) and upload it to ``repo_id``; returns its URL.

    Fails with ``HubError`` before any upload when offline (within ``timeout`` s), when there is
    no token, or when the repo id is malformed.
    """
    if not isinstance(repo_id, str) or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise HubError(f"repo id must look like 'user/model-name', got {repo_id!r}")
    reason = hub_offline_reason(timeout)
    if reason:
        raise HubError(f"cannot push to the Hub: {reason}. Export locally instead "
                       "(python -m tinylm export --ckpt DIR --out DIR) and upload it later.")
    token = resolve_token(token)
    if not isinstance(ckpt, Checkpoint):
        ckpt = load_checkpoint(ckpt)
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="tinylm-push-") as tmp:
        directory = export_transformers(ckpt, Path(tmp) / repo_id.split("/")[1])
        (directory / "README.md").write_text(hub_model_card(ckpt, repo_id))
        try:
            url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            api.upload_folder(repo_id=repo_id, folder_path=str(directory), commit_message="Upload from tinylm")
        except Exception as err:  # noqa: BLE001 (any failure of the upload: keep the message, never the token)
            raise HubError(_scrub(f"push to {repo_id} failed: {type(err).__name__}: {err}", token)) from None
    return str(url)


HUB_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}$")  # "gpt2", "org/name"


def load_hub_tokenizer(repo_id: str, timeout: float = 2.0, cache_dir: str | Path | None = None):
    """Any tokenizer on the Hub by its id (``transformers.AutoTokenizer``); offline, a HubError at once.

    A copy already in the local Hugging Face cache (or ``cache_dir``) loads even offline. Only a
    Hub id is accepted, never a path: ``from_pretrained`` would read a folder of this machine.
    """
    from transformers import AutoTokenizer

    repo_id = (repo_id or "").strip()
    if not repo_id:
        raise HubError("type a Hub model id, e.g. openai-community/gpt2")
    if not HUB_REPO_ID.match(repo_id) or ".." in repo_id:
        raise HubError(f"{repo_id[:100]!r} is not a Hub model id: write it as name or owner/name "
                       f"(letters, digits, '-', '_', '.')")
    try:  # the cache first: no network needed, no waiting
        return AutoTokenizer.from_pretrained(repo_id, local_files_only=True, cache_dir=cache_dir)
    except (OSError, ValueError):
        pass
    reason = hub_offline_reason(timeout)
    if reason:
        raise HubError(f"cannot fetch the tokenizer {repo_id!r}: {reason}")
    try:
        return AutoTokenizer.from_pretrained(repo_id, cache_dir=cache_dir)
    except (OSError, ValueError) as err:
        raise HubError(f"no tokenizer {repo_id!r} on the Hub: {err}") from None


def hub_tokens(tokenizer, text: str) -> list[tuple[int, str]]:
    """(id, text piece) for each token a ``transformers`` tokenizer cuts ``text`` into (no added BOS/EOS)."""
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=tokenizer.is_fast)
    ids = encoding["input_ids"]
    if tokenizer.is_fast:
        return [(i, text[a:b]) for i, (a, b) in zip(ids, encoding["offset_mapping"])]
    return [(i, tokenizer.decode([i])) for i in ids]

