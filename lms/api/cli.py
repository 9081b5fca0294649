"""Operator commands of this area, added to `flask --app wsgi` by lms.cli.register_cli.

flask --app wsgi api-tokens create --org oakview --name "Rota system" --scope learners:read
flask --app wsgi api-tokens list --org oakview
flask --app wsgi api-tokens revoke PREFIX
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from .. import keys
from ..errors import ServiceError
from ..extensions import db
from . import tokens


def _now() -> datetime:
    return datetime.now(UTC)


def _fail(message: str) -> None:
    db.session.rollback()
    raise click.ClickException(message)


api_tokens_cli = click.Group("api-tokens", help="Organisations' API tokens for integrations.")


@api_tokens_cli.command("create")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
@click.option("--name", required=True, help="What the token is for, e.g. 'Rota system'.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(sorted(tokens.SCOPES)),
    help="A scope to grant; repeat for several.",
)
@click.option("--expires-days", type=click.IntRange(1, 3650), help="Expire after this many days.")
def create(slug: str, name: str, scopes: tuple[str, ...], expires_days: int | None) -> None:
    """Create a token and print its secret (shown only this once)."""
    now = _now()
    try:
        org = keys.organisation(db.session, slug)
        row, secret = tokens.create_token(
            db.session,
            org,
            name,
            scopes,
            now,
            actor_label="cli",
            expires_at=now + timedelta(days=expires_days) if expires_days else None,
        )
    except ServiceError as err:
        _fail(err.message)
        return
    db.session.commit()
    click.echo(f"created token {row.prefix}… for {org.slug}: {', '.join(row.scopes)}")
    click.echo("The secret is shown only now. Store it in the integration's settings:")
    click.echo(secret)


@api_tokens_cli.command("list")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
def list_(slug: str) -> None:
    """The organisation's tokens: prefix, state, name, scopes, last use."""
    try:
        org = keys.organisation(db.session, slug)
    except ServiceError as err:
        _fail(err.message)
        return
    now = _now()
    rows = tokens.org_tokens(db.session, org.id)
    if not rows:
        click.echo(f"{org.slug} has no API tokens.")
    for row in rows:
        used = row.last_used_at.strftime("%Y-%m-%d %H:%M") if row.last_used_at else "never used"
        click.echo(
            f"{row.prefix}  {row.state(now):8}  {row.name}  [{' '.join(row.scopes)}]  {used}"
        )


@api_tokens_cli.command("revoke")
@click.argument("prefix")
def revoke(prefix: str) -> None:
    """Revoke the token whose secret starts with PREFIX (8 characters), for good."""
    try:
        row = tokens.find_by_prefix(db.session, prefix.strip())
        changed = tokens.revoke_token(db.session, row, _now(), actor_label="cli")
    except ServiceError as err:
        _fail(err.message)
        return
    db.session.commit()
    click.echo(f"revoked {row.prefix}" if changed else f"{row.prefix} was already revoked")


COMMANDS: list[click.Command] = [api_tokens_cli]
