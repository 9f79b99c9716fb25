"""Test defaults: no network, no telemetry; the corpora come from the package (tinylm/corpora/).

These run before any test module imports datasets, huggingface_hub or gradio, which read their
environment variables once at import time. Values already set in the environment win.
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

# `pytest` (unlike `python -m pytest`) does not put the repo root on sys.path
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


import socket  # noqa: E402  (after the environment defaults above, on purpose)

import tinylm_app  # noqa: E402,F401  (before any gradio import: `import spaces` never means our folder)

import pytest  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def serve():
    """Launch Gradio apps in-process on free ports: ``url = serve(demo)``; closed after the module."""
    demos = []

    def launch(demo, concurrency_limit: int = 4) -> str:
        port = free_port()
        demo.queue(default_concurrency_limit=concurrency_limit).launch(prevent_thread_lock=True, server_port=port,
                                                                         quiet=True)
        demos.append(demo)
        return f"http://127.0.0.1:{port}/"

    yield launch
    for demo in demos:
        demo.close()


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tiny models run fastest on one thread: two stall each other when the machine is busy."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
