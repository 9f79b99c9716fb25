"""Validated edits, and the history that undoes them.

Every edit changes the model in place and returns a ``Change``: the list of ``Edit`` records it
made (weight name, index, old value, new value). ``record`` runs any write and checks the result
(no NaN, no infinity, nothing beyond ``MAX_ABS_WEIGHT``), putting the weights back if it fails;
``EditSession`` keeps the changes for undo, redo and reset. Bad input raises ``EditError`` and
leaves the model exactly as it was.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..fields import parse_number
from ..replay import copy_state_dict
from .tables import EditError, weight

# A weight beyond +-1000 is always a typo: trained weights of these models stay within about +-20,
# and a logit 1000 above the others already takes all of the softmax (e^-1000 is 0 in float32).
MAX_ABS_WEIGHT = 1e3


@dataclass(frozen=True)
class Edit:
    """One weight changed: ``state_dict()[name][index]`` went from ``old`` to ``new``."""

    name: str  # a state_dict key, e.g. "logits" or "lm_head.weight"
    index: tuple[int, ...]  # one int per axis of that tensor
    old: float
    new: float


@dataclass(frozen=True)
class Change:
    """What one action did (a typed value, a connection, an imprint, a reset): a list of edits."""

    what: str  # for people: "logits[e, m] = 2.5", "connect e → m +4", "imprint 'abc'"
    edits: tuple[Edit, ...]


# ---------------------------------------------------------------------------------------------
# What a person typed


def parse_value(value, what: str = "the new value", bound: float = MAX_ABS_WEIGHT) -> float:
    """A number a person typed, within ±``bound``, or an EditError saying what is wrong with it.

    >>> parse_value(" 2.5 ")
    2.5
    >>> parse_value("nan")
    Traceback (most recent call last):
    ...
    tinylm.edit.tables.EditError: the new value must be a finite number, got 'nan'
    """
    try:
        return parse_number(value, what, -bound, bound, integer=False)
    except ValueError as err:
        typo = isinstance(value, (int, float, str)) and bound == MAX_ABS_WEIGHT and "between" in str(err)
        why = ": a weight that large is always a typo (trained weights stay within about ±20)" if typo else ""
        raise EditError(f"{err}{why}") from None


def parse_index(index, tensor: torch.Tensor, name: str) -> tuple[int, ...]:
    """An index into ``tensor``: an int for a 1-D weight, a (row, col) pair, or text like "3, 5"."""
    if isinstance(index, str):
        text = index.strip().strip("[]()")
        try:
            index = tuple(int(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise EditError(f"an index is whole numbers separated by commas, like '3, 5'; got {index!r}") from None
    if isinstance(index, numbers.Integral) and not isinstance(index, bool):
        index = (int(index),)
    try:
        index = tuple(index)
    except TypeError:
        raise EditError(f"an index is one whole number per axis, got {index!r}") from None
    if any(isinstance(i, bool) or not isinstance(i, numbers.Integral) for i in index):
        raise EditError(f"an index is one whole number per axis, got {index!r}")
    shape = " × ".join(str(s) for s in tensor.shape)
    if len(index) != tensor.dim():
        raise EditError(f"{name} has {tensor.dim()} ax{'i' if tensor.dim() == 1 else 'e'}s ({shape}): give "
                        f"{tensor.dim()} ind{'ex' if tensor.dim() == 1 else 'ices'}, got {len(index)}")
    for axis, (i, size) in enumerate(zip(index, tensor.shape)):
        if not 0 <= i < size:
            raise EditError(f"index {i} on axis {axis} is out of range: {name} is {shape}, so it goes 0..{size - 1}")
    return tuple(int(i) for i in index)


def changed_cells(shown: list[list[float]], typed: list[list], rows: list[int] | None, cols: list[int]) -> list[tuple]:
    """The cells of a table a person changed: [(index, typed value), ...].

    ``shown`` holds the values the table was drawn with, ``typed`` what came back (numbers or
    text); ``rows`` None means a 1-D weight drawn as one row. Anything that does not read as the
    number shown counts as changed, so that ``set_weight`` can refuse it with a reason.

    >>> changed_cells([[0.5, 1.0]], [["0.5", "abc"]], rows=[4], cols=[7, 9])
    [((4, 9), 'abc')]
    """
    out = []
    for i, (before, after) in enumerate(zip(shown, typed)):
        for j, (old, value) in enumerate(zip(before, after)):
            try:
                same = abs(float(value) - old) <= 1e-9  # False for NaN
            except (TypeError, ValueError):
                same = False
            if not same:
                out.append(((cols[j],) if rows is None else (rows[i], cols[j]), value))
    return out


# ---------------------------------------------------------------------------------------------
# Writing weights, checked


@torch.no_grad()
def record(model: nn.Module, names: Iterable[str], what: str, change: Callable[[], None]) -> Change:
    """Run ``change()`` (which writes to the weights ``names``) and return the edits it made.

    If the result holds a NaN, an infinity or a weight beyond ``MAX_ABS_WEIGHT``, the weights
    are put back and EditError says so: whatever an edit computes, the model stays usable.
    """
    names = list(dict.fromkeys(names))
    tensors = {n: weight(model, n) for n in names}
    before = {n: t.detach().clone() for n, t in tensors.items()}
    try:
        change()
        for n, t in tensors.items():
            if not torch.isfinite(t).all():
                raise EditError(f"this edit would put NaN or infinity into {n}")
            if t.abs().max() > MAX_ABS_WEIGHT and before[n].abs().max() <= MAX_ABS_WEIGHT:
                raise EditError(f"this edit would need a weight of {float(t.abs().max()):.3g} in {n}, beyond "
                                f"±{MAX_ABS_WEIGHT:g}: ask for a smaller strength")
    except BaseException:
        for n, t in tensors.items():
            t.copy_(before[n])
        raise
    return Change(what, tuple(_edits_between(before, tensors)))


def _edits_between(old: dict[str, torch.Tensor], new: dict[str, torch.Tensor]) -> list[Edit]:
    """Every entry that differs between two sets of the same weights; a tensor two names share, once."""
    edits, seen = [], set()
    for name, tensor in new.items():
        if tensor.data_ptr() in seen:  # a GPT's wte and lm_head are one tensor: report it once
            continue
        seen.add(tensor.data_ptr())
        before = old[name]
        for i in (tensor != before).nonzero().tolist():
            edits.append(Edit(name, tuple(i), float(before[tuple(i)]), float(tensor[tuple(i)])))
    return edits


def set_weight(model: nn.Module, name: str, index, value) -> Edit:
    """Set one weight, ``state_dict()[name][index] = value``, and return the Edit.

    Refuses (EditError, model unchanged) an unknown name, an index out of range, a value that
    is not a number, NaN, infinity, or beyond ±MAX_ABS_WEIGHT.

    >>> from tinylm.models import Bigram, BigramConfig
    >>> model = Bigram(BigramConfig(vocab_size=3))
    >>> set_weight(model, "logits", (0, 2), "1.5")
    Edit(name='logits', index=(0, 2), old=0.0, new=1.5)
    >>> set_weight(model, "logits", (0, 3), 1.0)
    Traceback (most recent call last):
    ...
    tinylm.edit.tables.EditError: index 3 on axis 1 is out of range: logits is 3 × 3, so it goes 0..2
    """
    tensor = weight(model, name)
    index = parse_index(index, tensor, name)
    value = parse_value(value)
    with torch.no_grad():
        old = float(tensor[index])
        tensor[index] = value
        new = float(tensor[index])  # what float32 kept of it
    return Edit(name, index, old, new)


@torch.no_grad()
def apply_edits(model: nn.Module, edits: Iterable[Edit], undo: bool = False) -> None:
    """Write each edit's new value (or, with ``undo``, its old value, last edit first)."""
    edits = list(edits)
    for e in reversed(edits) if undo else edits:
        weight(model, e.name)[e.index] = e.old if undo else e.new


