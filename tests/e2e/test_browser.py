"""End to end: the app served in-process and driven in headless Chromium, the way a visitor uses it.

Needs Debian's Chromium (``apt-get install chromium``) and pip's playwright (never
``playwright install``); skips with a message when either is missing. Screenshots of each tab go
to /tmp/screens/ for a human to look at.
"""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

SCREENS = Path("/tmp/screens")
KINDS = ("split", "gpt2", "bpe", "char")


@pytest.fixture(scope="module")
def page(open_page, serve):
    import app

    page = open_page(serve(app.demo))
    yield page
    page.close()


def column_counts(page) -> dict[str, tuple[int, int]]:
    """Per column: the token count its stats line says, and the token spans it shows."""
    counts = {}
    for kind in KINDS:
        column = page.locator(f"#tokens-{kind}")
        said = int(re.search(r"([\d,]+) tokens", column.inner_text()).group(1).replace(",", ""))
        counts[kind] = (said, column.locator(".tok").count())
    return counts


def test_tokenizers_tab_shows_four_columns(page):
    page.get_by_role("tab", name="Tokenizers").click()
    page.wait_for_selector("#tokens-char .tok")  # the first comparison runs on page load
    text = "Eu gosto de comer maçã com açúcar 🍎"
    page.get_by_label("Text to tokenize").fill(text)
    page.wait_for_function("() => document.querySelector('#tokens-char').innerText.includes('🍎')")
    counts = column_counts(page)
    for kind, (said, shown) in counts.items():
        assert said == shown > 0, f"{kind}: the stats line says {said} tokens, the column shows {shown}"
    assert counts["char"][0] == len(text)
    assert counts["split"][0] == len(text.split())
    assert "unknown" in page.locator("#tokens-split").inner_text()
    page.screenshot(path=str(SCREENS / "tokenizers.png"), full_page=True)


def test_empty_text_warns_instead_of_crashing(page):
    page.get_by_role("tab", name="Tokenizers").click()
    page.get_by_label("Text to tokenize").fill("")
    page.get_by_text("there is no text to tokenize").first.wait_for()
    page.get_by_label("Text to tokenize").fill("hello again")
    page.wait_for_function("() => document.querySelector('#tokens-gpt2 .tok') !== null")


def plot_near(page, label: str):
    """The chart block whose label starts with ``label`` (case-sensitive)."""
    label = page.get_by_text(re.compile("^" + re.escape(label))).first
    return label.locator("xpath=ancestor::div[contains(@class, 'block')][1]")


def progress_step(page) -> int:
    found = re.search(r"step ([\d,]+)", page.locator(".line").first.inner_text())
    return int(found.group(1).replace(",", "")) if found else 0


def test_train_a_tiny_gpt_then_predict(page):
    page.get_by_role("tab", name="Train").click()
    page.get_by_role("combobox", name="Dataset").click()
    page.get_by_role("option", name="alphabet").click()
    page.get_by_role("radio", name="GPT", exact=True).check()
    page.screenshot(path=str(SCREENS / "train.png"), full_page=True)
    page.get_by_role("button", name="Train", exact=True).click()

    page.wait_for_function("() => /step [\\d,]+/.test(document.querySelector('.line').innerText)")
    first = progress_step(page)
    page.wait_for_timeout(2500)  # a few seconds of training: the chart and the step count grow
    assert progress_step(page) > first
    plot_near(page, "Loss:").locator("svg.marks .mark-line path").first.wait_for(state="attached")
    page.screenshot(path=str(SCREENS / "train_running.png"), full_page=True)
    page.get_by_role("button", name="Stop", exact=True).first.click()
    page.wait_for_timeout(1000)
    stopped_at = progress_step(page)
    page.wait_for_timeout(1500)
    assert progress_step(page) == stopped_at, "training went on after Stop"
    page.screenshot(path=str(SCREENS / "train_stopped.png"), full_page=True)

    page.get_by_role("tab", name="Predict").click()
    page.get_by_text("Model: alphabet-char-gpt", exact=True).wait_for()  # the model just trained
    page.get_by_role("textbox", name="Context", exact=True).fill("KLM")
    page.get_by_text("The model reads").first.wait_for()
    bars = plot_near(page, "The next token:").locator("svg.marks .mark-rect path")
    bars.first.wait_for(state="attached")  # attached: a bar of probability ~0 has no height to be visible
    assert bars.count() >= 2  # the likeliest next letter, and the others
    page.wait_for_timeout(500)  # let the bars finish drawing before the screenshot
    page.screenshot(path=str(SCREENS / "predict.png"), full_page=True)
