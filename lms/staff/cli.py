"""Operator commands of this area, added to `flask --app wsgi` by lms.cli.register_cli.

`reminders send` (daily, from cron) and `reminders digest` (weekly, e.g. Monday morning).
Both are safe to run again at any time: what was sent is never sent twice. They exit 1 when
some e-mail could not be sent (those are tried again by the next run), so cron reports it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..mail import Mailer, SmtpMailer, mailer_for
from ..models import Organisation, User
from . import reminders as service

reminders_cli = click.Group("reminders", help="Training reminders and weekly digests by e-mail.")


def _mailer() -> Mailer:
    mailer = mailer_for(current_app)
    if isinstance(mailer, SmtpMailer) and not mailer.host:
        raise click.ClickException(
            "No mail server is set up. Set LMS_SMTP_HOST (and LMS_SMTP_PORT, LMS_SMTP_USER, "
            "LMS_SMTP_PASSWORD, LMS_SMTP_STARTTLS, LMS_SMTP_FROM as needed). Nothing was sent."
        )
    return mailer


def _finish(report: service.Report, what: str) -> None:
    click.echo(
        f"{report.emails_sent} e-mail(s) sent ({report.reminders_sent} {what}); "
        f"{report.skipped} already sent or in progress; {report.failed} reminder(s) failed"
    )
    if report.failed:
        for reason in sorted(set(report.errors)):
            click.echo(f"  - {reason}", err=True)
        raise SystemExit(1)


def _org_id(slug: str | None) -> int | None:
    if slug is None:
        return None
    org_id = db.session.scalar(select(Organisation.id).where(Organisation.slug == slug))
    if org_id is None:
        raise click.ClickException(f"There is no organisation {slug!r}.")
    return org_id


ORG_OPTION = click.option("--org", "slug", help="Only this organisation (its slug).")


@reminders_cli.command("send")
@click.option("--dry-run", is_flag=True, help="List what is due; send and record nothing.")
@ORG_OPTION
def reminders_send(dry_run: bool, slug: str | None) -> None:
    """E-mail workers about training expiring, missing or expired; tell managers of overdue."""
    now = datetime.now(UTC)
    org_id = _org_id(slug)
    if dry_run:
        due = service.pending_summary(db.session, now, org_id=org_id)
        emails = {uid: email for uid, email in db.session.execute(select(User.id, User.email))}
        db.session.rollback()
        for item in due:
            mark = f" ({item.threshold} days)" if item.threshold else ""
            click.echo(
                f"{item.kind.value}{mark}: {item.subject_name}, {item.module_title} "
                f"(to {emails.get(item.recipient_id, item.recipient_id)})"
            )
        click.echo(f"{len(due)} reminder(s) due")
        return
    report = service.send_reminders(
        db.session, _mailer(), now, base_url=current_app.config["BASE_URL"], org_id=org_id
    )
    _finish(report, "reminders")


@reminders_cli.command("digest")
@ORG_OPTION
def reminders_digest(slug: str | None) -> None:
    """The weekly training summary to each manager (once per ISO week)."""
    org_id = _org_id(slug)
    report = service.send_digests(
        db.session,
        _mailer(),
        datetime.now(UTC),
        base_url=current_app.config["BASE_URL"],
        org_id=org_id,
    )
    _finish(report, "digests")


COMMANDS: list[click.Command] = [reminders_cli]
