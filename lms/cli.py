"""Operator commands: `flask --app wsgi <group> <command>`.

Each command is a thin shell around a service: it parses options, calls the service with the
session, keys and clock, commits once, and prints plain output. Failures exit non-zero with a
message naming what to fix; nothing half-done is committed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from courses.errors import CatalogueError
from courses.loader import DEFAULT_CATALOGUE, load_catalogue, read_catalogue
from courses.models import CatalogueModule

from . import audit, keys, learning, status
from .accounts import ensure_membership, get_or_create_org, get_or_create_user, normalise_email
from .config import DEV_SECRET_KEY
from .errors import ServiceError
from .extensions import db
from .issuance import IssuanceContext, trust_list
from .models import IssuedCredential, OrgKind, Role, User
from .pdf import certificate_context, render_certificate


def _now() -> datetime:
    return datetime.now(UTC)


def _ctx() -> IssuanceContext:
    return IssuanceContext.from_config(current_app.config)


def _fail(message: str) -> None:
    db.session.rollback()
    raise click.ClickException(message)


# --- courses ---------------------------------------------------------------------------------

courses_cli = click.Group("courses", help="The course catalogue.")


@courses_cli.command("load")
@click.option(
    "--path",
    "path",
    type=click.Path(path_type=Path),
    default=DEFAULT_CATALOGUE,
    show_default=True,
    help="Folder holding one sub-folder per module.",
)
def courses_load(path: Path) -> None:
    """Validate every module and load new versions (all or nothing)."""
    try:
        folders = read_catalogue(path)
        report = load_catalogue(db.session, folders, _now())
    except CatalogueError as err:
        db.session.rollback()
        click.echo("The catalogue was not loaded. Fix these problems:", err=True)
        for problem in err.problems:
            click.echo(f"  - {problem}", err=True)
        raise SystemExit(1) from err
    except (OperationalError, ProgrammingError) as err:
        _fail(f"The database is not ready ({err.orig}). Run `flask --app wsgi db upgrade` first.")
    db.session.commit()
    for item in report.added:
        click.echo(f"loaded {item}")
    click.echo(f"{len(report.added)} added, {len(report.unchanged)} unchanged")


@courses_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def courses_list(as_json: bool) -> None:
    """The current version of every module."""
    modules = db.session.scalars(
        select(CatalogueModule).where(CatalogueModule.is_current).order_by(CatalogueModule.code)
    ).all()
    rows = [
        {
            "id": m.code,
            "version": m.version,
            "title": m.title,
            "category": m.category,
            "refresh_months": m.refresh_months,
            "ascwds_category": m.ascwds_category,
            "outcomes": len(m.outcomes),
            "questions": len(m.questions),
        }
        for m in modules
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        click.echo(
            f"{r['id']:8} v{r['version']}  {r['title']}  ({r['category']}, refresh "
            f"{r['refresh_months'] or 'none'}, {r['outcomes']} outcomes, "
            f"{r['questions']} questions)"
        )


# --- trust -----------------------------------------------------------------------------------

trust_cli = click.Group("trust", help="The signed list of issuers that verifiers trust.")


@trust_cli.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def trust_export(out: Path) -> None:
    """Write the trust list signed by this instance's root key; print the root thumbprint."""
    text, thumbprint = trust_list(db.session, _ctx(), _now())
    db.session.commit()
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}")
    click.echo(f"root key thumbprint (give this to verifiers as --anchor): {thumbprint}")


# --- credentials -----------------------------------------------------------------------------

credentials_cli = click.Group("credentials", help="Issued credentials.")


