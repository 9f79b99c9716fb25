"""`python -m tinylm train` runs unchanged under torchrun: 2 CPU processes (gloo) stay in sync."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.served  # subprocesses: left out of the inner loop

REPO = Path(__file__).resolve().parent.parent


def test_torchrun_two_cpu_processes_hold_identical_weights(tmp_path):
    out = tmp_path / "ckpt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "tinylm", "train", "--data", "alphabet", "--model", "gpt", "--n-layer", "1", "--n-head", "2",
           "--n-embd", "16", "--block-size", "8", "--steps", "20", "--threads", "1", "--device", "cpu",
           "--quiet", "--weights-digest", "--out", str(out)]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    # the two processes share stdout, so their lines may run together: read every {...} object
    lines = [json.loads(obj) for obj in re.findall(r"\{[^{}]*\}", result.stdout)]
    digests = {line["rank"]: line["weights_digest"] for line in lines if "weights_digest" in line}
    assert set(digests) == {0, 1}
    assert digests[0] == digests[1], "the two processes drifted apart"
    summary = [line for line in lines if "val_loss" in line]
    assert len(summary) == 1 and summary[0]["steps"] == 20  # only rank 0 reports and saves
    assert (out / "model.safetensors").exists()
