"""Operator actions on a campaign's dialing: activate, pause, resume, finish.

Plain functions over ids and ``now``, called by the CLI and the back office.
They never touch the broker: starting the tick chain after ``activate`` /
``resume`` is ``tasks.dialing.start_dialing(campaign_id)`` (the CLI and the
admin call ``tasks.dialing.activate_campaign`` / ``resume_campaign``, which do
both).
"""

from __future__ import annotations

import logging
from pathlib import Path

from peewee import Value

from app.campaigns import get_campaign, transition
from app.config import get_settings
from app.db import database
from app.errors import ValidationError
from app.models import (
    ACTIVE,
    DIALPLAN_STATES,
    DRAFT,
    FINISHED,
    OPTION_ACTIONS,
    OPTION_DIGITS,
    PAUSED,
    PENDING,
    CallWindow,
    Campaign,
    CampaignContact,
    CampaignOption,
    Contact,
)
from app.events import FAILURE_REASONS, LOST
from app.pbx.errors import DialplanError
from app.windows import campaign_opening, spans_of, zone

log = logging.getLogger(__name__)


def problems(campaign_id: int, now) -> list[str]:
    """Everything that stops the campaign from being activated (empty: fine)."""
    campaign = get_campaign(campaign_id)
    found = []
    if campaign.contact_list_id is None:
        found.append("no contact list")
    elif not Contact.select().where(Contact.contact_list == campaign.contact_list_id).exists():
        found.append("the contact list has no contacts")
    elif campaign.contact_list.status != "ready":
        found.append(f"the contact list is {campaign.contact_list.status}, not ready")
    settings = get_settings()
    if campaign.message_file:
        path = Path(campaign.message_file)
        if not path.is_absolute():
            path = Path(settings.media_dir) / path
        if not path.exists():
            found.append(f"message file {path} does not exist")
    elif not campaign.message_sound:
        found.append("no message (upload a file or name a stock sound)")
    try:
        zone(campaign.timezone)
    except ValidationError as exc:
        found.append(str(exc))
    windows = list(CallWindow.select().where(CallWindow.campaign == campaign_id))
    if not windows:
        found.append("no call windows")
    for w in windows:
        if not 0 <= w.weekday <= 6:
            found.append(f"call window weekday {w.weekday} is not 0..6")
    options = list(CampaignOption.select().where(CampaignOption.campaign == campaign_id))
    for opt in options:
        if opt.digit not in OPTION_DIGITS:
            found.append(f"option digit {opt.digit!r} is not 0-9, * or #")
        if opt.action not in OPTION_ACTIONS:
            found.append(f"option {opt.digit}: action {opt.action!r} is unknown")
        if opt.action == "transfer" and not opt.target:
            found.append(f"option {opt.digit}: transfer needs a target")
    if campaign.max_channels < 1:
        found.append("max channels must be at least 1")
    if campaign.max_attempts < 1:
        found.append("max attempts must be at least 1")
    if campaign.ring_timeout_s < 1 or campaign.max_call_s < 1:
        found.append("ring timeout and maximum call length must be at least 1 s")
    unknown = campaign.retry_outcomes - set(FAILURE_REASONS) - {LOST}
    if unknown:
        found.append(f"retry_on names unknown outcomes: {', '.join(sorted(unknown))}")
    if campaign.starts_at and campaign.ends_at and campaign.ends_at <= campaign.starts_at:
        found.append("the end date is not after the start date")
    if campaign.ends_at and campaign.ends_at <= now:
        found.append("the end date has passed")
    if windows and not found:
        if campaign_opening(campaign, now, windows).next_start is None:
            found.append("no call window opens before the end date")
    if not found:
        from app.pbx.dialplan import render_campaign

        try:
            render_campaign(campaign, options, settings)
        except DialplanError as exc:
            found.append(str(exc))
    return found