@credentials_cli.command("export")
@click.option("--email", required=True, help="The worker's e-mail address.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
def credentials_export(email: str, out: Path) -> None:
    """Write each of a worker's credentials as <short-id>.jwt and <short-id>.pdf."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        _fail(f"No user has the e-mail address {email!r}.")
        return
    creds = db.session.scalars(
        select(IssuedCredential)
        .where(IssuedCredential.user_id == user.id)
        .order_by(IssuedCredential.issued_at)
    ).all()
    out.mkdir(parents=True, exist_ok=True)
    for cred in creds:
        (out / f"{cred.short_id}.jwt").write_text(cred.token + "\n", encoding="utf-8")
        pdf = render_certificate(
            certificate_context(cred, current_app.config["INSTANCE_NAME"]), cred
        )
        (out / f"{cred.short_id}.pdf").write_bytes(pdf)
        click.echo(f"{cred.short_id}  {cred.module.title}  -> {out / cred.short_id}.jwt, .pdf")
    (out / "passport.json").write_text(
        status.passport(db.session, _ctx(), user, _now()), encoding="utf-8"
    )
    db.session.commit()  # an issuer key created on first use
    click.echo(f"{len(creds)} credential(s) exported for {user.email}, with passport.json")


@credentials_cli.command("revoke")
@click.argument("ref")
@click.option("--reason", required=True, help="Why (recorded, and shown to the worker).")
def credentials_revoke(ref: str, reason: str) -> None:
    """Revoke a credential for good. REF is its id (urn:uuid:...) or short id."""
    cred = _status_change(ref, lambda c, now: status.revoke(db.session, c, reason, now))
    click.echo(f"revoked {cred.short_id} ({cred.credential_id})")


@credentials_cli.command("suspend")
@click.argument("ref")
@click.option("--reason", required=True, help="Why (recorded, and shown to the worker).")
def credentials_suspend(ref: str, reason: str) -> None:
    """Suspend a credential until it is reinstated."""
    cred = _status_change(ref, lambda c, now: status.suspend(db.session, c, reason, now))
    click.echo(f"suspended {cred.short_id} ({cred.credential_id})")


@credentials_cli.command("reinstate")
@click.argument("ref")
def credentials_reinstate(ref: str) -> None:
    """Lift a suspension."""
    cred = _status_change(ref, lambda c, now: status.reinstate(db.session, c, now))
    click.echo(f"reinstated {cred.short_id} ({cred.credential_id})")


def _status_change(
    ref: str, change: Callable[[IssuedCredential, datetime], None]
) -> IssuedCredential:
    try:
        cred = status.find_credential(db.session, ref)
        change(cred, _now())
    except ServiceError as err:
        _fail(err.message)
        raise  # unreachable: _fail raises
    db.session.commit()
    return cred


# --- keys ------------------------------------------------------------------------------------

keys_cli = click.Group("keys", help="Organisations' signing keys.")


@keys_cli.command("list")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
def keys_list(slug: str) -> None:
    """Every signing key of an organisation, oldest first."""
    try:
        org = keys.organisation(db.session, slug)
    except ServiceError as err:
        _fail(err.message)
        return
    for k in keys.issuer_keys(db.session, org.id):
        until = k.valid_until.isoformat() if k.valid_until else "now"
        flag = f"  COMPROMISED since {k.compromised_at.isoformat()}" if k.compromised_at else ""
        click.echo(f"{k.kid}  signs {k.valid_from.isoformat()} .. {until}{flag}")


@keys_cli.command("rotate")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
def keys_rotate(slug: str) -> None:
    """Start a new signing key; the old one stays trusted for what it already signed."""
    try:
        org = keys.organisation(db.session, slug)
        rotation = keys.rotate(db.session, _ctx(), org, _now())
    except ServiceError as err:
        _fail(err.message)
        return
    db.session.commit()
    if rotation.retired is not None:
        click.echo(f"retired {rotation.retired.kid} (still verifies what it signed)")
    click.echo(f"new key {rotation.current.kid}")
    click.echo("Export and publish a new trust list: flask --app wsgi trust export FILE")


@keys_cli.command("compromised")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
@click.option("--kid", required=True, help="The key's thumbprint (see `keys list`).")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="When it may have leaked (UTC); default now. Credentials it signed from then are refused.",
)
def keys_compromised(slug: str, kid: str, since: datetime | None) -> None:
    """Mark a key compromised and switch the organisation to a new key."""
    now = _now()
    when = since.replace(tzinfo=UTC) if since is not None else now
    try:
        org = keys.organisation(db.session, slug)
        rotation = keys.mark_compromised(db.session, _ctx(), org, kid, when, now)
    except ServiceError as err:
        _fail(err.message)
        return
    db.session.commit()
    click.echo(f"marked {kid} compromised since {when.isoformat()}")
    click.echo(f"signing key is now {rotation.current.kid}")
    click.echo("Export and publish a new trust list now: flask --app wsgi trust export FILE")


# --- demo ------------------------------------------------------------------------------------

DEMO_ORG = ("oakview", "Oakview Care", OrgKind.CARE_PROVIDER)
DEMO_CQC_ID = "1-000000001"  # fictional, like the provider
DEMO_USERS = (
    ("admin@example.com", "Priya Shah", Role.ADMIN, "oakview-admin-demo-password"),
    ("manager@example.com", "Grace Mensah", Role.MANAGER, "oakview-manager-demo-password"),
    ("mentor@example.com", "Tom Baker", Role.MENTOR, "oakview-mentor-demo-password"),
    ("learner@example.com", "Amira Okafor", Role.LEARNER, "oakview-learner-demo-password"),
)
DEMO_MODULES = ("HSA-01", "DIG-01", "CC-16")
DEMO_COMPLETED = "HSA-01"


@click.command("demo")
def demo() -> None:
    """Create (or keep) the demo organisation, users and one issued credential."""
    if (
        current_app.config["LMS_ENV"] == "production"
        or current_app.config["SECRET_KEY"] != DEV_SECRET_KEY
    ):
        _fail("Demo data has known passwords; it is only for a development instance.")
    now = _now()
    session = db.session
    if session.scalar(select(CatalogueModule.id).limit(1)) is None:
        _fail("The catalogue is empty. Run `flask --app wsgi courses load` first.")
    hasher = current_app.extensions["password_hasher"]
    slug, name, kind = DEMO_ORG
    org = get_or_create_org(session, slug, name, kind.value, now)
    org.cqc_provider_id = DEMO_CQC_ID
    users = {}
    for email, person, role, password in DEMO_USERS:
        user = get_or_create_user(session, hasher, email, person, password, now)
        ensure_membership(session, user, org, role)
        users[role] = user
    learner = users[Role.LEARNER]
    for code in DEMO_MODULES:
        learning.enrol(session, learner.id, org.id, code, now, due_on=now + timedelta(days=28))
    if learning.latest_completion(session, learner.id, DEMO_COMPLETED) is None:
        _complete_for_demo(learner, org.id, now)
    from importlib import import_module

    for area in DEMO_AREAS:
        import_module(f"lms.{area}.demo").seed(session, _ctx(), org, users, now)
    session.commit()
    for email, _, _, password in DEMO_USERS:
        click.echo(f"{email} {password}")


def _complete_for_demo(learner: User, org_id: int, now: datetime) -> None:
    """Take the demo learner through the real path: read lessons, pass the quiz."""
    session = db.session
    module = learning.current_module(session, DEMO_COMPLETED)
    enrolment = learning.enrolment_for(session, learner.id, DEMO_COMPLETED)
    for lesson in module.lessons:
        learning.mark_lesson_read(session, learner.id, lesson, now)
    attempt = learning.open_attempt(session, learner.id, enrolment, module, random.Random(7), now)  # noqa: S311
    answers = {f"q{q.id}": list(q.correct) for q in learning.attempt_questions(module, attempt)}
    learning.submit_attempt(session, _ctx(), learner.id, attempt.id, answers, now)


# --- audit -----------------------------------------------------------------------------------

audit_cli = click.Group("audit", help="The tamper-evident audit trail.")


@audit_cli.command("verify")
def audit_verify() -> None:
    """Check the whole hash chain: exit 0 intact, 1 broken (naming the first bad event)."""
    report = audit.verify_chain(db.session)
    if not report.ok:
        click.echo(f"BROKEN at event {report.first_bad_seq}: {report.problem}", err=True)
        click.echo(f"{report.events} event(s) before it are intact.", err=True)
        raise SystemExit(1)
    click.echo(f"intact: {report.events} event(s); head hash {report.head_hash}")
    click.echo("Keep the head hash elsewhere: a later run that ends earlier shows truncation.")


@audit_cli.command("export")
@click.option("--org", "slug", required=True, help="The organisation's slug.")
@click.option("--email", required=True, help="The worker's e-mail address.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def audit_export(slug: str, email: str, out: Path) -> None:
    """Write one worker's audit history in an organisation as CSV (for an inspection)."""
    try:
        org = keys.organisation(db.session, slug)
    except ServiceError as err:
        _fail(err.message)
        return
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        _fail(f"No user has the e-mail address {email!r}.")
        return
    out.write_text(audit.history_csv(audit.history(db.session, org.id, user.id)), "utf-8")
    click.echo(f"wrote {out}")


# Areas that bring their own commands (`COMMANDS` in lms/<area>/cli.py) and demo data
# (`seed` in lms/<area>/demo.py), in this order.
CLI_AREAS = ("employer", "staff", "api", "assess", "carecert", "external", "transfers", "jobs")
DEMO_AREAS = ("employer", "assess", "carecert", "transfers")


def register_cli(app: Flask) -> None:
    from importlib import import_module

    app.cli.add_command(courses_cli)
    app.cli.add_command(trust_cli)
    app.cli.add_command(credentials_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(demo)
    for area in CLI_AREAS:
        for command in import_module(f"lms.{area}.cli").COMMANDS:
            app.cli.add_command(command)
