"""What a newcomer trips over, seen in the browser (issue 13): a phone-sized screen, and the training
replay of a model stopped before its first snapshot."""

import pytest

pytestmark = pytest.mark.browser

ERROR_TOAST = ".toast-body.error"


@pytest.fixture(scope="module")
def url(serve):
    import app

    return serve(app.demo)


def test_on_a_phone_every_tab_is_in_view_and_the_intro_is_short(browser, url):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.set_default_timeout(30_000)
    page.goto(url)
    tabs = page.get_by_role("tab")
    tabs.first.wait_for()
    names = [t.inner_text() for t in tabs.all() if t.is_visible()][:7]
    # none behind "…"
    assert names == ["Tokenizers", "Train", "Predict", "Weights", "Inspect", "Forward pass", "Chat"]
    assert page.get_by_role("tab", name="Chat").bounding_box()["y"] < 844 / 2  # the intro leaves room
    assert not page.get_by_text("four tokenizers side by side").is_visible()  # the tab list is folded away
    page.screenshot(path="/tmp/screens/phone.png")
    page.close()


def test_replay_of_a_model_stopped_at_once_says_to_train_longer(open_page, url):
    page = open_page(url)
    page.get_by_role("tab", name="Train").click()
    page.get_by_role("button", name="Train", exact=True).click()
    # the live model is in the session as soon as training starts: stop it at once
    page.locator("text=/Starting|tokens\\/s/").first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Stop", exact=True).first.click()
    page.get_by_text("Stopped after").first.wait_for()
    page.get_by_role("tab", name="Inspect").click()
    page.get_by_role("tab", name="Training replay").click()
    page.wait_for_timeout(1500)
    note = page.locator("text=/Train a little longer|snapshots of this run/").first
    note.wait_for()
    assert page.locator(ERROR_TOAST).count() == 0  # no "Slider minimum must be less than maximum"
    assert not page.get_by_text("trained elsewhere").is_visible()
    page.screenshot(path="/tmp/screens/replay_stopped.png", full_page=True)
    page.close()
