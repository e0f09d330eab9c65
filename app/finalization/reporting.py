"""The report steps: the figures, the per-contact CSV and the charts, from the results."""

from __future__ import annotations

import logging

from app.config import get_settings
from app.db import database, is_postgres
from app.finalization.steps import CHARTS, CSV_EXPORT, REPORT, claim
from app.models import CampaignReport
from app.report_charts import chart_images
from app.reports import build_report, export_folder, write_atomically, write_csv

log = logging.getLogger(__name__)


def step_report(campaign_id: int, now) -> None:
    """Store the campaign's figures in its CampaignReport."""
    data = build_report(campaign_id)
    with database.atomic():
        # the claim (a write) comes first in every step: on SQLite a transaction
        # that reads before it writes can fail at once instead of waiting its turn
        claim(campaign_id, REPORT, now)
        row = CampaignReport.get(CampaignReport.campaign == campaign_id)
        # keep what the drain recorded (calls still up, how the drain ended)
        row.data = {**(row.data or {}), **data}
        row.save(only=[CampaignReport.data])
    log.info(
        "campaign=%s report: %s contacts, %s answered",
        campaign_id,
        data["contacts"],
        data["answered"],
    )


def step_csv(campaign_id: int, now) -> None:
    """Write the per-contact CSV to the campaign's export folder."""
    path = export_folder(get_settings().export_dir, campaign_id) / "contacts.csv"
    counted = {}

    def write(handle):
        if is_postgres():
            with database.atomic():  # one snapshot for every page
                counted["rows"] = write_csv(campaign_id, handle)
        else:
            counted["rows"] = write_csv(campaign_id, handle)

    write_atomically(path, write)
    with database.atomic():
        claim(campaign_id, CSV_EXPORT, now, csv_path=str(path))
    log.info("campaign=%s csv: %s rows in %s", campaign_id, counted.get("rows"), path)


def step_charts(campaign_id: int, now) -> None:
    """Write the report's charts (PNG) to the campaign's export folder."""
    row = CampaignReport.get(CampaignReport.campaign == campaign_id)
    folder = export_folder(get_settings().export_dir, campaign_id)
    paths = {}
    for name, png in chart_images(row.data).items():
        path = folder / f"{name}.png"
        write_atomically(path, lambda handle, png=png: handle.write(png))
        paths[name] = str(path)
    with database.atomic():
        claim(campaign_id, CHARTS, now, charts=paths)
    log.info("campaign=%s charts: %s", campaign_id, ", ".join(sorted(paths)))

