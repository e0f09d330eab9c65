"""``flask --app app campaign report ID [--json|--csv PATH]``: a finalized campaign's report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from app.cli import add_commands
from app.campaigns import get_campaign
from app.db import database
from app.errors import CallcastError, NotFoundError
from app.presenting import DEFAULT_LOCALE, LOCALES
from app.reports import format_report, stored_report, write_atomically, write_csv
from app.reports_pdf import report_pdf


@click.command("report")
@click.argument("campaign_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, allow_dash=True),
              help="write the per-contact CSV to PATH ('-' for standard output)")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False),
              help="write the report as a PDF (summary, charts, settings) to PATH")
@click.option("--lang", type=click.Choice(LOCALES), default=DEFAULT_LOCALE, show_default=True,
              help="language of the PDF")
def report_cmd(campaign_id, as_json, csv_path, pdf_path, lang):
    """The report of a finalized campaign: figures, or JSON, or the per-contact CSV, or a PDF."""
    if sum(bool(x) for x in (as_json, csv_path, pdf_path)) > 1:
        raise click.UsageError("--json, --csv and --pdf are exclusive")
    if pdf_path:
        _write_pdf(campaign_id, Path(pdf_path), lang)
        return
    try:
        with database.connection_context():
            campaign = get_campaign(campaign_id)
            row = stored_report(campaign_id)
            if row is None or row.step in ("", "results"):
                raise NotFoundError(
                    f"campaign {campaign_id} has no report yet (state {campaign.state}); "
                    "it is built when the campaign is finalized"
                )
            if csv_path == "-":
                write_csv(campaign_id, sys.stdout.buffer)
                sys.stdout.flush()
                return
            if csv_path:
                count = {}
                write_atomically(
                    Path(csv_path),
                    lambda handle: count.setdefault("rows", write_csv(campaign_id, handle)),
                )
                click.echo(f"wrote {count['rows']} contacts to {csv_path}", err=True)
                return
            data = dict(row.data)
            files = {"csv": row.csv_path, "archive": row.archive_path, **(row.charts or {})}
    except CallcastError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps({**data, "state": campaign.state, "step": row.step,
                               "files": files}, indent=2, sort_keys=True, ensure_ascii=False))
        return
    click.echo(format_report(data))
    click.echo(f"  state {campaign.state} (finalization step {row.step})")
    for name, path in files.items():
        if path:
            click.echo(f"  {name}: {path}")


def _write_pdf(campaign_id: int, path: Path, lang: str) -> None:
    try:
        with database.connection_context():
            get_campaign(campaign_id)
            pdf = report_pdf(campaign_id, lang)
    except CallcastError as exc:
        raise click.ClickException(str(exc)) from None
    write_atomically(path, lambda handle: handle.write(pdf))
    click.echo(f"wrote the report PDF ({len(pdf)} bytes) to {path}", err=True)


def attach(group) -> None:
    """Add ``report`` to a click group (the ``campaign`` group of app.cli.campaign)."""
    add_commands(group, report_cmd)
