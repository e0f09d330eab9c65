"""The end of a campaign, second half: finalization, step by step.

A FINALIZING campaign goes through ``STEPS`` in order. ``CampaignReport.step``
names the last one done; each step claims its turn with a conditional update
of that column inside its own transaction (``step == previous``), so

- a step is done once, even when two finalizers race (the loser's claim
  updates no row and it rolls back);
- a crash (``kill -9``) anywhere rolls back the step in progress, and the
  redelivered message carries on from the last committed step.

Files are written to a temporary name, fsync'd and renamed before the step that
records them commits, and their content depends only on the data: a step redone
after a crash writes the same bytes again.

Every query aggregates in the database or pages through an index, so a
campaign of a million events is finalized in bounded memory.

- ``steps``: the step names in order, and the claim of a step
- ``results``: the per-contact fold of events into ``contact_result`` (SQL)
- ``reporting``: the report, CSV and chart steps
- ``archive``: events and attempts into a gzipped SQLite file (SQLite and
  PostgreSQL COPY paths), then the purge of the working rows
- ``runner``: ``finalize``, which runs the steps left, and the close
- ``late_events``: events that arrive after the close
- ``dialect``: the SQL fragments SQLite and PostgreSQL write differently
"""

from app.finalization.archive import ARCHIVED, build_archive_db, read_archive
from app.finalization.late_events import archive_late_events, campaigns_with_late_events
from app.finalization.results import fold_results, results_sql, silent_results_sql
from app.finalization.runner import RUNNERS, finalize
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
    ensure_report_row,
    next_step,
    previous_step,
)

__all__ = [
    "ARCHIVE",
    "ARCHIVED",
    "CHARTS",
    "CLOSE",
    "CSV_EXPORT",
    "PURGE",
    "REPORT",
    "RESULTS",
    "RUNNERS",
    "STEPS",
    "StepTakenError",
    "archive_late_events",
    "build_archive_db",
    "campaigns_with_late_events",
    "ensure_report_row",
    "finalize",
    "fold_results",
    "next_step",
    "previous_step",
    "read_archive",
    "results_sql",
    "silent_results_sql",
]
