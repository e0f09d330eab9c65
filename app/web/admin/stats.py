"""What the campaign pages show: progress, live calls, outcomes, digits.

Working tables feed a running campaign; once it is closed they are purged and
the campaign report (or, before it is written, the kept ContactResult rows)
answers the same questions.
"""

from __future__ import annotations

import threading
import time

from peewee import fn

from app.amd import settings_of as amd_settings_of
from app.amd_figures import live_counts as amd_live_counts
from app.dialer.live import in_flight_count
from app.models import (
    CLOSED,
    DRAFT,
    FINAL,
    CallAttempt,
    Campaign,
    CampaignContact,
    CampaignOption,
    CampaignReport,
    ContactList,
    ContactResult,
)

# the campaign list shows progress at most this stale, so a page of campaigns
# with a million contacts each never counts them on every load
PROGRESS_TTL = 5.0
# the live page polls every 2 s; viewers of one campaign share one computation
LIVE_TTL = 1.5


class TTLCache:
    """A small thread-safe dict whose entries expire; one per app (per process)."""

    def __init__(self):
        self._items: dict = {}
        self._lock = threading.Lock()

    def get(self, key, ttl: float, now: float):
        with self._lock:
            hit = self._items.get(key)
        if hit and now - hit[0] < ttl:
            return hit[1]
        return None

    def put(self, key, value, now: float):
        with self._lock:
            self._items[key] = (now, value)


def list_total(contact_list_id: int | None) -> int:
    if contact_list_id is None:
        return 0
    value = (
        ContactList.select(ContactList.rows_imported)
        .where(ContactList.id == contact_list_id)
        .scalar()
    )
    return value or 0


def contact_states(campaign_id: int) -> dict[str, int]:
    """Contacts of a running campaign per dialing state (pending, calling, final)."""
    rows = (
        CampaignContact.select(CampaignContact.state, fn.COUNT(CampaignContact.id))
        .where(CampaignContact.campaign == campaign_id)
        .group_by(CampaignContact.state)
        .tuples()
    )
    return {state: count for state, count in rows}


def progress(campaign: Campaign) -> tuple[int, int]:
    """(contacts final, contacts total) for one campaign, computed now."""
    if campaign.state == DRAFT:
        return 0, list_total(campaign.contact_list_id)
    states = contact_states(campaign.id)
    if states:
        return states.get(FINAL, 0), sum(states.values())
    # closed (working rows purged) or activated before seeding: use the results
    done = (
        ContactResult.select(fn.COUNT(ContactResult.id))
        .where(ContactResult.campaign == campaign.id)
        .scalar()
    ) or 0
    total = list_total(campaign.contact_list_id)
    if campaign.state == CLOSED:
        return done, done or total
    return done, max(done, total)


def cached_progress(campaign: Campaign, cache: TTLCache, now: float | None = None) -> tuple[int, int]:
    """progress(), reused for PROGRESS_TTL seconds per campaign."""
    now = time.monotonic() if now is None else now
    hit = cache.get(("progress", campaign.id), PROGRESS_TTL, now)
    if hit is not None and campaign.state != DRAFT:
        return hit
    value = progress(campaign)
    cache.put(("progress", campaign.id), value, now)
    return value


def page_progress(campaigns, cache: TTLCache) -> dict[int, tuple[int, int]]:
    """Progress of a page of campaigns: drafts from one query, the rest from the cache."""
    drafts = [c for c in campaigns if c.state == DRAFT]
    list_ids = {c.contact_list_id for c in drafts if c.contact_list_id is not None}
    totals = dict(
        ContactList.select(ContactList.id, ContactList.rows_imported)
        .where(ContactList.id.in_(list_ids))
        .tuples()
    ) if list_ids else {}
    found = {c.id: (0, totals.get(c.contact_list_id, 0)) for c in drafts}
    for campaign in campaigns:
        if campaign.state != DRAFT:
            found[campaign.id] = cached_progress(campaign, cache)
    return found


def attempt_count(campaign_id: int) -> int:
    return (
        CallAttempt.select(fn.COUNT(CallAttempt.id))
        .where(CallAttempt.campaign == campaign_id)
        .scalar()
    ) or 0


