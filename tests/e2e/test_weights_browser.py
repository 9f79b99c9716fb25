"""The Weights tab in headless Chromium: type a weight into the table and watch the bars move,
then draw a connection by clicking two circles of the network picture.

Serves the tab alone (``weights_tab.build()``), so it runs whether or not app.py composes it yet.
Needs Debian's Chromium and pip's playwright (never ``playwright install``); skips without them.
Screenshots go to /tmp/screens/ for a human to look at.
"""

from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore:Cannot display Styler")]

SCREENS = Path("/tmp/screens")


@pytest.fixture(scope="module")
def page(open_page, serve):
    from tinylm_app import weights_tab

    page = open_page(serve(weights_tab.build()))
    page.wait_for_selector("#weights-bars .row")
    yield page
    page.close()


def first_bar(page) -> str:
    return page.locator("#weights-bars .row").first.inner_text()


def test_typing_a_weight_moves_the_bars(page):
    # a bigram counted from the alphabet data: after "M" comes "N"
    page.get_by_label("Edit another model").click()
    page.get_by_role("option", name="bigram counted from alphabet").click()
    page.get_by_text("Editing: alphabet-bigram-counts").wait_for()
    assert first_bar(page).startswith("N")
    # the current token's row comes first; column 2 is "A" (column 1 is the line break)
    assert page.locator('#weights-table [data-testid="cell-0-0"]').inner_text().strip() == "M"
    cell = page.locator('#weights-table [data-testid="cell-0-2"]')
    cell.dblclick()
    editor = page.locator("#weights-table textarea").first
    editor.fill("25")
    editor.press("Enter")
    page.wait_for_function("() => document.querySelector('#weights-status').innerText.includes('moved most')")
    assert "logits[M, A] = 25" in page.locator("#weights-status").inner_text()
    # the bars are another output of the same event and may render a moment after the status
    page.wait_for_function("() => document.querySelector('#weights-bars .row').innerText.includes('→')")
    bar = first_bar(page)
    assert bar.startswith("A") and "→ 100.0%" in bar  # before → after, on the bar of "A"
    page.screenshot(path=str(SCREENS / "weights.png"), full_page=True)


def test_a_bad_value_is_refused_with_a_message(page):
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


def test_clicking_two_circles_draws_a_connection(page):
    picture = page.locator("#weights-picture")
    picture.locator("g.node[data-side='in'] circle").last.click()
    target = picture.locator("g.node[data-side='out']").nth(2)
    label = target.get_attribute("data-label")
    target.locator("circle").click(modifiers=["Control"])  # ctrl+click, as in the seed (a plain click works too)
    page.wait_for_function("() => document.querySelector('#weights-status').innerText.includes('connect')")
    assert f"connect M → {label} at 5" in page.locator("#weights-status").inner_text()
    page.locator("#weights-picture").screenshot(path=str(SCREENS / "weights-picture.png"))
