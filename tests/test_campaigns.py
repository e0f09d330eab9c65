"""The campaign domain: every legal move succeeds, every illegal one is refused by name;
create, update and validate apply one set of rules and name the field they refuse."""

import re
from datetime import datetime, time, timezone

import pytest

from app.campaigns import (
    LIMITS,
    TRANSITIONS,
    activate,
    create,
    pause,
    resume,
    transition,
    update,
    validate,
)
from app.config import get_settings
from app.errors import IllegalTransitionError, NotFoundError, StaleStateError, ValidationError
from app.models import (
    ACTIVE,
    CLOSED,
    DRAFT,
    DRAINING,
    FINALIZING,
    FINISHED,
    PAUSED,
    STATES,
    CallWindow,
    Campaign,
    CampaignContact,
    CampaignOption,
    Contact,
    ContactList,
)
from app.windows import EARLIEST, LATEST, Span
from tests.write_lock_support import write_lock_held

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)

LEGAL = {
    (DRAFT, ACTIVE),
    (ACTIVE, PAUSED),
    (PAUSED, ACTIVE),
    (ACTIVE, FINISHED),
    (PAUSED, FINISHED),
    (FINISHED, DRAINING),
    (DRAINING, FINALIZING),
    (FINALIZING, CLOSED),
}
ALL_PAIRS = [(a, b) for a in STATES for b in STATES]


def test_it_declares_exactly_the_lifecycle_of_the_design():
    declared = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert declared == LEGAL


@pytest.mark.parametrize("current,target", sorted(LEGAL))
def test_it_allows_a_legal_transition(sqlite_db, current, target):
    campaign = Campaign.create(name="c", state=current)
    moved = transition(campaign.id, target, NOW)
    assert moved.state == target
    assert Campaign.get_by_id(campaign.id).state == target
    assert moved.updated_at == NOW


@pytest.mark.parametrize("current,target", [p for p in ALL_PAIRS if p not in LEGAL])
def test_it_refuses_an_illegal_transition_naming_both_states(sqlite_db, current, target):
    campaign = Campaign.create(name="c", state=current)
    with pytest.raises(IllegalTransitionError) as caught:
        transition(campaign.id, target, NOW)
    assert f"from {current} to {target}" in str(caught.value)
    assert Campaign.get_by_id(campaign.id).state == current


def test_it_stamps_each_milestone_once(db):
    campaign = Campaign.create(name="c")
    transition(campaign.id, ACTIVE, NOW)
    later = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
    transition(campaign.id, PAUSED, later)
    transition(campaign.id, ACTIVE, later)
    transition(campaign.id, FINISHED, later)
    stored = Campaign.get_by_id(campaign.id)
    assert stored.activated_at == NOW  # resuming does not move the first activation
    assert stored.finished_at == later


def test_it_raises_stale_state_when_the_row_changed_under_it(db, monkeypatch):
    import app.campaigns.states as campaigns

    campaign = Campaign.create(name="c", state=ACTIVE)
    real_get = campaigns.get_campaign
    calls = []

    # another process pauses the campaign between our read and our update
    def get_then_someone_else_pauses(campaign_id):
        found = real_get(campaign_id)
        if not calls:
            calls.append(1)
            Campaign.update(state=PAUSED).where(Campaign.id == campaign_id).execute()
        return found

    monkeypatch.setattr(campaigns, "get_campaign", get_then_someone_else_pauses)
    with pytest.raises(StaleStateError):
        transition(campaign.id, FINISHED, NOW)
    assert Campaign.get_by_id(campaign.id).state == PAUSED


def test_it_says_which_campaign_does_not_exist(db):
    with pytest.raises(NotFoundError, match="campaign 999"):
        transition(999, ACTIVE, NOW)


# --- the domain API: create, update, validate, resume ---------------------------------

def draft_values(**changes):
    values = dict(name="Reminders", timezone="Europe/Paris", message_sound="hello-world",
                  max_channels=5, retry_on=["noanswer", "busy"])
    values.update(changes)
    return values


OPTIONS = [{"digit": "1", "label": "Yes"},
           {"digit": "0", "label": "Agent", "action": "transfer", "target": "100"}]
WINDOWS = [Span(0, time(9), time(12)), Span(4, time(22), time(2))]


