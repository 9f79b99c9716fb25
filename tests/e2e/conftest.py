"""Shared by the browser tests: Debian's Chromium driven by pip's playwright (never
``playwright install``); every test here skips with a message when either is missing."""

import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


SCREENS = Path("/tmp/screens")  # where the tests leave screenshots for a human to look at


@pytest.fixture(scope="module")
def open_page(browser):
    """``page = open_page(url)``: a new 1400 x 1000 page on ``url`` with a 30 s default timeout."""
    def open_(url: str):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(30_000)
        page.goto(url)
        SCREENS.mkdir(parents=True, exist_ok=True)
        return page
    return open_


@pytest.fixture(scope="module")
def browser():
    executable = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if executable is None:
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium to run the browser test")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright to run the browser test")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
