"""Every request is hostile: the checks each event passes, and the app's one way of refusing.

A public Space gets requests from browsers and from scripts, and a script can send any value to
any event, shown on the page or not. So the server checks what arrives, whatever the page allowed:

- numbers come through ``Number`` and ``Slider``, strict versions of Gradio's: a finite number
  within the field's range (a whole one where the field is whole), or a refusal naming the field;
- text is held to the ``max_length`` of the Textbox it came through, the limit the page shows
  (``tinylm_app.limits``), and must be real Unicode (a lone surrogate is not a character);
- ``guard_events(demo)`` wraps every event so that a library error (a ``ValueError``: empty text, an
  unknown token, a corrupt checkpoint) reaches the visitor as one sentence and the log as one
  line, never a traceback. Anything else is a bug: its traceback is logged once, and the
  visitor is told that it went wrong on the server, not what to change.

>>> sentence("steps must be a number, got 'lots'")
"Steps must be a number, got 'lots'."
>>> sentence("unknown dataset '<img src=x>'")
"Unknown dataset '&lt;img src=x&gt;'."
"""

from __future__ import annotations

import functools
import html
import inspect
import json
import logging
import math

import gradio as gr
from gradio.components.api_component import Api  # what gr.api's parameters arrive through

from tinylm.fields import parse_number
from tinylm_app.limits import MAX_CONTEXT_CHARS, MAX_JSON_CHARS

log = logging.getLogger("tinylm.app")

SERVER_FAULT = ("Something went wrong on the server ({error}); it has been logged. Try again, or try "
                "different input.")


def sentence(message: str, escaped: bool = True) -> str:
    """A library message as one sentence: capitalised, one line, ending in a full stop.

    Gradio shows an error's message as HTML, and a message may quote what a visitor typed,
    so ``<``, ``>`` and ``&`` are escaped (a name like ``<img onerror=...>`` stays text) unless
    ``escaped`` is False (for the log).
    """
    message = " ".join(str(message).split()) or "That input cannot be used"
    message = message[0].upper() + message[1:]
    message = message if message[-1] in ".!?" else message + "."
    return html.escape(message, quote=False) if escaped else message


def refuse(message: str) -> gr.Error:
    """The error a handler raises to refuse a request: one sentence for the visitor, no traceback."""
    return gr.Error(sentence(message), print_exception=False)


# ---------------------------------------------------------------------------------------------
# Values


