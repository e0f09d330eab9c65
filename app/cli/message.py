"""``flask campaign message-template|skipped|message``: a campaign's personalised message from the
command line, through the same domain functions as the console and the API."""

from __future__ import annotations

import json

import click

from app.cli import add_commands
from app import campaigns
from app.clock import utcnow
from app.db import connection
from app.errors import CallcastError
from app.messages.prepare import message_of, skipped_csv


@click.command("message-template")
@click.argument("campaign_id", type=int)
@click.argument("template_file", type=click.File("r", encoding="utf-8"))
def template_cmd(campaign_id, template_file):
    """Set a DRAFT campaign's message template from a JSON file ('-': stdin; {}: none)."""
    try:
        raw = json.load(template_file)
    except ValueError as exc:
        raise click.ClickException(f"template file is not JSON: {exc}") from None
    try:
        with connection():
            campaign = campaigns.get_campaign(campaign_id)
            campaigns.update(campaign_id, {"message_template": raw,
                                           "contact_list": campaign.contact_list_id}, utcnow())
    except CallcastError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"campaign {campaign_id}: message template saved "
               f"({len(raw.get('segments', [])) if isinstance(raw, dict) else 0} segments)")


@click.command("skipped")
@click.argument("campaign_id", type=int)
def skipped_cmd(campaign_id):
    """The contacts skipped at activation (their values do not fit the message), as CSV."""
    with connection():
        campaigns.get_campaign(campaign_id)
        click.echo(skipped_csv(campaign_id), nl=False)


@click.command("message")
@click.argument("campaign_id", type=int)
@click.argument("contact_id", type=int)
def message_cmd(campaign_id, contact_id):
    """What one contact's personalised message says (or why it was skipped)."""
    with connection():
        row = message_of(campaign_id, contact_id)
    if row is None:
        raise click.ClickException(f"campaign {campaign_id} has no message for contact "
                                   f"{contact_id} (no template, or not activated)")
    click.echo(f"skipped: {row.problem}" if row.problem else row.text)


def attach(group) -> None:
    """Add the message commands to the ``campaign`` group (``app.cli.add_commands``)."""
    add_commands(group, template_cmd, skipped_cmd, message_cmd)
