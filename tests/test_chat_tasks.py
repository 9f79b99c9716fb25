"""The chat data: answers, the phrasing grammar, and the splits. No held-out wording, word or
number pair may ever reach a training batch: not SFT's, not RL's, not the base model's text.

The leak checks read the generated *text* (a held-out shape or frame part is searched for in every
training prompt, a held-out word in every training line) and, where text cannot tell (which
shape a prompt came from), record what the generator was asked to write.
"""

import random
import re

import pytest

from tinylm import chat_tasks
from tinylm.chat_tasks import ASIDE_GRAMMAR_WORDS, ASIDES_FILE, OUT_OF_SCOPE_SHARE, ChatTasks
from tinylm.chat_wordings import (
    BLIND_SHAPES,
    EXTRA_SHAPES,
    GRAMMAR_WORDS,
    IDK,
    MAX_NUMBER,
    NUMBER_WORDS,
    OUT_OF_SCOPE,
    OUT_OF_SCOPE_HELD_OUT,
    SMALL_TALK,
    TASK_NAMES,
    TASKS,
)
from tinylm.phrasing import FORMS, HELD_OUT_FRAMES, TRAINED_FRAMES, expand, squeeze, typo, variants
from tinylm.rl import rl_prompts

BY_NAME = {t.name: t for t in TASKS}
NUMBER = r"(?P<{}>\d+|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")\b"  # "sixteen" before "six"


@pytest.fixture(scope="module")
def tasks():
    """With the blind shapes too: the leak checks then cover every shape a training stage can draw."""
    return ChatTasks(blind_shapes=True)


@pytest.fixture(scope="module")
def training_text(tasks):
    """Everything a training stage reads, lower-cased: SFT's demonstrations, RL's prompts (with
    their earlier turns) and the base model's pretraining lines."""
    rng = random.Random(0)
    examples = tasks.demonstrations(6000) + rl_prompts(tasks, 3000, rng)
    lines = [e.prompt for e in examples] + [q for e in examples for q, _ in e.history] + tasks.facts_text(6000)
    return examples, "\n".join(lines).lower()


def shape_regex(pattern: str) -> re.Pattern:
    """Every expansion of a shape as one regex: an item slot matches a (quoted) word or number,
    an out-of-scope subject slot any text."""
    alternatives = []
    for v in variants(pattern.lower()):
        v = re.escape(v)
        v = re.sub(r"\\\{[xy]\\\}", r"['\"]?\\w+['\"]?", v)
        alternatives.append(re.sub(r"\\\{\w+\\\}", r".+?", v))
    return re.compile(r"\b(?:" + "|".join(alternatives) + ")")


def frame_parts(frames):
    wrappers = [w for questions, statements in frames.wrappers.values() for w in (*questions, *statements)]
    return [p for p in (*frames.openers, *wrappers, *frames.tails, *frames.sign_offs) if p.strip()]


# --- answers and the grammar -------------------------------------------------------------------
def test_answers_are_right():
    assert BY_NAME["reverse"].answer(("horse",)) == "esroh"
    assert BY_NAME["count_letters"].answer(("elephant",)) == "8"
    assert BY_NAME["letter_after"].answer(("k",)) == "l"
    assert BY_NAME["letter_before"].answer(("K",)) == "J"
    assert BY_NAME["add"].answer((13, 5)) == "18"
    assert BY_NAME["subtract"].answer((13, 5)) == "8"
    assert BY_NAME["bigger"].answer((3, 15)) == "15"
    assert BY_NAME["uppercase"].answer(("horse",)) == "HORSE"


def test_grammar_expands_every_alternative():
    assert sorted(variants("what [letter |]comes after {x}")) == ["what comes after {x}", "what letter comes after {x}"]
    rng = random.Random(0)
    assert {expand("[a|b|c]", rng) for _ in range(100)} == {"a", "b", "c"}


def test_every_task_has_many_trained_shapes_in_every_form_and_held_out_ones():
    for task in TASKS:
        assert sum(len(variants(p.pattern)) for p in task.phrasings) >= 25, task.name
        assert {p.form for p in task.phrasings} == set(FORMS), task.name
        assert len(task.held_out) >= 4, task.name
        for p in (*task.phrasings, *task.held_out):
            assert set(re.findall(r"\{(\w+)\}", p.pattern)) == ({"x"} if task.kind != "number" else {"x", "y"}), p
    assert len(OUT_OF_SCOPE) >= 60 and len(OUT_OF_SCOPE_HELD_OUT) >= 10


