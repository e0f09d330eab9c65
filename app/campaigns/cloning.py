"""Cloning a campaign into a new DRAFT, and campaign templates.

A clone copies what a campaign was built from: its fields (``rules.FIELDS``:
time zone, dates, caps, retry policy, caller ID, message), its digit options and
its call windows. It never copies state, counters, results or the template mark.
The contact list is shared unless another one is chosen. The clone goes through
``editing.create``, so it is checked by the same rules as any new campaign.

A template is a campaign marked ``is_template``: the create page offers "new
from template", which is a clone.
"""

from __future__ import annotations

import logging

from app.campaigns.editing import create
from app.campaigns.rules import FIELDS, MAX_LENGTHS
from app.campaigns.states import get_campaign
from app.db import write_transaction
from app.errors import ValidationError
from app.models import CallWindow, Campaign, CampaignOption

log = logging.getLogger(__name__)

KEEP = "keep"  # contact_list=KEEP: the clone shares the source's list


def clone_values(source: Campaign, name: str | None, contact_list=KEEP) -> dict:
    """The fields of a clone of ``source``: its own, a new name, the list kept or chosen."""
    values = {field: getattr(source, field) for field in FIELDS if field != "contact_list"}
    values["contact_list"] = source.contact_list_id if contact_list == KEEP else contact_list
    values["name"] = name if name is not None else default_name(source.name)
    return values


def default_name(name: str) -> str:
    """``copy of NAME``, cut to the name column's size."""
    return f"copy of {name}"[: MAX_LENGTHS["name"]]


def clone(campaign_id, now, user_id: int | None = None, name: str | None = None,
          contact_list=KEEP) -> Campaign:
    """A new DRAFT campaign built like campaign ``campaign_id`` (any state).

    ``contact_list``: KEEP (shared), None (none yet) or a list's id.

    Raises:
        NotFoundError: no such campaign.
        ValidationError: the new name or list is not acceptable (the field named).
    """
    with write_transaction():
        source = get_campaign(campaign_id)
        options = list(CampaignOption.select().where(CampaignOption.campaign == source.id)
                       .order_by(CampaignOption.digit))
        windows = list(CallWindow.select().where(CallWindow.campaign == source.id)
                       .order_by(CallWindow.weekday, CallWindow.starts))
        values = clone_values(source, name, contact_list)
        copy = create(values, now, user_id, options=options, windows=windows)
    log.info("campaign cloned source=%s clone=%s user=%s", source.id, copy.id, user_id)
    return copy


def mark_template(campaign_id, is_template: bool, now, user_id: int | None = None) -> Campaign:
    """Mark a campaign (any state) as a template, or no longer.

    Raises:
        NotFoundError: no such campaign.
        ValidationError: ``is_template`` is not a boolean.
    """
    if not isinstance(is_template, bool):
        raise ValidationError(f"is_template must be true or false, not {str(is_template)[:20]!r}")
    with write_transaction():
        campaign = get_campaign(campaign_id)
        changes = {"is_template": is_template, "updated_at": now}
        if user_id is not None:
            changes["updated_by"] = user_id
        Campaign.update(changes).where(Campaign.id == campaign.id).execute()
    log.info("campaign template=%s campaign=%s user=%s", is_template, campaign.id, user_id)
    return get_campaign(campaign.id)


def templates() -> list[Campaign]:
    """The campaigns marked as templates, by name."""
    return list(Campaign.select().where(Campaign.is_template == True)  # noqa: E712
                .order_by(Campaign.name, Campaign.id))


def new_from_template(template_id, now, user_id: int | None = None, name: str | None = None,
                      contact_list=KEEP) -> Campaign:
    """A clone of a template (refused when the campaign is not one).

    Raises:
        NotFoundError: no such campaign.
        ValidationError: it is not a template, or what ``clone`` refuses.
    """
    source = get_campaign(template_id)
    if not source.is_template:
        raise ValidationError(f"template: campaign {source.id} is not a template")
    return clone(source.id, now, user_id, name=name, contact_list=contact_list)
