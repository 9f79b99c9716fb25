"""Conversations the project writes itself: checkable tasks, small talk, and "I do not know."

A tiny chat model needs three kinds of data, and none of it has to be downloaded:

- **Checkable tasks**, where a program knows the one right answer: the letter after or before a
  letter, a word backwards or in capitals, how many letters a word has, small sums and
  differences, the bigger of two numbers. These are what SFT teaches and what RL rewards.
- **Small talk** (greetings, "who are you?"), so the model can be talked to.
- **Out-of-scope questions** (capitals, prices, weather, history, opinions, multiplication, sums
  beyond 20, and traps that look like tasks: "What is 7 times 8?", "What comes after Monday?"),
  answered ``I do not know.``: a model this small knows nothing about the world, and should say
  so instead of making something up.

**People do not type templates.** Each question is put together from parts, so the model meets
thousands of wordings and has to learn the intent, not a sentence:

- a *shape* (``Phrasing``): "what [letter |]comes after {x}[ in the alphabet|]", where ``[a|b|]``
  picks one alternative, in one of three forms: a question, a request ("spell {x} backwards") or a
  bare phrase ("{x} backwards", "the letter after {x}"); training also draws ``EXTRA_SHAPES``,
  written after the evaluation sets were fixed ("q, then what?", "flip tiger"), and
  with ``blind_shapes``, ``BLIND_SHAPES``, written by someone who never saw the held-out shapes
  ("deduct 3 from 9"; they lifted new shapes and cost the rest, so the shipped model has none);
- a *frame* around it: an opener ("hey, ", "quick question: "), a wrapper that fits the form
  ("can you ", "please ", "tell me ", "what is "), a tail (" please", " for me") and a sign-off
  (" thanks");
- the item as people write it: ``q``, ``'q'``, ``"tiger"``, ``7`` or ``seven``, ``2+2`` or ``2 + 2``;
- noise: all lower case, sometimes all capitals, missing or doubled punctuation, a typo now and
  then (never in the item itself);
- an *aside* now and then: a few words that change nothing ("my lord, reverse tiger", "what is
  2 + 3? good night"), taken from Tiny Shakespeare so that their vocabulary is far bigger than the
  grammar's. A wording a stranger types has words the grammar never had; the asides teach the model
  that an unfamiliar word is no reason to say "I do not know" (out-of-scope questions get them too).

Evaluation is honest only on what the model never trained on, so the data is split once, and no
stage (base pretraining text, SFT, RL) ever sees the held-out side:

- **held-out phrasings**: whole shapes (``Task.held_out``, ``OUT_OF_SCOPE_HELD_OUT``) and whole
  frame parts (``HELD_OUT_FRAMES``), chosen to differ in *shape* from the trained ones (the item
  first, the question word last, new verbs), as a stranger's wording would;
- **held-out items**: a fifth of ``datasets_cfg/chat_words.txt`` (training also uses made-up
  words, so the rule is what is learned); for the letter and number tasks a fifth of the
  (shape, item) pairs, so "what comes after {x}" is never trained with ``q`` though another
  shape may be; and a tenth of the number pairs never used in any shape (``unseen_number_set``):
  has the rule been learned, or a table?
- out-of-scope questions hold out a third of their subjects as well.

The grammar is ``tinylm.phrasing``; the tasks' shapes, the small talk and the out-of-scope
questions are tables in ``tinylm.chat_wordings``. ``ChatTasks`` is the whole data set: ``sample(rng)`` draws a training example,
``conversation(rng)`` one with earlier turns, ``eval_sets()`` the held-out ones, ``facts_text()``
the training facts as plain sentences for the base model's pretraining.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

from .chat_wordings import (
    BLIND_SHAPES,
    BLIND_WORDS,
    EXTRA_SHAPES,
    EXTRA_WORDS,
    FACT_WEIGHTS,
    GRAMMAR_WORDS,
    IDK,
    LETTERS,
    MAX_NUMBER,
    NUMBER_WORDS,
    OUT_OF_SCOPE,
    OUT_OF_SCOPE_HELD_OUT,
    PAIRED_SUBJECTS,
    SMALL_TALK,
    SUBJECTS,
    TASK_WEIGHTS,
    TASKS,
    Task,
)
from .data import CORPORA_DIR
from .phrasing import (
    HELD_OUT_FRAMES,
    QUESTION_PUNCTUATION,
    STATEMENT_PUNCTUATION,
    TRAINED_FRAMES,
    Phrasing,
    expand,
    outside_slots,
    squeeze,
    typo,
    weighted,
)

WORDS_FILE = Path(__file__).resolve().parent.parent / "datasets_cfg" / "chat_words.txt"
ASIDES_FILE = CORPORA_DIR / "tinyshakespeare.txt"  # shipped with the package (public domain)
# training questions that are out of scope ("I do not know."). 0.22 -> 0.12: the model says it
# less often where it knows the answer, and still says it to 96 % of new out-of-scope questions
# (held-out items 0.914 -> 0.950 and 0.933 with another seed, held-out phrasings 0.740 -> 0.763 and
# 0.752 in the chat build; 0.06 was no better)
OUT_OF_SCOPE_SHARE = 0.12
ASIDE_SHARE = 0.3  # training questions that get an aside (0.15 -> 0.3: held-out phrasings 0.743 -> 0.776)
# the only words of the grammar an aside may use: a run of Shakespeare is never a question about a
# letter, a word or a sum (no task word in it), nor a held-out wording in disguise
ASIDE_GRAMMAR_WORDS = frozenset("a an the of to in on at by for with and but so not i me my you your it this that "
                                "be do".split())


@dataclass(frozen=True)
class Example:
    task: str  # a task name, "small_talk" or "out_of_scope"
    prompt: str  # the user's message
    answer: str  # the reply that counts as correct (exactly)
    history: tuple[tuple[str, str], ...] = ()  # earlier (user, assistant) exchanges, oldest first

    @property
    def checkable(self) -> bool:
        return self.task not in ("small_talk", "out_of_scope")


def is_correct(example: Example, reply: str) -> bool:
    """Exact match, ignoring surrounding whitespace: what eval-chat scores and RL rewards.

    >>> is_correct(Example("add", "What is 2 + 3?", "5"), " 5")
    True
    """
    return reply.strip() == example.answer


def is_idk(reply: str) -> bool:
    return reply.strip() == IDK



def read_words(path: Path = WORDS_FILE) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [w.strip() for w in lines if w.strip() and not w.startswith("#")]


def read_asides(banned: set[str] | frozenset[str], path: Path = ASIDES_FILE) -> list[list[str]]:
    """The lines of Tiny Shakespeare as lower-case words (no speakers' names, no punctuation),
    each cut where a ``banned`` word was, so that any run of words in it is an aside we may use."""
    runs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.endswith(":"):
            continue
        run: list[str] = []
        for word in re.findall(r"[a-z]+(?:'[a-z]+)?", line.lower()):
            if any(part in banned for part in word.split("'")):  # "arm'd" holds "arm"
                runs.append(run)
                run = []
            else:
                run.append(word)
        runs.append(run)
    return [r for r in runs if r]


def _split(items: list, held_out: float, rng: random.Random) -> tuple[list, list]:
    """Shuffle ``items`` with ``rng`` and cut off the held-out share."""
    items = list(items)
    rng.shuffle(items)
    n = int(round(len(items) * held_out))
    return items[n:], items[:n]


class ChatTasks:
    """Every conversation the chat model is trained and evaluated on, split once by ``seed``.

    >>> tasks = ChatTasks()
    >>> ex = tasks.sample(random.Random(0))
    >>> ex.prompt in {e.prompt for s in tasks.eval_sets().values() for e in s}
    False
    """

    def __init__(self, seed: int = 0, held_out: float = 0.2, words: list[str] | None = None,
                 blind_shapes: bool = False):
        rng = random.Random(seed)
        self.seed = seed
        self.blind_shapes = blind_shapes  # training also draws BLIND_SHAPES (the build does: README, Chat)
        # a word the questions themselves use ("cat" in "what colour is a cat?") is read in training anyway
        words = words if words is not None else read_words()
        self.words_train, self.words_eval = _split([w for w in words if w not in GRAMMAR_WORDS], held_out, rng)
        self.words_train += [w for w in words if w in GRAMMAR_WORDS]
        self.eval_words = set(self.words_eval)
        pairs = [(x, y) for x in range(MAX_NUMBER + 1) for y in range(MAX_NUMBER + 1)]
        self.pairs_train, self.pairs_unseen = _split(pairs, 0.1, rng)  # unseen: never in any phrasing
        # (task, shape, item) triples held out of the trained shapes, for the letter and number tasks
        self.held_out_combos: dict[str, list[tuple[int, tuple]]] = {}
        for task in TASKS:
            if task.kind != "word":
                combos = [(p, item) for p in range(len(task.phrasings)) for item in self._items(task)]
                self.held_out_combos[task.name] = _split(combos, held_out, rng)[1]
        self._held_out_set = {(t, p, item) for t, combos in self.held_out_combos.items() for p, item in combos}
        held = {k: _split(v, 1 / 3, rng) for k, v in SUBJECTS.items()}
        self.subjects_train = {k: v[0] for k, v in held.items()}
        self.subjects_eval = {k: v[1] for k, v in held.items()}

    # -- items ---------------------------------------------------------------------------------
    def _items(self, task: Task) -> list[tuple]:
        """Every letter or number item of a task on the training side (the unseen pairs left out)."""
        if task.kind == "letter":
            edge = "zZ" if task.name == "letter_after" else "aA"  # "after z" and "before a" have no answer
            return [(c,) for c in LETTERS if c not in edge]
        if task.name == "subtract":  # no negative answers: the bigger number comes first
            return [(x, y) for x, y in self.pairs_train if x >= y]
        if task.name == "bigger":
            return [(x, y) for x, y in self.pairs_train if x != y]
        return list(self.pairs_train)

    @cached_property
    def _train_items(self) -> dict[str, list[tuple]]:
        return {t.name: self._items(t) for t in TASKS if t.kind != "word"}

    def _made_up_word(self, rng: random.Random) -> str:
        """A word that does not exist: random letters, or consonants and vowels taking turns."""
        while True:
            n = rng.randint(2, 10)
            if rng.random() < 0.5:
                word = "".join(rng.choice(string.ascii_lowercase) for _ in range(n))
            else:
                word = "".join(rng.choice("bcdfghjklmnprstvwz" if i % 2 == 0 else "aeiou") for i in range(n))
            if word not in self.eval_words:
                return word

    def _train_item(self, task: Task, rng: random.Random) -> tuple[int, tuple]:
        """A (shape index, item) pair from the training side of the split."""
        while True:
            p = rng.randrange(len(task.phrasings))
            if task.kind == "word":
                return p, (rng.choice(self.words_train) if rng.random() < 0.5 else self._made_up_word(rng),)
            item = rng.choice(self._train_items[task.name])
            if (task.name, p, item) not in self._held_out_set:
                return p, item

    @cached_property
    def _asides(self) -> list[list[str]]:
        """Runs of Shakespeare without a held-out word (an item, or a word of a held-out wording)
        or a word the questions themselves use (bar ``ASIDE_GRAMMAR_WORDS``)."""
        shape_words = EXTRA_WORDS | (BLIND_WORDS if self.blind_shapes else frozenset())
        return read_asides((self.eval_words | GRAMMAR_WORDS | shape_words) - ASIDE_GRAMMAR_WORDS)

    def with_aside(self, example: Example, rng: random.Random) -> Example:
        """The example with 1 to 4 words of Shakespeare before the question, at its end or after it,
        in the question's case. The answer stays what it was: the aside changes nothing."""
        run = rng.choice(self._asides)
        n = rng.randint(1, min(4, len(run)))
        start = rng.randrange(len(run) - n + 1)
        aside = " ".join(run[start:start + n])
        prompt = example.prompt
        if prompt.isupper():
            aside = aside.upper()
        where = rng.random()
        if where < 0.4:
            prompt = f"{aside[:1].upper() + aside[1:] if prompt[:1].isupper() else aside}, {prompt}"
        elif where < 0.7:
            body = prompt.rstrip("?!. ")
            prompt = f"{body}, {aside}{prompt[len(body):]}"
        else:
            prompt = f"{prompt} {aside}"
        return Example(example.task, prompt, example.answer, example.history)

    def _training_shape(self, task: Task, rng: random.Random) -> tuple[Phrasing, tuple]:
        """A trained shape and an item for it, for the training draws: one of ``Task.phrasings``
        (never with an item held out of it) or, as often as each of those, one of the extra shapes
        (and of the blind ones, with ``blind_shapes``)."""
        later = EXTRA_SHAPES.get(task.name, ()) + (BLIND_SHAPES.get(task.name, ()) if self.blind_shapes else ())
        phrasing, item = self._shape_and_item(task, rng)
        if rng.random() < len(later) / (len(later) + len(task.phrasings)):
            return rng.choice(later), item
        return phrasing, item

    # -- writing a question --------------------------------------------------------------------
    def _frame(self, form: str, rng: random.Random, held_out: bool = False) -> tuple[str, str, str, str, bool]:
        """(opener, wrapper, tail, sign-off, is a question). ``held_out``: one part from ``HELD_OUT_FRAMES``."""
        new = rng.choice(("opener", "wrapper", "wrapper", "tail", "sign_off")) if held_out else None

        def pick(part: str, chance: float):
            frames = HELD_OUT_FRAMES if part == new else TRAINED_FRAMES
            return part == new or rng.random() < chance, frames

        use, frames = pick("opener", 0.2)
        opener = rng.choice(frames.openers) if use else ""
        use, frames = pick("wrapper", 0.5)
        wrapper = ""
        if use:  # the wrapper decides: "can you " asks, "please " does not
            questions, statements = frames.wrappers[form]
            asks = rng.random() < len(questions) / (len(questions) + len(statements))
            wrapper = rng.choice(questions if asks else statements)
        else:  # a bare phrase, "the letter after q?", is asked as often as said
            asks = form == "question" or (form == "phrase" and rng.random() < 0.5)
        use, frames = pick("tail", 0.12)
        tail = rng.choice(frames.tails) if use else ""
        use, frames = pick("sign_off", 0.06)
        sign_off = rng.choice(frames.sign_offs) if use else ""
        return opener, wrapper, tail, sign_off, asks

    def _write(self, template: str, form: str, rng: random.Random, fill: Callable[[str, str], str],
               held_out_frame: bool = False) -> str:
        """A user's message: the template in a frame, typed the way people type.

        ``fill(template_text, case)`` puts the items into the slots (``case`` is "upper" when the
        whole message is in capitals).
        """
        opener, wrapper, tail, sign_off, asks = self._frame(form, rng, held_out_frame)
        text = wrapper + template + tail
        if rng.random() < 0.08:
            text = typo(text, rng)
        case = weighted(rng, (("typed", 70), ("lower", 26), ("upper", 4)))
        text = opener + text
        if case == "upper":
            text = outside_slots(text, str.upper)
        elif case == "lower":
            text = outside_slots(text, str.lower)
        text = fill(text, case)
        if case == "typed" and text[:1].islower() and (opener or wrapper or not template.startswith("{")):
            text = text[0].upper() + text[1:]
        text += weighted(rng, QUESTION_PUNCTUATION if asks else STATEMENT_PUNCTUATION) + sign_off
        if rng.random() < 0.03:
            text = text.replace(" ", "  ", 1)
        return text

    def _quote(self, text: str, rng: random.Random) -> str:
        return weighted(rng, ((text, 70), (f"'{text}'", 15), (f'"{text}"', 15)))

    def task_example(self, task: Task, phrasing: Phrasing, item: tuple, rng: random.Random,
                     held_out_frame: bool = False) -> Example:
        """``task`` asked in ``phrasing`` about ``item``, framed and typed at random; the answer
        follows the word as written ("reverse Tiger" is "regiT")."""
        final = list(item)

        def fill(text: str, case: str) -> str:
            if task.kind == "number":
                words = rng.random() < 0.25
                for slot, n in zip("xy", item):
                    shown = NUMBER_WORDS[n] if words and rng.random() < 0.9 else str(n)
                    text = text.replace("{" + slot + "}", shown.upper() if case == "upper" else shown)
                return squeeze(text) if rng.random() < 0.35 else text
            x = item[0]  # a letter keeps its case: "after q" and "after Q" are different questions
            if task.kind == "word":
                x = x.upper() if case == "upper" else weighted(rng, ((x, 86), (x.capitalize(), 10), (x.upper(), 4)))
            final[0] = x
            return text.replace("{x}", self._quote(x, rng))

        prompt = self._write(expand(phrasing.pattern, rng), phrasing.form, rng, fill, held_out_frame)
        return Example(task.name, prompt, task.answer(tuple(final)))

    def _subject_fill(self, subjects: dict, training: bool, rng: random.Random) -> dict[str, str]:
        fill = {k: rng.choice(v) for k, v in subjects.items()}
        for second, first in PAIRED_SUBJECTS.items():
            fill[second] = rng.choice([s for s in subjects[first] if s != fill[first]])
        fill["word"] = self._quote(rng.choice(self.words_train if training else self.words_eval), rng)
        n, m = self._trap_numbers(rng, training)
        words = rng.random() < 0.2 and max(n, m) <= MAX_NUMBER
        fill["n"], fill["m"] = (NUMBER_WORDS[n], NUMBER_WORDS[m]) if words else (str(n), str(m))
        return fill

    @staticmethod
    def _trap_numbers(rng: random.Random, training: bool) -> tuple[int, int]:
        """Numbers for "n times m", "half of n": an n that is a multiple of 5 is kept for evaluation."""
        while True:
            n, m = rng.randint(2, 30), rng.randint(2, 30)
            if (n % 5 != 0) == training:
                return n, m

    def out_of_scope_example(self, rng: random.Random, training: bool = True, held_out_shape: bool = False,
                             held_out_frame: bool = False) -> Example:
        """A question to answer "I do not know.": about the world, a trap, or a sum beyond 20.

        ``training=False`` draws the held-out subjects; ``held_out_shape`` the held-out shapes.
        """
        if rng.random() < 0.15:
            return self._out_of_range_example(rng, training, held_out_shape, held_out_frame)
        while True:
            phrasing = rng.choice(OUT_OF_SCOPE_HELD_OUT if held_out_shape else OUT_OF_SCOPE)
            template = expand(phrasing.pattern, rng)
            if training or held_out_shape or "{" in template:  # held out: a held-out subject, or a held-out shape
                break
        template = template.format(**self._subject_fill(self.subjects_train if training else self.subjects_eval,
                                                        training, rng))
        return Example("out_of_scope", self._write(template, phrasing.form, rng, lambda t, case: t, held_out_frame), IDK)

    def _out_of_range_example(self, rng: random.Random, training: bool, held_out_shape: bool,
                              held_out_frame: bool) -> Example:
        """A number task's question beyond what it knows: a number over 20, or a negative difference."""
        task = rng.choice([t for t in TASKS if t.kind == "number"])
        if task.name == "subtract" and rng.random() < 0.4:
            x, y = sorted(rng.sample(range(MAX_NUMBER + 1), 2))  # x < y: the answer would be negative
        else:
            big = rng.randint(MAX_NUMBER + 1, 99) if rng.random() < 0.8 else rng.randint(100, 999)
            x, y = (big, rng.randint(0, 99)) if rng.random() < 0.5 else (rng.randint(0, 99), big)
        if (x + y) % 2 != int(training):  # odd sums for training, even ones for evaluation
            y += 1  # still out of range: bigger, or further above x
        phrasing = rng.choice(task.held_out if held_out_shape else task.phrasings)
        template = expand(phrasing.pattern, rng).replace("{x}", str(x)).replace("{y}", str(y))
        fill = lambda t, case: squeeze(t) if rng.random() < 0.35 else t  # noqa: E731
        return Example("out_of_scope", self._write(template, phrasing.form, rng, fill, held_out_frame), IDK)

    def small_talk_example(self, rng: random.Random) -> Example:
        prompts, reply = rng.choice(SMALL_TALK)
        prompt = rng.choice(prompts)
        if rng.random() < 0.2:
            prompt = prompt.lower().rstrip("?.!")
        return Example("small_talk", prompt, reply)

    # -- drawing training examples ------------------------------------------------------------
    def sample(self, rng: random.Random, out_of_scope: float = OUT_OF_SCOPE_SHARE, small_talk: float = 0.05,
               asides: float = ASIDE_SHARE) -> Example:
        """One training example: a checkable task, small talk or an out-of-scope question; an
        ``asides`` share of the questions with an aside (``with_aside``)."""
        r = rng.random()
        if out_of_scope <= r < out_of_scope + small_talk:
            return self.small_talk_example(rng)  # "hi, my lord" is no longer small talk we can answer
        if r < out_of_scope:
            example = self.out_of_scope_example(rng)
        else:
            task = rng.choices(TASKS, TASK_WEIGHTS)[0]
            example = self.task_example(task, *self._training_shape(task, rng), rng)
        return self.with_aside(example, rng) if asides and rng.random() < asides else example

    def conversation(self, rng: random.Random, max_earlier: int = 2) -> Example:
        """A training example asked after 0 to ``max_earlier`` earlier exchanges (each one a
        training example too, answered right): a question is often not the first thing said."""
        earlier = tuple((e.prompt, e.answer) for e in (self.sample(rng) for _ in range(rng.randint(0, max_earlier))))
        last = self.sample(rng)
        return Example(last.task, last.prompt, last.answer, earlier)

    def demonstrations(self, n: int, seed: int = 0, out_of_scope: float = OUT_OF_SCOPE_SHARE,
                       asides: float = ASIDE_SHARE) -> list[Example]:
        """A fixed set of ``n`` training examples, drawn as ``sample`` draws them: the SFT data
        someone would have had to write.

        Supervised fine-tuning needs the answers written out, so in practice its data is a fixed,
        limited set. RL needs only a checker, and can draw as many fresh prompts as it likes.
        """
        rng = random.Random(seed)
        return [self.sample(rng, out_of_scope, asides=asides) for _ in range(n)]

    # -- evaluation ----------------------------------------------------------------------------
    def eval_sets(self, per_task: int = 100, out_of_scope: int = 200, multi_turn: int = 25) -> dict[str, list[Example]]:
        """The held-out evaluation sets, fixed by the seed (two models are asked the same questions).

        - ``held_out_items``: trained shapes and frames, items never trained in that shape (the
          held-out words; letters and number pairs held out of that shape);
        - ``new_shapes``: the held-out shapes (``Task.held_out``), a third of them in a held-out frame;
        - ``new_frames``: trained shapes in a held-out frame (opener, wrapper, tail or sign-off);
        - ``unseen_number_pairs``: the number tasks on pairs never trained in any shape;
        - ``out_of_scope``: held-out subjects in trained shapes and frames;
        - ``out_of_scope_new_phrasings``: held-out subjects in held-out shapes or frames;
        - ``multi_turn``: ``multi_turn`` questions per task from the first three sets, asked again
          as the 2nd or 3rd turn after small talk, another task or an out-of-scope question.

        None of these prompts is ever drawn for training (tests check it, text against text).
        """
        rng = random.Random(self.seed + 1)
        sets: dict[str, list[Example]] = {"held_out_items": [], "new_shapes": [], "new_frames": []}
        for task in TASKS:
            if task.kind == "word":
                pool = [(p, (w,)) for w in sorted(self.words_eval) for p in range(len(task.phrasings))]
                items = rng.sample(pool, min(per_task, len(pool)))
            else:
                combos = self.held_out_combos[task.name]
                items = rng.sample(combos, min(per_task, len(combos)))
            sets["held_out_items"] += [self.task_example(task, task.phrasings[p], item, rng) for p, item in items]
            for _ in range(per_task):
                item = (rng.choice(self.words_eval),) if task.kind == "word" else rng.choice(self._train_items[task.name])
                sets["new_shapes"].append(self.task_example(task, rng.choice(task.held_out), item, rng,
                                                            held_out_frame=rng.random() < 1 / 3))
                item = (rng.choice(self.words_eval),) if task.kind == "word" else rng.choice(self._train_items[task.name])
                sets["new_frames"].append(self.task_example(task, rng.choice(task.phrasings), item, rng,
                                                            held_out_frame=True))
        sets["unseen_number_pairs"] = self.unseen_number_set()
        sets["out_of_scope"] = self._distinct(lambda: self.out_of_scope_example(rng, training=False), out_of_scope)
        sets["out_of_scope_new_phrasings"] = self._distinct(
            lambda: self.out_of_scope_example(rng, training=False, held_out_shape=rng.random() < 2 / 3,
                                              held_out_frame=rng.random() < 2 / 3), out_of_scope)
        sets["multi_turn"] = self._multi_turn(sets, multi_turn, rng)
        return sets

    @staticmethod
    def _distinct(draw: Callable[[], Example], n: int) -> list[Example]:
        examples: dict[str, Example] = {}
        for _ in range(50 * n):
            if len(examples) >= n:
                break
            example = draw()
            examples.setdefault(example.prompt.lower(), example)
        return list(examples.values())

    def _multi_turn(self, sets: dict[str, list[Example]], per_task: int, rng: random.Random) -> list[Example]:
        """Single-turn questions asked again after one or two earlier exchanges (small talk,
        another task, an out-of-scope question), each answered right."""
        def earlier() -> tuple[str, str]:
            kind = rng.random()
            if kind < 0.4:
                e = self.small_talk_example(rng)
            elif kind < 0.8:
                task = rng.choice(TASKS)
                e = self.task_example(task, *self._shape_and_item(task, rng), rng)
            else:
                e = self.out_of_scope_example(rng)
            return e.prompt, e.answer

        examples = []
        for task in TASKS:
            pool = [e for name in ("held_out_items", "new_shapes", "new_frames") for e in sets[name] if e.task == task.name]
            for e in rng.sample(pool, min(per_task, len(pool))):
                history = tuple(earlier() for _ in range(rng.choice((1, 2))))
                examples.append(Example(e.task, e.prompt, e.answer, history))
        return examples

    def _shape_and_item(self, task: Task, rng: random.Random) -> tuple[Phrasing, tuple]:
        """One of ``Task.phrasings`` and an item never held out of it. The evaluation's earlier turns
        draw these, never the extra shapes, so its sets stay what they were before them."""
        p, item = self._train_item(task, rng)
        return task.phrasings[p], item

    def unseen_number_set(self) -> list[Example]:
        """The number tasks on pairs never used in training in any shape: did it learn the rule?

        Asked plainly ("What is 3 + 4?"), so that the figure is about the numbers alone.
        """
        return [Example(task.name, f"What is {x} + {y}?" if task.name == "add" else
                        f"What is {x} - {y}?" if task.name == "subtract" else f"Which is bigger, {x} or {y}?",
                        task.answer((x, y)))
                for task in TASKS if task.kind == "number"
                for x, y in self.pairs_unseen
                if not (task.name == "subtract" and x < y) and not (task.name == "bigger" and x == y)]

    def facts_text(self, n_lines: int, seed: int = 0, questions: float = 0.35) -> list[str]:
        """The training facts as plain text, for the base model: sentences ("After k comes l.",
        "7 plus 8 is 15.") and, a ``questions`` share, questions followed by their answers, as a web
        page might have them.

        Pretraining puts the knowledge in the weights: a fact costs a dozen characters here, five
        times fewer than in a conversation, so the sums (the hardest to learn) get the most lines.
        SFT then maps the many ways of asking onto them, in the chat format, and teaches when to say
        "I do not know". Nothing held out is written here.
        """
        rng = random.Random(seed)
        # the alphabets, the numbers, the number words and every printable character once (so each has a token id)
        lines = [string.ascii_lowercase, string.ascii_uppercase, " ".join(map(str, range(MAX_NUMBER * 2 + 1))),
                 " ".join(f"{w} is {i}." for i, w in enumerate(NUMBER_WORDS)), string.punctuation]
        while len(lines) < n_lines:
            if rng.random() < questions:
                task = rng.choices(TASKS, TASK_WEIGHTS)[0]
                example = self.task_example(task, *self._training_shape(task, rng), rng)
                lines.append(f"{example.prompt} {example.answer}")
                continue
            task = rng.choices(TASKS, FACT_WEIGHTS)[0]
            p, item = self._train_item(task, rng)
            x, y = (NUMBER_WORDS[n] if rng.random() < 0.15 else str(n) for n in item) if task.kind == "number" else (item[0], "")
            lines.append(rng.choice(task.facts).format(x=x, y=y, a=task.answer(item)))
        return lines
