"""Operator actions on a campaign's dialing: activate, pause, resume, finish.

Plain functions over ids and ``now``, called by the CLI and the back office.
They never touch the broker: after ``activate`` / ``resume`` the caller starts
the tick chain with ``tasks.dialing.start_dialing(campaign_id)``.
"""

from __future__ import annotations

import logging

from peewee import Value

from app.campaigns.rules import field_problems
from app.campaigns.states import get_campaign, transition
from app.chains import release_tick_chain
from app.config import get_settings
from app.db import write_transaction
from app.dialer.readout import set_status
from app.errors import IllegalTransitionError, ValidationError
from app.holidays import campaign_opening  # the windows less the holidays
from app.menu import menu_problems
from app.messages.prepare import prepare_messages
from app.messages.prompts import audio_dir
from app.messages.template import SOUND_RE, parse, template_problems
from app.models import (
    ACTIVE,
    DRAFT,
    FINISHED,
    PAUSED,
    PENDING,
    CallWindow,
    Campaign,
    CampaignContact,
    CampaignOption,
    Contact,
)
from app.pbx import media
from app.pbx.dialplan import dialplan_specs, message_path, render_campaign, write_dialplan
from app.pbx.errors import DialplanError
from app.windows import window_problems

log = logging.getLogger(__name__)

# the stored fields the campaign rules check again before activation
CHECKED_FIELDS = (
    "timezone", "starts_at", "ends_at", "max_channels", "max_attempts", "weight", "retry_on",
    "retry_busy_s", "retry_noanswer_s", "retry_failed_s", "ring_timeout_s", "max_call_s",
    "digit_timeout_s", "message_repeats", "caller_id", "callee_window",
)


def problems(campaign_id: int, now) -> list[str]:
    """Everything that stops the campaign from being activated (empty: fine)."""
    campaign = get_campaign(campaign_id)
    settings = get_settings()
    windows = list(CallWindow.select().where(CallWindow.campaign == campaign_id))
    options = list(CampaignOption.select().where(CampaignOption.campaign == campaign_id))
    found = _list_problems(campaign) + _message_problems(campaign, settings)
    found += media.problems(campaign, bool(media.agent_pbxs()))
    found += field_problems({name: getattr(campaign, name) for name in CHECKED_FIELDS})
    found += window_problems(windows) if windows else ["no call windows"]
    found += menu_problems(options)
    if campaign.ends_at and campaign.ends_at <= now:
        found.append("the end date has passed")
    if windows and not found:
        if campaign_opening(campaign, now, windows).next_start is None:
            found.append("no call window opens before the end date")
    if not found:
        try:
            render_campaign(campaign, options, settings)
        except DialplanError as exc:
            found.append(str(exc))
    return found


def _list_problems(campaign) -> list[str]:
    if campaign.contact_list_id is None:
        return ["no contact list"]
    if not Contact.select().where(Contact.contact_list == campaign.contact_list_id).exists():
        return ["the contact list has no contacts"]
    if campaign.contact_list.status != "ready":
        return [f"the contact list is {campaign.contact_list.status}, not ready"]
    return []


def _message_problems(campaign, settings) -> list[str]:
    if campaign.message_template:  # a personalised message (app.messages)
        columns = campaign.contact_list.columns if campaign.contact_list_id else None
        found = template_problems(campaign.message_template, columns)
        folder = str(audio_dir(settings, campaign.id))
        if not found and parse(campaign.message_template).has_tts \
                and not SOUND_RE.match(folder):
            found.append(f"MEDIA_DIR: the speech files' folder {folder!r} has characters a "
                         "dialplan argument cannot carry (allowed: letters, digits, _ . / + -)")
        return found
    if campaign.message_file:
        path = message_path(campaign.message_file, settings)
        if not path.exists():
            return [f"message file {path} does not exist"]
    elif not campaign.message_sound:
        return ["no message (upload a file or name a stock sound)"]
    return []


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
            Contact.zone_set,  # the callee's zones (app.callee_hours)
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
                CampaignContact.zone_set,
            ],
        )
        .on_conflict_ignore()
        .execute()
    )
    after = CampaignContact.select().where(CampaignContact.campaign == campaign_id).count()
    return after - before


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
        raise IllegalTransitionError(campaign_id, campaign.state, ACTIVE)
    found = problems(campaign_id, now)
    if found:
        raise ValidationError(f"campaign {campaign_id} cannot be activated: " + "; ".join(found))
    # populate counts, then inserts: it must hold the write lock from its first read
    with write_transaction():
        added = populate(campaign_id, now)
    # contacts whose values do not fit the template are skipped, never dialled
    skipped = prepare_messages(campaign_id, now, get_settings())
    specs = dialplan_specs(activating=campaign_id)
    # the files they play, for the PBX hosts with an agent: the CLI and the API only name
    # them, and a campaign running since before they were recorded has none
    for spec in specs:
        media.record_played(spec, get_settings().media_dir)
    # no lock while the PBX reloads: that can take seconds
    write_dialplan(specs, ami=ami)
    status = "activated" + (f"; {skipped} contacts skipped: their values do not fit the "
                            "message (see the skipped list)" if skipped else "")
    campaign = _move(campaign_id, ACTIVE, status, now, user_id)
    log.info("campaign=%s activated contacts=%d skipped=%d", campaign_id, added, skipped)
    return campaign


def pause(campaign_id: int, now, user_id: int | None = None) -> Campaign:
    """Stop new originates at once; calls already up finish on their own."""
    return _move(campaign_id, PAUSED, "paused", now, user_id)


def resume(campaign_id: int, now, user_id: int | None = None) -> Campaign:
    """Back to ACTIVE (the caller restarts the tick chain).

    Raises:
        IllegalTransitionError: it is not PAUSED (a DRAFT goes through ``activate``).
    """
    with write_transaction():
        campaign = get_campaign(campaign_id)
        if campaign.state != PAUSED:
            # DRAFT -> ACTIVE is legal, but only through activate's checks and dialplan
            raise IllegalTransitionError(campaign_id, campaign.state, ACTIVE)
        return _move(campaign_id, ACTIVE, "resumed", now, user_id)


def finish(campaign_id: int, now, user_id: int | None = None) -> Campaign:
    """Finish now: no new originates; the lifecycle drains and finalizes it."""
    return _move(campaign_id, FINISHED, "finished by operator", now, user_id)


def _move(campaign_id: int, target: str, status: str, now, user_id) -> Campaign:
    """The state change and the released chain, together or not at all."""
    with write_transaction():
        campaign = transition(campaign_id, target, now, user_id)
        _reset_chain(campaign_id, status, now)
    return campaign


def _reset_chain(campaign_id: int, status: str, now) -> None:
    # a released tick chain lets the next start run at once; a tick message
    # still queued for the old chain finds the campaign not ACTIVE (or loses
    # the race). Conditional: a drain chain the lifecycle started meanwhile
    # keeps its token.
    release_tick_chain(campaign_id)
    set_status(campaign_id, status, now)
