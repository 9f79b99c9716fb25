"""Editing a language model by hand: weight tables, drawn connections, sequences written into memory.

Training changes the weights a little at a time, by gradient descent on a whole data set. Here
a person changes them directly and watches the softmax move. One module per idea:

- ``tables``: which weights exist, what each axis counts, labelled slices (``weight_table``),
  the slice worth showing for a context (``table_slice``), finding a token (``token_id``);
- ``history``: validated edits (``set_weight``, ``record``) as ``Change`` records, and
  ``EditSession`` with undo, redo and reset;
- ``connect``: how strongly each context token pushes each next token
  (``connection_strengths``), and making one edge stronger (``connect``);
- ``imprint``: sequences ("abc", "hello") written into one layer in closed form, so that greedy
  generation from each first token reproduces them, and what that costs (``imprint_report``);
- ``view``: everything the Weights tab shows for a context, as one ``WeightsView``.

They work on any of the three models through the model contract (``hidden``, ``lm_head``,
``weight_axes``, ``blank``; see ``tinylm.models``). Bad input raises ``EditError`` and leaves the
model exactly as it was.

    >>> import torch
    >>> from tinylm.models import bigram_from_counts
    >>> from tinylm.sample import next_token_probs
    >>> from tinylm.tokenizer import CharTokenizer
    >>> tok = CharTokenizer.from_corpus("ab ac")
    >>> model = bigram_from_counts(torch.tensor(tok.encode("ab ab ab ac")), tok.vocab_size, smoothing=0.1)
    >>> a, b, c = (tok.token_to_id(ch) for ch in "abc")
    >>> round(float(next_token_probs(model, [a])[b]), 2)   # after "a": mostly "b"
    0.62
    >>> edit = set_weight(model, "logits", (a, c), 4.0)       # a much stronger a -> c
    >>> round(float(next_token_probs(model, [a])[c]), 2)
    0.93
"""

from .connect import MAX_STRENGTH, Connections, connect, connect_at, connection_strengths, features
from .history import (
    MAX_ABS_WEIGHT,
    Change,
    Edit,
    EditSession,
    apply_edits,
    changed_cells,
    diff,
    parse_index,
    parse_value,
    record,
    set_weight,
)
from .imprint import (
    DEFAULT_IMPRINT_STRENGTH,
    MAX_IMPRINT_PAIRS,
    Imprint,
    ImprintReport,
    Reproduction,
    imprint,
    imprint_report,
    memory,
)
from .tables import (
    MAX_TABLE_COLS,
    EditError,
    WeightTable,
    axis_kinds,
    axis_label,
    cell_name,
    head_columns,
    readout,
    search_tokens,
    table_slice,
    token_id,
    token_label,
    weight,
    weight_names,
    weight_table,
    window,
)
from .view import Prediction, WeightsView, edit_table, predict, weights_view

__all__ = [
    "DEFAULT_IMPRINT_STRENGTH",
    "MAX_ABS_WEIGHT",
    "MAX_IMPRINT_PAIRS",
    "MAX_STRENGTH",
    "MAX_TABLE_COLS",
    "Change",
    "Connections",
    "Edit",
    "EditError",
    "EditSession",
    "Imprint",
    "ImprintReport",
    "Prediction",
    "Reproduction",
    "WeightTable",
    "WeightsView",
    "apply_edits",
    "axis_kinds",
    "axis_label",
    "cell_name",
    "changed_cells",
    "connect",
    "connect_at",
    "connection_strengths",
    "diff",
    "edit_table",
    "features",
    "head_columns",
    "imprint",
    "imprint_report",
    "memory",
    "parse_index",
    "parse_value",
    "predict",
    "readout",
    "record",
    "search_tokens",
    "set_weight",
    "table_slice",
    "token_id",
    "token_label",
    "weight",
    "weight_names",
    "weight_table",
    "weights_view",
    "window",
]
