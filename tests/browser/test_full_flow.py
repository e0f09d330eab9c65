"""The operator's whole day in a real browser, against the real processes.

sign in -> upload a CSV with bad rows and see the rejects -> create a campaign
with options and windows -> activate -> watch the progress bar move while
pbxsim answers -> the campaign closes -> download the CSV report.

Processes: pbxsim, the AGI daemon, a dialer worker, a lifecycle worker
(drain, finalize, default) and the periodiq scheduler, all on free ports and
the session's RabbitMQ vhost; the back office runs in this process.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import csv
import secrets
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from app.config import get_settings
from app.models import Campaign, ContactList
from app.pbx.ami import reset_ami
from tests.tasks.stack import Stack
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(420)]

TASK_MODULES = ["tasks", "tasks.dialing", "tasks.draining", "tasks.finalizing",
                "tasks.schedules", "tasks.importing"]
# pbxsim's lastdigit callee: 0-3 answer and press 1-4, 4/8/9 answer without a
# digit, 5 busy, 6 no answer, 7 congestion (the last three are retried)
GOOD = [f"+1 202-555-01{i:02d}" for i in range(10)]
BAD = [("Short", "12"), ("Words", "call me maybe"), ("Dup", "+1 (202) 555-0100")]


def contacts_csv(path):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "phone", "city"])
        for i, phone in enumerate(GOOD):
            writer.writerow([f"Person {i}", phone, "Washington"])
            if i == 4:
                for name, bad in BAD:
                    writer.writerow([name, bad, "Nowhere"])
    return path


def daytime_zone(now):
    """A zone where it is mid-day now, so the run never straddles local midnight."""
    for name in ("UTC", "Asia/Tokyo", "America/New_York", "Europe/Paris", "Pacific/Auckland"):
        if 3 <= now.astimezone(ZoneInfo(name)).hour <= 20:
            return name
    return "UTC"


@pytest.fixture
def stack(sqlite_db, broker, tmp_path, monkeypatch):
    env = {"DIAL_TICK_MS": "200", "AMI_TIMEOUT": "3", "METRICS_PORT": "0",
           "EXPORT_DIR": str(tmp_path / "exports"), "MEDIA_DIR": str(tmp_path / "media"),
           "DIALPLAN_PATH": str(tmp_path / "asterisk" / "callcast.conf")}
    s = Stack(tmp_path, env)
    try:
        s.start_agi()
        # slow enough that a 2 s refresh sees the bar part-way
        s.start_pbxsim(speed=4.0)
        for key in ("AGI_PORT", "AMI_PORT", *env):
            monkeypatch.setenv(key, s.env[key])
        get_settings.cache_clear()
        reset_ami()  # an earlier test may have built the shared client for another port
        s.start_dialer(threads=4)
        modules = TASK_MODULES
        s._spawn("lifecycle", [str(sys_bin("dramatiq")), *modules, "-Q", "drain", "finalize",
                               "default", "--processes", "1", "--threads", "4"], s.env)
        s._spawn("scheduler", [str(sys_bin("periodiq")), *modules], s.env)
        yield s
    finally:
        print(s.logs())  # shown when the test fails
        s.close()
        get_settings.cache_clear()
        reset_ami()


def sys_bin(name):
    from pathlib import Path

    return Path(sys.executable).parent / name


@pytest.fixture
def console(stack, live_server_factory):
    from app import create_app
    from app.users import create_user

    # a production-like app: CSRF on, not TESTING, so it needs a real secret
    app = create_app({"WTF_CSRF_ENABLED": True, "SECRET_KEY": secrets.token_hex(32)})
    create_user("olivia", "operator", "operator pass 1")
    server = live_server_factory(app)
    yield server


def test_it_runs_a_whole_campaign_from_the_browser(console, chromium, stack, artifacts, tmp_path):
    for old in artifacts.glob("*.png"):
        old.unlink()
    page = chromium.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.set_default_timeout(20_000)
    messages = []
    page.on("console", lambda msg: messages.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    base = console.url
    try:
        run_flow(page, base, stack, artifacts, tmp_path)
    except Exception:
        page.screenshot(path=str(artifacts / "failure.png"), full_page=True)
        print("browser console:", *messages, sep="\n  ")
        print("campaigns in the database:", list(Campaign.select(Campaign.id, Campaign.state).tuples()))
        raise
    finally:
        page.close()


def run_flow(page, base, stack, artifacts, tmp_path):

    # --- sign in (any URL leads to the sign-in page first)
    page.goto(f"{base}/admin/campaign/")
    assert "/login" in page.url
    page.fill("#username", "olivia")
    page.fill("#password", "operator pass 1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/campaign/")
    assert "olivia (operator)" in page.inner_text("#signed-in-as")

    # --- upload the contact list, bad rows included
    page.goto(f"{base}/admin/contactlist/upload/")
    page.fill("#name", "Browser list")
    page.fill("#country", "US")
    page.set_input_files("#file", str(contacts_csv(tmp_path / "people.csv")))
    page.click("#upload-preview")
    page.wait_for_selector("#detected")
    assert page.inner_text("#detected-delimiter") == "comma"
    assert page.input_value("#phone_column") == "phone"
    page.click("#upload-import")
    page.wait_for_selector("#rejects")
    assert page.inner_text("#rows-imported") == "10"
    assert page.inner_text("#rows-rejected") == "2"
    assert page.inner_text("#rows-duplicate") == "1"
    rejects = page.inner_text("#rejects")
    assert "too short" in rejects and "call me maybe" in rejects
    page.screenshot(path=str(artifacts / "01-contact-list-rejects.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#rejects-download")
    rejects_csv = download.value.path().read_text(encoding="utf-8-sig")
    assert "call me maybe" in rejects_csv
    contact_list = ContactList.get(ContactList.name == "Browser list")

    # --- create the campaign with two options and an all-day window for today
    now = datetime.now(timezone.utc)
    zone = daytime_zone(now)
    weekday = now.astimezone(ZoneInfo(zone)).weekday()
    page.goto(f"{base}/admin/campaign/new/")
    page.fill("#name", "Browser campaign")
    page.select_option("#timezone", zone)
    page.select_option("#contact_list", str(contact_list.id))
    for field, value in {"max_channels": "2", "max_attempts": "2", "retry_busy_s": "1",
                         "retry_noanswer_s": "1", "retry_failed_s": "1", "ring_timeout_s": "10",
                         "max_call_s": "60", "digit_timeout_s": "2", "message_repeats": "1"}.items():
        page.fill(f"#{field}", value)
    page.select_option("#message_sound", "hello-world")
    for digit, label in (("1", "Confirm"), ("2", "Cancel")):
        page.click("#options-button")
        entry = page.locator("#options .inline-field-list > .inline-field").last
        entry.locator("select[name$='-digit']").select_option(digit)
        entry.locator("input[name$='-label']").fill(label)
    for day in (weekday, (weekday + 1) % 7):
        page.click("#windows-button")
        entry = page.locator("#windows .inline-field-list > .inline-field").last
        entry.locator("select[name$='-weekday']").select_option(str(day))
        entry.locator("input[name$='-starts']").fill("00:00")
        entry.locator("input[name$='-ends']").fill("00:00")
    page.screenshot(path=str(artifacts / "02-campaign-form.png"), full_page=True)
    page.click("form.admin-form input[type=submit][value='Save'], form.admin-form button[type=submit]")
    page.wait_for_url(f"{base}/admin/campaign/")
    campaign = Campaign.get(Campaign.name == "Browser campaign")
    assert campaign.options.count() == 2 and campaign.windows.count() == 2

    # --- activate from the campaign page and watch it run
    page.click("text=Browser campaign")
    page.wait_for_selector("#op-activate")
    page.click("#op-activate")
    page.wait_for_selector("#op-pause")  # the page came back with the running campaign's buttons
    assert "Activate: done." in page.inner_text("body")

    def bar():
        return float(page.get_attribute("#live-bar", "aria-valuenow") or 0)

    # the page refreshes itself (no reload): record the bar until every contact is final
    seen = []

    def watch():
        value = bar()
        if not seen or seen[-1] != value:
            seen.append(value)
            if 0 < value < 100 and not (artifacts / "03-campaign-live.png").exists():
                page.screenshot(path=str(artifacts / "03-campaign-live.png"), full_page=True)
        return value == 100.0 or page.inner_text("#live-state") == "CLOSED"

    wait_until(watch, 150, "every contact to be final", interval=0.2)
    assert any(0 < v < 100 for v in seen), f"the bar never showed a value between 0 and 100: {seen}"
    assert seen == sorted(seen), f"the bar went backwards: {seen}"
    assert page.inner_text("#live-final") == "10"

    # --- the lifecycle drains and closes it; the page reloads itself with the report
    page.wait_for_selector("#report-download", timeout=200_000)
    assert Campaign.get_by_id(campaign.id).state == "CLOSED"
    assert page.inner_text("#live-state") == "CLOSED"
    page.wait_for_selector("#report-charts img")
    page.screenshot(path=str(artifacts / "04-campaign-report.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#report-download")
    report = download.value.path().read_text(encoding="utf-8-sig")
    (artifacts / "campaign-report.csv").write_text(report, encoding="utf-8")
    rows = list(csv.DictReader(report.splitlines()))
    assert len(rows) == 10
