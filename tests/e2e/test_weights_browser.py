"""The Weights tab in headless Chromium: type a weight into the table and watch the bars move, a bad
value refused with one message, a pasted context redrawn, a connection drawn by clicking two
circles of the network picture, and the tab on a phone (390 x 844).

Serves the tab alone (``weights_tab.build()``), so it runs whether or not app.py composes it yet.
Needs Debian's Chromium and pip's playwright (never ``playwright install``); skips without them.
Screenshots go to /tmp/screens/ for a human to look at.
"""

from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:Cannot display Styler")]

SCREENS = Path("/tmp/screens")
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def url(serve):
    from tinylm_app import weights_tab

    return serve(weights_tab.build())


@pytest.fixture(scope="module")
def page(open_page, url):
    page = open_page(url)
    page.wait_for_selector("#weights-bars .row")
    yield page
    page.close()


def first_bar(page) -> str:
    return page.locator("#weights-bars .row").first.inner_text()


def on_the_alphabet_bigram(page) -> None:
    """A bigram counted from the alphabet data (after "M" comes "N"); each test can run alone."""
    if "alphabet-bigram-counts" not in page.locator("#weights-card").inner_text():
        page.get_by_label("Edit another model").click()
        page.get_by_role("option", name="bigram counted from alphabet").click()
        page.get_by_text("Editing: alphabet-bigram-counts").wait_for()


def test_typing_a_weight_moves_the_bars(page):
    on_the_alphabet_bigram(page)
    page.get_by_role("textbox", name="Context").fill("KLM")
    page.wait_for_function("() => document.querySelector('#weights-bars .row').innerText.startsWith('N')")
    # the current token's row comes first; column 2 is "A" (column 1 is the line break)
    assert page.locator('#weights-table [data-testid="cell-0-0"]').inner_text().strip() == "M"
    cell = page.locator('#weights-table [data-testid="cell-0-2"]')
    cell.dblclick()
    editor = page.locator("#weights-table textarea").first
    editor.fill("25")
    editor.press("Enter")
    page.wait_for_function("() => document.querySelector('#weights-status').innerText.includes('moved most')")
    status = page.locator("#weights-status").inner_text()
    assert "logits[M, A] = 25" in status and "1 weight changed" in status  # the other cells came back rounded
    # the bars are another output of the same event and may render a moment after the status
    page.wait_for_function("() => document.querySelector('#weights-bars .row').innerText.includes('→')")
    bar = first_bar(page)
    assert bar.startswith("A") and "→ 100.0%" in bar  # before → after, on the bar of "A"
    page.screenshot(path=str(SCREENS / "weights.png"), full_page=True)


def test_a_bad_value_is_refused_with_one_message(page):
    cell = page.locator('#weights-table [data-testid="cell-0-3"]')
    before = cell.inner_text()
    cell.dblclick()
    editor = page.locator("#weights-table textarea").first
    editor.fill("lots")
    editor.press("Enter")
    page.get_by_text("must be a number, got 'lots'").first.wait_for()
    # the table shows the weight as it is again (a selected cell also shows its menu button)
    page.wait_for_function(f"() => document.querySelector('#weights-table [data-testid=\"cell-0-3\"]')"
                           f".innerText.trim().split('\\n')[0] === {before.strip()!r}")
    page.wait_for_timeout(1500)  # the browser sends each Enter twice; the second must not warn again
    toasts = page.locator(".toast-body").all_inner_texts()
    assert sum(t.count("must be a number, got 'lots'") for t in toasts) == 1, toasts
    page.locator(".toast-body").first.locator("button").click()  # close it


def test_a_pasted_context_redraws_everything(page):
    """Issue 13: Ctrl+V into Context changed the box but nothing else (only .input was listened to)."""
    on_the_alphabet_bigram(page)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.evaluate("navigator.clipboard.writeText('XY')")
    box = page.get_by_role("textbox", name="Context")
    box.click()
    box.press("Control+A")
    box.press("Control+V")
    assert box.input_value() == "XY"
    page.wait_for_function("() => document.querySelector('#weights-bars .row').innerText.startsWith('Z')")
    assert page.locator("#weights-picture g.node[data-side='in']").first.get_attribute("data-label") == "Y"
    page.wait_for_function("() => document.querySelector('.texts pre').innerText.startsWith('XYZ')")


def test_clicking_two_circles_draws_a_connection(page):
    picture = page.locator("#weights-picture")
    source = picture.locator("g.node[data-side='in']").last
    source.locator("circle").click()
    target = picture.locator("g.node[data-side='out']").nth(2)
    source_label, label = source.get_attribute("data-label"), target.get_attribute("data-label")
    target.locator("circle").click(modifiers=["Control"])  # ctrl+click, as in the seed (a plain click works too)
    page.wait_for_function("() => document.querySelector('#weights-status').innerText.includes('connect')")
    assert f"connect {source_label} → {label} +5" in page.locator("#weights-status").inner_text()  # adds 5
    page.locator("#weights-picture").screenshot(path=str(SCREENS / "weights-picture.png"))


def test_the_tab_is_usable_on_a_phone(browser, url):
    """Issue 13: at 390 x 844 the model card wrapped one word per line and the circles were ~12 px."""
    page = browser.new_page(viewport=PHONE, has_touch=True)
    page.set_default_timeout(30_000)
    try:
        page.goto(url)
        page.wait_for_selector("#weights-bars .row")
        card = page.locator("#weights-card").bounding_box()
        assert card["width"] > 300 and card["height"] < 140, card  # a few lines across the screen, not a column
        circles = page.locator("#weights-picture circle").evaluate_all(
            "cs => cs.map(c => c.getBoundingClientRect().width)")
        assert circles and min(circles) >= 24, circles  # big enough to tap
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing runs off the side
        # the table scrolls sideways under its row labels, which stay in view and readable
        page.locator("#weights-table .virtual-table-viewport").evaluate("v => { v.scrollLeft = 400; }")
        page.wait_for_timeout(300)
        label = page.locator('#weights-table [data-testid="cell-0-0"]').bounding_box()
        table = page.locator("#weights-table .virtual-table-viewport").bounding_box()
        assert label["x"] >= table["x"] - 1 and label["width"] >= 80, (label, table)
        page.screenshot(path=str(SCREENS / "weights-phone.png"), full_page=True)
    finally:
        page.close()