def stored_options(campaign_id):
    rows = CampaignOption.select().where(CampaignOption.campaign == campaign_id)
    return sorted((o.digit, o.label, o.action, o.target) for o in rows)


def stored_windows(campaign_id):
    rows = CallWindow.select().where(CallWindow.campaign == campaign_id)
    return sorted((w.weekday, w.starts, w.ends) for w in rows)


def test_it_creates_a_draft_with_its_options_and_windows(db):
    contact_list = ContactList.create(name="l", status="ready")
    campaign = create(draft_values(contact_list=contact_list.id,
                                   ends_at=datetime(2026, 12, 31, 20, 0)),
                      NOW, options=OPTIONS, windows=WINDOWS)
    stored = Campaign.get_by_id(campaign.id)
    assert (stored.state, stored.created_at, stored.contact_list_id) == (DRAFT, NOW, contact_list.id)
    assert stored.retry_on == "busy,noanswer"  # the stored order, whatever order was given
    # a naive time is local to the campaign's zone
    assert stored.ends_at == datetime(2026, 12, 31, 19, 0, tzinfo=timezone.utc)
    assert stored_options(campaign.id) == [("0", "Agent", "transfer", "100"),
                                           ("1", "Yes", "record", "")]
    assert stored_windows(campaign.id) == [(0, time(9), time(12)), (4, time(22), time(2))]


