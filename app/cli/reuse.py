"""``flask campaign clone|template|templates|recycle|stop-contact``: reuse and compliance.

The work is ``app.campaigns.cloning``'s, ``recycling``'s and ``app.contacts.stopping``'s,
as for the console and the API.

Attached to the ``campaign`` group by ``register_cli``; the recycle verb joins
them when it exists.
"""

from __future__ import annotations

import click

from app.cli import add_commands
from app.campaigns import cloning, recycling
from app.contacts.stopping import stop_contact
from app.clock import utcnow
from app.db import connection
from app.errors import CallcastError


def _fail(exc):
    raise click.ClickException(str(exc))


@click.command("clone")
@click.argument("campaign_id", type=int)
@click.option("--name", default=None, help="the new campaign's name (default: 'copy of NAME')")
@click.option("--list-id", type=int, default=None, help="use this contact list (default: shared)")
@click.option("--no-list", is_flag=True, help="leave the clone without a contact list")
@click.option("--from-template", is_flag=True, help="refuse unless the campaign is a template")
def clone_cmd(campaign_id, name, list_id, no_list, from_template):
    """Copy a campaign (any state) into a new DRAFT: settings, options, windows, message."""
    if list_id is not None and no_list:
        raise click.UsageError("give at most one of --list-id and --no-list")
    contact_list = None if no_list else (list_id if list_id is not None else cloning.KEEP)
    make = cloning.new_from_template if from_template else cloning.clone
    try:
        with connection():
            copy = make(campaign_id, utcnow(), name=name, contact_list=contact_list)
    except CallcastError as exc:
        _fail(exc)
    click.echo(f"created campaign {copy.id} ({copy.name}), a DRAFT copy of {campaign_id}")


@click.command("template")
@click.argument("campaign_id", type=int)
@click.option("--off", is_flag=True, help="no longer a template")
def template_cmd(campaign_id, off):
    """Mark a campaign as a template ("new from template" on the create page)."""
    try:
        with connection():
            cloning.mark_template(campaign_id, not off, utcnow())
    except CallcastError as exc:
        _fail(exc)
    click.echo(f"campaign {campaign_id} is {'no longer ' if off else ''}a template")


@click.command("templates")
def templates_cmd():
    """List the campaigns marked as templates."""
    with connection():
        rows = [(c.id, c.name, c.state) for c in cloning.templates()]
    for campaign_id, name, state in rows:
        click.echo(f"{campaign_id}\t{state}\t{name}")
    if not rows:
        click.echo("no templates")


@click.command("stop-contact")
@click.argument("campaign_id", type=int)
@click.argument("contact")
@click.option("--dnc", is_flag=True, help="also put the number on the do-not-call list")
@click.option("--note", default="", help="the do-not-call note")
def stop_contact_cmd(campaign_id, contact, dnc, note):
    """Stop CONTACT (its phone number or id) in a running campaign: final, outcome stopped."""
    try:
        with connection():
            done = stop_contact(campaign_id, contact, utcnow(), dnc=dnc, note=note)
    except CallcastError as exc:
        _fail(exc)
    listed = "; on the do-not-call list" if dnc else ""
    click.echo(f"contact {done['contact_id']} ({done['phone']}) stopped, was {done['was']}{listed}")


@click.command("recycle")
@click.argument("campaign_id", type=int)
@click.option("--outcome", "outcomes", multiple=True,
              help="a final outcome to take (busy, noanswer, answered, ...), repeatable")
@click.option("--digit", "digits", multiple=True, help="a digit pressed to take, repeatable")
@click.option("--min-attempts", type=int, default=0, show_default=True)
@click.option("--max-attempts", type=int, default=recycling.MAX_ATTEMPTS_FILTER,
              show_default=True)
@click.option("--name", default=None, help="the new list's and campaign's name")
@click.option("--preview", is_flag=True, help="only count the contacts it would take")
def recycle_cmd(campaign_id, outcomes, digits, min_attempts, max_attempts, name, preview):
    """A new list and DRAFT campaign from a FINISHED or CLOSED campaign's matching contacts."""
    try:
        flt = recycling.make_filter(outcomes, digits, min_attempts, max_attempts)
        with connection():
            if preview:
                count = recycling.preview(campaign_id, flt)
            else:
                copy, new_list, count = recycling.recycle(campaign_id, flt, utcnow(), name=name)
    except CallcastError as exc:
        _fail(exc)
    if preview:
        click.echo(f"{count} contacts match ({flt.describe()})")
    else:
        click.echo(f"created campaign {copy.id} (DRAFT) with list {new_list.id}: {count} "
                   f"contacts ({flt.describe()})")


def attach(group) -> None:
    """Add the reuse verbs to the ``campaign`` group (``app.cli.add_commands``)."""
    add_commands(group, clone_cmd, template_cmd, templates_cmd, recycle_cmd, stop_contact_cmd)
