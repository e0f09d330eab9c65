"""Creating and changing a campaign: its row, its digit options and its call windows."""

from __future__ import annotations

import logging

from app.campaigns.rules import EDITABLE_STATES, FIELDS, LOCKED_AFTER_DRAFT, normalised, validate
from app.campaigns.states import get_campaign
from app.db import row_id, write_transaction
from app.errors import StaleStateError, ValidationError
from app.menu import option_of
from app.models import DRAFT, CallWindow, Campaign, CampaignOption, ContactList
from app.windows import spans_of

log = logging.getLogger(__name__)


def create(values: dict, now, user_id: int | None = None, options=(), windows=()) -> Campaign:
    """Store a new DRAFT campaign with its digit options and call windows, all checked first.

    ``values`` are Campaign fields (``rules.FIELDS``); naive start and end times
    are local to the campaign's zone. Options are dicts or objects with digit,
    label, action, target; windows have weekday, starts, ends.

    Raises:
        ValidationError: a value is not acceptable (the message names it), or the
            contact list does not exist.
    """
    values = validate(values, options, windows)
    with write_transaction():
        _check_list(values.get("contact_list"))
        campaign = Campaign.create(
            **values, state=DRAFT, created_at=now, updated_at=now, created_by=user_id,
            updated_by=user_id,
        )
        _store_options(campaign.id, options)
        _store_windows(campaign.id, windows)
    log.info("campaign created campaign=%s user=%s", campaign.id, user_id)
    return campaign


def update(campaign_id: int, values: dict, now, user_id: int | None = None, options=None,
           windows=None) -> Campaign:
    """Change a campaign's fields; ``options`` / ``windows``, when given, replace the stored ones.

    Raises:
        NotFoundError: no such campaign.
        ValidationError: it is FINISHED or later, a running campaign would change
            what it was built from (``LOCKED_AFTER_DRAFT``, the options), or a value
            is not acceptable.
        StaleStateError: another process changed its state in between.
    """
    with write_transaction():
        campaign = get_campaign(campaign_id)
        changes = _changes(campaign, values, options, windows)
        changes.update(updated_at=now)
        if user_id is not None:
            changes["updated_by"] = user_id
        updated = (
            Campaign.update(changes)
            .where((Campaign.id == campaign.id) & (Campaign.state == campaign.state))
            .execute()
        )
        if updated != 1:
            # an operator action or the lifecycle moved it while this edit was checked
            raise StaleStateError(f"campaign {campaign.id} left {campaign.state} during the edit")
        if options is not None:
            CampaignOption.delete().where(CampaignOption.campaign == campaign.id).execute()
            _store_options(campaign.id, options)
        if windows is not None:
            CallWindow.delete().where(CallWindow.campaign == campaign.id).execute()
            _store_windows(campaign.id, windows)
    log.info("campaign updated campaign=%s user=%s", campaign.id, user_id)
    return get_campaign(campaign.id)


def _changes(campaign, values: dict, options, windows) -> dict:
    """The checked fields ``update`` writes. Raises what ``update`` documents."""
    if campaign.state not in EDITABLE_STATES:
        raise ValidationError(
            f"campaign {campaign.id} is {campaign.state}: it can no longer change"
        )
    stored = {name: getattr(campaign, name) for name in FIELDS if name != "contact_list"}
    stored["contact_list"] = campaign.contact_list_id
    merged = normalised({**stored, **values})
    if campaign.state != DRAFT:
        _refuse_locked(campaign, stored, {name: merged[name] for name in values}, options)
    merged = validate(merged, options or (), windows or ())
    if "contact_list" in values:
        _check_list(merged["contact_list"])
    return {name: merged[name] for name in values}


def _refuse_locked(campaign, stored: dict, values: dict, options) -> None:
    changed = [n for n in LOCKED_AFTER_DRAFT if n in values and values[n] != stored[n]]
    if options is not None:
        changed.append("options")
    if changed:
        raise ValidationError(f"campaign {campaign.id} is {campaign.state}: "
                              f"{', '.join(changed)} can only change in DRAFT")


def _check_list(list_id) -> None:
    if list_id is None:
        return
    found = row_id(list_id)
    if found is None or not ContactList.select().where(ContactList.id == found).exists():
        raise ValidationError(f"contact list {str(list_id)[:40]} does not exist")


def _store_options(campaign_id: int, options) -> None:
    rows = [
        {"campaign": campaign_id, "digit": o.digit, "label": o.label, "action": o.action,
         "target": o.target}
        for o in map(option_of, options)
    ]
    if rows:
        CampaignOption.insert_many(rows).execute()


def _store_windows(campaign_id: int, windows) -> None:
    rows = [
        {"campaign": campaign_id, "weekday": s.weekday, "starts": s.starts, "ends": s.ends}
        for s in spans_of(windows)
    ]
    if rows:
        CallWindow.insert_many(rows).execute()
