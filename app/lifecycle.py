"""The end of a campaign, first half: the expiry scan, and the hourly clean-up.

Every minute the scan

1. moves ACTIVE/PAUSED campaigns that are over to FINISHED: past their end
   date, every contact final, or no call window left before their end;
2. moves FINISHED campaigns to DRAINING and hands each a drain chain's lease;
3. re-leases DRAINING/FINALIZING campaigns whose lease ran out (the message
   that carried their chain was lost, or its worker was down).

The caller (``tasks.schedules``) sends one ``drain`` or ``finalize`` message
per lease it got back. Leases are ``app.chains``: the one live chain of a
campaign (its tick chain while it dials, then its drain chain, then its
finalize chain), every write conditional on the chain's token.

Every state change is a conditional update (``campaigns.transition``), so a
scan that runs twice at the same minute does each piece of work once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from dataclasses import dataclass, field
from pathlib import Path

from peewee import Case, fn

from app.campaigns import transition
from app.chains import claim_lease, stalled
from app.db import write_transaction
from app.errors import CallcastError, IllegalTransitionError, StaleStateError
from app.heartbeats import purge_stale
from app.models import (
    ACTIVE,
    DRAINING,
    FINAL,
    FINALIZING,
    FINISHED,
    PAUSED,
    Campaign,
    CampaignContact,
    QuarantinedReport,
)
from app.uploads import UPLOAD_FOLDERS
from app.users import prune_login_failures
from app.holidays import campaign_opening  # the windows less the holidays

log = logging.getLogger(__name__)

# Why a campaign finished (logged, and kept in the report).
PAST_END = "past end date"
ALL_FINAL = "every contact final"
NO_WINDOW = "no call window left before the end"


@dataclass
class ScanResult:
    """What one scan did: campaigns it finished, and the chains to start."""

    finished: list[tuple[int, str]] = field(default_factory=list)  # (campaign, why)
    drain: list[tuple[int, str]] = field(default_factory=list)  # (campaign, token)
    finalize: list[tuple[int, str]] = field(default_factory=list)  # (campaign, token)


# --- 1. which campaigns are over ----------------------------------------------


def campaigns_past_end(now) -> list[int]:
    """ACTIVE/PAUSED campaigns whose end date has passed."""
    query = Campaign.select(Campaign.id).where(
        Campaign.state.in_((ACTIVE, PAUSED))
        & Campaign.ends_at.is_null(False)
        & (Campaign.ends_at <= now)
    )
    return [row[0] for row in query.order_by(Campaign.id).tuples()]


def campaigns_all_final() -> list[int]:
    """ACTIVE/PAUSED campaigns that have contacts and none of them left to call."""
    not_final = fn.SUM(Case(None, ((CampaignContact.state != FINAL, 1),), 0))
    query = (
        Campaign.select(Campaign.id)
        .join(CampaignContact, on=(CampaignContact.campaign == Campaign.id))
        .where(Campaign.state.in_((ACTIVE, PAUSED)))
        .group_by(Campaign.id)
        .having(not_final == 0)
    )
    return [row[0] for row in query.order_by(Campaign.id).tuples()]


def campaigns_without_window(now) -> list[int]:
    """ACTIVE/PAUSED campaigns with an end date and no call window left before it."""
    ids = []
    query = Campaign.select().where(
        Campaign.state.in_((ACTIVE, PAUSED)) & Campaign.ends_at.is_null(False)
    )
    for campaign in list(query.order_by(Campaign.id)):
        try:
            opening = campaign_opening(campaign, now)
        except CallcastError:
            # a bad time zone is the dialer's complaint to make, not a reason to end
            log.exception("campaign=%s call windows unreadable", campaign.id)
            continue
        if not opening.open and opening.next_start is None:
            ids.append(campaign.id)
    return ids


def campaigns_to_finish(now) -> list[tuple[int, str]]:
    """(campaign, why) for every ACTIVE/PAUSED campaign that is over at ``now``."""
    why = {}
    for campaign_id in campaigns_past_end(now):
        why.setdefault(campaign_id, PAST_END)
    for campaign_id in campaigns_all_final():
        why.setdefault(campaign_id, ALL_FINAL)
    for campaign_id in campaigns_without_window(now):
        why.setdefault(campaign_id, NO_WINDOW)
    return sorted(why.items())


def finish(campaign_id: int, now, why: str = "") -> bool:
    """Move one campaign to FINISHED; False when another process moved it first."""
    try:
        transition(campaign_id, FINISHED, now)
    except (StaleStateError, IllegalTransitionError):
        # another scan, or an operator, got there first
        return False
    log.info("campaign=%s finished: %s", campaign_id, why)
    return True


# --- 2. drain chains ---------------------------------------------------------


def start_draining(campaign_id: int, now) -> str | None:
    """FINISHED -> DRAINING with a fresh drain lease; the token, or None if another scan won."""
    with write_transaction():
        try:
            transition(campaign_id, DRAINING, now)
        except (StaleStateError, IllegalTransitionError):
            return None
        # We won the transition, so the drain chain is ours to start even if the
        # dialer's last tick lease has not run out yet.
        return claim_lease(campaign_id, DRAINING, now, force=True)


# --- 3. the scan -----------------------------------------------------------------


def expiry_scan(now) -> ScanResult:
    """Finish what is over, start draining what finished, rescue silent chains.

    Safe to run twice at once: each step is a conditional update, so the second
    run finds nothing left to do.
    """
    result = ScanResult()
    for campaign_id, why in campaigns_to_finish(now):
        if finish(campaign_id, now, why):
            result.finished.append((campaign_id, why))
    # read the whole list first: an open SELECT cursor would keep a read
    # transaction open under the writes below (SQLite then refuses them)
    finished = Campaign.select(Campaign.id).where(Campaign.state == FINISHED)
    for (campaign_id,) in list(finished.order_by(Campaign.id).tuples()):
        token = start_draining(campaign_id, now)
        if token:
            log.info("campaign=%s draining", campaign_id)
            result.drain.append((campaign_id, token))
    for campaign_id, state in stalled(now, (DRAINING, FINALIZING)):
        token = claim_lease(campaign_id, state, now)
        if token is None:
            continue  # another scan rescued it first
        log.warning("campaign=%s %s chain went silent; starting a new one", campaign_id, state)
        if state == DRAINING:
            result.drain.append((campaign_id, token))
        else:
            result.finalize.append((campaign_id, token))
    return result


# --- 4. hourly clean-up ----------------------------------------------------------

# Heartbeats of processes gone this long are dropped (stale ones younger than
# this stay, so /health can still name the process that died).
HEARTBEAT_RETENTION_SECONDS = 7 * 86400
TMP_MAX_AGE_SECONDS = 3600  # temporary files a crashed writer left behind
# Uploaded CSVs left behind: previewed and never imported, or whose import failed
# (an imported one is deleted by the import itself).
UPLOAD_MAX_AGE_SECONDS = 2 * 86400
# forged or unsigned reports the AGI paths set aside: kept a month for the operator
QUARANTINE_RETENTION_DAYS = 30


def clean_exports(now, export_dir, retention_days: int) -> int:
    """Delete export files older than ``retention_days`` (and stale temp files); return how many."""
    root = Path(export_dir)
    if not root.is_dir():
        return 0
    cutoff = now.timestamp() - retention_days * 86400
    tmp_cutoff = now.timestamp() - TMP_MAX_AGE_SECONDS
    removed = 0
    for path in sorted(root.rglob("*"), reverse=True):  # files before their folders
        try:
            if path.is_dir():
                if not any(path.iterdir()):
                    path.rmdir()
                continue
            mtime = path.stat().st_mtime
            if mtime < cutoff or (path.name.startswith(".tmp-") and mtime < tmp_cutoff):
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue  # another clean-up got it first
    return removed


def clean_uploads(now, media_dir) -> int:
    """Delete uploaded CSVs older than ``UPLOAD_MAX_AGE_SECONDS``; return how many."""
    cutoff = now.timestamp() - UPLOAD_MAX_AGE_SECONDS
    removed = 0
    for name in UPLOAD_FOLDERS:
        folder = Path(media_dir) / name
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            try:
                if path.is_file() and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # another clean-up got it first
    return removed


def clean_up(now, settings) -> dict:
    """The hourly clean-up: old exports, old uploads, heartbeats of long-gone processes,
    sign-in failures too old to count and old quarantined reports."""
    files = clean_exports(now, settings.export_dir, settings.export_retention_days)
    uploads = clean_uploads(now, settings.media_dir)
    beats = purge_stale(now, max(HEARTBEAT_RETENTION_SECONDS, settings.heartbeat_stale_seconds))
    failures = prune_login_failures(now)
    quarantined = prune_quarantine(now)
    if files or uploads or beats or failures or quarantined:
        log.info("clean-up removed %d export files, %d uploads, %d heartbeats, %d old "
                 "sign-in failures and %d old quarantined reports",
                 files, uploads, beats, failures, quarantined)
    return {"export_files": files, "uploads": uploads, "heartbeats": beats,
            "login_failures": failures, "quarantined_reports": quarantined}


def prune_quarantine(now) -> int:
    """Delete quarantined reports older than QUARANTINE_RETENTION_DAYS; return how many."""
    cutoff = now - timedelta(days=QUARANTINE_RETENTION_DAYS)
    return QuarantinedReport.delete().where(QuarantinedReport.received_at < cutoff).execute()
