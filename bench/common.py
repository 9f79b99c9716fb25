"""Shared bits of the benchmarks: offline environment, the Shakespeare text, one JSON line per figure."""

import json
import os
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
for var, value in (("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"), ("HF_HUB_DISABLE_TELEMETRY", "1"),
                   ("GRADIO_ANALYTICS_ENABLED", "False")):
    os.environ.setdefault(var, value)


def shakespeare_text() -> str:
    from tinylm.data import CORPORA_DIR

    return (CORPORA_DIR / "tinyshakespeare.txt").read_text()


def report(metric: str, value, **settings) -> None:
    """Print one JSON line: the metric, its value, the settings and the machine."""
    import torch

    print(json.dumps({"metric": metric, "value": value, **settings, "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                      "machine": platform.machine()}), flush=True)
