"""A visitor's session: the current model the tabs share, and what is freed when the visitor leaves.

The model lives in one ``gr.State`` that ``app.py`` hands to every tab. It holds a
``tinylm.checkpoint.Checkpoint`` (model + tokenizer + info + metrics) or None, meaning "the default
shipped model". Gradio keeps one value of each State per session, so two visitors never see each
other's models, and nothing is kept in module-level globals.

A public Space runs for days, so a session's models must not outlive the session (``keep_sessions``):

- when the browser tab closes, Gradio calls ``unload`` and every State of that session is freed
  at once (Gradio itself would keep them for an hour);
- a session that stops sending requests is freed after ``SESSION_IDLE_SECONDS`` (an API client
  never says goodbye). An open page marks its session as in use every ``KEEP_ALIVE_SECONDS``,
  so only a closed or abandoned one expires;
- at most ``MAX_SESSIONS`` sessions are kept at all, the least recently used dropped first.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr

from tinylm.checkpoint import Checkpoint
from tinylm.pretrained import list_pretrained, load_pretrained
from tinylm_app.guard import guard_events
from tinylm_app.limits import (
    CACHE_SECONDS,
    DOWNLOAD_SECONDS,
    KEEP_ALIVE_SECONDS,
    MAX_SESSIONS,
    MAX_UPLOAD,
    QUEUE_CONCURRENCY,
    SESSION_IDLE_SECONDS,
)

DEFAULT_MODEL = "shakespeare-char-gpt"
DOWNLOADS = Path(tempfile.gettempdir()) / "tinylm-downloads"  # files made for a download button
log = logging.getLogger("tinylm.app")
M_ARENA_MAX = -8  # glibc's mallopt option: the most malloc arenas (memory pools) threads may use
MALLOC_ARENAS = 2  # one per core here; glibc's default allows 8 per core


def model_state() -> gr.State:
    """A fresh per-session holder for the current model (None = the default shipped model)."""
    return gr.State(None)


def current_model(ckpt: Checkpoint | None) -> Checkpoint:
    """The session's model, loading the default shipped one on first use."""
    if ckpt is not None:
        return ckpt
    available = list_pretrained()
    return load_pretrained(DEFAULT_MODEL if DEFAULT_MODEL in available else available[0])


def download_folder() -> Path:
    """A new folder for one download, deleting those older than DOWNLOAD_SECONDS first.

    Gradio copies a returned file into its own cache (pruned by ``prepare``'s ``delete_cache``),
    so ours are only needed for a moment; a public Space runs for weeks.
    """
    DOWNLOADS.mkdir(exist_ok=True)
    for old in DOWNLOADS.iterdir():
        with contextlib.suppress(FileNotFoundError):  # another session may be clearing it too
            if time.time() - old.stat().st_mtime > DOWNLOAD_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=DOWNLOADS))


def prune(folder: Path, max_bytes: int) -> None:
    """Delete the oldest files under ``folder`` until it holds at most ``max_bytes``."""
    files = [f for f in folder.rglob("*") if f.is_file() or f.is_symlink()] if folder.is_dir() else []
    files.sort(key=lambda f: f.lstat().st_mtime)
    total = sum(f.lstat().st_size for f in files)
    for f in files:
        if total <= max_bytes:
            break
        with contextlib.suppress(FileNotFoundError):
            total -= f.lstat().st_size
            f.unlink()


def _forget(value) -> None:
    """A State's value is being dropped: let go of what it shares with work still running."""
    if isinstance(value, Checkpoint):
        value.snapshots = []  # a training still running keeps its own list; this copy goes now


def _same(*values):
    """Return the States unchanged: setting a State again restarts its idle clock (and changes nothing)."""
    return values if len(values) != 1 else values[0]


def keep_sessions(demo: gr.Blocks) -> None:
    """Free every State of ``demo`` when its session ends: on unload, when idle, past MAX_SESSIONS."""
    states = [block for block in demo.blocks.values() if isinstance(block, gr.State)]
    for state in states:
        state.time_to_live = SESSION_IDLE_SECONDS
        state.delete_callback = _forget
    with demo:
        if states:
            alive = gr.Timer(KEEP_ALIVE_SECONDS)
            alive.tick(_same, states, states, api_visibility="private", show_progress="hidden", queue=False)

        def end_session(request: gr.Request) -> None:
            holder = getattr(demo, "state_holder", None)
            if holder is not None and request.session_hash:
                holder.delete_state(request.session_hash)  # each value passes through _forget
                holder.session_data.pop(request.session_hash, None)  # and Gradio's copy of the page

        demo.unload(end_session)


def prepare(demo: gr.Blocks) -> gr.Blocks:
    """Make ``demo`` fit to serve the public: guarded events, sessions that end, a pruned cache.

    Call it once the Blocks is built, before ``launch`` (``launch`` calls it too; twice is harmless).
    """
    if getattr(demo, "tinylm_prepared", False):
        return demo
    keep_sessions(demo)
    guard_events(demo)  # last: the session events above are guarded too
    demo.delete_cache = (CACHE_SECONDS // 4, CACHE_SECONDS)  # every 15 min, files older than an hour
    demo.tinylm_prepared = True
    return demo


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> None:
    """Let at most ``arenas`` glibc malloc arenas serve every thread of this process.

    glibc gives each new thread its own arena (up to 8 per core), and memory freed in one arena
    stays reserved for it: a server whose many worker threads take turns ends up holding a few
    arenas' worth of fragments that no session owns. A no-op where libc is not glibc.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas)


def launch(demo: gr.Blocks, **options) -> None:
    """Serve one app or tab: 0.0.0.0:7860 on a Space, GRADIO_SERVER_NAME/PORT honoured by Gradio.

    ``options`` go to ``Blocks.launch`` (tests pass a port and ``prevent_thread_lock``).
    """
    limit_malloc_arenas()  # before Gradio starts its worker threads
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    prepare(demo).queue(default_concurrency_limit=QUEUE_CONCURRENCY)
    demo.launch(max_file_size=MAX_UPLOAD, state_session_capacity=MAX_SESSIONS, **options)
