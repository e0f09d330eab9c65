"""``flask --app app campaign ...``: create, activate, pause, resume, finish, show."""

from __future__ import annotations

import json
from datetime import datetime

import click
from flask.cli import AppGroup

from app import campaigns
from app.amd import settings_from_text
from app.amd import settings_of as amd_settings_of
from app.amd_figures import live_counts as amd_counts
from app.campaigns import LIMITS
from app.clock import utcnow
from app.contacts import create_contact_list, import_contact_list
from app.db import connection, row_id
from app.dialer import status
from app.errors import CallcastError, ValidationError
from app.messages.prepare import skipped_note
from app.models import ContactList
from app.config import get_settings
from app.pbx.poolami import get_pool_ami
from app.windows import WEEKDAYS, describe_windows, parse_windows

campaign_cli = AppGroup("campaign", help="Campaigns: create, activate, pause, resume, finish, show.")


def _fail(exc):
    raise click.ClickException(str(exc))


def parse_option(text: str) -> dict:
    """'1=Confirm', '2=Cancel:record', '0=Agent:transfer:100' -> option fields.

    Only the syntax: what a digit, an action and a target must be is the
    campaign rules' (``campaigns.validate``).

    Raises:
        ValidationError: malformed.
    """
    digit, sep, rest = text.partition("=")
    digit = digit.strip()
    if not sep or len(digit) != 1:
        raise ValidationError(f"option {text!r}: expected DIGIT=LABEL[:ACTION[:TARGET]]")
    label, _, tail = rest.partition(":")
    action, _, target = tail.partition(":")
    return {"digit": digit, "label": label.strip() or digit, "action": action.strip() or "record",
            "target": target.strip()}


def parse_when(text: str | None, field: str = "date"):
    """An ISO date or datetime; without an offset it is local to the campaign's zone.

    Raises:
        ValidationError: not one (the message names ``field``).
    """
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{field}: not an ISO date/time: {text[:40]!r}") from None


def _bounds(field: str, what: str = "") -> str:
    """The help text of a numeric option: what it is and the rule's range.

    The range itself is checked by ``campaigns.validate``, so a refusal names the
    field and exits 1 like every other refused value.
    """
    limit = LIMITS[field]
    return f"{what + ', ' if what else ''}{limit.low}..{limit.high}"


@campaign_cli.command("create")
@click.option("--name", required=True)
@click.option("--csv", "csv_path", type=click.Path(exists=True, dir_okay=False),
              help="contacts file to import into a new list")
@click.option("--list-id", type=int, help="use an existing contact list instead of --csv")
@click.option("--phone-column", default=None, help="CSV column with the numbers (default: guessed)")
@click.option("--country", default="US", show_default=True, help="default country for national numbers")
@click.option("--message-file", default="", help="audio file (under MEDIA_DIR or absolute)")
@click.option("--message-sound", default="", help="stock Asterisk sound name instead of a file")
@click.option("--option", "options", multiple=True,
              help="DIGIT=LABEL[:record|repeat|transfer[:TARGET]], repeatable")
@click.option("--windows", default="mon-fri 09:00-18:00", show_default=True,
              help="'mon-fri 09:00-12:00,14:00-18:00; sat 10:00-13:00'")
@click.option("--timezone", "tz_name", default="UTC", show_default=True)
@click.option("--starts", default=None, help="start date/time (ISO, campaign zone)")
@click.option("--ends", default=None, help="end date/time (ISO, campaign zone)")
@click.option("--max-channels", type=int, default=10, show_default=True,
              help=_bounds("max_channels"))
@click.option("--attempts", type=int, default=3, show_default=True,
              help=_bounds("max_attempts"))
@click.option("--retry-busy", type=int, default=300, show_default=True,
              help=_bounds("retry_busy_s", "seconds"))
@click.option("--retry-noanswer", type=int, default=600, show_default=True,
              help=_bounds("retry_noanswer_s", "seconds"))
@click.option("--retry-failed", type=int, default=900, show_default=True,
              help=_bounds("retry_failed_s", "seconds after congestion/failed/lost (not unavailable)"))
