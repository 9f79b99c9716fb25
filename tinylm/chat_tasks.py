"""Conversations the project writes itself: checkable tasks, small talk, and "I do not know."

A tiny chat model needs three kinds of data, and none of it has to be downloaded:

- **Checkable tasks**, where a program knows the one right answer: the letter after or before a
  letter, a word backwards or in capitals, how many letters a word has, small sums and
  differences, the bigger of two numbers. These are what SFT teaches and what RL rewards.
- **Small talk** (greetings, "who are you?"), so the model can be talked to.
- **Out-of-scope questions** (capitals, prices, weather, multiplication...), answered
  ``I do not know.``: a model this small knows nothing about the world, and should say so
  instead of making something up.

Evaluation is honest only on prompts the model never trained on, so every task splits its
prompts once, with a fixed seed, into train and held out:

- word tasks hold out whole words (a share of ``datasets_cfg/chat_words.txt``); training also
  uses made-up words, so the model learns the rule rather than a list of answers;
- letter and number tasks hold out (phrasing, item) pairs: "What is 13 + 5?" is never trained
  on, but "13 plus 5" may be. A tiny model learns these tables by heart more than it learns the
  rule, so a held-out prompt asks a known fact in a new phrasing. How far the rule itself was
  learned is measured apart: a tenth of the number pairs are never used in any phrasing
  (``unseen_number_set``), and eval-chat reports the accuracy on them separately;
- out-of-scope questions hold out whole subjects (a third of them) and four whole phrasings.

``ChatTasks`` is the whole data set: ``sample(rng)`` draws a training example, ``eval_set()``
lists the held-out ones, ``facts_text()`` writes the training facts as plain sentences for the
base model's pretraining.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable

IDK = "I do not know."  # the reply to anything the model cannot know
WORDS_FILE = Path(__file__).resolve().parent.parent / "datasets_cfg" / "chat_words.txt"


@dataclass(frozen=True)
class Example:
    task: str  # a task name, "small_talk" or "out_of_scope"
    prompt: str  # the user's message
    answer: str  # the reply that counts as correct (exactly)

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


# --- the checkable tasks ---------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    name: str
    templates: tuple[str, ...]  # user phrasings; {x} and {y} are filled from an item
    answer: Callable[[tuple], str]  # item -> the correct reply
    fact: str  # the same knowledge as a plain sentence, for pretraining text
    kind: str  # "letter", "word" or "number": how prompts are held out

    def prompt(self, template: str, item: tuple) -> str:
        return template.format(x=item[0], y=item[1] if len(item) > 1 else "")


def _bigger(item: tuple) -> str:
    return str(max(item))


LETTERS = string.ascii_lowercase + string.ascii_uppercase

TASKS: tuple[Task, ...] = (
    Task("letter_after", ("What letter comes after {x}?", "Which letter follows {x}?",
                          "What comes after {x} in the alphabet?", "Next letter after {x}?"),
         lambda item: chr(ord(item[0]) + 1), "After {x} comes {a}.", "letter"),
    Task("letter_before", ("What letter comes before {x}?", "Which letter is before {x}?",
                           "What comes before {x} in the alphabet?", "Letter before {x}?"),
         lambda item: chr(ord(item[0]) - 1), "Before {x} comes {a}.", "letter"),
    Task("reverse", ("Spell {x} backwards.", "Write {x} backwards.", "Reverse the word {x}.",
                     "What is {x} spelled backwards?"),
         lambda item: item[0][::-1], "{x} backwards is {a}.", "word"),
    Task("count_letters", ("How many letters are in {x}?", "How many letters does {x} have?",
                           "Count the letters in {x}.", "How long is the word {x}?"),
         lambda item: str(len(item[0])), "{x} has {a} letters.", "word"),
    Task("uppercase", ("Write {x} in capital letters.", "Spell {x} in capitals.", "Uppercase {x}.",
                       "What is {x} in upper case?"),
         lambda item: item[0].upper(), "{x} in capitals is {a}.", "word"),
    Task("add", ("What is {x} + {y}?", "What is {x} plus {y}?", "Add {x} and {y}.", "{x} + {y} = ?"),
         lambda item: str(item[0] + item[1]), "{x} + {y} = {a}.", "number"),
    Task("subtract", ("What is {x} - {y}?", "What is {x} minus {y}?", "Subtract {y} from {x}.", "{x} - {y} = ?"),
         lambda item: str(item[0] - item[1]), "{x} - {y} = {a}.", "number"),
    Task("bigger", ("Which is bigger, {x} or {y}?", "Which number is larger: {x} or {y}?",
                    "What is the bigger number, {x} or {y}?", "Is {x} or {y} bigger?"),
         _bigger, "{a} is the bigger of {x} and {y}.", "number"),
)
TASK_NAMES = tuple(t.name for t in TASKS)
# how often each task is drawn for training: the arithmetic and reversing take the most practice
TASK_WEIGHTS = tuple({"add": 2.0, "subtract": 2.0, "reverse": 1.5}.get(t.name, 1.0) for t in TASKS)

# --- small talk: a few fixed exchanges ---------------------------------------------------------
HELLO = "Hello! Ask me about letters, words or small sums."
# replies stay short: with the question and the template they must fit the 128-token context
WHO = "I am tinylm, a tiny language model. I know letters, words and small sums."
CAN = "Letters (after, before), words (backwards, capitals, length) and sums up to 20."
SMALL_TALK: tuple[tuple[tuple[str, ...], str], ...] = (
    (("hi", "Hi!", "hello", "Hello", "Hello!", "hey", "Hey there", "good morning", "Good evening"), HELLO),
    (("who are you?", "Who are you?", "What are you?", "What is your name?", "what's your name?"), WHO),
    (("What can you do?", "what can you do", "help", "Help me", "What do you know?"), CAN),
    (("thanks", "Thanks!", "thank you", "Thank you.", "great, thanks"), "You are welcome!"),
    (("bye", "Bye!", "goodbye", "See you later."), "Goodbye!"),
)

# --- out of scope: questions a tiny model cannot answer ---------------------------------------
OUT_OF_SCOPE_TEMPLATES = (
    "What is the capital of {place}?", "What is the population of {place}?",
    "What will the weather be in {place} tomorrow?", "Who is the president of {place}?",
    "What time is it in {place}?", "How far is {place} from {place2}?", "Who wrote {book}?",
    "When was {person} born?", "Where does {person} live?", "What is the price of {thing}?",
    "Who invented the {thing}?", "How do I cook {food}?", "Is {food} good for me?",
    "What is {x} times {y}?", "What is {x} divided by {y}?", "What is {x} to the power of {y}?",
    "Translate {word} into French.", "What does {word} mean?",
    # held out: never trained on, only asked in evaluation
    "Who painted {book}?", "How old is {person}?", "Why is {food} so expensive in {place}?",
    "What is the best way to get to {place}?",
)
HELD_OUT_TEMPLATES = 4  # the last four phrasings above
FIXED_OUT_OF_SCOPE = ("Why is the sky blue?", "What is the meaning of life?", "Tell me a joke.",
                      "Who will win the next election?", "What is love?", "Write me a poem.",
                      "What is the stock price today?", "Can you see me?")
SUBJECTS = {
    "place": ("France", "Japan", "Brazil", "Kenya", "Canada", "Peru", "Norway", "Egypt", "India", "Chile",
              "Paris", "Tokyo", "Lisbon", "Cairo", "Oslo", "Lima", "Rome", "Berlin", "Madrid", "Seoul",
              "Mexico", "Spain", "Italy", "Ghana", "Nepal", "Cuba", "Iceland", "Vienna", "Dublin", "Sydney"),
    "book": ("Hamlet", "Dracula", "Emma", "Ulysses", "Beloved", "Don Quixote", "Moby Dick", "Macbeth",
             "The Odyssey", "Frankenstein", "Persuasion", "Middlemarch", "Candide", "Faust", "Walden"),
    "person": ("Newton", "Einstein", "Ada Lovelace", "Mozart", "Cleopatra", "Marie Curie", "Gandhi",
               "Picasso", "Darwin", "Shakespeare", "Frida Kahlo", "Turing", "Tesla", "Pele", "Lincoln"),
    "thing": ("telephone", "bicycle", "radio", "printer", "camera", "airplane", "piano", "laptop",
              "rocket", "engine", "microscope", "compass", "umbrella", "zipper", "television"),
    "food": ("rice", "pasta", "soup", "bread", "chocolate", "cheese", "salmon", "tofu", "lentils",
             "pizza", "sushi", "curry", "honey", "coffee", "avocado"),
}

MAX_NUMBER = 20  # numbers in the number tasks are 0..MAX_NUMBER


def _out_of_scope_numbers(rng: random.Random, training: bool) -> tuple[int, int]:
    """Numbers for "x times y": pairs whose sum is a multiple of 5 are kept for evaluation."""
    while True:
        x, y = rng.randint(2, 30), rng.randint(2, 30)
        if ((x + y) % 5 != 0) == training:
            return x, y


def read_words(path: Path = WORDS_FILE) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [w.strip() for w in lines if w.strip() and not w.startswith("#")]


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
    >>> ex.prompt in {e.prompt for e in tasks.eval_set()}
    False
    """

    def __init__(self, seed: int = 0, held_out: float = 0.2, words: list[str] | None = None):
        rng = random.Random(seed)
        self.seed = seed
        self.words_train, self.words_eval = _split(words if words is not None else read_words(), held_out, rng)
        self.eval_words = set(self.words_eval)
        pairs = [(x, y) for x in range(MAX_NUMBER + 1) for y in range(MAX_NUMBER + 1)]
        self.pairs_train, self.pairs_unseen = _split(pairs, 0.1, rng)  # unseen: never in any phrasing
        self.number_train, self.number_eval = _split([(t, p) for t in range(4) for p in self.pairs_train], held_out, rng)
        combos = [(t, c) for t in range(4) for c in LETTERS]
        self.letter_train, self.letter_eval = _split(combos, held_out, rng)
        held = {k: _split(v, 1 / 3, rng) for k, v in SUBJECTS.items()}
        self.subjects_train = {k: v[0] for k, v in held.items()}
        self.subjects_eval = {k: v[1] for k, v in held.items()}

    # -- items ---------------------------------------------------------------------------------
    def _letter_items(self, task: Task, combos) -> list[tuple[int, tuple]]:
        # "after z" and "before a" have no answer: leave them out
        edge = "zZ" if task.name == "letter_after" else "aA"
        return [(t, (c,)) for t, c in combos if c not in edge]

    def _number_items(self, task: Task, combos) -> list[tuple[int, tuple]]:
        if task.name == "subtract":  # no negative answers: the bigger number comes first
            return [(t, (x, y)) for t, (x, y) in combos if x >= y]
        if task.name == "bigger":
            return [(t, (x, y)) for t, (x, y) in combos if x != y]
        return list(combos)

    def _made_up_word(self, rng: random.Random) -> str:
        while True:
            word = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 8)))
            if word not in self.eval_words:
                return word

    def _train_item(self, task: Task, rng: random.Random) -> tuple[str, tuple]:
        """A (template, item) pair from the training side of the split."""
        if task.kind == "word":
            word = rng.choice(self.words_train) if rng.random() < 0.5 else self._made_up_word(rng)
            return rng.choice(task.templates), (word,)
        t, item = rng.choice(self._train_combos[task.name])
        return task.templates[t], item

    @cached_property
    def _train_combos(self) -> dict[str, list]:
        """(template index, item) pairs that training may use, per letter or number task."""
        combos = {t.name: self._letter_items(t, self.letter_train) for t in TASKS if t.kind == "letter"}
        combos.update({t.name: self._number_items(t, self.number_train) for t in TASKS if t.kind == "number"})
        return combos

    # -- drawing examples ----------------------------------------------------------------------
    def task_example(self, task: Task, rng: random.Random) -> Example:
        template, item = self._train_item(task, rng)
        return Example(task.name, task.prompt(template, item), task.answer(item))

    def out_of_scope_example(self, rng: random.Random, subjects: dict | None = None,
                             templates: tuple[str, ...] | None = None) -> Example:
        subjects = subjects or self.subjects_train
        templates = templates or OUT_OF_SCOPE_TEMPLATES[:-HELD_OUT_TEMPLATES]
        training = subjects is self.subjects_train
        if training and rng.random() < 0.1:
            return Example("out_of_scope", rng.choice(FIXED_OUT_OF_SCOPE), IDK)
        template = rng.choice(templates)
        place, place2 = rng.sample(subjects["place"], 2)
        fill = {"place": place, "place2": place2, "book": rng.choice(subjects["book"]),
                "person": rng.choice(subjects["person"]), "thing": rng.choice(subjects["thing"]),
                "food": rng.choice(subjects["food"]),
                "word": rng.choice(self.words_train if training else self.words_eval)}
        fill["x"], fill["y"] = _out_of_scope_numbers(rng, training)
        return Example("out_of_scope", template.format(**fill), IDK)

    def small_talk_example(self, rng: random.Random) -> Example:
        prompts, reply = rng.choice(SMALL_TALK)
        return Example("small_talk", rng.choice(prompts), reply)

    def sample(self, rng: random.Random, out_of_scope: float = 0.2, small_talk: float = 0.05) -> Example:
        """One training example: a checkable task, small talk or an out-of-scope question.

        The user's side is varied the way people type: sometimes all lower case, sometimes
        without the final punctuation. The reply never varies.
        """
        r = rng.random()
        if r < out_of_scope:
            example = self.out_of_scope_example(rng)
        elif r < out_of_scope + small_talk:
            return self.small_talk_example(rng)
        else:
            example = self.task_example(rng.choices(TASKS, TASK_WEIGHTS)[0], rng)
        prompt = example.prompt
        if rng.random() < 0.15 and not example.checkable:
            prompt = prompt.lower()
        if rng.random() < 0.15 and prompt[-1] in "?.":
            prompt = prompt[:-1]
        return Example(example.task, prompt, example.answer)

    def demonstrations(self, n: int, seed: int = 0) -> list[Example]:
        """A fixed set of ``n`` training examples: the SFT data someone would have had to write.

        Supervised fine-tuning needs the answers written out, so in practice its data is a fixed,
        limited set. RL needs only a checker, and can draw as many fresh prompts as it likes.
        """
        rng = random.Random(seed)
        return [self.sample(rng) for _ in range(n)]

    def eval_set(self, per_task: int = 100, out_of_scope: int = 200) -> list[Example]:
        """Held-out prompts: ``per_task`` per checkable task and ``out_of_scope`` questions.

        None of these prompts is ever drawn by ``sample`` (a test checks it). The selection is
        fixed by the seed, so two evaluations of two models ask the same questions.
        """
        rng = random.Random(self.seed + 1)
        examples = []
        for task in TASKS:
            if task.kind == "letter":
                candidates = [(task.templates[t], item) for t, item in self._letter_items(task, self.letter_eval)]
            elif task.kind == "word":
                candidates = [(t, (w,)) for w in sorted(self.words_eval) for t in task.templates]
            else:
                candidates = [(task.templates[t], item) for t, item in self._number_items(task, self.number_eval)]
            picked = rng.sample(candidates, min(per_task, len(candidates)))
            examples += [Example(task.name, task.prompt(t, item), task.answer(item)) for t, item in picked]
        # out of scope: half unseen subjects in trained phrasings, half unseen phrasings
        seen = OUT_OF_SCOPE_TEMPLATES[:-HELD_OUT_TEMPLATES]
        unseen = OUT_OF_SCOPE_TEMPLATES[-HELD_OUT_TEMPLATES:]
        questions = {}
        for attempt in range(50 * out_of_scope):  # the unseen phrasings have fewer distinct questions
            if len(questions) >= out_of_scope:
                break
            templates = unseen if attempt % 2 else seen
            example = self.out_of_scope_example(rng, self.subjects_eval, templates)
            questions.setdefault(example.prompt, example)
        return examples + list(questions.values())

    def unseen_number_set(self) -> list[Example]:
        """The number tasks on pairs never used in training in any phrasing: did it learn the rule?"""
        examples = []
        for task in TASKS:
            if task.kind == "number":
                combos = [(0, p) for p in self.pairs_unseen]  # the first phrasing of each
                examples += [Example(task.name, task.prompt(task.templates[t], item), task.answer(item))
                             for t, item in self._number_items(task, combos)]
        return examples

    def facts_text(self, n_lines: int, seed: int = 0) -> list[str]:
        """The training facts as plain sentences ("After k comes l."), for the base model.

        Pretraining puts the knowledge in the weights; SFT then teaches the chat format and when
        to say "I do not know". Held-out items are never written here either.
        """
        rng = random.Random(seed)
        # the alphabets, the numbers, and every punctuation mark once (so each has a token id)
        lines = [string.ascii_lowercase, string.ascii_uppercase, " ".join(map(str, range(MAX_NUMBER * 2 + 1))),
                 string.punctuation]
        while len(lines) < n_lines:
            task = rng.choice(TASKS)
            template, item = self._train_item(task, rng)
            answer = task.answer(item)
            if rng.random() < 0.3:  # a question and its answer, as a web page might have them
                lines.append(f"{task.prompt(template, item)} {answer}")
            else:
                lines.append(task.fact.format(x=item[0], y=item[1] if len(item) > 1 else "", a=answer))
        return lines
