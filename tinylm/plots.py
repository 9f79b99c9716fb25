"""Tables for the app's charts: the loss curves and the next-token candidates as pandas DataFrames.

Plotting libraries (Gradio's LinePlot and BarPlot, Vega-Lite, seaborn) all draw from a "long"
table, one row per point with a column saying which curve it is on. These functions build those
tables and nothing else, so the app stays thin and the numbers are tested without a browser.

    >>> loss_frame([{"step": 1, "train_loss": 3.5, "val_loss": None}, {"step": 2, "train_loss": 3.1, "val_loss": 3.2}])
       step  loss  curve
    0     1   3.5  train
    1     2   3.1  train
    2     2   3.2    val
"""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

from .compare import show_whitespace  # the app's one convention: · space, ↵ newline, → tab

LOSS_COLUMNS = ["step", "loss", "curve"]


def loss_frame(history: Sequence[dict], max_points: int = 300) -> pd.DataFrame:
    """Train and val loss against step, as a long table (step, loss, curve).

    The train loss is noisy and has one value per step; past ``max_points`` steps it is averaged
    over equal bins of consecutive steps (each point at its bin's last step), which keeps the chart
    light to send and draw while the run grows. Val losses are few and kept as they are.

    >>> frame = loss_frame([{"step": s, "train_loss": float(s), "val_loss": None} for s in range(1, 7)], max_points=3)
    >>> frame["step"].tolist(), frame["loss"].tolist()
    ([2, 4, 6, 1], [1.5, 3.5, 5.5, nan])
    """
    steps = [m["step"] for m in history]
    losses = [m["train_loss"] for m in history]
    bin_size = max(1, -(-len(steps) // max_points))  # ceil: at most max_points bins
    rows = []
    for start in range(0, len(steps), bin_size):
        chunk = losses[start:start + bin_size]
        rows.append((steps[start + len(chunk) - 1], sum(chunk) / len(chunk), "train"))
    val = [(m["step"], m["val_loss"], "val") for m in history if m.get("val_loss") is not None]
    # before the first val check, a val row with no value (NaN is not drawn): a chart that first
    # sees one curve may never draw a second one that turns up later (Gradio 6.31's LinePlot)
    rows += val or ([(steps[0], math.nan, "val")] if steps else [])
    # explicit dtypes: a chart decides once, from its first (maybe empty) table, that step is a number
    return pd.DataFrame(rows, columns=LOSS_COLUMNS).astype({"step": "int64", "loss": "float64", "curve": "str"})


def candidates_frame(candidates: Sequence[tuple[str, int, float]]) -> pd.DataFrame:
    """Next-token candidates (token, id, prob) as a table for a bar chart, most likely first.

    The token column shows whitespace (``" the"`` -> ``"·the"``) and is unique, as a chart axis
    needs: a label two tokens share gets the id after it.

    >>> candidates_frame([(" a", 7, 0.5), ("\\n", 3, 0.25)])
      token  id  prob
    0    ·a   7  0.50
    1     ↵   3  0.25
    """
    labels = [show_whitespace(token) or "∅" for token, _, _ in candidates]
    shared = {label for label in labels if labels.count(label) > 1}
    labels = [f"{label} #{c[1]}" if label in shared else label for label, c in zip(labels, candidates)]
    return pd.DataFrame({"token": pd.Series(labels, dtype="str"), "id": pd.Series([c[1] for c in candidates], dtype="int64"),
                         "prob": pd.Series([c[2] for c in candidates], dtype="float64")})
