"""Events that arrive after a campaign closed (a journal replayed late): archived, never dropped."""

from __future__ import annotations

import io
import logging
import zipfile

from app import csvcells
from app.config import get_settings
from app.db import database
from app.finalization.archive import ARCHIVED
from app.models import CLOSED, CampaignReport
from app.reports import export_folder, sql, write_atomically

log = logging.getLogger(__name__)

ZIP_DATE = (2000, 1, 1, 0, 0, 0)  # fixed member dates: the same data, the same bytes


def campaigns_with_late_events() -> list[int]:
    """CLOSED campaigns with events in the working table again (a journal replayed late)."""
    query = sql(
        "SELECT DISTINCT e.campaign_id FROM call_event e JOIN campaign c ON c.id = e.campaign_id "
        "WHERE c.state = ? ORDER BY e.campaign_id"
    )
    return [row[0] for row in database.execute_sql(query, (CLOSED,)).fetchall()]


def archive_late_events(campaign_id: int, now) -> int:
    """Move a CLOSED campaign's late events to a zip next to its archive; return how many.

    An event Asterisk handed over is never dropped: it is archived (and counted
    in the report's ``late_events``) before it leaves the working table.
    """
    (last_id,) = database.execute_sql(
        sql("SELECT MAX(id) FROM call_event WHERE campaign_id = ?"), (campaign_id,)
    ).fetchone()
    if last_id is None:
        return 0
    columns = ARCHIVED[0][1]
    rows = database.execute_sql(
        sql(
            f"SELECT {', '.join(columns)} FROM call_event "
            "WHERE campaign_id = ? AND id <= ? ORDER BY id"
        ),
        (campaign_id, last_id),
    ).fetchall()
    path = export_folder(get_settings().export_dir, campaign_id) / (
        f"late-events-{now.strftime('%Y%m%dT%H%M%S')}-{last_id}.zip"
    )
    write_atomically(path, lambda handle: _write_zip(handle, columns, rows))
    with database.atomic():
        deleted = database.execute_sql(
            sql("DELETE FROM call_event WHERE campaign_id = ? AND id <= ?"), (campaign_id, last_id)
        ).rowcount
        row = CampaignReport.get_or_none(CampaignReport.campaign == campaign_id)
        if row is not None:
            late = list((row.data or {}).get("late_events", []))
            late.append({"path": str(path), "events": len(rows), "archived_at": now.isoformat()})
            row.data = {**(row.data or {}), "late_events": late}
            row.save(only=[CampaignReport.data])
    log.warning(
        "campaign=%s: %d events arrived after the close; archived to %s", campaign_id, deleted, path
    )
    return deleted


def _write_zip(handle, columns, rows) -> None:
    """A zip holding ``events.csv`` (``columns`` then ``rows``) into binary ``handle``."""
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("events.csv", date_time=ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        with zf.open(info, "w") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            writer = csvcells.writer(text)
            writer.writerow(columns)
            writer.writerows(rows)
            text.flush()
            text.detach()
