"""The Messages page in chromium: the list's columns as fields, each contact's message text, and
"preview for contact N" playing a WAV (espeak-ng's words + the stock prompts) in the browser."""

from __future__ import annotations

import secrets

import pytest

from app.config import get_settings
from app.models import Campaign, Contact, ContactList
from tests.messages.sounds_support import make_sounds

pytestmark = pytest.mark.browser

TEMPLATE = {"segments": [{"kind": "tts", "text": "Hello {name}"},
                         {"kind": "say", "field": "amount", "as": "number"}]}


@pytest.fixture
def console(sqlite_db, live_server_factory, tmp_path, monkeypatch):
    from app import create_app
    from app.users import create_user

    monkeypatch.setenv("ASTERISK_SOUNDS_DIR", str(make_sounds(tmp_path / "sounds")))
    get_settings.cache_clear()
    app = create_app({"WTF_CSRF_ENABLED": True, "SECRET_KEY": secrets.token_hex(32)})
    create_user("olivia", "operator", "operator pass 1")
    yield live_server_factory(app)
    get_settings.cache_clear()


def test_the_preview_plays_in_the_browser(console, chromium):
    listed = ContactList.create(name="people", status="ready", columns=["name", "amount"])
    for i, (name, amount) in enumerate([("Maria", "124"), ("Ana", "lots")]):
        Contact.create(contact_list=listed.id, phone=f"+1202555000{i}", position=i + 2,
                       fields={"name": name, "amount": amount})
    campaign = Campaign.create(name="Bills", contact_list=listed.id, message_template=TEMPLATE)
    page = chromium.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{console.url}/admin/messages/?campaign={campaign.id}")
        page.fill("#username", "olivia")
        page.fill("#password", "operator pass 1")
        page.click("button[type=submit]")
        page.goto(f"{console.url}/admin/messages/?campaign={campaign.id}")
        assert page.inner_text("#columns").split(":", 1)[1].split() == ["{name}", "{amount}"]
        rows = page.locator("#contact-messages tbody tr")
        assert rows.nth(0).inner_text().split("\t")[2] == "Hello Maria <number 124>"
        assert "'lots' is not a whole number" in rows.nth(1).inner_text()
        page.fill("#line", "2")
        page.click("#preview-form button[type=submit]")
        # the browser decoded the WAV: "Hello Maria" and four 0.1 s prompts
        page.wait_for_function("document.querySelector('#preview').duration > 0.9")
        assert page.evaluate("document.querySelector('#preview').error") is None
    finally:
        page.close()
