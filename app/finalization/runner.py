"""Running finalization: the steps left for a FINALIZING campaign, in order, up to CLOSED."""

from __future__ import annotations

import logging

from app.campaigns import get_campaign, transition
from app.db import database
from app.finalization import dialect
from app.finalization.archive import step_archive, step_purge
from app.finalization.reporting import step_charts, step_csv, step_report
from app.finalization.results import step_results
from app.finalization.steps import (
    ARCHIVE,
    CHARTS,
    CLOSE,
    CSV_EXPORT,
    PURGE,
    REPORT,
    RESULTS,
    STEPS,
    StepTakenError,
    claim,
    ensure_report_row,
    next_step,
)
from app.chains import release_lease, renew_lease
from app.models import CLOSED, FINALIZING, CampaignReport
from app.outbound.outbox import record_closed
from app.pbx.dialplan import write_campaign_dialplans

log = logging.getLogger(__name__)


def step_close(campaign_id: int, now) -> None:
    """Move the campaign to CLOSED and end its finalize chain's lease."""
    with database.atomic():
        claim(campaign_id, CLOSE, now)
        campaign = transition(campaign_id, CLOSED, now)
        release_lease(campaign_id, campaign.tick_token)
        report = CampaignReport.get(CampaignReport.campaign == campaign_id)
        record_closed(campaign, report.data, bool(report.csv_path), now)
    log.info("campaign=%s closed", campaign_id)


def unload_dialplan(campaign_id: int, ami) -> None:
    """Rewrite the dialplan file without the campaign just closed, and reload it over ``ami``.

    A CLOSED campaign has no calls left, so its context goes (it stayed loaded
    in Asterisk until some later activation rewrote the file). Never fails the
    close: a failure is logged, and the next write (any activation, any close)
    catches up.
    """
    try:
        write_campaign_dialplans(ami)
    except Exception:
        log.exception("campaign=%s closed, but its dialplan could not be unloaded (the next "
                      "dialplan write will)", campaign_id)


RUNNERS = {
    RESULTS: step_results,
    REPORT: step_report,
    CSV_EXPORT: step_csv,
    CHARTS: step_charts,
    ARCHIVE: step_archive,
    PURGE: step_purge,
    CLOSE: step_close,
}


def finalize(campaign_id: int, now, token: str | None = None, stop_after: str | None = None,
             ami=None) -> str:
    """Run the steps left for a FINALIZING campaign; return the last step done.

    With ``token`` each step first renews that finalize chain's lease, and the
    run stops (returning the last step done) once another chain holds the
    campaign. ``stop_after`` stops after that step (tests, benchmarks).
    A CLOSED campaign returns 'closed' at once; any other state is left alone.
    Once this run closed it, the dialplan is rewritten without it and reloaded
    over ``ami`` (None: the file only).
    """
    campaign = get_campaign(campaign_id)
    if campaign.state == CLOSED:
        return CLOSE
    if campaign.state != FINALIZING:
        log.warning(
            "campaign=%s is %s, not FINALIZING: nothing to finalize", campaign_id, campaign.state
        )
        return ""
    # the results fold and the report sort hundreds of thousands of rows
    dialect.sort_in_memory()
    done = ensure_report_row(campaign_id, now).step
    while (step := next_step(done)) is not None:
        if token is not None and not renew_lease(campaign_id, FINALIZING, token, now):
            log.info("campaign=%s finalize chain %s no longer holds the lease", campaign_id, token)
            break
        try:
            RUNNERS[step](campaign_id, now)
        except StepTakenError:
            # another finalizer committed this step while we ran it: go on from there
            log.info("campaign=%s step %s was done by another finalizer", campaign_id, step)
        else:
            if step == CLOSE:
                unload_dialplan(campaign_id, ami)
        done = CampaignReport.get(CampaignReport.campaign == campaign_id).step
        if stop_after is not None and STEPS.index(done) >= STEPS.index(stop_after):
            break
    return done
