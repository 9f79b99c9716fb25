"""What the chat model is asked, and how: the checkable tasks with their shapes (trained and held
out), the small talk, and the out-of-scope questions with their subjects.

Data, not logic: ``tinylm.chat_tasks.ChatTasks`` splits and draws from these tables, and
``tinylm.phrasing`` is the grammar their patterns are written in.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Callable

from .phrasing import HELD_OUT_FRAMES, TRAINED_FRAMES, Phrasing, phrase, question, request

IDK = "I do not know."  # the reply to anything the model cannot know

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
# More trained shapes, written after the evaluation sets were fixed: training draws them beside
# ``Task.phrasings``, the evaluation never does (so its sets stay what they were). Whoever wrote
# them had seen the held-out shapes, so they keep to a rule: none uses a held-out shape's telling
# words ("followed by", "look like", "make up", "starting from", "using only", "total", "vs" ...) or
# a held-out frame's ("what would be"), and the numbers keep their order ("add {x} and {y}", never
# "add {y} to {x}", which a trained shape would read as the pair (y, x)).
# The item moves around in them, as it does when people talk ("q, then what?").
EXTRA_SHAPES: dict[str, tuple[Phrasing, ...]] = {
    "letter_after": (
        question(f"{_LETTER}[,|] then what"),
        question(f"{_LETTER}: what comes next"),
        question(f"which letter do you get after {_LETTER}"),
        question(f"what letter [sits|is placed] after {_LETTER}"),
        question(f"what is one letter after {_LETTER}"),
        request(f"name the [next |]letter after {_LETTER}"),
        request(f"[tell me|say] what comes after {_LETTER}"),
        phrase(f"the letter that comes after {_LETTER}"),
        phrase(f"{_LETTER} and then which letter"),
    ),
    "letter_before": (
        question(f"{_LETTER}[,|] and before that"),
        question(f"{_LETTER}: what comes before it"),
        question(f"which letter do you get before {_LETTER}"),
        question(f"what letter [sits|is placed] before {_LETTER}"),
        question(f"what is one letter before {_LETTER}"),
        request(f"name the letter before {_LETTER}"),
        request(f"[tell me|say] what comes before {_LETTER}"),
        phrase(f"the letter that comes before {_LETTER}"),
        phrase(f"which letter comes right before {_LETTER}"),
    ),
    "reverse": (
        request(f"flip {_WORD}[ around|]"),
        request(f"turn {_WORD} around"),
        request(f"read {_WORD} from right to left"),
        request(f"write {_WORD} from the end to the start"),
        question(f"how is {_WORD} spelled backwards"),
        question(f"{_WORD}: how do you spell it backwards"),
        phrase(f"{_WORD} in reverse[ order|]"),
        phrase(f"the backwards spelling of {_WORD}"),
        phrase(f"{_WORD} the other way round"),
    ),
    "count_letters": (
        question(f"{_WORD}: how many letters"),
        question(f"how many letters in {_WORD}"),
        question(f"what number of letters does {_WORD} have"),
        question(f"how many letters would {_WORD} have"),
        request(f"tell me the length of {_WORD}"),
        request(f"give me the number of letters in {_WORD}"),
        question(f"how many letters has {_WORD} got"),
        phrase(f"length of {_WORD} in letters"),
        phrase(f"the size of {_WORD} in letters"),
    ),
    "uppercase": (
        request(f"capitalize {_WORD} [completely|fully|entirely]"),
        request(f"shout {_WORD}"),
        request(f"[type|print] {_WORD} in [caps|capitals|upper case]"),
        request(f"change {_WORD} to [capitals|upper case]"),
        question(f"{_WORD}: how is it written in capitals"),
        question(f"can {_WORD} be written in [capitals|upper case]"),
        phrase(f"{_WORD} [written |]in big letters"),
        phrase(f"the capital letters of {_WORD}"),
    ),
    "add": (
        question("{x} and {y}, what is the sum"),
        question("{x} [+|plus] {y}? what do you get"),
        question("if I add {x} and {y}, what do I get"),
        question("what is the sum of {x} and {y}"),
        request("[tell me|give me] the sum of {x} and {y}"),
        request("do {x} [+|plus] {y}"),
        phrase("{x} [+|plus] {y}, the answer"),
        phrase("adding {x} and {y}"),
    ),
    "subtract": (
        question("{x} [-|minus] {y}? what do you get"),
        question("if I take {y} from {x}, what do I get"),
        question("what is {x} less {y}"),
        question("what is the difference of {x} and {y}"),
        request("[tell me|give me] the difference between {x} and {y}"),
        request("do {x} [-|minus] {y}"),
        phrase("{x} [-|minus] {y}, the answer"),
        phrase("{y} less than {x}"),
    ),
    "bigger": (
        question("{x} or {y}[:|,] which one is [bigger|larger|greater]"),
        question("which wins, {x} or {y}"),
        question("which is greater: {x} or {y}"),
        question("which is the [higher|greater] number, {x} or {y}"),
        request("[tell me|say] the [bigger|larger] of {x} and {y}"),
        question("which one is [bigger|larger] of {x} and {y}"),
        phrase("the [higher|greater] number[:|,] {x} or {y}"),
        phrase("[bigger|larger] one: {x} or {y}"),
    ),
}
# Still more trained shapes, written blind: by two helpers shown only the grammar and the trained
# shapes (the second also the first's), never the held-out ones. They wrote 312; 21 of them were a
# held-out shape word for word ("{x} is followed by which letter", "{x} has how many letters"):
# those are the wordings people reach for first. Kept are the 134 that share no two words in a row
# with a held-out shape, the start and end of a shape counted as words, unless ``Task.phrasings``
# already has them ("is followed", "has how", "< between": tests/test_chat_tasks.py checks it).
BLIND_SHAPES: dict[str, tuple[Phrasing, ...]] = {
    "letter_after": (
        request(f"[name|give] the letter one [step|place|position] past {_LETTER}"),
        phrase(f"the successor of {_LETTER}[ in the alphabet|]"),
        question(f"which letter has {_LETTER} [right |just |]before it"),
        question(f"what letter [is|lies] one place later than {_LETTER}"),
        question(f"which letter is coming after {_LETTER}"),
        phrase(f"one letter later than {_LETTER}"),
        phrase(f"alphabet: {_LETTER}, ___"),
        question(f"what letter stand after {_LETTER}"),
        phrase(f"nxt letter after {_LETTER}"),
        question(f"which letter is {_LETTER}'s [neighbour|neighbor] on the right in the alphabet"),
        question(f"what is the letter that [immediately |directly |]succeeds {_LETTER}"),
        request(f"advance {_LETTER} one spot in the alphabet"),
        phrase(f"whatever comes [right |]after {_LETTER}"),
        request(f"fill in the blank: {_LETTER}, ___"),
        question(f"what's one past {_LETTER}"),
    ),
    "letter_before": (
        request(f"[name|give] the letter one [step|place|position] behind {_LETTER}"),
        phrase(f"the predecessor of {_LETTER}[ in the alphabet|]"),
        question(f"which letter has {_LETTER} [right |just |]after it"),
        question(f"what letter [is|lies] one place earlier than {_LETTER}"),
        question(f"which letter is coming before {_LETTER}"),
        phrase(f"one letter earlier than {_LETTER}"),
        phrase(f"alphabet: ___, {_LETTER}"),
        question(f"what letter do we [have|get] straight before {_LETTER}"),
        question(f"what letter stand before {_LETTER}"),
        question(f"I've got {_LETTER}, [what's|which letter is] the one before it"),
        phrase(f"prev letter b4 {_LETTER}"),
        question(f"which letter is {_LETTER}'s [neighbour|neighbor] on the left in the alphabet"),
        phrase(f"whatever comes [right |]before {_LETTER}"),
        question(f"which letter [shows up|appears] [right |just |]before {_LETTER} in the alphabet"),
        request(f"fill in the blank: ___, {_LETTER}"),
    ),
    "reverse": (
        request(f"write the letters of {_WORD} in [the opposite|backward] order"),
        request(f"start at the end of {_WORD} and spell it to the beginning"),
        question(f"what do you get by flipping the order of the letters in {_WORD}"),
        request(f"invert the [letter |]order of {_WORD}"),
        phrase(f"{_WORD} read back to front"),
        request(f"mirror the spelling of {_WORD}"),
        question(f"what's the backward version of {_WORD}"),
        phrase(f"{_WORD} -> [reversed|backwards]"),
        request(f"list the letters of {_WORD} last to first, as one word"),
        question(f"what is {_WORD} when [flipped|turned] backwards"),
        phrase("reversed: {x}"),
        request(f"spell out {_WORD} from back to front"),
        question(f"what would {_WORD} be if you spelled it the wrong way round"),
        request(f"take {_WORD} and [flip|reverse] the letter order"),
        question(f"what word do you get when {_WORD} is reversed"),
        phrase(f"{_WORD} in the opposite direction"),
        phrase("reverse({x})"),
        phrase(f"{_WORD} flipped [around|backwards]"),
    ),
    "count_letters": (
        phrase(f"{_WORD} -> [number of letters|# of letters]"),
        question(f"{_WORD} is how many letters long"),
        question(f"how much letters has {_WORD}"),
        phrase(f"total letters in {_WORD}"),
        phrase("len({x})"),
        question(f"how many letters does it take to [spell|write] {_WORD}"),
        question(f"{_WORD} consists of how many letters"),
        question(f"how many letters [is|are] {_WORD} made of"),
        question(f"how many letters does {_WORD} contain"),
        request(f"figure out how many letters are in {_WORD}"),
        question(f"how much characters {_WORD} have"),
        question(f"how many keys do you press to type {_WORD}"),
        question(f"what is the number of letters that {_WORD} is spelled with"),
        question(f"what's the length, in letters, of {_WORD}"),
    ),
    "uppercase": (
        phrase(f"{_WORD} -> [UPPERCASE|CAPS|all caps]"),
        request(f"make every letter of {_WORD} [a capital|uppercase]"),
        question(f"what is the all-caps [version|form|spelling] of {_WORD}"),
        request(f"switch {_WORD} over to [upper case|capitals]"),
        request(f"[capitalise|capitalize] every letter [of|in] {_WORD}"),
        question(f"what is {_WORD} when every letter is [capitalized|a capital]"),
        phrase("{x}.upper()"),
        request(f"redo {_WORD} in block capitals"),
        phrase(f"{_WORD} all [upper case|capitalized]"),
        question(f"what is {_WORD} [fully|completely] capitalized"),
        request(f"rewrite {_WORD} so that all its letters are capitals"),
        request(f"give {_WORD} in majuscule letters"),
        question(f"what do you get when {_WORD} is converted to capitals"),
        request(f"swap the lowercase letters of {_WORD} for capitals"),
        question(f"with every letter made [big|capital], what is {_WORD}"),
        request(f"show {_WORD} in [capitals|caps]"),
        phrase(f"caps: {_WORD}"),
        request(f"upcase {_WORD}"),
    ),
    "add": (
        question("what [number|total] do you get [by|from] adding {y} to {x}"),
        question("what number is {y} more than {x}"),
        request("increase {x} by {y}"),
        phrase("{x} increased by {y}"),
        question("i have {x} [apples|coins|sweets] and get {y} more, how many do i have now"),
        question("how much are {x} and {y} together"),
        question("what's {y} added to {x}"),
        question("there are {x} [birds|cats|kids] and {y} more [arrive|show up], how many are there in all"),
        request("add {y} onto {x}"),
        question("how many is {x} [and|plus] {y} altogether"),
        question("how much make {x} and {y} together"),
        question("what is {x} and {y} combined"),
        phrase("{x} + {y} -> ?"),
    ),
    "subtract": (
        request("[reduce|decrease] {x} by {y}"),
        phrase("{x} [reduced|decreased] by {y}"),
        request("deduct {y} from {x}"),
        phrase("{x} after removing {y}"),
        question("starting at {x}, [count|go] down {y}, where do you [land|end up]"),
        question("what remains of {x} [if|when] you subtract {y}"),
        question("how much is {x} without {y}"),
        phrase("result: {x} - {y}"),
        question("{y} plus what [makes|gives|equals] {x}"),
        question("there were {x} birds on a wire and {y} flew away, how many are still there"),
        phrase("{x} - {y} -> ?"),
        request("take {y} off {x}"),
        question("what number is {y} smaller than {x}"),
        request("knock {y} off {x}"),
        phrase("{x} subtract {y}"),
        question("how many more is {x} than {y}"),
        question("by how much does {x} exceed {y}"),
        question("how much is {x} when you make minus {y}"),
        question("{x} - {y} is how much"),
        request("work out how much {x} take away {y} is"),
        question("a bus has {x} passengers and {y} get off, how many are [still on|left on] the bus"),
        question("what is {x} after you subtract {y} from it"),
        question("what's the result of {x} minus {y}"),
    ),
    "bigger": (
        phrase("max({x}, {y})"),
        question("which [number |]has the [higher|greater|larger] value, {x} or {y}"),
        request("compare {x} and {y} and [say|tell me] which is [bigger|larger|greater]"),
        question("which of these two is [bigger|larger]: {x}, {y}"),
        question("which is more [big|large] between {x} and {y}"),
        question("what's the [largest|highest] number among {x} and {y}"),
        request("[pick|select] whichever of {x} and {y} is [bigger|larger|greater]"),
        question("who is bigger, {x} or {y}"),
        request("circle the bigger number: {x}, {y}"),
        question("{x} or {y}, which comes later when [counting|you count] up"),
        phrase("whichever is [bigger|larger], {x} or {y}"),
        question("what's the higher one, {x} or {y}"),
        question("{x}, {y}: which is [bigger|larger]"),
        phrase("bigger({x}, {y})"),
        question("which number is further [right|along] on the number line, {x} or {y}"),
        request("return the max of {x} and {y}"),
        question("which would be [bigger|larger] if you compared {x} and {y}"),
        question("which has more in it, a box of {x} or a box of {y}"),
    ),
}
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


# the words of the extra and the blind shapes: no aside may use them (they are not in GRAMMAR_WORDS, which
# fixed the split of the words before those shapes were written; tests check none of them is held out)
def _shape_words(shapes: dict[str, tuple[Phrasing, ...]]) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z]+", " ".join(p.pattern for ps in shapes.values() for p in ps).lower()))


EXTRA_WORDS = _shape_words(EXTRA_SHAPES)
BLIND_WORDS = _shape_words(BLIND_SHAPES)

# every word the fixed text of the data uses: never held out as an item
GRAMMAR_WORDS = frozenset(re.findall(r"[a-z]+", " ".join([
    *(p.pattern for t in TASKS for p in (*t.phrasings, *t.held_out)), *(p.pattern for p in (*OUT_OF_SCOPE, *OUT_OF_SCOPE_HELD_OUT)),
    *(s for subjects in SUBJECTS.values() for s in subjects), *(p for prompts, reply in SMALL_TALK for p in (*prompts, reply)),
    *(" ".join((*f.openers, *f.tails, *f.sign_offs, *(w for pair in f.wrappers.values() for ws in pair for w in ws)))
      for f in (TRAINED_FRAMES, HELD_OUT_FRAMES)), *NUMBER_WORDS, *(f for t in TASKS for f in t.facts), IDK]).lower()))
