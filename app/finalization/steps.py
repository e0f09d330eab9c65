"""The steps of finalization, in order, and the claim that makes each one happen once."""

from __future__ import annotations

from app.models import CampaignReport

RESULTS, REPORT, CSV_EXPORT, CHARTS, ARCHIVE, PURGE, CLOSE = (
    "results",
    "report",
    "csv",
    "charts",
    "archive",
    "purge",
    "closed",
)
STEPS = (RESULTS, REPORT, CSV_EXPORT, CHARTS, ARCHIVE, PURGE, CLOSE)


class StepTakenError(Exception):
    """Another finalizer committed this step first (internal: rolls the step back)."""


def previous_step(step: str) -> str:
    """The step before ``step`` ('' before the first)."""
    index = STEPS.index(step)
    return STEPS[index - 1] if index else ""


def next_step(done: str) -> str | None:
    """The step after ``done`` ('' = none done yet); None when all are done."""
    if done == "":
        return STEPS[0]
    index = STEPS.index(done)
    return STEPS[index + 1] if index + 1 < len(STEPS) else None


def ensure_report_row(campaign_id: int, now) -> CampaignReport:
    """The campaign's CampaignReport, created empty when the drain did not create it."""
    CampaignReport.insert(
        campaign=campaign_id, step="", data={}, created_at=now, updated_at=now
    ).on_conflict_ignore().execute()
    return CampaignReport.get(CampaignReport.campaign == campaign_id)


def claim(campaign_id: int, step: str, now, **values) -> None:
    """Mark ``step`` done if the previous one is the last done (call inside the step's transaction).

    Raises:
        StepTakenError: another finalizer got there first.
    """
    updated = (
        CampaignReport.update(step=step, updated_at=now, **values)
        .where(
            (CampaignReport.campaign == campaign_id)
            & (CampaignReport.step == previous_step(step))
        )
        .execute()
    )
    if updated != 1:
        raise StepTakenError(step)

