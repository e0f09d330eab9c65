"""``flask --app app pbx add|list|disable|enable``: the PBX pool from the shell."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.db import database
from app.errors import CallcastError
from app.pbx import pool

pbx_cli = AppGroup("pbx", help="The pool of Asterisk servers the dialer spreads calls over.")


@pbx_cli.command("add")
@click.argument("name")
@click.option("--ami-host", required=True, help="Address of the PBX's manager interface.")
@click.option("--ami-port", default=5038, show_default=True)
@click.option("--ami-user", required=True)
@click.option("--ami-secret", required=True, envvar="PBX_AMI_SECRET",
              help="Or the PBX_AMI_SECRET environment variable (keeps it out of the history).")
@click.option("--agi-host", required=True,
              help="The AGI daemons' address as this PBX reaches them.")
@click.option("--dial-template", default="",
              help="Default: empty, i.e. DIAL_TEMPLATE as the dialer's settings say it.")
@click.option("--capacity", required=True, help="Channels this PBX carries for us at once.")
@click.option("--originate-rate", default="0", show_default=True,
              help="Originates per second to this PBX (0: no limit of its own).")
@click.option("--weight", default="1", show_default=True)
@click.option("--disabled", is_flag=True, help="Add it without sending it calls yet.")
@click.option("--agent", is_flag=True,
              help="Its dialplan goes to its agent (python -m tasks.pbxagent NAME on its host).")
def pbx_add(name, ami_host, ami_port, ami_user, ami_secret, agi_host, dial_template, capacity,
            originate_rate, weight, disabled, agent):
    """Add PBX NAME to the pool."""
    settings = current_app.config["SETTINGS"]
    values = dict(name=name, ami_host=ami_host, ami_port=ami_port, ami_user=ami_user,
                  ami_secret=ami_secret, agi_host=agi_host,
                  dial_template=dial_template, capacity=capacity,
                  originate_rate=originate_rate, weight=weight, enabled=not disabled,
                  agent=agent)
    with database.connection_context():
        try:
            pool.ensure_seeded(settings)  # the seeded PBX stays the first one
            row = pool.add_pbx(values)
        except CallcastError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"added pbx {row.id} {row.name} ({'disabled' if disabled else 'enabled'})")


@pbx_cli.command("list")
def pbx_list():
    """Print the pool: id, name, state, AMI, AGI host, capacity, rate, weight, dial template."""
    with database.connection_context():
        pool.ensure_seeded(current_app.config["SETTINGS"])
        for row in pool.list_pbxs():
            if not row.enabled:
                state = "disabled"
            elif row.down_since is not None:
                state = f"DOWN since {row.down_since:%Y-%m-%d %H:%M:%S}Z ({row.last_error})"
            else:
                state = "up"
            click.echo("\t".join(str(v) for v in (
                row.id, row.name, state, f"{row.ami_host}:{row.ami_port}", row.agi_host,
                row.capacity, row.originate_rate, row.weight,
                row.dial_template or "(DIAL_TEMPLATE)")))


def _set(key, enabled):
    with database.connection_context():
        try:
            row = pool.set_enabled(key, enabled)
        except CallcastError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"pbx {row.name} {'enabled' if enabled else 'disabled'}")


@pbx_cli.command("disable")
@click.argument("pbx")
def pbx_disable(pbx):
    """Send PBX (name or id) no new calls; the calls it has end as they would."""
    _set(pbx, False)


@pbx_cli.command("enable")
@click.argument("pbx")
def pbx_enable(pbx):
    """Send PBX (name or id) calls again."""
    _set(pbx, True)
