"""Operator commands of this area, added to `flask --app wsgi` by lms.cli.register_cli.

flask --app wsgi transfers trust-instance --org oakview
flask --app wsgi transfers trust-add --org oakview trust.json --anchor <root thumbprint>
flask --app wsgi transfers trust-list --org oakview
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import select

from ..errors import ServiceError
from ..extensions import db
from ..issuance import IssuanceContext
from ..models import Organisation
from . import service


def _org(slug: str) -> Organisation:
    org = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise click.ClickException(f"There is no organisation {slug!r}.")
    return org


def _fail(err: ServiceError) -> None:
    db.session.rollback()
    raise click.ClickException(err.message)


transfers_cli = click.Group("transfers", help="Trust lists for accepting transferred training.")


@transfers_cli.command("trust-instance")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
def trust_instance(slug: str) -> None:
    """Make an organisation trust every issuer on this CareCred instance."""
    org = _org(slug)
    now = datetime.now(UTC)
    try:
        row = service.trust_instance(
            db.session, IssuanceContext.from_config(current_app.config), org, None, now
        )
    except ServiceError as err:
        _fail(err)
    db.session.commit()
    click.echo(f"{org.slug} trusts {row.name} (root {row.root_thumbprint})")


@transfers_cli.command("trust-add")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--anchor", required=True, help="The root thumbprint, checked with the issuer.")
def trust_add(slug: str, file: Path, anchor: str) -> None:
    """Verify a trust list file against its anchor and make an organisation trust it."""
    org = _org(slug)
    data = file.read_bytes()[: 5 * 1024 * 1024 + 1]
    try:
        row, action = service.add_trust_list(db.session, org, None, data, anchor, datetime.now(UTC))
    except ServiceError as err:
        _fail(err)
    db.session.commit()
    click.echo(f"{action}: {row.name}, issued {row.issued_at:%Y-%m-%d} (root {anchor})")


@transfers_cli.command("trust-list")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
def trust_list(slug: str) -> None:
    """The trust lists an organisation holds."""
    org = _org(slug)
    rows = service.trust_lists(db.session, org)
    if not rows:
        click.echo("none")
    for row in rows:
        kind = "instance" if row.is_instance else "file"
        click.echo(f"{row.root_thumbprint}  {row.issued_at:%Y-%m-%d}  {kind:8}  {row.name}")


COMMANDS: list[click.Command] = [transfers_cli]