def test_typos_and_squeezing_leave_the_item_alone():
    rng = random.Random(0)
    for _ in range(200):
        assert "{x}" in typo("please spell {x} backwards", rng)
    assert squeeze("what is 2 + 2") == "what is 2+2"
    assert squeeze("add 2 and 3") == "add 2 and 3"


def test_the_answer_follows_the_item_as_written(tasks):
    rng = random.Random(2)
    for _ in range(500):
        e = tasks.sample(rng)
        if e.task == "reverse":  # the reversed answer is the word in the prompt, untouched by noise
            assert e.answer[::-1] in e.prompt
        elif e.task == "uppercase":
            assert re.search(re.escape(e.answer), e.prompt, re.IGNORECASE)
        elif e.task in ("letter_after", "letter_before"):
            step = -1 if e.task == "letter_after" else 1
            assert re.search(rf"(^|[^a-zA-Z]){chr(ord(e.answer) + step)}([^a-zA-Z]|$)", e.prompt), e


def test_questions_come_in_many_frames(tasks):
    rng = random.Random(3)
    prompts = [tasks.sample(rng).prompt for _ in range(3000)]
    lower = [p for p in prompts if p == p.lower() and re.search("[a-z]", p)]
    assert 0.15 < len(lower) / len(prompts) < 0.4  # people type in lower case
    assert any(p.startswith(("Can you", "can you")) for p in prompts) and any(p.endswith("?") for p in prompts)
    assert any(re.search(r"\d[+-]\d", p) for p in prompts)  # "2+2" without spaces
    assert any(re.search(r"\b(" + "|".join(NUMBER_WORDS[1:]) + r")\b", p) for p in prompts)  # "seven plus eight"
    assert any("'" in p or '"' in p for p in prompts)  # quoted items


def test_an_aside_adds_words_of_shakespeare_and_changes_nothing_else(tasks):
    def words(text):
        return set(re.findall(r"[a-z]+", text.lower()))

    shakespeare = words(ASIDES_FILE.read_text(encoding="utf-8"))
    rng = random.Random(5)
    for _ in range(500):
        example = tasks.sample(rng, asides=0)
        aside = tasks.with_aside(example, rng)
        assert (aside.task, aside.answer, aside.history) == (example.task, example.answer, example.history)
        assert example.prompt.rstrip("?!. ") in aside.prompt and len(aside.prompt) > len(example.prompt)
        added = words(aside.prompt) - words(example.prompt)
        assert added <= shakespeare
        assert not added & (tasks.eval_words | (GRAMMAR_WORDS - ASIDE_GRAMMAR_WORDS))  # no item, no task word
        assert aside.prompt.isupper() == example.prompt.isupper()  # in capitals when the question is
    talk = {p.lower().rstrip("?.!") for prompts, _ in SMALL_TALK for p in prompts}
    drawn = [tasks.sample(rng) for _ in range(2000)]  # "hi, my lord" is not the small talk we answer
    assert all(e.prompt.lower().rstrip("?.!") in talk for e in drawn if e.task == "small_talk")


def test_the_extra_and_blind_shapes_and_asides_leave_the_evaluation_sets_alone(monkeypatch):
    """They were added after the sets were fixed: the figures before and after them are comparable."""
    def prompts():
        return {name: [(e.prompt, e.answer, e.history) for e in examples]
                for name, examples in ChatTasks().eval_sets(per_task=20, out_of_scope=40, multi_turn=5).items()}

    now = prompts()
    monkeypatch.setattr(chat_tasks, "EXTRA_SHAPES", {})
    monkeypatch.setattr(chat_tasks, "BLIND_SHAPES", {})
    monkeypatch.setattr(chat_tasks, "ASIDE_SHARE", 0.0)
    assert prompts() == now


# --- the splits never leak -----------------------------------------------------------------------
def word_pairs(pattern: str) -> set[str]:
    """Every two words in a row in any expansion of a shape, an item slot read as the word X and
    the start and end of the shape as the words < and >.

    >>> sorted(word_pairs("what is {x} [+|plus] {y}"))
    ['< what', 'X >', 'X X', 'X plus', 'is X', 'plus X', 'what is']
    """
    pairs = set()
    for v in variants(pattern.lower()):
        words = ["<", *("X" if w in ("{x}", "{y}") else w for w in re.findall(r"\{[xy]\}|[a-z']+", v)), ">"]
        pairs |= {f"{a} {b}" for a, b in zip(words, words[1:])}
    return pairs