@pytest.mark.parametrize("values,options,windows,message", [
    ({"max_attempts": 21}, [], [], "max_attempts must be between 1 and 20"),
    ({"ring_timeout_s": 0}, [], [], "ring_timeout_s must be between 1 and 600"),
    ({"name": " "}, [], [], "name is required"),
    ({"timezone": "Mars/Olympus"}, [], [], "unknown time zone 'Mars/Olympus'"),
    ({"retry_on": "busy,sometimes"}, [], [], "retry_on names unknown outcomes: sometimes"),
    ({"starts_at": datetime(2026, 12, 2), "ends_at": datetime(2026, 12, 1)}, [], [],
     "the end must come after the start"),
    ({}, [{"digit": "a", "label": "x"}], [], "option digit 'a' is not 0-9, * or #"),
    ({}, [{"digit": "1", "action": "dance"}], [], "option 1: action 'dance' is not one of"),
    ({}, [{"digit": "1", "action": "transfer"}], [], "option 1: a transfer needs a target"),
    ({}, [{"digit": "1"}, {"digit": "1"}], [], "digit 1 is used by two options"),
    ({}, [{"digit": "1", "action": "transfer", "target": "Local/s@from-internal-admin"}], [],
     "option 1: transfer target 'Local/s@from-internal-admin' is neither a phone number"),
    ({}, [{"digit": "1", "action": "transfer", "target": "IAX2/user:secret@198.51.100.7/100"}],
     [], "option 1: transfer target 'IAX2/user:secret@198.51.100.7/100' is neither"),
    ({}, [{"digit": "1", "label": "Yes\r\nAction: Originate"}], [],
     "option 1: the label must be one line of printable characters"),
    ({}, [], [Span(9, time(9), time(10))], "call window weekday 9 is not 0..6"),
    ({"colour": "red"}, [], [], "a campaign has no field colour"),
])
def test_it_refuses_what_the_rules_refuse_naming_the_field(db, values, options, windows,
                                                           message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        validate(draft_values(**values), options, windows)
    with pytest.raises(ValidationError, match=re.escape(message)):
        create(draft_values(**values), NOW, options=options, windows=windows)
    assert Campaign.select().count() == 0


def test_it_transfers_only_to_numbers_and_to_contexts_the_settings_list(db, monkeypatch):
    desk = [{"digit": "1", "label": "Desk", "action": "transfer", "target": "200@transfer-desk"}]
    with pytest.raises(ValidationError, match=re.escape("TRANSFER_CONTEXTS (none set)")):
        create(draft_values(), NOW, options=desk)
    campaign = create(draft_values(), NOW, options=[dict(desk[0], target="+12025550199")])
    assert stored_options(campaign.id) == [("1", "Desk", "transfer", "+12025550199")]
    monkeypatch.setenv("TRANSFER_CONTEXTS", "transfer-desk")
    get_settings.cache_clear()
    campaign = create(draft_values(), NOW, options=desk)
    assert stored_options(campaign.id) == [("1", "Desk", "transfer", "200@transfer-desk")]
    with pytest.raises(ValidationError, match="TRANSFER_CONTEXTS \\(transfer-desk\\)"):
        update(campaign.id, {}, NOW, options=[dict(desk[0], target="s@from-internal-admin")])


# --- bounds: every count, duration and date has a top; arithmetic on them cannot overflow -----

@pytest.mark.parametrize("name", sorted(LIMITS))
def test_it_bounds_every_count_and_duration_naming_the_range(name):
    limit = LIMITS[name]
    assert limit.high is not None and limit.high <= 2**31 - 1  # fits every integer column
    for good in (limit.low, limit.high):
        assert validate(draft_values(**{name: good}))[name] == good
    for bad in (limit.low - 1, limit.high + 1, 10**12, 2**64):
        with pytest.raises(ValidationError,
                           match=re.escape(f"{name} must be between {limit.low} and {limit.high}")):
            validate(draft_values(**{name: bad}))


@pytest.mark.parametrize("values,message", [
    ({"retry_busy_s": 1_000_000_000_000}, "retry_busy_s must be between 0 and 2592000"),
    ({"starts_at": datetime(9999, 12, 31)}, "starts_at must be between 2000-01-01 and 2100-01-01"),
    ({"ends_at": datetime(9999, 12, 31, 23, 59), "timezone": "America/New_York"},
     "ends_at must be between 2000-01-01 and 2100-01-01"),
    ({"starts_at": datetime(1, 1, 1), "timezone": "Asia/Tokyo"},
     "starts_at must be between 2000-01-01 and 2100-01-01"),
    ({"ends_at": datetime(2100, 1, 1, 12, tzinfo=timezone.utc)}, "ends_at must be between"),
    ({"starts_at": "2026-12-01"}, "starts_at must be a date and time, not '2026-12-01'"),
    ({"caller_id": '"Evil\r\nAction: Originate" <100>'}, "caller_id '\"Evil\\r\\nAction:"),
    ({"caller_id": "Local/100@pstn"}, "caller_id 'Local/100@pstn' is not \"Name\" <number> or"),
    ({"caller_id": '"Bob" <100> x'}, "caller_id"),
    ({"caller_id": "1" * 21}, "caller_id"),
    ({"caller_id": '"' + "n" * 51 + '" <100>'}, "caller_id"),
    ({"name": "Spring\nAction: Originate"}, "name must be one line of printable characters"),
    ({"message_sound": "x" * 201}, "message_sound is longer than 200 characters"),
    ({"contact_list": 2**64}, "contact_list must be a list's id, not 18446744073709551616"),
])
def test_it_refuses_values_out_of_bounds_naming_the_field(db, values, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        create(draft_values(**values), NOW)
    assert Campaign.select().count() == 0


@pytest.mark.parametrize("caller_id", [
    "", "100", "+12025550100", '"Callcast" <+12025550100>', "Callcast <100>", "<100>",
    '"Café Müller" <0033612345678>',
])
def test_it_accepts_a_caller_id_as_name_and_number_or_a_number(db, caller_id):
    assert create(draft_values(caller_id=caller_id), NOW).caller_id == caller_id


def test_it_stores_dates_at_the_bounds_in_utc(db):
    campaign = create(draft_values(timezone="UTC", starts_at=datetime(2000, 1, 1),
                                   ends_at=datetime(2100, 1, 1)), NOW)
    stored = Campaign.get_by_id(campaign.id)
    assert (stored.starts_at, stored.ends_at) == (EARLIEST, LATEST)


def test_it_refuses_to_activate_what_was_stored_before_the_bounds(db):
    campaign = ready_campaign()
    # rows written before the rules had tops (here the most an integer column holds):
    # the dialer choked on them every tick
    Campaign.update(retry_busy_s=2**31 - 1, caller_id='"x\r\nAction: Originate" <1>').where(
        Campaign.id == campaign.id).execute()
    with pytest.raises(ValidationError) as caught:
        activate(campaign.id, NOW)
    assert "retry_busy_s must be between 0 and 2592000" in str(caught.value)
    assert "caller_id" in str(caught.value)
    assert Campaign.get_by_id(campaign.id).state == DRAFT


@pytest.mark.parametrize("campaign_id", [2**63, 10**30, "99999999999999999999", -1, "x"])
def test_it_finds_no_campaign_for_an_id_no_row_can_have(db, campaign_id):
    with pytest.raises(NotFoundError, match="does not exist"):
        transition(campaign_id, ACTIVE, NOW)
    with pytest.raises(NotFoundError):
        pause(campaign_id, NOW)


def test_it_refuses_a_contact_list_that_does_not_exist(db):
    with pytest.raises(ValidationError, match="contact list 999 does not exist"):
        create(draft_values(contact_list=999), NOW)


def test_it_updates_a_draft_and_replaces_its_options_and_windows(db):
    campaign = create(draft_values(), NOW, options=OPTIONS, windows=WINDOWS)
    later = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
    updated = update(campaign.id, {"name": "Renamed", "timezone": "UTC"}, later,
                     options=[{"digit": "2", "label": "No"}], windows=[Span(1, time(8), time(9))])
    assert (updated.name, updated.timezone, updated.updated_at) == ("Renamed", "UTC", later)
    assert stored_options(campaign.id) == [("2", "No", "record", "")]
    assert stored_windows(campaign.id) == [(1, time(8), time(9))]
    update(campaign.id, {"max_channels": 7}, later)  # None: options and windows unchanged
    assert stored_options(campaign.id) == [("2", "No", "record", "")]


def test_it_locks_what_a_running_campaign_was_built_from(db):
    campaign = create(draft_values(), NOW, options=OPTIONS, windows=WINDOWS)
    Campaign.update(state=ACTIVE).where(Campaign.id == campaign.id).execute()
    update(campaign.id, {"max_channels": 8, "timezone": "Europe/Paris"}, NOW)  # unchanged zone
    assert Campaign.get_by_id(campaign.id).max_channels == 8
    with pytest.raises(ValidationError, match="is ACTIVE: timezone can only change in DRAFT"):
        update(campaign.id, {"timezone": "UTC"}, NOW)
    with pytest.raises(ValidationError, match="options can only change in DRAFT"):
        update(campaign.id, {}, NOW, options=[])
    Campaign.update(state=CLOSED).where(Campaign.id == campaign.id).execute()
    with pytest.raises(ValidationError, match="is CLOSED: it can no longer change"):
        update(campaign.id, {"name": "late"}, NOW)


def test_it_resumes_only_a_paused_campaign(db):
    draft = Campaign.create(name="d")
    with pytest.raises(IllegalTransitionError, match="cannot go from DRAFT to ACTIVE"):
        resume(draft.id, NOW)  # a draft is activated, with its checks, never resumed
    assert Campaign.get_by_id(draft.id).state == DRAFT
    paused = Campaign.create(name="p", state=PAUSED)
    assert resume(paused.id, NOW).state == ACTIVE


# --- under load: a request that reads, then writes, waits for the write lock ----------------

def ready_campaign():
    """A DRAFT that activates: a ready list of three contacts, a stock sound, open every day."""
    contact_list = ContactList.create(name="l", status="ready", rows_total=3, rows_imported=3)
    Contact.insert_many([{"contact_list": contact_list.id, "phone": f"+3361234000{i}",
                          "fields": {}, "position": i + 2} for i in range(3)]).execute()
    return create(draft_values(contact_list=contact_list.id), NOW,
                  windows=[Span(d, time(0), time(0)) for d in range(7)])


def test_it_waits_for_a_writer_instead_of_failing_at_once(db, db_engine):
    campaign = ready_campaign()
    with write_lock_held(db, db_engine) as released:
        activated = activate(campaign.id, NOW)  # no PBX: the dialplan is written, not reloaded
        assert released.is_set()  # it waited for the other writer, then went on
    assert activated.state == ACTIVE
    assert CampaignContact.select().where(CampaignContact.campaign == campaign.id).count() == 3
    with write_lock_held(db, db_engine) as released:
        assert pause(campaign.id, NOW).state == PAUSED
        assert released.is_set()
    assert Campaign.get_by_id(campaign.id).dialer_status == "paused"
