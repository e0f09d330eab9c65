"""Arbitrary numbers, dates and texts through the campaign rules, then the whole life.

Whatever values a client sends, the rules either refuse them with a message that
names the field, or store a campaign that activates against a PBX (pbxsim over
real TCP), ticks, finishes, drains and closes with its report: no value can
overflow a date, stall a tick or keep a campaign from closing.
"""

from __future__ import annotations

from datetime import datetime, time, timezone

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from app import campaigns
from app.campaigns import LIMITS
from app.errors import ValidationError
from app.models import Contact, ContactList
from app.windows import Span
from tests.campaign_life_support import tick_drain_and_close

UTC = timezone.utc
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
BOUNDED = settings(max_examples=25, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# what a refusal may name
FIELDS = (*LIMITS, "starts_at", "ends_at", "name", "caller_id", "timezone", "time zone",
          "retry_on")

numbers = st.one_of(st.integers(-10, 10**7), st.integers(),
                    st.sampled_from([0, 1, 2**31, 2**63, 10**12, 30 * 86400, 30 * 86400 + 1]))
# mostly inside the rules' ranges, so that many examples live the whole life
dates = st.one_of(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.none(),
)


def counts(limit):
    inside = st.integers(limit.low, limit.high)
    return st.one_of(inside, inside, st.sampled_from([limit.low, limit.high]), numbers)


VALUES = st.fixed_dictionaries({}, optional={
    **{name: counts(limit) for name, limit in LIMITS.items()},
    "starts_at": dates,
    "ends_at": dates,
    "name": st.text(max_size=300),
    "caller_id": st.one_of(st.just(""), st.text(max_size=40), st.from_regex(r"\+?[0-9]{1,22}",
                                                                          fullmatch=True)),
    "timezone": st.sampled_from(["UTC", "Pacific/Kiritimati", "America/New_York", "Nowhere/X"]),
})


@pytest.fixture
def pbx(db):
    from dialing_support import SimPbx

    sim = SimPbx()
    yield sim
    sim.close()


@pytest.fixture
def ready_list(db):
    contact_list = ContactList.create(name="ready", status="ready", rows_total=3,
                                      rows_imported=3)
    # busy, no answer, answered: calls of every kind are up when the campaign finishes
    Contact.insert_many([{"contact_list": contact_list.id, "phone": f"+3361234000{d}",
                          "fields": {}, "position": i + 2}
                         for i, d in enumerate((5, 6, 1))]).execute()
    return contact_list


def create(values, contact_list):
    base = {"name": "property campaign", "contact_list": contact_list.id,
            "message_sound": "hello-world", "timezone": "UTC"}
    every_day = [Span(day, time(0), time(0)) for day in range(7)]
    options = [{"digit": "1", "label": "Yes"}]
    return campaigns.create({**base, **values}, NOW, options=options, windows=every_day)


@BOUNDED
@given(values=VALUES)
@example(values={})
@example(values={"retry_busy_s": 30 * 86400, "max_call_s": 86400, "ring_timeout_s": 600,
                 "starts_at": datetime(2000, 1, 2), "ends_at": datetime(2099, 12, 31)})
@example(values={"retry_busy_s": 10**12, "starts_at": datetime(9999, 12, 31)})
def test_it_refuses_naming_the_field_or_the_campaign_ticks_drains_and_closes(
        pbx, ready_list, values):
    try:
        campaign = create(values, ready_list)
    except ValidationError as exc:
        assert any(name in str(exc) for name in FIELDS), str(exc)
        event("refused, naming the field")
        return
    found = campaigns.problems(campaign.id, NOW)
    if found:  # stored but not ready (e.g. its end date is past): activation says why
        assert all(isinstance(p, str) and p for p in found)
        with pytest.raises(ValidationError):
            campaigns.activate(campaign.id, NOW, ami=pbx.ami)
        event("stored, not ready")
        return
    tick_drain_and_close(campaign.id, pbx.ami, NOW, contacts=3)
    event("ticked, drained and closed")