@click.option("--ring-timeout", type=int, default=30, show_default=True,
              help=_bounds("ring_timeout_s", "seconds"))
@click.option("--max-call", type=int, default=300, show_default=True,
              help=_bounds("max_call_s", "seconds"))
@click.option("--weight", type=int, default=1, show_default=True, help=_bounds("weight"))
@click.option("--caller-id", default="", help='"Name" <number> or a number')
@click.option("--amd", "amd_pairs", multiple=True, metavar="NAME=VALUE",
              help="answering-machine detection, repeatable (turns it on): machine=hangup|"
                   "message, notsure=human|machine, hangup=human|machine, message_sound=..., "
                   "machine_retries=N, machine_retry_s=S, greeting_ms=MS ... (docs/asterisk.md)")
@click.option("--callee-window", default="",
              help="HH:MM-HH:MM: also only inside these hours of each callee's own zone")
def create(name, csv_path, list_id, phone_column, country, message_file, message_sound, options,
           windows, tz_name, starts, ends, max_channels, attempts, retry_busy, retry_noanswer,
           retry_failed, ring_timeout, max_call, weight, caller_id, amd_pairs, callee_window):
    """Create a DRAFT campaign (and import its contacts from --csv)."""
    if bool(csv_path) == bool(list_id):
        raise click.UsageError("give exactly one of --csv or --list-id")
    values = dict(
        name=name, timezone=tz_name, max_channels=max_channels, max_attempts=attempts,
        weight=weight, retry_busy_s=retry_busy, retry_noanswer_s=retry_noanswer,
        retry_failed_s=retry_failed, ring_timeout_s=ring_timeout, max_call_s=max_call,
        caller_id=caller_id, message_file=message_file, message_sound=message_sound,
        callee_window=callee_window,
    )
    try:
        try:
            spans = parse_windows(windows)
        except ValidationError as exc:
            raise ValidationError(f"windows: {exc}") from None  # the option it came from
        option_rows = [parse_option(o) for o in options]
        try:
            values["amd"] = settings_from_text(amd_pairs)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        values.update(starts_at=parse_when(starts, "starts_at"),
                      ends_at=parse_when(ends, "ends_at"))
        # refused before a file is imported for nothing
        campaigns.validate(values, option_rows, spans)
    except ValidationError as exc:
        _fail(exc)
    with connection():
        if csv_path:
            contact_list = _import(csv_path, name, phone_column, country)
        else:
            found = row_id(list_id)
            contact_list = ContactList.get_or_none(ContactList.id == found) if found else None
            if contact_list is None:
                _fail(f"contact list {list_id} does not exist")
        now = utcnow()
        try:
            campaign = campaigns.create({**values, "contact_list": contact_list.id}, now,
                                        options=option_rows, windows=spans)
        except CallcastError as exc:
            _fail(exc)
        found = campaigns.problems(campaign.id, now)
    click.echo(f"created campaign {campaign.id} ({name}) with list {contact_list.id}: "
               f"{contact_list.rows_imported} contacts")
    if found:
        click.echo("not ready to activate yet: " + "; ".join(found))


def _import(csv_path, name, phone_column, country):
    try:
        contact_list, _plan = create_contact_list(name, csv_path, country, phone_column or None)
        contact_list = import_contact_list(contact_list.id, csv_path)
    except CallcastError as exc:
        _fail(exc)
    click.echo(f"imported {contact_list.rows_imported} of {contact_list.rows_total} rows "
               f"({contact_list.rows_rejected} rejected, {contact_list.rows_duplicate} duplicate)")
    return contact_list


