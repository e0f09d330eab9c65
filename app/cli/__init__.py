"""Flask CLI commands: ``flask --app app db upgrade`` and the groups of each topic."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.db import database
from app.migrations import applied, available, upgrade

db_cli = AppGroup("db", help="Database schema.")


@db_cli.command("upgrade")
def db_upgrade():
    """Create or upgrade the schema; a no-op when it is current."""
    with database.connection_context():
        ran = upgrade(database.obj)
    if ran:
        click.echo(f"applied: {', '.join(ran)}")
    else:
        click.echo("schema is up to date")


@db_cli.command("version")
def db_version():
    """Print applied and pending migrations."""
    with database.connection_context():
        done = applied(database.obj)
    for name in available():
        click.echo(f"{'applied' if name in done else 'pending'} {name}")


def add_commands(group, *commands) -> None:
    """Add ``commands`` to a click group; adding the same command again changes nothing.

    Raises:
        RuntimeError: another command already has one of their names (it would be hidden).
    """
    for command in commands:
        existing = group.commands.get(command.name)
        if existing is not None and existing is not command:
            raise RuntimeError(f"two commands named '{group.name} {command.name}'")
        group.add_command(command)


def register_cli(app) -> None:
    app.cli.add_command(db_cli)
    # imported here: each group pulls in its topic (auth, dialing, reports)
    from app.cli.campaign import campaign_cli
    from app.cli.demo import demo_cli
    from app.cli.message import attach as attach_messages
    from app.cli.pbx import pbx_cli
    from app.cli.holiday import holiday_cli
    from app.cli.report import attach as attach_report
    from app.cli.reuse import attach as attach_reuse
    from app.cli.token import token_cli
    from app.cli.user import user_cli

    attach_report(campaign_cli)  # `campaign report` lives with the reports
    attach_messages(campaign_cli)  # `campaign message-template|skipped|message`: app.messages
    attach_reuse(campaign_cli)  # clone, template, recycle (app/cli/reuse.py)
    for group in (user_cli, token_cli, campaign_cli, demo_cli, pbx_cli, holiday_cli):
        app.cli.add_command(group)
