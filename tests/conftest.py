"""Test defaults: no network, no telemetry, and the shared data folder when there is one.

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
if (REPO.parent / "shared" / "data").is_dir():
    # tinyshakespeare.txt and names.txt live outside the repo (see shared/data/SOURCES.md)
    os.environ.setdefault("TINYLM_DATA_DIR", str(REPO.parent / "shared" / "data"))

# `pytest` (unlike `python -m pytest`) does not put the repo root on sys.path
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
