"""`flask api ...`: the administrator issues and revokes Open311 keys and staff tokens."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlmodel import select

from app.api import credentials
from app.models import ApiClient, ApiToken, User
from notices.db import session_scope
from notices.timeutil import to_cst

api_cli = AppGroup("api", help="Open311 client keys and staff API tokens.")


def _when(value) -> str:
    return to_cst(value).strftime("%Y-%m-%d %H:%M") if value else "-"


@api_cli.command("issue-key")
@click.argument("name")
def issue_key(name: str) -> None:
    """Issue an Open311 api_key for client NAME (shown once)."""
    try:
        with session_scope() as session:
            issued = credentials.issue_key(session, name)
    except credentials.CredentialError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"client {issued.id} ({name}): api_key (shown once, store it safely):")
    click.echo(issued.secret)


@api_cli.command("revoke-key")
@click.argument("client_id", type=int)
def revoke_key(client_id: int) -> None:
    """Revoke the Open311 key of client CLIENT_ID at once."""
    try:
        with session_scope() as session:
            credentials.revoke_key(session, client_id)
    except credentials.CredentialError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"client {client_id}: key revoked")


@api_cli.command("list-keys")
def list_keys() -> None:
    """List Open311 clients (never their keys)."""
    with session_scope() as session:
        for client in session.exec(select(ApiClient).order_by(ApiClient.id)):
            state = f"revoked {_when(client.revoked_at)}" if client.revoked_at else "active"
            click.echo(f"{client.id:>4}  xnk_{client.key_prefix}_…  {state:<24} {client.name}")


@api_cli.command("issue-token")
@click.argument("username")
@click.option("--name", default="", help="what the token is for")
def issue_token(username: str, name: str) -> None:
    """Issue a staff API token for USERNAME (shown once)."""
    try:
        with session_scope() as session:
            issued = credentials.issue_token(session, username, name=name)
    except credentials.CredentialError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"token {issued.id} for {username} (shown once, store it safely):")
    click.echo(issued.secret)


@api_cli.command("revoke-token")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke staff API token TOKEN_ID at once."""
    try:
        with session_scope() as session:
            credentials.revoke_token(session, token_id)
    except credentials.CredentialError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"token {token_id}: revoked")


@api_cli.command("list-tokens")
def list_tokens() -> None:
    """List staff API tokens (never the secrets)."""
    with session_scope() as session:
        rows = session.exec(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                            .order_by(ApiToken.id)).all()
        for token, user in rows:
            state = f"revoked {_when(token.revoked_at)}" if token.revoked_at else "active"
            click.echo(f"{token.id:>4}  xnt_{token.token_prefix}_…  {user.username:<16} "
                       f"{state:<24} last used {_when(token.last_used_at)}  {token.name}")