def outcome_counts(campaign_id: int, closed: bool) -> dict[str, int]:
    """Final contacts per outcome (answered, busy, noanswer, ...)."""
    if closed:
        rows = (
            ContactResult.select(ContactResult.outcome, fn.COUNT(ContactResult.id))
            .where(ContactResult.campaign == campaign_id)
            .group_by(ContactResult.outcome)
        )
    else:
        rows = (
            CampaignContact.select(CampaignContact.last_outcome, fn.COUNT(CampaignContact.id))
            .where((CampaignContact.campaign == campaign_id) & (CampaignContact.state == FINAL))
            .group_by(CampaignContact.last_outcome)
        )
    return {outcome or "unknown": count for outcome, count in rows.tuples()}


def digit_counts(campaign_id: int, closed: bool) -> dict[str, int]:
    """How many answered calls pressed each digit."""
    if closed:
        rows = (
            ContactResult.select(ContactResult.digit, fn.COUNT(ContactResult.id))
            .where((ContactResult.campaign == campaign_id) & (ContactResult.digit != ""))
            .group_by(ContactResult.digit)
        )
    else:
        rows = (
            CallAttempt.select(CallAttempt.digit, fn.COUNT(CallAttempt.id))
            .where((CallAttempt.campaign == campaign_id) & (CallAttempt.digit != ""))
            .group_by(CallAttempt.digit)
        )
    return dict(rows.tuples())


def closed_attempts(campaign_id: int) -> int:
    return (
        ContactResult.select(fn.SUM(ContactResult.attempts))
        .where(ContactResult.campaign == campaign_id)
        .scalar()
    ) or 0


def live_view(campaign_id: int, cache: TTLCache | None = None) -> dict:
    """Everything the live campaign page shows, as JSON-ready values."""
    campaign = Campaign.get_by_id(campaign_id)
    closed = campaign.state == CLOSED
    done, total = progress(campaign)
    if cache is not None:
        cache.put(("progress", campaign.id), (done, total), time.monotonic())
    labels = dict(
        CampaignOption.select(CampaignOption.digit, CampaignOption.label)
        .where(CampaignOption.campaign == campaign_id)
        .tuples()
    )
    report = CampaignReport.get_or_none(CampaignReport.campaign == campaign_id)
    figures = (report.data or {}) if closed and report is not None else {}
    if "outcomes" in figures:
        # closed and reported: the report already holds the counts
        outcomes = {k: v for k, v in figures["outcomes"].items() if v}
        digits = {d["digit"]: d["count"] for d in figures.get("digits", []) if d["count"]}
        attempts = figures.get("attempts_total", 0)
    else:
        outcomes = outcome_counts(campaign_id, closed)
        digits = digit_counts(campaign_id, closed)
        attempts = closed_attempts(campaign_id) if closed else attempt_count(campaign_id)
    return {
        "id": campaign.id,
        "name": campaign.name,
        "state": campaign.state,
        "dialer_status": campaign.dialer_status,
        "dialer_status_at": campaign.dialer_status_at.isoformat()
        if campaign.dialer_status_at
        else None,
        "contacts_final": done,
        "contacts_total": total,
        "percent": round(100.0 * done / total, 1) if total else 0.0,
        "calls_up": 0 if closed else in_flight_count([campaign_id]),
        "max_channels": campaign.max_channels,
        "attempts": attempts,
        "outcomes": outcomes,
        "digits": [
            {"digit": d, "label": labels.get(d, ""), "count": digits.get(d, 0)}
            for d in sorted(set(labels) | set(digits))
        ],
        "report": bool(report and report.csv_path),
        # AMD: people, machines, not sure, messages left (attempts live, contacts once closed)
        "amd": (figures.get("amd") or ({} if closed else amd_live_counts(campaign_id)))
        if amd_settings_of(campaign).enabled else {},
    }


def shared_live_view(campaign_id: int, cache: TTLCache, now: float | None = None) -> dict:
    """live_view(), computed at most once per LIVE_TTL seconds per campaign and process.

    At a million contacts one computation reads the whole campaign's index
    (~0.5 s); ten operators watching the same campaign must not multiply it.
    """
    now = time.monotonic() if now is None else now
    hit = cache.get(("live", campaign_id), LIVE_TTL, now)
    if hit is not None:
        return hit
    value = live_view(campaign_id, cache)
    cache.put(("live", campaign_id), value, now)
    return value
