"""``flask holiday add|list|remove``: dates on which nothing is dialled (``app.holidays``)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app import holidays
from app.clock import utcnow
from app.db import connection
from app.errors import CallcastError

holiday_cli = AppGroup("holiday", help="Holidays: dates (in each campaign's zone) with no calls.")


def _fail(exc):
    raise click.ClickException(str(exc))


@holiday_cli.command("add")
@click.argument("day")
@click.argument("name")
@click.option("--campaign", "campaign_id", type=int, default=None,
              help="this campaign only (default: every campaign)")
def add_cmd(day, name, campaign_id):
    """Add DAY (YYYY-MM-DD, local to each campaign) named NAME."""
    try:
        with connection():
            holiday = holidays.add_holiday(day, name, utcnow(), campaign_id)
    except CallcastError as exc:
        _fail(exc)
    scope = f"campaign {campaign_id}" if campaign_id else "every campaign"
    click.echo(f"holiday {holiday.id}: {holiday.day} {holiday.name} ({scope})")


@holiday_cli.command("list")
@click.option("--campaign", "campaign_id", type=int, default=None,
              help="this campaign's holidays and the global ones (default: the global ones)")
def list_cmd(campaign_id):
    """List holidays: id, date, scope, name."""
    try:
        with connection():
            if campaign_id is not None:
                holidays.check_campaign(campaign_id)
            rows = [(h.id, h.day, h.campaign_id, h.name)
                    for h in holidays.list_holidays(campaign_id)]
    except CallcastError as exc:
        _fail(exc)
    for holiday_id, day, scope, name in rows:
        click.echo(f"{holiday_id}\t{day}\t{f'campaign {scope}' if scope else 'all'}\t{name}")
    if not rows:
        click.echo("no holidays")


@holiday_cli.command("remove")
@click.argument("holiday_id", type=int)
def remove_cmd(holiday_id):
    """Remove holiday HOLIDAY_ID."""
    try:
        with connection():
            holidays.remove_holiday(holiday_id)
    except CallcastError as exc:
        _fail(exc)
    click.echo(f"holiday {holiday_id} removed")