def diff(model: nn.Module, original: dict[str, torch.Tensor]) -> list[Edit]:
    """Every weight that differs from ``original`` (a ``copy_state_dict``), as Edits from old to now.

    >>> from tinylm.models import Bigram, BigramConfig
    >>> model = Bigram(BigramConfig(vocab_size=3))
    >>> original = copy_state_dict(model)
    >>> _ = set_weight(model, "logits", (1, 1), 2.0)
    >>> diff(model, original)
    [Edit(name='logits', index=(1, 1), old=0.0, new=2.0)]
    """
    return _edits_between(original, model.state_dict())


# ---------------------------------------------------------------------------------------------
# A session of edits: undo, redo, reset


@dataclass
class EditSession:
    """A model being edited by hand: the weights it started from, the changes made, undo and redo.

    >>> from tinylm.models import Bigram, BigramConfig
    >>> s = EditSession.start(Bigram(BigramConfig(vocab_size=3)))
    >>> _ = s.set("logits", (0, 1), 3.0); _ = s.set("logits", (0, 2), -1.0)
    >>> [e.new for e in s.edits()]
    [3.0, -1.0]
    >>> _ = s.undo(); s.model.logits[0, 2].item()
    0.0
    >>> _ = s.redo(); s.model.logits[0, 2].item()
    -1.0
    >>> s.changed()
    2
    >>> _ = s.reset_all(); diff(s.model, s.original)
    []
    """

    model: nn.Module
    original: dict[str, torch.Tensor]  # copy_state_dict(model) when editing started
    history: list[Change] = field(default_factory=list)  # changes in force, oldest first
    undone: list[Change] = field(default_factory=list)  # the redo stack, most recently undone last

    @classmethod
    def start(cls, model: nn.Module) -> EditSession:
        return cls(model, copy_state_dict(model))

    def record(self, change: Change) -> Change:
        """Add a change already made to the model; a new change empties the redo stack."""
        if change.edits:
            self.history.append(change)
            self.undone.clear()
        return change

    def set(self, name: str, index, value, what: str | None = None) -> Change:
        edit = set_weight(self.model, name, index, value)
        return self.record(Change(what or f"{name}[{', '.join(map(str, edit.index))}] = {edit.new:g}", (edit,)))

    def set_many(self, name: str, cells: list[tuple], what: str | None = None) -> Change:
        """Set several weights of one tensor as one change: [(index, value), ...], all or none."""
        tensor = weight(self.model, name)
        parsed = [(parse_index(index, tensor, name), parse_value(value)) for index, value in cells]  # refuse first

        def write():
            for index, value in parsed:
                tensor[index] = value

        shown = "; ".join(f"{name}[{', '.join(map(str, i))}] = {v:g}" for i, v in parsed[:3])
        return self.record(record(self.model, [name], what or shown + ("; …" if len(parsed) > 3 else ""), write))

    def undo(self) -> Change | None:
        """Take back the last change (None when there is nothing to undo)."""
        if not self.history:
            return None
        change = self.history.pop()
        apply_edits(self.model, change.edits, undo=True)
        self.undone.append(change)
        return change

    def redo(self) -> Change | None:
        if not self.undone:
            return None
        change = self.undone.pop()
        apply_edits(self.model, change.edits)
        self.history.append(change)
        return change

    def _reset(self, name: str, where, what: str) -> Change:
        tensor, original = weight(self.model, name), self.original[name]
        return self.record(record(self.model, [name], what, lambda: tensor.__setitem__(where, original[where])))

    def reset_cell(self, name: str, index) -> Change:
        """Put one weight back to its original value (recorded, so it can be undone)."""
        index = parse_index(index, weight(self.model, name), name)
        return self._reset(name, index, f"reset {name}[{', '.join(map(str, index))}]")

    def reset_row(self, name: str, row: int) -> Change:
        """Put one row of a weight back (a 1-D weight: all of it)."""
        tensor = weight(self.model, name)
        if tensor.dim() == 1:
            return self._reset(name, slice(None), f"reset {name}")
        row = parse_index((row, 0), tensor, name)[0]
        return self._reset(name, row, f"reset {name}[{row}]")

    def reset_all(self) -> Change:
        """Every weight back to the original (one change: undo brings the edits back)."""
        names = list(dict.fromkeys(e.name for e in diff(self.model, self.original)))

        def put_back():
            for name in names:
                weight(self.model, name).copy_(self.original[name])

        return self.record(record(self.model, names, "reset everything", put_back))

    def edits(self) -> list[Edit]:
        """Every edit in force, oldest first."""
        return [e for change in self.history for e in change.edits]

    def changed(self) -> int:
        """How many weights differ from the ones editing started with (one put back no longer counts)."""
        return len(diff(self.model, self.original))
