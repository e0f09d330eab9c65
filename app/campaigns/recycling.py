"""Recycling a campaign by outcome: its contacts whose final result matches, in a new list
and a new DRAFT campaign built like it ("everyone who was busy or did not answer",
"everyone who pressed 3").

A CLOSED campaign's results are the per-contact rows finalization keeps
(``contact_result``), which the purge leaves in place; a FINISHED one (not yet
finalized) is read from its dial states and last attempts. Each matching
contact is copied with its extra columns, its line and its zone set from the
source list (a contact whose list was deleted since comes with its phone only).
``preview`` counts before ``recycle`` creates; both read the same query.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from peewee import JOIN, Value, fn

from app.callee_tables import ListZoneSet
from app.campaigns.cloning import clone, default_name
from app.campaigns.rules import MAX_LENGTHS
from app.campaigns.states import get_campaign
from app.db import write_transaction
from app.errors import ValidationError
from app.events import OUTCOMES
from app.models import (
    CLOSED,
    FINISHED,
    CallAttempt,
    CampaignContact,
    Contact,
    ContactList,
    ContactResult,
    OPTION_DIGITS,
)

log = logging.getLogger(__name__)

NOT_CALLED = "not_called"  # the report's word for a contact never dialled (app.reports)
RECYCLABLE = (CLOSED, FINISHED)
MAX_ATTEMPTS_FILTER = 100


@dataclass(frozen=True)
class Filter:
    """Which final results to take: any of ``outcomes`` (empty: any), any of ``digits``
    (empty: any), attempts within ``min_attempts``..``max_attempts``."""

    outcomes: tuple[str, ...] = ()
    digits: tuple[str, ...] = ()
    min_attempts: int = 0
    max_attempts: int = MAX_ATTEMPTS_FILTER

    def describe(self) -> str:
        parts = [" or ".join(self.outcomes)] if self.outcomes else []
        parts += [f"pressed {' or '.join(self.digits)}"] if self.digits else []
        if (self.min_attempts, self.max_attempts) != (0, MAX_ATTEMPTS_FILTER):
            parts.append(f"{self.min_attempts}-{self.max_attempts} attempts")
        return ", ".join(parts) or "every contact"


def make_filter(outcomes=(), digits=(), min_attempts=0, max_attempts=MAX_ATTEMPTS_FILTER):
    """A checked Filter.

    Raises:
        ValidationError: an unknown outcome or digit, attempts out of range (field named).
    """
    outcomes = tuple(sorted({str(o).strip() for o in outcomes or () if str(o).strip()}))
    digits = tuple(sorted({str(d).strip() for d in digits or () if str(d).strip()}))
    known = (*OUTCOMES, NOT_CALLED)
    unknown = [o for o in outcomes if o not in known]
    if unknown:
        raise ValidationError(f"outcomes: unknown {', '.join(o[:20] for o in unknown[:5])} "
                              f"(known: {', '.join(known)})")
    if any(d not in OPTION_DIGITS for d in digits):
        raise ValidationError("digits: each is one of 0-9, * or #")
    for name, value in (("min_attempts", min_attempts), ("max_attempts", max_attempts)):
        if not isinstance(value, int) or isinstance(value, bool) or not (
                0 <= value <= MAX_ATTEMPTS_FILTER):
            raise ValidationError(f"{name} must be a whole number between 0 and "
                                  f"{MAX_ATTEMPTS_FILTER}")
    if min_attempts > max_attempts:
        raise ValidationError("min_attempts: more than max_attempts")
    return Filter(outcomes, digits, min_attempts, max_attempts)


def _source(campaign):
    """(contact id, phone, outcome, attempts, digit) columns and the query of the results."""
    if campaign.state == CLOSED:
        r = ContactResult
        query = r.select().where(r.campaign == campaign.id)
        return (r.contact_id, r.phone, r.outcome, r.attempts, r.digit), query
    cc, last = CampaignContact, CallAttempt.alias()
    outcome = fn.COALESCE(fn.NULLIF(cc.last_outcome, ""), NOT_CALLED)
    query = (cc.select().join(Contact, on=(Contact.id == cc.contact))
             .join(last, JOIN.LEFT_OUTER, on=((last.campaign == cc.campaign)
                                              & (last.contact == cc.contact)
                                              & (last.number == cc.attempts)))
             .where(cc.campaign == campaign.id))
    return (cc.contact, Contact.phone, outcome, cc.attempts,
            fn.COALESCE(last.digit, "")), query


def _matching(campaign, flt: Filter):
    """The source query narrowed by ``flt``, and its columns."""
    columns, query = _source(campaign)
    _id, _phone, outcome, attempts, digit = columns
    if flt.outcomes:
        query = query.where(outcome.in_(flt.outcomes))
    if flt.digits:
        query = query.where(digit.in_(flt.digits))
    query = query.where(attempts.between(flt.min_attempts, flt.max_attempts))
    return columns, query


def _recyclable(campaign_id):
    campaign = get_campaign(campaign_id)
    if campaign.state not in RECYCLABLE:
        raise ValidationError(f"campaign {campaign.id} is {campaign.state}: it can be recycled "
                              "once FINISHED or CLOSED")
    return campaign


def preview(campaign_id, flt: Filter) -> int:
    """How many contacts ``recycle`` would take.

    Raises:
        NotFoundError: no such campaign. ValidationError: not FINISHED or CLOSED.
    """
    campaign = _recyclable(campaign_id)
    _columns, query = _matching(campaign, flt)
    return query.count()


def recycle(campaign_id, flt: Filter, now, user_id: int | None = None,
            name: str | None = None) -> tuple:
    """A new ready list of the matching contacts and a DRAFT campaign built like this one.

    Returns (campaign, contact list, count).

    Raises:
        NotFoundError: no such campaign.
        ValidationError: not FINISHED or CLOSED, no contact matches, or a bad name.
    """
    with write_transaction():
        campaign = _recyclable(campaign_id)
        source_list = ContactList.get_or_none(ContactList.id == campaign.contact_list_id)
        name = name or default_name(f"{campaign.name} ({flt.describe()})")
        new_list = ContactList.create(
            name=name[: MAX_LENGTHS["name"]], status="ready", created_by=user_id,
            created_at=now, columns=source_list.columns if source_list else [],
            phone_column=source_list.phone_column if source_list else "",
            default_country=source_list.default_country if source_list else "US",
            source_filename=f"recycled from campaign {campaign.id}")
        count = _copy_contacts(campaign, flt, new_list.id)
        if count == 0:
            raise ValidationError(f"campaign {campaign.id}: no contact matches "
                                  f"({flt.describe()})")
        ContactList.update(rows_total=count, rows_imported=count).where(
            ContactList.id == new_list.id).execute()
        if source_list is not None:
            ListZoneSet.insert_from(
                ListZoneSet.select(Value(new_list.id), ListZoneSet.zone_set_id)
                .where(ListZoneSet.contact_list_id == source_list.id),
                [ListZoneSet.contact_list_id, ListZoneSet.zone_set_id]).execute()
        copy = clone(campaign.id, now, user_id, name=name, contact_list=new_list.id)
    log.info("campaign recycled source=%s copy=%s list=%s contacts=%s filter=%s",
             campaign.id, copy.id, new_list.id, count, flt)
    return copy, ContactList.get_by_id(new_list.id), count


def _copy_contacts(campaign, flt: Filter, list_id: int) -> int:
    """INSERT .. SELECT the matching contacts (extra columns, line, zone set) into the list."""
    (contact_id, phone, *_), query = _matching(campaign, flt)
    original = Contact.alias()
    source = query.join_from(query.model, original, JOIN.LEFT_OUTER,
                             on=(original.id == contact_id))
    selected = source.select(
        Value(list_id), phone, fn.COALESCE(original.fields, "{}"),
        fn.COALESCE(original.position, contact_id), fn.COALESCE(original.zone_set, 0))
    return (Contact.insert_from(selected, [Contact.contact_list, Contact.phone, Contact.fields,
                                           Contact.position, Contact.zone_set])
            .on_conflict_ignore().as_rowcount().execute())
