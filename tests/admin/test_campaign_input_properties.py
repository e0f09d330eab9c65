"""Property: whatever numbers, dates and strings an operator types into the campaign form or
gives ``flask campaign create``, the answer is a clear refusal naming the field (a form
error on a 200 page; exit code 1 and a message) or a campaign whose stored values all lie
within the rules' bounds, never a 500 or a traceback. A stored campaign that the checks
find ready activates on pbxsim (real TCP), ticks, finishes, drains and closes with its
report (issue 13's Must-show)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from app.campaigns import LIMITS, problems
from app.models import (
    OPTION_DIGITS,
    CallWindow,
    Campaign,
    CampaignOption,
    Contact,
    ContactList,
)
from app.windows import EARLIEST, LATEST, campaign_opening
from tests.campaign_life_support import tick_drain_and_close
from tests.dialing_support import SimPbx

from .conftest import flashes
from .test_campaigns import campaign_form

# each stored example that is ready closes for real: finalization draws the report's charts
# (seconds each on a loaded machine), so the 40 examples need more than the default 120 s
pytestmark = pytest.mark.timeout(600)

UTC = timezone.utc
# inside the sample form's dates (December 2026), so a valid campaign can activate
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
BOUNDED = settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# restated here, not imported: the test holds the rules to what the issue asks for
CALLER_ID = re.compile(r'(?:(?:"[^"<>\\]{0,50}"|[^"<>\\]{1,50})\s*)?<\+?\d{1,20}>|\+?\d{1,20}')
TRANSFER_NUMBER = re.compile(r"\+?\d{1,20}")
# what a refusal names: a campaign field, an option, a window or the zone
FIELD_WORDS = ("name", "caller_id", "starts_at", "ends_at", "time zone", "option", "window",
               "retry_on", "message_sound", *LIMITS)

# each field gets values the rules take and values they refuse, so that both a stored
# campaign and every kind of refusal turn up
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)  # Cs: not encodable
words = st.text(st.characters(categories=("L", "N", "Zs", "P")), min_size=1, max_size=40)
whole = st.one_of(st.integers(-5, 4000), st.integers(),
                  st.sampled_from([0, 2**31, 2**63, 10**12, 30 * 86400, 30 * 86400 + 1]))
moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59))
in_range = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30))
numbers = st.from_regex(r"\+?[0-9]{1,20}", fullmatch=True)
caller_ids = st.one_of(numbers, st.builds('"{}" <{}>'.format, words.filter(
    lambda w: not set(w) & set('"<>\\')), numbers), texts, st.integers(0, 10**25).map(str),
    st.builds("{} <+{}>".format, texts, st.integers(0, 10**25)))
targets = st.one_of(numbers, texts, st.sampled_from([
    "Local/s@from-internal-admin", "IAX2/user:secret@198.51.100.7/100", "200@office",
    "PJSIP/desk"]))
zones = st.one_of(st.sampled_from(["UTC", "Pacific/Kiritimati", "America/New_York",
                                   "Mars/Olympus"]), texts)


def form_text(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment:%m-%d %H:%M:%S}"


def counts(low: int, high: int):
    return st.one_of(st.integers(low, high), whole)


FORM_CHANGES = st.fixed_dictionaries({}, optional={
    **{name: st.one_of(counts(*limit.form_range()).map(str),
                       st.sampled_from(["", "1e3", "abc", " 7 "]))
       for name, limit in LIMITS.items()},
    "starts_at": st.one_of(in_range.map(form_text), moments.map(form_text), texts),
    "ends_at": st.one_of(in_range.map(form_text), moments.map(form_text), texts),
    "name": st.one_of(words, texts),
    "caller_id": caller_ids,
    "timezone": zones,
    "options-0-label": st.one_of(words, texts),
    "options-1-target": targets,
    "windows-0-starts": st.one_of(texts, st.sampled_from(["24:00", "23:59:59", "99:99"])),
    "windows-1-weekday": st.one_of(st.integers(0, 6).map(str), whole.map(str), texts),
})
OPTIONS = {
    "--max-channels": "max_channels", "--attempts": "max_attempts",
    "--retry-busy": "retry_busy_s", "--retry-noanswer": "retry_noanswer_s",
    "--retry-failed": "retry_failed_s", "--ring-timeout": "ring_timeout_s",
    "--max-call": "max_call_s", "--weight": "weight",
}
CLI_CHANGES = st.fixed_dictionaries({}, optional={
    **{option: counts(LIMITS[name].low, LIMITS[name].high).map(str)
       for option, name in OPTIONS.items()},
    "--starts": st.one_of(in_range.map(datetime.isoformat), moments.map(datetime.isoformat),
                          texts),
    "--ends": st.one_of(in_range.map(datetime.isoformat), moments.map(datetime.isoformat),
                        texts),
    "--name": st.one_of(words, texts),
    "--caller-id": caller_ids,
    "--timezone": zones,
    "--windows": st.one_of(texts, st.sampled_from(["daily 00:00-24:00", "mon 9-99"])),
    "--option": st.builds("{}={}:transfer:{}".format, st.sampled_from(OPTION_DIGITS + ("x",)),
                          st.one_of(words, texts), targets),
})


@pytest.fixture
def pbx(db):
    sim = SimPbx()
    yield sim
    sim.close()


@pytest.fixture
def ready_list(db):
    contact_list = ContactList.create(name="ready", status="ready", rows_total=3,
                                      rows_imported=3)
    Contact.insert_many([{"contact_list": contact_list.id, "phone": f"+3361234000{i}",
                          "fields": {}, "position": i + 2} for i in range(3)]).execute()
    return contact_list


def newest_id() -> int:
    return Campaign.select(Campaign.id).order_by(Campaign.id.desc()).scalar() or 0


def assert_within_bounds(campaign_id: int) -> None:
    """Every stored value lies within the rules, and the sums the dialer does on them work."""
    stored = Campaign.get_by_id(campaign_id)
    for name, limit in LIMITS.items():
        assert limit.low <= getattr(stored, name) <= limit.high, name
    for name in ("starts_at", "ends_at"):
        value = getattr(stored, name)
        assert value is None or EARLIEST <= value <= LATEST, name
    assert stored.name.strip() and stored.name.isprintable() and len(stored.name) <= 200
    assert not stored.caller_id or CALLER_ID.fullmatch(stored.caller_id), stored.caller_id
    assert stored.caller_id.isprintable()
    for option in CampaignOption.select().where(CampaignOption.campaign == campaign_id):
        assert option.digit in OPTION_DIGITS and option.label.isprintable()
        assert option.action != "transfer" or TRANSFER_NUMBER.fullmatch(option.target)
    for window in CallWindow.select().where(CallWindow.campaign == campaign_id):
        assert 0 <= window.weekday <= 6
    campaign_opening(stored, NOW)  # the window search neither overflows nor runs away
    assert NOW + timedelta(seconds=max(stored.retry_busy_s, stored.retry_noanswer_s,
                                       stored.retry_failed_s, stored.max_call_s)) < LATEST


def closes_when_ready(campaign_id: int, ami) -> bool:
    """When the checks find nothing missing: activate, tick, drain and close; True when it did."""
    if problems(campaign_id, NOW):
        event("stored, not ready")
        return False
    tick_drain_and_close(campaign_id, ami, NOW, contacts=3)
    event("stored, ticked, drained and closed")
    return True


@BOUNDED
@given(changes=FORM_CHANGES)
@example(changes={})  # the sample form as it is: stored, and it closes
@example(changes={"retry_busy_s": "1000000000000", "starts_at": "9999-12-31 00:00:00"})
@example(changes={"caller_id": '"Evil\r\nAction: Originate" <100>',
                  "options-1-target": "Local/s@from-internal-admin"})
def test_the_form_stores_only_bounded_campaigns_or_names_the_problem(
        pbx, ready_list, no_csrf, operator_client, changes):
    before = newest_id()
    data = campaign_form(contact_list=str(ready_list.id), **changes)
    response = operator_client.post("/admin/campaign/new/", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code in (200, 302), page[:500]
    if response.status_code == 302:
        created = newest_id()
        assert created > before
        assert_within_bounds(created)
        if changes == {}:
            assert closes_when_ready(created, pbx.ami)
        else:
            closes_when_ready(created, pbx.ami)
        return
    event("refused")
    assert newest_id() == before  # nothing half-stored
    said = " ".join(flashes(response))
    assert "Failed to create the campaign" not in said  # the catch-all: what nobody checked
    assert said or "invalid-feedback" in page, page[:500]


@BOUNDED
@given(changes=CLI_CHANGES)
@example(changes={})  # the defaults: stored, and it closes
@example(changes={"--retry-busy": "1000000000000", "--starts": "9999-12-31"})
@example(changes={"--caller-id": "x\r\ny <1>", "--option": "1=x:transfer:IAX2/u:p@h/1"})
def test_the_cli_stores_only_bounded_campaigns_or_names_the_problem(app, pbx, ready_list,
                                                                   changes):
    before = newest_id()
    changes = {"--name": "Reminders", "--windows": "daily 00:00-24:00", **changes}
    args = ["campaign", "create", f"--list-id={ready_list.id}", "--message-sound=hello-world",
            *(f"{option}={value}" for option, value in changes.items())]
    result = app.test_cli_runner().invoke(args=args)
    # a traceback is an exception other than the SystemExit of a clean exit
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    if result.exit_code == 0:
        created = newest_id()
        assert created > before
        assert_within_bounds(created)
        assert closes_when_ready(created, pbx.ami) or changes.keys() - {"--name", "--windows"}
        return
    event("refused")
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ")
    assert any(word in result.output for word in FIELD_WORDS), result.output
    assert newest_id() == before
