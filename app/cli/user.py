"""``flask --app app user create NAME --role ROLE``: back-office users from the shell."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.users import create_user, set_password
from app.db import database
from app.errors import ValidationError
from app.models import ROLES, User

user_cli = AppGroup("user", help="Back-office users.")


@user_cli.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="operator", show_default=True)
@click.option(
    "--password",
    envvar="CALLCAST_USER_PASSWORD",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The password (else $CALLCAST_USER_PASSWORD, else a prompt).",
)
def user_create(name, role, password):
    """Create a user with a hashed password."""
    with database.connection_context():
        try:
            user = create_user(name, role, password)
        except ValidationError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created user {user.username} ({user.role})")


@user_cli.command("password")
@click.argument("name")
@click.option("--password", envvar="CALLCAST_USER_PASSWORD", prompt=True, hide_input=True,
              confirmation_prompt=True)
def user_password(name, password):
    """Set a user's password (signs out their sessions)."""
    with database.connection_context():
        user = User.get_or_none(User.username == name)
        if user is None:
            raise click.ClickException(f"no user {name!r}")
        try:
            set_password(user.id, password)
        except ValidationError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"password changed for {name}")


@user_cli.command("list")
def user_list():
    """Print every user and role."""
    with database.connection_context():
        for user in User.select().order_by(User.username):
            click.echo(f"{user.username}\t{user.role}\t{'active' if user.active else 'inactive'}")