def populate(campaign_id: int, now) -> int:
    """Give every contact of the campaign's list a pending dial state (idempotent).

    Returns how many were added.
    """
    campaign = get_campaign(campaign_id)
    before = CampaignContact.select().where(CampaignContact.campaign == campaign_id).count()
    # one INSERT .. SELECT: a million contacts never pass through Python
    rows = (
        Contact.select(
            Value(campaign_id),
            Contact.id,
            Value(PENDING),
            Value(0),
            Value(CampaignContact.next_attempt_at.db_value(now)),
            Value(""),
            Value(CampaignContact.updated_at.db_value(now)),
        )
        .where(Contact.contact_list == campaign.contact_list_id)
        .order_by(Contact.position)
    )
    (
        CampaignContact.insert_from(
            rows,
            [
                CampaignContact.campaign,
                CampaignContact.contact,
                CampaignContact.state,
                CampaignContact.attempts,
                CampaignContact.next_attempt_at,
                CampaignContact.last_outcome,
                CampaignContact.updated_at,
            ],
        )
        .on_conflict_ignore()
        .execute()
    )
    after = CampaignContact.select().where(CampaignContact.campaign == campaign_id).count()
    return after - before


def write_dialplan_with(campaign_id: int, ami=None) -> Path:
    """Write the dialplan of every live campaign plus this one, and reload it.

    Raises:
        DialplanError, PbxError (from the reload).
    """
    from app.pbx.dialplan import campaign_spec, write_dialplan

    campaigns = list(
        Campaign.select().where(
            Campaign.state.in_(DIALPLAN_STATES) | (Campaign.id == campaign_id)
        )
    )
    ids = [c.id for c in campaigns]
    options = {}
    for opt in CampaignOption.select().where(CampaignOption.campaign.in_(ids)):
        options.setdefault(opt.campaign_id, []).append(opt)
    specs = [campaign_spec(c, options.get(c.id, [])) for c in campaigns]
    return write_dialplan(specs, ami=ami)


def activate(campaign_id: int, now, user_id: int | None = None, ami=None) -> Campaign:
    """Validate, fill the dial states, write + reload the dialplan, move to ACTIVE.

    ``ami=None`` writes the dialplan without a reload (no PBX in reach).

    Raises:
        ValidationError: the campaign is not ready (every problem in the message).
        IllegalTransitionError, StaleStateError: it is not DRAFT (any more).
        DialplanError, PbxError: the dialplan could not be written or reloaded.
    """
    campaign = get_campaign(campaign_id)
    if campaign.state != DRAFT:
        from app.errors import IllegalTransitionError

        raise IllegalTransitionError(campaign_id, campaign.state, ACTIVE)
    found = problems(campaign_id, now)
    if found:
        raise ValidationError(f"campaign {campaign_id} cannot be activated: " + "; ".join(found))
    with database.atomic():
        added = populate(campaign_id, now)
    write_dialplan_with(campaign_id, ami)
    campaign = transition(campaign_id, ACTIVE, now, user_id)
    _reset_chain(campaign_id, "activated", now)
    log.info("campaign=%s activated contacts=%d", campaign_id, added)
    return campaign


def pause(campaign_id: int, now, user_id: int | None = None) -> Campaign:
    """Stop new originates at once; calls already up finish on their own."""
    campaign = transition(campaign_id, PAUSED, now, user_id)
    _reset_chain(campaign_id, "paused", now)
    return campaign


def resume(campaign_id: int, now, user_id: int | None = None) -> Campaign:
    """Back to ACTIVE (the caller restarts the tick chain)."""
    campaign = transition(campaign_id, ACTIVE, now, user_id)
    _reset_chain(campaign_id, "resumed", now)
    return campaign


def finish(campaign_id: int, now, user_id: int | None = None) -> Campaign:
    """Finish now: no new originates; the lifecycle drains and finalizes it."""
    campaign = transition(campaign_id, FINISHED, now, user_id)
    _reset_chain(campaign_id, "finished by operator", now)
    return campaign


def _reset_chain(campaign_id: int, status: str, now) -> None:
    # a released tick chain lets the next start run at once; a tick message
    # still queued for the old chain finds the campaign not ACTIVE (or loses
    # the race). Conditional: a drain chain the lifecycle started meanwhile
    # keeps its token. (Imported here: the dialer imports the campaign domain.)
    from app.chains import release_tick_chain
    from app.dialer.readout import set_status

    release_tick_chain(campaign_id)
    set_status(campaign_id, status, now)


def describe_windows(campaign_id: int) -> list[str]:
    from app.windows import WEEKDAYS

    rows = CallWindow.select().where(CallWindow.campaign == campaign_id).order_by(
        CallWindow.weekday, CallWindow.starts
    )
    return [
        f"{WEEKDAYS[s.weekday]} {s.starts.strftime('%H:%M')}-{s.ends.strftime('%H:%M')}"
        for s in spans_of(rows)
    ]
