"""CallcastEvent UserEvents from AMI into CallEvent rows (the AGI daemon's second path)."""

from datetime import datetime, timezone

from app.ami_events import event_row, store
from app.models import CallEvent
from app.pbx.ami import parse_message

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)


def user_event(**fields):
    base = {"Event": "UserEvent", "UserEvent": "CallcastEvent", "Uniqueid": "cc-1-2-3",
            "Channel": "Local/+12025550101@pstn-00000001;1", "campaign": "1", "contact": "2",
            "attempt": "3", "event": "hangup", "arg": "16", "agistatus": "FAILURE"}
    base.update(fields)
    return parse_message("\r\n".join(f"{k}: {v}" for k, v in base.items()))


def test_it_turns_a_user_event_into_an_event_row():
    row = event_row(user_event(), NOW)
    assert (row["campaign_id"], row["contact_id"], row["attempt"], row["name"]) == (1, 2, 3, "hangup")
    assert row["source"] == "ami" and row["data"]["hangupcause"] == "16"


def test_it_ignores_foreign_or_malformed_user_events():
    assert event_row(user_event(UserEvent="Other"), NOW) is None
    assert event_row(user_event(contact="x"), NOW) is None
    assert event_row(user_event(event="dtmf-x"), NOW) is None
    assert event_row(user_event(attempt="0"), NOW) is None


def test_it_stores_an_event_once_even_when_the_agi_daemon_had_it(db):
    CallEvent.create(campaign_id=1, contact_id=2, attempt=3, name="hangup", received_at=NOW)
    rows = [event_row(user_event(), NOW), event_row(user_event(event="answered"), NOW)]
    store(rows)
    store(rows)
    assert sorted((e.name, e.source) for e in CallEvent.select()) == [
        ("answered", "ami"), ("hangup", "agi")]
