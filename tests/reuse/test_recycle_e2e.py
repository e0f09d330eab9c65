"""End to end: a campaign dials, finishes, drains, finalizes and closes; it is recycled on
"busy or no answer"; the recycled campaign dials exactly those contacts and closes.

Real RabbitMQ (the session's vhost), a dialer and a lifecycle process, the AGI daemon and
pbxsim (``lastdigit``: numbers ending 5 are busy, 6 do not answer). The scheduler's minute
is driven by the test, as in tests/tasks/test_campaign_end_e2e.py.
"""

from __future__ import annotations

import pytest

from app.campaigns import activation
from app.campaigns.recycling import make_filter, preview, recycle
from app.clock import utcnow
from app.models import CLOSED, Campaign, Contact, ContactList, ContactResult
from tests.dialing_support import make_campaign
from tests.tasks.stack import VENV_BIN, Stack, serving
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(sqlite_db, broker, tmp_path, monkeypatch):
    env = {"DIAL_TICK_MS": "100", "AMI_TIMEOUT": "2", "EXPORT_DIR": str(tmp_path / "exports")}
    s = Stack(tmp_path, env)
    keys = ("AGI_PORT", "AMI_PORT", "DIAL_TICK_MS", "AMI_TIMEOUT", "EXPORT_DIR")

    def start(stack):
        stack.start_agi()
        stack.start_pbxsim(speed=20.0)
        stack.start_dialer()
        stack._spawn("lifecycle", [str(VENV_BIN / "dramatiq"), "tasks.draining",
                                   "tasks.finalizing", "tasks.schedules", "-Q", "drain",
                                   "finalize", "-p", "1", "-t", "2"], stack.env)

    with serving(s, monkeypatch, keys, start):
        yield s


def run_to_close(stack, campaign_id):
    from tasks.dialing import start_dialing
    from tasks.schedules import expire_campaigns

    activation.activate(campaign_id, utcnow(), ami=stack.ami())
    start_dialing(campaign_id)
    wait_until(lambda: Campaign.get_by_id(campaign_id).state == "FINISHED", 60,
               "every contact done", interval=0.2)

    def closed():
        expire_campaigns.send()  # the scheduler's minute
        return Campaign.get_by_id(campaign_id).state == CLOSED

    wait_until(closed, 50, "CLOSED", interval=0.5)


def dialled(stack, campaign):
    return sorted(c["number"][-12:] for c in stack.pbx_stats()["calls"]
                  if c["account"] == campaign.account_code)


def test_a_closed_campaign_recycled_on_busy_or_no_answer_dials_exactly_those(stack):
    phones = [f"+1202555{i:04d}" for i in range(20)]
    first = make_campaign(phones, options="1234", max_channels=10, max_attempts=1,
                          ring_timeout_s=10, max_call_s=30, digit_timeout_s=1, message_repeats=1)
    ContactList.update(columns=["name"]).where(
        ContactList.id == first.contact_list_id).execute()
    for contact in Contact.select():
        Contact.update(fields={"name": f"n{contact.phone[-2:]}"}).where(
            Contact.id == contact.id).execute()
    run_to_close(stack, first.id)
    outcomes = dict(ContactResult.select(ContactResult.phone, ContactResult.outcome)
                    .where(ContactResult.campaign == first.id).tuples())
    expected = sorted(p for p in phones if p[-1] in "56")
    assert sorted(p for p, o in outcomes.items() if o in ("busy", "noanswer")) == expected

    flt = make_filter(["busy", "noanswer"])
    assert preview(first.id, flt) == len(expected) == 4
    second, new_list, count = recycle(first.id, flt, utcnow())
    assert count == 4
    assert {c.phone: c.fields for c in Contact.select().where(
        Contact.contact_list == new_list.id)} == {p: {"name": f"n{p[-2:]}"} for p in expected}
    run_to_close(stack, second.id)
    assert dialled(stack, second) == expected
    assert len(dialled(stack, first)) == len(phones)
