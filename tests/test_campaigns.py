"""The campaign lifecycle: every legal move succeeds, every illegal one is refused by name."""

from datetime import datetime, timezone

import pytest

from app.campaigns import TRANSITIONS, transition
from app.errors import IllegalTransitionError, NotFoundError, StaleStateError
from app.models import (
    ACTIVE,
    CLOSED,
    DRAFT,
    DRAINING,
    FINALIZING,
    FINISHED,
    PAUSED,
    STATES,
    Campaign,
)

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
    import app.campaigns as campaigns

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