def check_text(value, what: str, max_chars: int | None = MAX_CONTEXT_CHARS) -> str:
    """``value`` as text within ``max_chars``, or a ValueError that names ``what`` and the limit.

    >>> check_text(None, "the context")
    ''
    >>> check_text("x" * 30, "the context", 20)
    Traceback (most recent call last):
    ...
    ValueError: the context has 30 characters, over the limit of 20
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text, got {type(value).__name__}")
    if max_chars is not None and len(value) > max_chars:
        raise ValueError(f"{what} has {len(value):,} characters, over the limit of {max_chars:,}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:  # "\ud800" alone: JSON can carry it, no text can
        raise ValueError(f"{what} holds {value[err.start]!r} at position {err.start}, half of a character "
                         f"(a lone surrogate), which is not text: remove it") from None
    return value


def check_number(value, what: str, minimum: float | None = None, maximum: float | None = None,
                 whole: bool = False) -> int | float:
    """A number that arrived in a request: a real one (not text), finite and in range, or a ValueError.

    >>> check_number(3.0, "n_layer", 1, 8, whole=True)
    3
    >>> check_number("3", "n_layer")
    Traceback (most recent call last):
    ...
    ValueError: n_layer must be a number, got '3'
    """
    if isinstance(value, str):  # a number field's payload is a JSON number; text means a script's mistake
        raise ValueError(f"{what} must be a number, got {value[:40]!r}")
    return parse_number(value, what, minimum, maximum, integer=whole)


def _json_chars(value) -> int:
    try:
        return len(json.dumps(value, default=str))
    except RecursionError:
        return math.inf  # nested thousands deep: nobody types that
    except (TypeError, ValueError):
        return 0


class Number(gr.Number):
    """``gr.Number`` that refuses anything but a finite number in its range, naming the field.

    Gradio's own raises a TypeError on "abc" and silently rounds 2.5 to 2 where precision is 0.
    """

    is_template = True  # drawn by Gradio's Number component

    def preprocess(self, payload):
        if payload is None:
            return None
        try:
            return check_number(payload, self.label or "a number field", self.minimum, self.maximum,
                                whole=self.precision == 0)
        except ValueError as err:
            raise refuse(str(err)) from None


class Slider(gr.Slider):
    """``gr.Slider`` that refuses anything but a finite number in its range, naming the field."""

    is_template = True  # drawn by Gradio's Slider component

    def preprocess(self, payload):
        try:
            return check_number(payload, self.label or "a slider", self.minimum, self.maximum,
                                whole=self.precision == 0)
        except ValueError as err:
            raise refuse(str(err)) from None


class Dataframe(gr.Dataframe):
    """``gr.Dataframe`` that refuses, naming the field, a payload that is not a table."""

    is_template = True  # drawn by Gradio's Dataframe component

    def preprocess(self, payload):
        if payload is None:
            raise refuse(f"{self.label or 'the table'} must be a table")
        try:
            return super().preprocess(payload)
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            raise refuse(f"{self.label or 'the table'} cannot be read as a table ({type(err).__name__})") from None


class Dataset(gr.Dataset):
    """``gr.Dataset`` whose click must name one of its samples."""

    is_template = True  # drawn by Gradio's Dataset component

    def preprocess(self, payload):
        if isinstance(payload, bool) or not isinstance(payload, int) or not 0 <= payload < len(self.raw_samples):
            raise refuse(f"there is no example {str(payload)[:20]!r}: choose one of the {len(self.raw_samples)} shown")
        return super().preprocess(payload)


def examples(samples: list[str], target: gr.Textbox, label: str = "Try") -> Dataset:
    """A row of example texts; a click puts one into ``target`` (like ``gr.Examples``, checked)."""
    dataset = Dataset(components=[target], samples=[[s] for s in samples], label=label)
    dataset.click(lambda sample: sample[0], dataset, target, api_visibility="private", show_progress="hidden",
                  queue=False)
    return dataset


def _check_inputs(args: tuple, kwargs: dict, inputs: list, names: list, as_dict: bool = False) -> None:
    """Text and JSON that reached an event, held to the limits of the components they came through.

    ``args`` fill the first of ``inputs`` (with ``as_dict``, the event's inputs are a set, and
    ``args[0]`` is one dict, component -> value); ``kwargs`` (an event's ``inputs_kwargs``) are
    matched by ``names``, the parameter name of each input.
    """
    by_name = {name: component for name, component in zip(names, inputs) if name}
    positional = args[0].items() if as_dict and args and isinstance(args[0], dict) else zip(inputs, args)
    pairs = [*positional, *((by_name[k], v) for k, v in kwargs.items() if k in by_name)]
    for component, value in pairs:
        label = getattr(component, "label", None) or "a field"
        if isinstance(value, str):
            limit = getattr(component, "max_length", None) or (
                MAX_CONTEXT_CHARS if isinstance(component, gr.Textbox) else MAX_JSON_CHARS)
            check_text(value, label, limit)
        elif isinstance(value, (list, dict)) and isinstance(component, (gr.JSON, Api)):
            if _json_chars(value) > MAX_JSON_CHARS:
                raise ValueError(f"{label} is over the limit of {MAX_JSON_CHARS:,} characters of JSON "
                                 f"(or nested too deeply)")


# ---------------------------------------------------------------------------------------------
# Events


def guarded(fn, name: str, inputs: list, names: list = (), as_dict: bool = False):
    """``fn`` that checks its inputs and turns every error into a one-sentence ``gr.Error``.

    ``inputs`` are the event's components in order, ``names`` their parameter names (for inputs
    passed by keyword); ``as_dict``: the inputs are a set, and ``fn`` gets one dict of them.
    """

    def fail(error: Exception) -> gr.Error:
        if isinstance(error, gr.Error):
            log.info("refused %s: %s", name, sentence(error.message, escaped=False)[:300])
            error.message, error.print_exception = sentence(error.message), False
            return error
        if isinstance(error, (ValueError, RecursionError)):  # the library's way of saying "not this input"
            message = "that input is nested too deeply" if isinstance(error, RecursionError) else str(error)
            log.info("refused %s: %s", name, sentence(message, escaped=False)[:300])
            return refuse(message)
        log.exception("error in %s", name)  # a bug: the one traceback worth keeping
        return gr.Error(SERVER_FAULT.format(error=type(error).__name__), print_exception=False)

    if inspect.isasyncgenfunction(fn):
        @functools.wraps(fn)
        async def wrapper(*args, **kwargs):
            try:
                _check_inputs(args, kwargs, inputs, names, as_dict)
                async for item in fn(*args, **kwargs):
                    yield item
            except Exception as error:  # noqa: BLE001  (every error becomes one sentence)
                raise fail(error) from error
    elif inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                _check_inputs(args, kwargs, inputs, names, as_dict)
                yield from fn(*args, **kwargs)
            except Exception as error:  # noqa: BLE001
                raise fail(error) from error
    elif inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def wrapper(*args, **kwargs):
            try:
                _check_inputs(args, kwargs, inputs, names, as_dict)
                return await fn(*args, **kwargs)
            except Exception as error:  # noqa: BLE001
                raise fail(error) from error
    else:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                _check_inputs(args, kwargs, inputs, names, as_dict)
                return fn(*args, **kwargs)
            except Exception as error:  # noqa: BLE001
                raise fail(error) from error
    wrapper.guarded = True
    return wrapper


def guard_events(demo: gr.Blocks) -> None:
    """Wrap every event of ``demo`` with ``guarded`` (once; safe to call again)."""
    for block_fn in demo.fns.values():
        if block_fn.fn is not None and not getattr(block_fn.fn, "guarded", False):
            names = [None] * (len(block_fn.inputs) - len(block_fn.input_keyword_names)) + block_fn.input_keyword_names
            block_fn.fn = guarded(block_fn.fn, block_fn.api_name or block_fn.name, block_fn.inputs, names,
                                  block_fn.inputs_as_dict)
