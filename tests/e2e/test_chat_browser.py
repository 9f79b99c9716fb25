"""The Chat tab in headless Chromium: a two-turn chat in the real app (``app.demo``), the way a
visitor types it, then the token view of the conversation.

With the shipped chat model (``tinylm/pretrained/chat``) the second answer must be right; until
that model exists, an untrained stand-in answers (noise, but two replies all the same). Needs
Debian's Chromium and pip's playwright (never ``playwright install``); skips without them.
Screenshots go to /tmp/screens/ for a human to look at.
"""

import copy
import string
from pathlib import Path

import pytest

from tinylm.pretrained import list_pretrained

pytestmark = pytest.mark.browser

SCREENS = Path("/tmp/screens")
SHIPPED = "chat" in list_pretrained()


def stand_in():
    """An untrained one-layer GPT on the printable characters, for when no chat model ships yet."""
    import torch

    from tinylm.checkpoint import Checkpoint
    from tinylm.models import build_model
    from tinylm.tokenizer import CharTokenizer

    torch.manual_seed(0)
    tok = CharTokenizer.from_corpus(string.printable)
    model = build_model("gpt", vocab_size=tok.vocab_size, block_size=128, n_layer=1, n_head=2, n_embd=16)
    return Checkpoint(model, tok, {"name": "tiny-chat"})


@pytest.fixture(scope="module")
def page(open_page, serve):
    import app
    from tinylm_app import chat_tab

    with pytest.MonkeyPatch.context() as patch:
        if not SHIPPED:
            model = stand_in()
            patch.setattr(chat_tab, "load_pretrained", lambda name: copy.deepcopy(model))
        page = open_page(serve(app.demo))
        yield page
        page.close()


def send(page, text: str, messages: int) -> None:
    """Type a message, press Enter, and wait until the token view shows the whole conversation."""
    box = page.locator("#chat-message textarea")
    box.fill(text)
    box.press("Enter")
    page.wait_for_function(f"() => document.querySelector('#chat-tokens').innerText.includes('{messages} messages')")


def test_a_two_turn_chat(page):
    page.get_by_role("tab", name="Chat").click()
    send(page, "hi", messages=2)
    send(page, "Spell horse backwards.", messages=4)
    bot = page.locator('#chat-bot [data-testid="bot"]')
    user = page.locator('#chat-bot [data-testid="user"]')
    assert [user.nth(i).inner_text().strip() for i in range(user.count())] == ["hi", "Spell horse backwards."]
    replies = [bot.nth(i).inner_text().strip() for i in range(bot.count())]
    assert len(replies) == 2 and all(replies), replies
    if SHIPPED:
        assert replies[1] == "esroh"
    assert page.locator("#chat-message textarea").input_value() == ""  # the box is ready for the next one
    # the token view: the template's special tokens, and the assistant's tokens marked as trained on
    assert page.locator("#chat-tokens .chat-tokens .t.special").count() == 4 * 3  # start, sep, end for each message
    assert page.locator("#chat-tokens .chat-tokens .t.trained").count() >= 2 + 2  # each reply's tokens and its <|im_end|>
    assert page.locator("#chat-tokens .chat-tokens .t.user").first.inner_text() == "h"
    page.screenshot(path=str(SCREENS / "chat.png"), full_page=True)


def test_an_empty_message_is_refused_with_a_message(page):
    page.get_by_role("tab", name="Chat").click()
    page.get_by_role("button", name="Send", exact=True).click()
    page.get_by_text("Type a message first").first.wait_for()
    assert page.locator('#chat-bot [data-testid="bot"]').count() == 2  # the chat is as it was


def test_an_example_question_then_new_chat(page):
    page.get_by_role("tab", name="Chat").click()
    page.get_by_role("button", name="New chat").click()  # start clean, whatever ran before
    page.wait_for_function("() => !document.querySelector('#chat-bot [data-testid=\"bot\"]')")
    page.get_by_text("What is 2+2?", exact=True).click()  # the numbers row puts it in the box
    page.wait_for_function("() => document.querySelector('#chat-message textarea').value === 'What is 2+2?'")
    page.locator("#chat-message textarea").press("Enter")
    page.wait_for_function("() => document.querySelector('#chat-tokens').innerText.includes('2 messages')")
    if SHIPPED:
        assert page.locator('#chat-bot [data-testid="bot"]').first.inner_text().strip() == "4"
        assert "worded as it never saw them" in page.locator("#chat-scores").inner_text()  # the shipped scores
    page.get_by_role("button", name="New chat").click()
    page.wait_for_function("() => !document.querySelector('#chat-bot [data-testid=\"bot\"]')")
    assert page.locator("#chat-tokens").inner_text().strip() != ""  # the empty view's hint, not the old chat
    assert "What is 2+2?" not in page.locator("#chat-tokens").inner_text()
