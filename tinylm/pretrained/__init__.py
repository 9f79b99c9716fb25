"""The small ready-trained models that ship with tinylm (each one a checkpoint directory).

Every one is reproducible with ``python -m tinylm train --preset NAME --out tinylm/pretrained/NAME``.
``load_pretrained`` returns a fresh copy each time, so one user's weight edits never reach another.
"""

import copy
from functools import lru_cache
from pathlib import Path

from ..checkpoint import Checkpoint, CheckpointError, load_checkpoint

PRETRAINED_DIR = Path(__file__).parent


def list_pretrained() -> list[str]:
    return sorted(p.name for p in PRETRAINED_DIR.iterdir() if (p / "config.json").exists())


@lru_cache(maxsize=None)
def _load(name: str) -> Checkpoint:
    return load_checkpoint(PRETRAINED_DIR / name)


def load_pretrained(name: str) -> Checkpoint:
    if name not in list_pretrained():
        raise CheckpointError(f"no shipped model {name!r}; available: {', '.join(list_pretrained()) or 'none'}")
    return copy.deepcopy(_load(name))