@campaign_cli.command("activate")
@click.argument("campaign_id", type=int)
@click.option("--no-reload", is_flag=True, help="write the dialplan but do not reload Asterisk")
def activate_cmd(campaign_id, no_reload):
    """Validate, write the dialplan, go ACTIVE and start dialing."""
    try:
        left_out = activate_and_dial(campaign_id, reload=not no_reload)
    except CallcastError as exc:
        _fail(exc)
    for line in left_out:  # PBXs that did not take the dialplan: they get no calls
        click.echo(f"warning: PBX left out: {line}", err=True)
    click.echo(f"campaign {campaign_id} is ACTIVE; dialing starts")
    with connection():
        note = skipped_note(campaign_id)  # personalised messages (app.messages)
    if note:
        click.echo(f"{note}: flask campaign skipped {campaign_id}")


def activate_and_dial(campaign_id: int, reload: bool = True) -> list[str]:
    """``campaigns.activate``, then the first tick; the PBXs left out of the dialplan
    reload, each with why. Raises what activate raises."""
    with connection():
        ami = get_pool_ami(get_settings()) if reload else None
        campaigns.activate(campaign_id, utcnow(), ami=ami)
    _start_dialing(campaign_id)
    return list(ami.left_out) if ami is not None else []


def _start_dialing(campaign_id: int) -> None:
    # imported here: the broker is built on first use, not for every flask command
    from tasks.dialing import start_dialing

    start_dialing(campaign_id)


@campaign_cli.command("pause")
@click.argument("campaign_id", type=int)
def pause_cmd(campaign_id):
    """Stop new calls at once; calls already up finish."""
    _simple(campaigns.pause, campaign_id, "PAUSED")


@campaign_cli.command("resume")
@click.argument("campaign_id", type=int)
def resume_cmd(campaign_id):
    """Continue a paused campaign."""
    try:
        with connection():
            campaigns.resume(campaign_id, utcnow())
        _start_dialing(campaign_id)
    except CallcastError as exc:
        _fail(exc)
    click.echo(f"campaign {campaign_id} is ACTIVE again")


@campaign_cli.command("finish")
@click.argument("campaign_id", type=int)
def finish_cmd(campaign_id):
    """Finish now: no new calls; the lifecycle drains and closes it."""
    _simple(campaigns.finish, campaign_id, "FINISHED")


def _simple(fn, campaign_id, state):
    try:
        with connection():
            fn(campaign_id, utcnow())
    except CallcastError as exc:
        _fail(exc)
    click.echo(f"campaign {campaign_id} is {state}")


@campaign_cli.command("show")
@click.argument("campaign_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.option("--no-pbx", is_flag=True, help="do not ask the PBX for live calls")
def show_cmd(campaign_id, as_json, no_pbx):
    """State, dialer status, counts by outcome and live calls."""
    ami = None if no_pbx else get_pool_ami(get_settings())
    try:
        with connection():
            campaign = campaigns.get_campaign(campaign_id)  # first: it refuses any id
            info = status(campaign.id, ami)
            info["timezone"] = campaign.timezone
            info["windows"] = describe_windows(campaign_id)
            info["amd"] = amd_counts(campaign.id) if amd_settings_of(campaign).enabled else {}
    except CallcastError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    live_pbx = "?" if info["live_calls_pbx"] is None else info["live_calls_pbx"]
    click.echo(f"campaign {info['id']}: {info['name']}")
    click.echo(f"  state:    {info['state']}")
    click.echo(f"  dialer:   {info['dialer_status'] or '-'} (at {info['dialer_status_at'] or '-'})")
    click.echo(f"  live:     {info['live_calls_db']} in flight (DB), {live_pbx} on the PBX, "
               f"max {info['max_channels']}")
    click.echo(f"  windows:  {', '.join(info['windows']) or '-'} ({info['timezone']})")
    click.echo("  contacts: " + _pairs(info["contacts"]))
    click.echo("  attempts: " + _pairs(info["attempts"]))
    click.echo(f"  lost:     {info['lost_attempts']} (attempts with no outcome from the PBX)")
    if info["amd"]:
        click.echo("  amd:      " + _pairs(info["amd"]))


def _pairs(counts: dict) -> str:
    return ", ".join(f"{k or '-'} {v}" for k, v in sorted(counts.items())) or "-"


__all__ = ["campaign_cli", "WEEKDAYS"]