def test_the_blind_shapes_are_drawn_only_when_asked_for(monkeypatch):
    asked = []
    original = ChatTasks.task_example
    monkeypatch.setattr(ChatTasks, "task_example", lambda self, task, phrasing, *a, **k: (
        asked.append((task.name, phrasing)), original(self, task, phrasing, *a, **k))[1])
    blind = {(name, p) for name, shapes in BLIND_SHAPES.items() for p in shapes}
    ChatTasks().demonstrations(2000)
    assert asked and not blind & set(asked)
    asked.clear()
    ChatTasks(blind_shapes=True).demonstrations(2000)
    assert len(blind & set(asked)) > 100


def test_the_blind_shapes_share_no_telling_word_pair_with_a_held_out_shape():
    """The rule that kept 134 of the blind writers' 312 shapes: a pair of words of a held-out shape
    that the shapes written before the evaluation sets lack ("is followed", "has how", a shape
    starting with "between") gives the held-out shape away, and no blind shape may use one."""
    first = set().union(*(word_pairs(p.pattern) for t in TASKS for p in t.phrasings))
    telling = set().union(*(word_pairs(p.pattern) for t in TASKS for p in t.held_out)) - first
    assert {"followed by", "has how", "X vs", "make up", "starting from", "< between", "what >"} <= telling
    for name, shapes in BLIND_SHAPES.items():
        assert len(shapes) >= 10, name
        for shape in shapes:
            assert not word_pairs(shape.pattern) & telling, (name, shape.pattern)


def test_held_out_shapes_and_frames_never_reach_any_training_text(training_text):
    _, text = training_text
    for task in TASKS:
        for p in task.held_out:
            match = shape_regex(p.pattern).search(text)
            assert match is None, f"{task.name} held-out shape {p.pattern!r} in training: {match.group()!r}"
    for p in OUT_OF_SCOPE_HELD_OUT:
        match = shape_regex(p.pattern).search(text)
        assert match is None, f"held-out out-of-scope shape {p.pattern!r} in training: {match.group()!r}"
    for part in frame_parts(HELD_OUT_FRAMES):
        assert not re.search(r"(^|\W)" + re.escape(part.strip().lower()), text), part
    # and the trained frames really are in use, so the check above can tell
    assert all(re.search(re.escape(part.strip().lower()), text) for part in frame_parts(TRAINED_FRAMES))


def test_held_out_words_and_number_pairs_never_reach_any_training_text(tasks, training_text):
    examples, text = training_text
    words = set(re.findall(r"[a-z]+", text))
    assert not tasks.eval_words & words  # not in a task, not in an out-of-scope question, not in the base text
    assert len(tasks.pairs_unseen) == 44
    # every number pair a number task is asked about, read back from the text with each trained shape
    unseen = set(tasks.pairs_unseen)
    value = {w: i for i, w in enumerate(NUMBER_WORDS)}
    found = 0
    for e in examples:
        if BY_NAME.get(e.task) is None or BY_NAME[e.task].kind != "number":
            continue
        for shape in BY_NAME[e.task].phrasings:
            for v in variants(shape.pattern):
                regex = re.escape(v.lower()).replace(r"\{x\}", NUMBER.format("x")).replace(r"\{y\}", NUMBER.format("y"))
                match = re.search(regex.replace(r"\ ", r"\ ?"), e.prompt.lower())
                if match:
                    x, y = (int(value.get(match[k], match[k])) for k in "xy")
                    assert (x, y) not in unseen, e
                    found += 1
    assert found > 500
    facts = [re.escape(f.lower()).replace(r"\{x\}", NUMBER.format("x")).replace(r"\{y\}", NUMBER.format("y"))
             .replace(r"\{a\}", r"\d+") for t in TASKS if t.kind == "number" for f in t.facts]
    for line in tasks.facts_text(3000):  # the base text's sums: "13 + 5 = 18.", "seven plus eight is 15."
        for fact in facts:
            if match := re.fullmatch(fact, line.lower()):
                assert (int(value.get(match["x"], match["x"])), int(value.get(match["y"], match["y"]))) not in unseen
                found += 1
    assert found > 1500


