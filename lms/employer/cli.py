"""Operator commands of this area, added to `flask --app wsgi` by lms.cli.register_cli.

flask --app wsgi export ascwds --org oakview --out training.csv
flask --app wsgi compliance snapshot [--org oakview]      (daily, from cron)
flask --app wsgi requirements enrol [--org oakview]       (daily, from cron)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import select

from ..errors import ServiceError
from ..extensions import db
from ..models import Organisation
from . import service


def _now() -> datetime:
    return datetime.now(UTC)


def _orgs(slug: str | None) -> list[Organisation]:
    q = select(Organisation).order_by(Organisation.slug)
    if slug:
        q = q.where(Organisation.slug == slug)
    orgs = list(db.session.scalars(q))
    if slug and not orgs:
        raise click.ClickException(f"There is no organisation {slug!r}.")
    return orgs


export_cli = click.Group("export", help="Exports for other systems.")


@export_cli.command("ascwds")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The CSV file to write.",
)
def export_ascwds(slug: str, out: Path) -> None:
    """Write the ASC-WDS training bulk-upload CSV of an organisation."""
    (org,) = _orgs(slug)
    try:
        rows = service.ascwds_rows(db.session, org.id, _now())
    except ServiceError as err:
        raise click.ClickException(err.message) from err
    out.write_text(service.ascwds_csv(rows), encoding="utf-8", newline="")
    warnings = sorted({w for r in rows for w in r.warnings})
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(f"{len(rows)} training record(s) written to {out}")


compliance_cli = click.Group("compliance", help="Training compliance figures.")


@compliance_cli.command("snapshot")
@click.option("--org", "slug", help="One organisation (default: every one).")
def compliance_snapshot(slug: str | None) -> None:
    """Record today's % compliant per organisation and site (for the chart over time)."""
    now = _now()
    for org in _orgs(slug):
        snaps = service.take_snapshot(db.session, org.id, now)
        whole = snaps[0]
        pct = "-" if whole.percent is None else f"{whole.percent}%"
        click.echo(f"{org.slug}: {pct} ({whole.compliant} of {whole.total})")
    db.session.commit()


requirements_cli = click.Group("requirements", help="What each job role must hold.")


@requirements_cli.command("enrol")
@click.option("--org", "slug", help="One organisation (default: every one).")
def requirements_enrol(slug: str | None) -> None:
    """Enrol staff in required training that is missing or whose renewal window has opened."""
    now = _now()
    for org in _orgs(slug):
        result = service.ensure_enrolments(db.session, org.id, now)
        click.echo(
            f"{org.slug}: {len(result.created)} enrolment(s) created, "
            f"{len(result.reopened)} given a new due date"
        )
    db.session.commit()


COMMANDS: list[click.Command] = [export_cli, compliance_cli, requirements_cli]
