"""The live campaign page in a real browser: the AMD counts appear and follow new verdicts."""

from __future__ import annotations

import secrets

import pytest

from app.models import ACTIVE
from tests.campaign_end_support import call, contact_ids, make_campaign

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def amd_rows(page):
    return [tuple(td.inner_text() for td in tr.query_selector_all("td"))
            for tr in page.query_selector_all("#live-amd tbody tr")]


def test_the_live_page_shows_and_refreshes_the_amd_counts(sqlite_db, chromium,
                                                          live_server_factory):
    from app import create_app
    from app.users import create_user

    app = create_app({"WTF_CSRF_ENABLED": True, "SECRET_KEY": secrets.token_hex(32)})
    create_user("vic", "viewer", "viewer pass 1")
    server = live_server_factory(app)
    campaign = make_campaign(3, state=ACTIVE, amd={"enabled": True, "machine": "message",
                                                   "message_sound": "vm"})
    ids = contact_ids(campaign)
    call(campaign, ids[0], 1, [("answered", 0), ("amd-human", 1), ("hangup", 9)],
         outcome="answered")
    page = chromium.new_page()
    page.set_default_timeout(20_000)
    try:
        page.goto(f"{server.url}/admin/campaign/details/?id={campaign.id}")
        page.fill("#username", "vic")
        page.fill("#password", "viewer pass 1")
        page.click("button[type=submit]")
        page.wait_for_selector("#live-amd")
        assert page.is_visible("#live-amd")
        assert ("humans", "1") in amd_rows(page) and ("machines", "0") in amd_rows(page)
        # a machine gets the voicemail: the next refresh (every 2 s) shows it
        call(campaign, ids[1], 1, [("answered", 0), ("amd-machine", 2), ("vm-left", 9),
                                   ("hangup", 10)], outcome="machine-message")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#live-amd tr')]"
            ".some(tr => tr.innerText.replace(/\\s+/g, ' ').trim() === 'messages left 1')")
        assert ("machines", "1") in amd_rows(page) and ("not sure", "0") in amd_rows(page)
    finally:
        page.close()
