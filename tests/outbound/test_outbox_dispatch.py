"""The outbox: what the core records with its changes, and the dispatch into deliveries."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from app.campaigns import activation, transition
from app.dialer.claims import claim, due_contacts
from app.dialer.folding import fold_events
from app.errors import IllegalTransitionError
from app.models import ACTIVE, CLOSED, PAUSED, CallAttempt, Campaign
from app.outbound.dispatch import dispatch
from app.outbound.endpoints import create_endpoint
from app.outbound.outbox import record_contacts_finished
from app.outbound.tables import (
    CONTACT_FINISHED,
    STATE_CHANGED,
    OutboxEvent,
    WebhookDelivery,
)
from dialing_support import event, make_campaign

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def activated(phones):
    campaign = make_campaign(phones)
    activation.activate(campaign.id, NOW, ami=None)
    return Campaign.get_by_id(campaign.id)


def pending(kind=None):
    query = OutboxEvent.select().where(OutboxEvent.dispatched_at.is_null())
    return [r for r in query.order_by(OutboxEvent.id) if kind is None or r.kind == kind]


def bodies(campaign_id, kind):
    return [json.loads(d.body) for d in WebhookDelivery.select().where(
        (WebhookDelivery.campaign_id == campaign_id) & (WebhookDelivery.event_type == kind))
        .order_by(WebhookDelivery.id)]


def test_it_records_each_state_change_with_the_change_and_nothing_for_a_refused_one(db):
    campaign = activated(["+15550000001"])
    activation.pause(campaign.id, NOW + timedelta(seconds=5))
    with pytest.raises(IllegalTransitionError):
        transition(campaign.id, CLOSED, NOW + timedelta(seconds=6))

    rows = pending(STATE_CHANGED)
    assert [(r.payload["from"], r.payload["to"]) for r in rows] == [
        ("DRAFT", ACTIVE), (ACTIVE, PAUSED)]
    assert rows[1].payload["campaign"] == {"id": campaign.id, "name": campaign.name}


def test_it_fans_an_event_out_to_the_endpoints_that_want_it_once(db, outbound_env):
    campaign = activated(["+15550000001"])
    other = make_campaign(["+15550000002"])
    glob = create_endpoint("https://crm.example.com/all")
    own = create_endpoint("https://crm.example.com/one", campaign_id=campaign.id)
    create_endpoint("https://crm.example.com/other", campaign_id=other.id)
    create_endpoint("https://crm.example.com/closed-only", events=["campaign.closed"])
    off = create_endpoint("https://crm.example.com/off")
    off.active = False
    off.save()

    first = dispatch(NOW)
    again = dispatch(NOW)

    deliveries = list(WebhookDelivery.select().order_by(WebhookDelivery.id))
    assert sorted(first.deliveries) == [d.id for d in deliveries]
    assert {d.endpoint_id for d in deliveries} == {glob.id, own.id}
    assert len({d.event_id for d in deliveries}) == 1
    assert again.deliveries == [] and pending() == []
    body = json.loads(deliveries[0].body)
    assert (body["id"], body["type"]) == (deliveries[0].event_id, STATE_CHANGED)


def test_it_records_contacts_a_fold_made_final_in_one_row(db):
    campaign = activated(["+15550000001", "+15550000002"])
    claim(campaign, due_contacts(campaign.id, NOW, 10), NOW)
    attempts = list(CallAttempt.select().order_by(CallAttempt.id))
    for attempt in attempts:
        event(campaign.id, attempt.contact_id, 1, "answered", NOW + timedelta(seconds=2))
        event(campaign.id, attempt.contact_id, 1, "hangup", NOW + timedelta(seconds=9),
              hangupcause="16")

    assert fold_events(campaign.id, NOW + timedelta(seconds=10)) == 2
    assert fold_events(campaign.id, NOW + timedelta(seconds=11)) == 0

    (row,) = pending(CONTACT_FINISHED)
    assert sorted(c["contact_id"] for c in row.payload["contacts"]) == sorted(
        a.contact_id for a in attempts)
    assert {(c["outcome"], c["attempts"]) for c in row.payload["contacts"]} == {("answered", 1)}


def test_it_batches_contact_events_at_most_every_n_seconds(db, outbound_env):
    create_endpoint("https://crm.example.com/all", events=[CONTACT_FINISHED])
    record_contacts_finished(7, [{"contact_id": 1}], NOW)
    record_contacts_finished(7, [{"contact_id": 2}], NOW)
    assert len(dispatch(NOW).deliveries) == 1

    record_contacts_finished(7, [{"contact_id": 3}], NOW + timedelta(seconds=1))
    held = dispatch(NOW + timedelta(seconds=5))
    record_contacts_finished(7, [{"contact_id": 4}], NOW + timedelta(seconds=6))
    due = dispatch(NOW + timedelta(seconds=10))

    assert (held.deliveries, held.waiting) == ([], True)
    assert len(due.deliveries) == 1 and not due.waiting
    sent = bodies(7, CONTACT_FINISHED)
    assert [[c["contact_id"] for c in b["data"]["contacts"]] for b in sent] == [[1, 2], [3, 4]]
    assert sent[0]["data"]["campaign"] == {"id": 7}


def test_it_marks_rows_dispatched_even_when_no_endpoint_wants_them(db, outbound_env):
    activated(["+15550000001"])
    assert dispatch(NOW).deliveries == []
    assert pending() == [] and WebhookDelivery.select().count() == 0


def test_it_finds_deliveries_whose_message_was_lost_and_prunes_old_rows(db, outbound_env):
    from app.outbound.dispatch import prune, stalled
    from app.outbound.tables import DELIVERED, SENDING, WebhookAttempt

    create_endpoint("https://crm.example.com/all")
    lost, held, dead, done = (fan_out_one(NOW) for _ in range(4))
    later = NOW + timedelta(minutes=5)
    WebhookDelivery.update(status=SENDING, lease_until=later + timedelta(minutes=1)).where(
        WebhookDelivery.id == held).execute()
    WebhookDelivery.update(status=SENDING, lease_until=later - timedelta(minutes=1)).where(
        WebhookDelivery.id == dead).execute()
    WebhookDelivery.update(status=DELIVERED).where(WebhookDelivery.id == done).execute()
    WebhookAttempt.create(delivery=done, number=1, at=NOW, outcome="ok", status_code=200)

    assert stalled(NOW) == ([], [])  # not late yet
    assert stalled(later) == ([lost, dead], [])
    record_contacts_finished(7, [{"contact_id": 1}], NOW)
    (fresh,) = dispatch(NOW).deliveries
    assert prune(NOW + timedelta(days=31)) == 1 + 1  # the dispatched row, the delivered one
    assert WebhookAttempt.select().count() == 0
    assert sorted(d.id for d in WebhookDelivery.select()) == [lost, held, dead, fresh]


def fan_out_one(now):
    from app.outbound.dispatch import fan_out

    (delivery_id,) = fan_out(STATE_CHANGED, 7, {}, now)
    return delivery_id
