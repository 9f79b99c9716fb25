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
  bare phrase ("{x} backwards", "the letter after {x}");
- a *frame* around it: an opener ("hey, ", "quick question: "), a wrapper that fits the form
  ("can you ", "please ", "tell me ", "what is "), a tail (" please", " for me") and a sign-off
  (" thanks");
- the item as people write it: ``q``, ``'q'``, ``"tiger"``, ``7`` or ``seven``, ``2+2`` or ``2 + 2``;
- noise: all lower case, sometimes all capitals, missing or doubled punctuation, a typo now and
  then (never in the item itself).

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

``ChatTasks`` is the whole data set: ``sample(rng)`` draws a training example,
``conversation(rng)`` one with earlier turns, ``eval_sets()`` the held-out ones, ``facts_text()``
the training facts as plain sentences for the base model's pretraining.
"""

from __future__ import annotations

import itertools
import random
import re
import string
from dataclasses import dataclass, field
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


# --- the checkable tasks ---------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    name: str
    kind: str  # "letter", "word" or "number": what {x} (and {y}) hold, and how items are held out
    answer: Callable[[tuple], str]  # item -> the correct reply
    facts: tuple[str, ...]  # the same knowledge as plain sentences, for pretraining text
    phrasings: tuple[Phrasing, ...]  # the shapes training uses
    held_out: tuple[Phrasing, ...]  # shapes no stage ever trains on: evaluation only


def _bigger(item: tuple) -> str:
    return str(max(item))


LETTERS = string.ascii_lowercase + string.ascii_uppercase
MAX_NUMBER = 20  # numbers in the number tasks are 0..MAX_NUMBER; beyond, "I do not know."
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty")
_LETTER, _WORD = "[the letter |letter |]{x}", "[the word |]{x}"  # how people point at the item

TASKS: tuple[Task, ...] = (
    Task("letter_after", "letter", lambda item: chr(ord(item[0]) + 1), ("After {x} comes {a}.", "The letter after {x} is {a}.", "{x} then {a}."), phrasings=(
        question(f"what [letter |]comes [after|next after] {_LETTER}[ in the alphabet|]"),
        question(f"which letter [follows|comes after|is after] {_LETTER}"),
        question(f"what is the [next |]letter after {_LETTER}"),
        question(f"what letter is [after|just after|right after] {_LETTER}"),
        question(f"what follows {_LETTER}[ in the alphabet|]"),
        question(f"after {_LETTER}[,|] [what|which letter] comes next"),
        question(f"what's [after|next after] {_LETTER}"),
        phrase(f"[the |][next |]letter after {_LETTER}"),
        phrase(f"the letter [following|that follows] {_LETTER}"),
        phrase(f"[next|the next one] after {_LETTER}"),
        request(f"[tell me|give me|name|say] the letter [after|following] {_LETTER}"),
        request(f"[write|type] the letter that comes after {_LETTER}"),
    ), held_out=(
        question("{x} is followed by [which|what] letter"),
        question(f"in the alphabet, which letter [is right after|comes straight after] {_LETTER}"),
        question(f"if you say the alphabet, what comes after {_LETTER}"),
        question(f"going up the alphabet from {_LETTER}, which letter is next"),
    )),
    Task("letter_before", "letter", lambda item: chr(ord(item[0]) - 1), ("Before {x} comes {a}.", "The letter before {x} is {a}.", "{a} then {x}."), phrasings=(
        question(f"what [letter |]comes before {_LETTER}[ in the alphabet|]"),
        question(f"which letter [precedes|comes before|is before] {_LETTER}"),
        question(f"what is the [previous |]letter before {_LETTER}"),
        question(f"what letter is [before|just before|right before] {_LETTER}"),
        question(f"what precedes {_LETTER}[ in the alphabet|]"),
        question(f"before {_LETTER}[,|] [what|which letter] comes"),
        question(f"what's before {_LETTER}"),
        phrase(f"[the |][previous |]letter before {_LETTER}"),
        phrase(f"the letter [preceding|that comes before] {_LETTER}"),
        phrase(f"[the one|one] before {_LETTER}"),
        request(f"[tell me|give me|name|say] the letter [before|preceding] {_LETTER}"),
        request(f"[write|type] the letter that comes before {_LETTER}"),
    ), held_out=(
        question("{x} is preceded by [which|what] letter"),
        question(f"in the alphabet, which letter [is right before|comes just before] {_LETTER}"),
        question(f"if you say the alphabet, what comes before {_LETTER}"),
        question(f"going down the alphabet from {_LETTER}, which letter is next"),
    )),
    Task("reverse", "word", lambda item: item[0][::-1], ("{x} backwards is {a}.", "{x} reversed is {a}."), phrasings=(
        request(f"[spell|write|say|type] {_WORD} backwards"),
        request(f"reverse {_WORD}"),
        request(f"[spell|write] {_WORD} in reverse[ order|]"),
        request(f"[write|give me|show me] {_WORD} reversed"),
        question(f"what is {_WORD} [spelled |written |]backwards"),
        question(f"how do you [spell|write] {_WORD} backwards"),
        question(f"what do you get [when|if] you reverse {_WORD}"),
        question(f"what is the reverse of {_WORD}"),
        question(f"what's {_WORD} reversed"),
        phrase("{x} backwards"),
        phrase("{x} reversed"),
        phrase(f"the reverse of {_WORD}"),
        phrase(f"{_WORD} spelled backwards"),
    ), held_out=(
        question(f"what does {_WORD} look like [backwards|in reverse]"),
        request(f"reverse the letters [of|in] {_WORD}"),
        question(f"backwards, how is {_WORD} spelled"),
        phrase("{x}, but backwards"),
        request(f"spell {_WORD} starting from the last letter"),
    )),
    Task("count_letters", "word", lambda item: str(len(item[0])), ("{x} has {a} letters.", "The word {x} is {a} letters long."), phrasings=(
        question(f"how many letters [are in|are there in|are inside] {_WORD}"),
        question(f"how many letters does {_WORD} have"),
        question(f"how many [letters|characters] is {_WORD}"),
        question(f"how long is {_WORD}"),
        question(f"what is the length of {_WORD}"),
        question(f"how many characters are in {_WORD}"),
        question(f"how many characters does {_WORD} have"),
        request(f"count the [letters|characters] [in|of] {_WORD}"),
        request(f"[tell me|say] how many letters {_WORD} has"),
        phrase(f"[the |]number of letters in {_WORD}"),
        phrase(f"[the |]length of {_WORD}"),
        phrase(f"letters in {_WORD}"),
        phrase("{x} letter count"),
    ), held_out=(
        request(f"count how many letters {_WORD} [has|contains]"),
        question("{x} has how many letters"),
        question(f"what's the letter count [of|for] {_WORD}"),
        question(f"how many letters make up {_WORD}"),
        question(f"if you spell {_WORD}, how many letters do you write"),
    )),
    Task("uppercase", "word", lambda item: item[0].upper(), ("{x} in capitals is {a}.", "{x} in upper case is {a}."), phrasings=(
        request(f"write {_WORD} in [capital letters|capitals|upper case|uppercase|all caps|caps]"),
        request(f"spell {_WORD} in [capitals|capital letters|upper case]"),
        request(f"uppercase {_WORD}"),
        request(f"make {_WORD} [upper case|uppercase|all caps]"),
        request(f"convert {_WORD} to [upper case|uppercase|capitals|capital letters]"),
        request(f"turn {_WORD} into [capital letters|capitals|upper case]"),
        question(f"what is {_WORD} in [capital letters|capitals|upper case|caps]"),
        question(f"how do you write {_WORD} in [capitals|capital letters|upper case]"),
        question(f"what's {_WORD} in all caps"),
        phrase("{x} in [capitals|capital letters|upper case|all caps]"),
        phrase("{x} uppercase"),
        phrase(f"the upper case [form |version |]of {_WORD}"),
    ), held_out=(
        question(f"what does {_WORD} look like in [capitals|capital letters|upper case]"),
        phrase("{x}, all in [capitals|capital letters]"),
        request(f"put {_WORD} in [capital letters|upper case]"),
        question(f"in capital letters, how would you write {_WORD}"),
        request(f"write {_WORD} using only capital letters"),
    )),
    Task("add", "number", lambda item: str(item[0] + item[1]), ("{x} + {y} = {a}.", "{x} plus {y} is {a}.", "{x}+{y}={a}"), phrasings=(
        question("what is {x} [+|plus] {y}"),
        question("what's {x} [+|plus] {y}"),
        question("how much is {x} [+|plus] {y}"),
        question("what do you get [if|when] you add {x} and {y}"),
        question("what is {x} [+|plus] {y} equal to"),
        phrase("{x} [+|plus] {y}"),
        phrase("{x} + {y} =[ ?|]"),
        phrase("the sum of {x} and {y}"),
        phrase("{x} and {y} added together"),
        request("add {x} and {y}"),
        request("add {x} to {y}"),
        request("[calculate|compute|work out|solve] {x} [+|plus] {y}"),
    ), held_out=(
        question("what is the total of {x} and {y}"),
        question("{x} [plus|+] {y} [makes|equals|is] what"),
        request("sum {x} and {y}"),
        question("how much do {x} and {y} add up to"),
        question("{x} and {y} make how many"),
    )),
    Task("subtract", "number", lambda item: str(item[0] - item[1]), ("{x} - {y} = {a}.", "{x} minus {y} is {a}.", "{x}-{y}={a}"), phrasings=(
        question("what is {x} [-|minus] {y}"),
        question("what's {x} [-|minus] {y}"),
        question("how much is {x} [-|minus] {y}"),
        question("what do you get [if|when] you take {y} [from|away from] {x}"),
        question("what is {x} [-|minus] {y} equal to"),
        phrase("{x} [-|minus] {y}"),
        phrase("{x} - {y} =[ ?|]"),
        phrase("{x} take away {y}"),
        phrase("the difference between {x} and {y}"),
        request("subtract {y} from {x}"),
        request("take {y} away from {x}"),
        request("[calculate|compute|work out|solve] {x} [-|minus] {y}"),
    ), held_out=(
        question("{x} [minus|-] {y} [makes|equals|is] what"),
        question("what's {y} subtracted from {x}"),
        question("how much is left if you take {y} from {x}"),
        phrase("{x} with {y} taken away"),
        request("take away {y} from {x}"),
    )),
    Task("bigger", "number", _bigger, ("{a} is the bigger of {x} and {y}.", "Of {x} and {y}, {a} is bigger."), phrasings=(
        question("which is [bigger|larger|greater], {x} or {y}"),
        question("which number is [bigger|larger|greater][:|,] {x} or {y}"),
        question("what is the [bigger|larger] number, {x} or {y}"),
        question("is {x} or {y} [bigger|larger|greater]"),
        question("which is more, {x} or {y}"),
        question("which of {x} and {y} is [bigger|larger|greater]"),
        request("[pick|choose|give me] the [bigger|larger] number[:|,] {x} or {y}"),
        request("tell me which is [bigger|larger], {x} or {y}"),
        phrase("the [bigger|larger] of {x} and {y}"),
        phrase("[max|maximum] of {x} and {y}"),
        phrase("[bigger|larger] number: {x} or {y}"),
        phrase("{x} or {y}, which is bigger"),
    ), held_out=(
        question("out of {x} and {y}, which [one |]is [greater|bigger]"),
        question("between {x} and {y}, which number is [larger|bigger]"),
        question("{x} and {y}: which is the [bigger|larger] one"),
        phrase("{x} vs {y}: which is [more|bigger]"),
        question("of the two numbers {x} and {y}, which is [bigger|larger]"),
    )),
)
TASK_NAMES = tuple(t.name for t in TASKS)
# how often each task is drawn for training: the arithmetic and reversing take the most practice
TASK_WEIGHTS = tuple({"add": 2.0, "subtract": 2.0, "reverse": 1.5, "count_letters": 1.3}.get(t.name, 1.0) for t in TASKS)
# and how often each is written as a fact for pretraining: the sums are 441 facts each, to learn by heart
FACT_WEIGHTS = tuple({"add": 4.0, "subtract": 4.0, "bigger": 1.5, "reverse": 2.0, "count_letters": 1.5}.get(t.name, 1.0)
                     for t in TASKS)

# --- small talk: a few fixed exchanges ---------------------------------------------------------
HELLO = "Hello! Ask me about letters, words or small sums."
# replies stay short: with the question and the template they must fit the context
WHO = "I am tinylm, a tiny language model. I know letters, words and small sums."
CAN = "Letters (after, before), words (backwards, capitals, length) and sums up to 20."
FINE = "I am fine, thanks! Ask me about letters, words or small sums."
SMALL_TALK: tuple[tuple[tuple[str, ...], str], ...] = (
    (("hi", "Hi!", "hello", "Hello", "Hello!", "hey", "Hey there", "good morning", "Good evening", "hiya",
      "hello there", "Greetings"), HELLO),
    (("who are you?", "Who are you?", "What are you?", "What is your name?", "what's your name?",
      "Are you a robot?", "introduce yourself"), WHO),
    (("What can you do?", "what can you do", "help", "Help me", "What do you know?", "what can I ask you?",
      "What are you good at?"), CAN),
    (("how are you?", "How are you doing?", "how's it going?", "How are you today?"), FINE),
    (("thanks", "Thanks!", "thank you", "Thank you.", "great, thanks", "thanks a lot", "cool, thank you"),
     "You are welcome!"),
    (("bye", "Bye!", "goodbye", "See you later.", "see you", "good night"), "Goodbye!"),
)

# --- out of scope: questions a tiny model cannot answer ---------------------------------------
# Subjects fill the {slots}; a third of each list is held out. The questions come in every form
# the tasks do, so that "I do not know." is about what is asked, never about how.
OUT_OF_SCOPE = (
    question("what is the capital of {place}"), question("what is the population of {place}"),
    question("what's the weather [like |]in {place}[ today| tomorrow|]"),
    question("who is the [president|king|leader|mayor] of {place}"), question("what time is it in {place}"),
    question("how far is {place} from {place2}"), question("who wrote {book}"), question("when was {person} born"),
    question("where did {person} live"), question("what is the price of [a |an |]{thing}"),
    question("who invented the {thing}"), question("how do I [cook|make] {food}"), question("is {food} good for [me|you]"),
    question("what does {word} mean"), question("what rhymes with {word}"), question("what is the opposite of {word}"),
    question("when did {event} [end|start|happen]"), question("how many people live in {place}"),
    question("what language do they speak in {place}"), question("what is {person} famous for"),
    question("how tall [is|was] {person}"), question("where is {place}"), question("what colour is a {animal}"),
    question("how fast can a {animal} run"), question("what does a {animal} eat"),
    question("how many legs does a {animal} have"), question("how many days are in {month}"), question("how many days does {month} have"),
    question("what day is it [today|tomorrow]"), question("what is [your favourite|the best] {category}"),
    question("do you like {food}"), question("which is better, {food} or {food2}"),
    question("which is bigger, {place} or {place2}"), question("which is bigger, a {animal} or a {animal2}"),
    question("is {person} still alive"), question("should I buy a {thing}"), question("why is the sky blue"),
    question("what is the meaning of life"), question("who will win the next election"), question("what is love"),
    question("can you see me"), question("what is the stock price [today|of {thing}s]"),
    question("who won {event}"), question("what happened [in|during] {event}"),
    request("tell me a joke[ about {topic}|]"), request("write [me |]a poem about {topic}"),
    request("tell me a story about {topic}"), request("translate {word} into {language}"),
    request("give me a recipe for {food}"), request("explain how [a|an] {thing} works"), request("describe {place}"),
    request("help me with my homework"), request("recommend a [book|film|song]"), request("sing me a song"),
    request("draw a {animal}"), request("write an email to my [boss|teacher]"), request("summarize {book}"),
    request("tell me about {person}"), request("spell {word} in {language}"),
    phrase("the capital of {place}"), phrase("the population of {place}"), phrase("the weather in {place}"),
    phrase("the author of {book}"), phrase("the price of [a |]{thing}"), phrase("the meaning of {word}"),
    # traps: they look like the tasks, but no task answers them
    question("what is {n} [times|multiplied by|x|*] {m}"), phrase("{n} [times|x|*] {m}"), request("multiply {n} by {m}"),
    question("what is {n} divided by {m}"), phrase("{n} / {m}"), request("divide {n} by {m}"),
    question("what is {n} to the power of {m}"), question("what is the square root of {n}"),
    question("what is {n} squared"), question("what is {n} percent of {m}"), question("what is half of {n}"),
    question("what [number |]comes after {n}"), question("what number is before {n}"),
    question("what comes after {day}"), question("what [month |]comes [after|before] {month}"),
    question("what is the [first|last] letter of {word}"), question("what letter does {word} [start|end] with"),
    request("write {word} in lower case"), question("how many vowels are in {word}"),
    question("how many letters are in the alphabet"), question("is {word} a [noun|verb]"),
    question("how many words are in {book}"), question("which letter is the [vowel|biggest]"),
)
OUT_OF_SCOPE_HELD_OUT = (
    question("what year did {event} [end|begin]"), question("in which country is {place}"),
    question("how much does [a|an] {thing} cost"), question("why do people like {food}"),
    question("where was {person} born"), question("is it going to rain in {place}"),
    request("write a song about {topic}"), question("what should I eat for [dinner|lunch]"),
    request("name a famous {category}"), question("what is {n} multiplied by {m} divided by two"),
    question("{person}: who was that"), request("tell me something about {place}"),
    question("what does [a|an] {thing} do"), question("who is the richest person in {place}"),
    phrase("{n} raised to the power {m}"), question("what's the product of {n} and {m}"),
    question("how many hours are in a {unit}"), question("what comes after {day} in the week"),
)
SUBJECTS = {
    "place": ("France", "Japan", "Brazil", "Kenya", "Canada", "Peru", "Norway", "Egypt", "India", "Chile",
              "Paris", "Tokyo", "Lisbon", "Cairo", "Oslo", "Lima", "Rome", "Berlin", "Madrid", "Seoul",
              "Mexico", "Spain", "Italy", "Ghana", "Nepal", "Cuba", "Iceland", "Vienna", "Dublin", "Sydney",
              "London", "China", "Germany", "Australia", "New York", "Argentina", "Poland", "Greece", "Turkey", "Kyoto"),
    "book": ("Hamlet", "Dracula", "Emma", "Ulysses", "Beloved", "Don Quixote", "Moby Dick", "Macbeth",
             "The Odyssey", "Frankenstein", "Persuasion", "Middlemarch", "Candide", "Faust", "Walden",
             "Harry Potter", "The Hobbit", "War and Peace", "Jane Eyre", "Little Women"),
    "person": ("Newton", "Einstein", "Ada Lovelace", "Mozart", "Cleopatra", "Marie Curie", "Gandhi",
               "Picasso", "Darwin", "Shakespeare", "Frida Kahlo", "Turing", "Tesla", "Pele", "Lincoln",
               "Napoleon", "Beethoven", "Galileo", "Mandela", "Van Gogh"),
    "thing": ("telephone", "bicycle", "radio", "printer", "camera", "airplane", "piano", "laptop",
              "rocket", "engine", "microscope", "compass", "umbrella", "zipper", "television", "car", "phone",
              "fridge", "watch", "computer"),
    "food": ("rice", "pasta", "soup", "bread", "chocolate", "cheese", "salmon", "tofu", "lentils",
             "pizza", "sushi", "curry", "honey", "coffee", "avocado", "pancakes", "salad", "tea"),
    "animal": ("cat", "dog", "horse", "lion", "whale", "spider", "ant", "eagle", "shark", "cow", "snake", "bee",
               "elephant", "mouse", "penguin", "frog"),
    "event": ("World War II", "World War I", "the French Revolution", "the Cold War", "the Olympics",
              "the World Cup", "the moon landing", "the Roman Empire", "the Renaissance", "the Great Depression",
              "the Gold Rush", "the Ice Age", "the Industrial Revolution", "the Civil War", "the last election"),
    "topic": ("the sea", "love", "my cat", "the moon", "winter", "friendship", "robots", "space", "rain", "school"),
    "language": ("French", "Spanish", "German", "Japanese", "Italian", "Chinese", "Russian", "Latin", "Greek"),
    "month": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December"),
    "day": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "category": ("colour", "film", "song", "book", "animal", "food", "sport", "city", "painter", "singer"),
    "unit": ("day", "week", "year", "month"),
}
PAIRED_SUBJECTS = {"place2": "place", "food2": "food", "animal2": "animal"}  # a second, different one


# every word the fixed text of the data uses: never held out as an item
GRAMMAR_WORDS = frozenset(re.findall(r"[a-z]+", " ".join([
    *(p.pattern for t in TASKS for p in (*t.phrasings, *t.held_out)), *(p.pattern for p in (*OUT_OF_SCOPE, *OUT_OF_SCOPE_HELD_OUT)),
    *(s for subjects in SUBJECTS.values() for s in subjects), *(p for prompts, reply in SMALL_TALK for p in (*prompts, reply)),
    *(" ".join((*f.openers, *f.tails, *f.sign_offs, *(w for pair in f.wrappers.values() for ws in pair for w in ws)))
      for f in (TRAINED_FRAMES, HELD_OUT_FRAMES)), *NUMBER_WORDS, *(f for t in TASKS for f in t.facts), IDK]).lower()))


def read_words(path: Path = WORDS_FILE) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [w.strip() for w in lines if w.strip() and not w.startswith("#")]


def _split(items: list, held_out: float, rng: random.Random) -> tuple[list, list]:
    """Shuffle ``items`` with ``rng`` and cut off the held-out share."""
    items = list(items)
    rng.shuffle(items)
    n = int(round(len(items) * held_out))
    return items[n:], items[:n]


def _weighted(rng: random.Random, table) -> str:
    return rng.choices([v for v, _ in table], [w for _, w in table])[0]


# --- noise: how people actually type -----------------------------------------------------------
_SLOT = re.compile(r"(\{[xy]\})")


def _typo(text: str, rng: random.Random) -> str:
    """One typo (two letters swapped, one dropped or doubled) in a word of 4+ letters outside the slots."""
    words = [m for m in re.finditer(r"(?<![{\w])[a-z]{4,}(?![}\w])", text)]
    if not words:
        return text
    m = rng.choice(words)
    w, i = m.group(), rng.randrange(1, len(m.group()) - 1)
    kind = rng.randrange(3)
    w = w[:i] + w[i + 1] + w[i] + w[i + 2:] if kind == 0 else w[:i] + w[i + 1:] if kind == 1 else w[:i] + w[i] + w[i:]
    return text[:m.start()] + w + text[m.end():]


def _outside_slots(text: str, change: Callable[[str], str]) -> str:
    return "".join(part if _SLOT.fullmatch(part) else change(part) for part in _SLOT.split(text))


def _squeeze(text: str) -> str:
    """ "2 + 2" -> "2+2": many people type sums without spaces."""
    return re.sub(r"(\d) ?([+\-*/=x]) ?(?=\d)", r"\1\2", text)


class ChatTasks:
    """Every conversation the chat model is trained and evaluated on, split once by ``seed``.

    >>> tasks = ChatTasks()
    >>> ex = tasks.sample(random.Random(0))
    >>> ex.prompt in {e.prompt for s in tasks.eval_sets().values() for e in s}
    False
    """

    def __init__(self, seed: int = 0, held_out: float = 0.2, words: list[str] | None = None):
        rng = random.Random(seed)
        self.seed = seed
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
            text = _typo(text, rng)
        case = _weighted(rng, (("typed", 70), ("lower", 26), ("upper", 4)))
        text = opener + text
        if case == "upper":
            text = _outside_slots(text, str.upper)
        elif case == "lower":
            text = _outside_slots(text, str.lower)
        text = fill(text, case)
        if case == "typed" and text[:1].islower() and (opener or wrapper or not template.startswith("{")):
            text = text[0].upper() + text[1:]
        text += _weighted(rng, QUESTION_PUNCTUATION if asks else STATEMENT_PUNCTUATION) + sign_off
        if rng.random() < 0.03:
            text = text.replace(" ", "  ", 1)
        return text

    def _quote(self, text: str, rng: random.Random) -> str:
        return _weighted(rng, ((text, 70), (f"'{text}'", 15), (f'"{text}"', 15)))

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
                return _squeeze(text) if rng.random() < 0.35 else text
            x = item[0]  # a letter keeps its case: "after q" and "after Q" are different questions
            if task.kind == "word":
                x = x.upper() if case == "upper" else _weighted(rng, ((x, 86), (x.capitalize(), 10), (x.upper(), 4)))
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
        fill = lambda t, case: _squeeze(t) if rng.random() < 0.35 else t  # noqa: E731
        return Example("out_of_scope", self._write(template, phrasing.form, rng, fill, held_out_frame), IDK)

    def small_talk_example(self, rng: random.Random) -> Example:
        prompts, reply = rng.choice(SMALL_TALK)
        prompt = rng.choice(prompts)
        if rng.random() < 0.2:
            prompt = prompt.lower().rstrip("?.!")
        return Example("small_talk", prompt, reply)

    # -- drawing training examples ------------------------------------------------------------
    def sample(self, rng: random.Random, out_of_scope: float = 0.22, small_talk: float = 0.05) -> Example:
        """One training example: a checkable task, small talk or an out-of-scope question."""
        r = rng.random()
        if r < out_of_scope:
            return self.out_of_scope_example(rng)
        if r < out_of_scope + small_talk:
            return self.small_talk_example(rng)
        task = rng.choices(TASKS, TASK_WEIGHTS)[0]
        p, item = self._train_item(task, rng)
        return self.task_example(task, task.phrasings[p], item, rng)

    def conversation(self, rng: random.Random, max_earlier: int = 2) -> Example:
        """A training example asked after 0 to ``max_earlier`` earlier exchanges (each one a
        training example too, answered right): a question is often not the first thing said."""
        earlier = tuple((e.prompt, e.answer) for e in (self.sample(rng) for _ in range(rng.randint(0, max_earlier))))
        last = self.sample(rng)
        return Example(last.task, last.prompt, last.answer, earlier)

    def demonstrations(self, n: int, seed: int = 0) -> list[Example]:
        """A fixed set of ``n`` training examples: the SFT data someone would have had to write.

        Supervised fine-tuning needs the answers written out, so in practice its data is a fixed,
        limited set. RL needs only a checker, and can draw as many fresh prompts as it likes.
        """
        rng = random.Random(seed)
        return [self.sample(rng) for _ in range(n)]

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
                p, item = self._train_item(task, rng)
                example = self.task_example(task, task.phrasings[p], item, rng)
                lines.append(f"{example.prompt} {example.answer}")
                continue
            task = rng.choices(TASKS, FACT_WEIGHTS)[0]
            p, item = self._train_item(task, rng)
            x, y = (NUMBER_WORDS[n] if rng.random() < 0.15 else str(n) for n in item) if task.kind == "number" else (item[0], "")
            lines.append(rng.choice(task.facts).format(x=x, y=y, a=task.answer(item)))
        return lines
