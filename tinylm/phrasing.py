"""How people ask: a small grammar that writes one question in thousands of wordings.

A *shape* (``Phrasing``) is a pattern with ``[a|b|]`` alternatives (an empty one drops the group)
and ``{x}``/``{y}`` slots for the item, in one of three forms: a question ("what comes after
{x}"), a request ("spell {x} backwards") or a bare phrase ("{x} backwards"). ``Frames`` are what
people put around it (openers, wrappers that fit the form, tails, sign-offs); ``typo`` and
``squeeze`` are how they type. ``tinylm.chat_wordings`` holds the shapes of each task, and
``tinylm.chat_tasks`` puts the parts together into training and evaluation questions.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from typing import Callable

# --- the phrasing grammar ------------------------------------------------------------------------
_ALTERNATIVES = re.compile(r"\[([^\[\]]*)\]")


def expand(pattern: str, rng: random.Random) -> str:
    """Pick one alternative of every ``[a|b|c]`` group (an empty one drops the group).

    >>> expand("what [letter |]comes after {x}", random.Random(0))
    'what comes after {x}'
    """
    return _ALTERNATIVES.sub(lambda m: rng.choice(m.group(1).split("|")), pattern)


def variants(pattern: str) -> list[str]:
    """Every expansion of a pattern.

    >>> variants("[spell|write] {x} backwards[ please|]")
    ['spell {x} backwards please', 'spell {x} backwards', 'write {x} backwards please', 'write {x} backwards']
    """
    parts = _ALTERNATIVES.split(pattern)  # text, alternatives, text, alternatives, ..., text
    options = [[p] if i % 2 == 0 else p.split("|") for i, p in enumerate(parts)]
    return ["".join(choice) for choice in itertools.product(*options)]


FORMS = ("question", "request", "phrase")


@dataclass(frozen=True)
class Phrasing:
    """One shape of asking: a pattern with ``[a|b]`` alternatives and ``{x}``/``{y}`` slots."""

    pattern: str
    form: str  # "question" ("what comes after {x}"), "request" ("spell {x} backwards") or "phrase" ("{x} backwards")


def question(pattern: str) -> Phrasing:
    return Phrasing(pattern, "question")


def request(pattern: str) -> Phrasing:
    return Phrasing(pattern, "request")


def phrase(pattern: str) -> Phrasing:
    return Phrasing(pattern, "phrase")


@dataclass(frozen=True)
class Frames:
    """What people put around a question. A wrapper fits one form, and either makes the whole a
    question ("can you " + "reverse tiger" + "?") or leaves it a statement ("please " ... ".")."""

    openers: tuple[str, ...]  # "hey, ": said before anything, changes nothing
    wrappers: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]  # form -> (question-making, statement-making)
    tails: tuple[str, ...]  # " please": before the final punctuation
    sign_offs: tuple[str, ...]  # " thanks": after it


TRAINED_FRAMES = Frames(
    openers=("hey, ", "hi, ", "ok, ", "ok so ", "so ", "quick question: ", "hey tinylm, ", "um, ", "and ", "also, ",
             "now, ", "question: ", "sorry, ", "one more: ", "hmm, ", "right, ", "hello, ", "next: "),
    wrappers={
        "question": (("can you tell me ", "could you tell me ", "do you know ", "can you say "),
                     ("tell me ", "I want to know ", "I'd like to know ", "please tell me ", "I wonder ")),
        "request": (("can you ", "could you ", "would you ", "can you please ", "could you please ", "will you "),
                    ("please ", "I need you to ", "I want you to ", "try to ", "go ahead and ", "now ")),
        "phrase": (("what is ", "what's ", "whats ", "do you know "),
                   ("tell me ", "give me ", "I need ", "I want ", "find ", "show me ")),
    },
    tails=(" please", ", please", " for me", " pls", " now"),
    sign_offs=(" thanks", " thank you", " :)", " thx"),
)
# never trained on: a question framed with one of these is a held-out phrasing
HELD_OUT_FRAMES = Frames(
    openers=("out of curiosity, ", "excuse me, ", "I have a question: ", "alright, ", "yo, "),
    wrappers={
        "question": (("any idea ", "would you happen to know "), ("I'm curious ", "let me know ")),
        "request": (("would you be able to ", "is it possible to "), ("I'd like you to ", "kindly ", "do me a favour and ")),
        "phrase": (("what would be ", "what might be "), ("I'm looking for ", "let me have ")),
    },
    tails=(" if you can", " real quick", " when you get a chance"),
    sign_offs=(" cheers", " much appreciated"),
)
QUESTION_PUNCTUATION = (("?", 70), ("", 22), ("??", 4), (" ?", 4))
STATEMENT_PUNCTUATION = ((".", 55), ("", 35), ("!", 10))


def weighted(rng: random.Random, table) -> str:
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


# --- noise: how people actually type -----------------------------------------------------------
_SLOT = re.compile(r"(\{[xy]\})")


def typo(text: str, rng: random.Random) -> str:
    """One typo (two letters swapped, one dropped or doubled) in a word of 4+ letters outside the slots."""
    words = [m for m in re.finditer(r"(?<![{\w])[a-z]{4,}(?![}\w])", text)]
    if not words:
        return text
    m = rng.choice(words)
    w, i = m.group(), rng.randrange(1, len(m.group()) - 1)
    kind = rng.randrange(3)
    w = w[:i] + w[i + 1] + w[i] + w[i + 2:] if kind == 0 else w[:i] + w[i + 1:] if kind == 1 else w[:i] + w[i] + w[i:]
    return text[:m.start()] + w + text[m.end():]


def outside_slots(text: str, change: Callable[[str], str]) -> str:
    return "".join(part if _SLOT.fullmatch(part) else change(part) for part in _SLOT.split(text))


def squeeze(text: str) -> str:
    """ "2 + 2" -> "2+2": many people type sums without spaces."""
    return re.sub(r"(\d) ?([+\-*/=x]) ?(?=\d)", r"\1\2", text)
