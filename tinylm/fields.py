"""Values a person typed into a field: numbers parsed strictly, or a ValueError naming the field.

A UI, the command line and an API client all hand the library numbers that began as text in a
box. One function reads them all, so "2.5 steps", "nan" and "lots" are refused the same way,
with the field's name and its allowed range in the message.
"""

from __future__ import annotations

import math
import numbers


def parse_number(value, name: str, minimum: float | None = None, maximum: float | None = None,
                 integer: bool = True) -> int | float:
    """A number typed by a person, or a ValueError that names the field and the allowed range.

    >>> parse_number("32", "batch size", 1, 512)
    32
    >>> parse_number(" 2.5 ", "temperature", 0, 10, integer=False)
    2.5
    >>> parse_number("lots", "steps")
    Traceback (most recent call last):
    ...
    ValueError: steps must be a number, got 'lots'
    >>> parse_number(2.5, "steps")
    Traceback (most recent call last):
    ...
    ValueError: steps must be a whole number, got 2.5
    """
    if isinstance(value, bool) or not isinstance(value, (str, numbers.Real)):
        raise ValueError(f"{name} must be a number, got {str(value)[:40]!r}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        raise ValueError(f"{name} must be a number, got {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if integer:
        if number != int(number):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        number = int(number)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        low = "-inf" if minimum is None else f"{minimum:g}"
        high = "inf" if maximum is None else f"{maximum:g}"
        raise ValueError(f"{name} must be between {low} and {high}, got {value!r}")
    return number
