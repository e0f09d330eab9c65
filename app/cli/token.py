"""``flask --app app token create|list|revoke``: API tokens from the shell."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app import apitokens
from app.clock import utcnow
from app.db import database
from app.errors import CallcastError
from app.models import User

token_cli = AppGroup("token", help="API tokens (Authorization: Bearer).")


def _user_id(name: str) -> int:
    user = User.get_or_none(User.username == name)
    if user is None:
        raise click.ClickException(f"no user {name[:64]!r}")
    return user.id


@token_cli.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for (e.g. the CRM's name).")
@click.option("--scope", type=click.Choice(apitokens.SCOPES), default=apitokens.READ,
              show_default=True)
def token_create(username, name, scope):
    """Create a token for USERNAME and print it: it is shown this once, only a hash is kept."""
    with database.connection_context():
        try:
            row, token = apitokens.create_token(_user_id(username), name, scope, utcnow())
        except CallcastError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created token {row.id} ({scope}) for {username}; it is shown this once:",
               err=True)
    click.echo(token)


@token_cli.command("list")
@click.option("--user", "username", default=None, help="Only this user's tokens.")
@click.option("--all", "include_revoked", is_flag=True, help="Revoked tokens too.")
def token_list(username, include_revoked):
    """Print tokens: id, user, name, scope, prefix, created, last used, revoked."""
    with database.connection_context():
        user_id = _user_id(username) if username else None
        rows = apitokens.list_tokens(user_id, include_revoked=include_revoked)
        for row in rows:
            click.echo("\t".join(str(v) for v in (
                row.id, row.user.username, row.name, row.scope, row.prefix + "...",
                _when(row.created_at), _when(row.last_used_at), _when(row.revoked_at),
            )))


@token_cli.command("revoke")
@click.argument("token_id")
def token_revoke(token_id):
    """Revoke token TOKEN_ID: requests with it are refused from now on."""
    with database.connection_context():
        try:
            row = apitokens.revoke_token(token_id, utcnow())
        except CallcastError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"revoked token {row.id} ({row.name})")


def _when(value) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"