def test_training_never_draws_a_held_out_shape_item_or_frame(tasks, monkeypatch):
    """What the generator is asked to write, for every training stage."""
    asked = []
    original = ChatTasks.task_example

    def record(self, task, phrasing, item, rng, held_out_frame=False):
        asked.append((task, phrasing, item, held_out_frame))
        return original(self, task, phrasing, item, rng, held_out_frame)

    monkeypatch.setattr(ChatTasks, "task_example", record)
    rng = random.Random(1)
    tasks.demonstrations(3000)
    rl_prompts(tasks, 2000, rng)
    tasks.facts_text(3000)
    assert len(asked) > 5000
    held_out_combos = {(t, tuple(item)) for t, combos in tasks.held_out_combos.items() for item in combos}
    extra = 0
    for task, phrasing, item, held_out_frame in asked:
        later = EXTRA_SHAPES[task.name] + BLIND_SHAPES[task.name]
        assert (phrasing in task.phrasings or phrasing in later) and not held_out_frame
        extra += phrasing in later
        if task.kind == "word":
            assert item[0] not in tasks.eval_words
        else:
            if phrasing in task.phrasings:
                assert (task.name, (task.phrasings.index(phrasing), item)) not in held_out_combos
            assert item not in tasks.pairs_unseen
    assert 0.45 < extra / len(asked) < 0.75  # the extra and blind shapes are drawn about as often as the others


def test_no_evaluation_prompt_is_a_training_prompt(tasks, training_text):
    examples, _ = training_text

    def key(e):  # the case of a letter matters ("after q" is r, "after Q" is R), of anything else not
        return e.prompt if e.task in ("letter_after", "letter_before") else e.prompt.lower()

    trained = {key(e) for e in examples}
    sets = tasks.eval_sets()
    for name, held_out in sets.items():
        if name not in ("unseen_number_pairs", "multi_turn"):  # those two are checked by their numbers and above
            assert not [e.prompt for e in held_out if key(e) in trained], name


def test_evaluation_sets_are_what_they_say(tasks):
    sets = tasks.eval_sets(per_task=30, out_of_scope=40, multi_turn=5)
    for name in ("held_out_items", "new_shapes", "new_frames"):
        assert [e.task for e in sets[name]].count("add") == 30 and {e.task for e in sets[name]} == set(TASK_NAMES)
    # each new shape is one of its task's held-out shapes (a typo now and then hides it from a regex)
    shaped = [any(shape_regex(p.pattern).search(e.prompt.lower()) for p in BY_NAME[e.task].held_out)
              for e in sets["new_shapes"]]
    assert sum(shaped) / len(shaped) > 0.9
    held_out_parts = [p.strip().lower() for p in frame_parts(HELD_OUT_FRAMES)]
    framed = [any(part in e.prompt.lower() for part in held_out_parts) for e in sets["new_frames"]]
    assert sum(framed) / len(framed) > 0.9
    for e in sets["held_out_items"]:
        if BY_NAME[e.task].kind == "word":
            assert any(w in e.prompt.lower() for w in tasks.eval_words), e
    assert all(e.answer == IDK for name in ("out_of_scope", "out_of_scope_new_phrasings") for e in sets[name])
    assert len(sets["out_of_scope"]) == 40 and len({e.prompt for e in sets["out_of_scope"]}) == 40
    assert {len(e.history) for e in sets["multi_turn"]} == {1, 2} and len(sets["multi_turn"]) == 5 * len(TASKS)
    single = {e.prompt for name in ("held_out_items", "new_shapes", "new_frames") for e in sets[name]}
    assert all(e.prompt in single for e in sets["multi_turn"])  # the same questions, asked later on


def test_traps_and_sums_beyond_20_are_out_of_scope(tasks):
    rng = random.Random(4)
    oos = [tasks.out_of_scope_example(rng) for _ in range(3000)]
    assert all(e.answer == IDK for e in oos)
    assert any(re.search(r"\btimes\b", e.prompt) for e in oos)
    numbers = [[int(n) for n in re.findall(r"\d+", e.prompt)] for e in oos]
    assert any(len(ns) == 2 and max(ns) > MAX_NUMBER for ns in numbers)  # "What is 45 + 30?"
    # a number task is only asked about numbers up to 20, with no negative difference
    for _ in range(3000):
        e = tasks.sample(rng)
        if e.task in ("add", "subtract", "bigger"):
            assert 0 <= int(e.answer) <= 2 * MAX_NUMBER


def test_sample_mixes_tasks_small_talk_and_out_of_scope(tasks):
    rng = random.Random(1)
    kinds = [tasks.sample(rng).task for _ in range(3000)]
    assert set(kinds) == {*TASK_NAMES, "small_talk", "out_of_scope"}
    assert abs(kinds.count("out_of_scope") / len(kinds) - OUT_OF_SCOPE_SHARE) < 0.03
    conversations = [tasks.conversation(rng) for _ in range(300)]
    assert {len(c.history) for c in conversations} == {0, 1, 2}
