"""Reminder e-mails and the weekly digest, against a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from courses.loader import DEFAULT_CATALOGUE, ModuleFolder, load_catalogue, read_module
from courses.models import CatalogueModule
from lms.accounts import ensure_membership, get_or_create_org, get_or_create_user
from lms.extensions import db
from lms.mail import MemoryMailer, SmtpMailer
from lms.models import Completion, Employment, JobRole, Organisation, Requirement, Role, User
from lms.staff import reminders
from lms.staff.models import ReminderSent
from tests.conftest import PASSWORD, PG_URL, make_app
from tests.lms.smtp_server import Sink, smtp_config, smtp_server

# A Monday, mid-month, far from 29 February: expiry arithmetic stays simple.
EXPIRY = datetime(2027, 6, 14, 9, 0, tzinfo=UTC)
BASE_URL = "https://lms.example.test"


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def two_modules() -> list[ModuleFolder]:
    """The real catalogue's fire safety and infection control modules (reading all is slow)."""
    return [read_module(DEFAULT_CATALOGUE / code) for code in ("FIRE-01", "IPC-01")]


@pytest.fixture
def mail_app(tmp_path: Path, sink: Sink, two_modules: list[ModuleFolder]) -> Iterator[Flask]:
    sink.clear()
    sink.fail_with = None
    for app in make_app(tmp_path, **smtp_config(sink)):
        load_catalogue(db.session, two_modules, datetime.now(UTC))
        db.session.commit()
        yield app


class World:
    """One organisation with managers, a job role needing two modules, and workers."""

    def __init__(self, app: Flask, sink: Sink, expiring_days: int = 90) -> None:
        self.app, self.sink = app, sink
        now = datetime(2026, 1, 1, tzinfo=UTC)
        self.hasher = app.extensions["password_hasher"]
        self.org = get_or_create_org(db.session, "oakview", "Oakview Care", "care_provider", now)
        self.org.expiring_days = expiring_days
        self.manager = self.person("grace@example.com", "Grace Mensah", Role.MANAGER)
        self.admin = self.person("priya@example.com", "Priya Shah", Role.ADMIN)
        self.role = JobRole(org_id=self.org.id, name="Care worker", cwp_category="Care worker")
        db.session.add(self.role)
        db.session.flush()
        # Fire safety and infection control, each renewed every 12 months here.
        for code in ("FIRE-01", "IPC-01"):
            db.session.add(
                Requirement(
                    org_id=self.org.id,
                    job_role_id=self.role.id,
                    module_code=code,
                    refresh_months=12,
                )
            )
        db.session.commit()

    def person(self, email: str, name: str, role: Role) -> User:
        user = get_or_create_user(
            db.session, self.hasher, email, name, PASSWORD, datetime(2026, 1, 1, tzinfo=UTC)
        )
        ensure_membership(db.session, user, self.org, role)
        return user

    def worker(self, email: str, name: str, **employment: Any) -> User:
        user = self.person(email, name, Role.LEARNER)
        db.session.add(
            Employment(
                org_id=self.org.id,
                user_id=user.id,
                job_role_id=self.role.id,
                worker_ref=email.split("@")[0],
                **{"start_date": date(2025, 1, 6), **employment},
            )
        )
        db.session.commit()
        return user

    def role_for(self, user: User) -> None:
        """Give an existing member (e.g. a manager) an employment in the job role."""
        db.session.add(
            Employment(
                org_id=self.org.id,
                user_id=user.id,
                job_role_id=self.role.id,
                worker_ref=f"u{user.id}",
            )
        )
        db.session.commit()

    def completed(self, user: User, code: str, expires_at: datetime) -> None:
        """A completion whose 12-month refresh falls due at `expires_at`."""
        module = db.session.scalar(
            select(CatalogueModule).where(CatalogueModule.code == code, CatalogueModule.is_current)
        )
        assert module is not None
        db.session.add(
            Completion(
                user_id=user.id,
                org_id=self.org.id,
                module_id=module.id,
                source="external",
                completed_at=expires_at.replace(year=expires_at.year - 1),
            )
        )
        db.session.commit()

    def run(self, now: datetime) -> reminders.Report:
        self.sink.clear()
        return reminders.send_reminders(
            db.session, SmtpMailer.from_config(self.app.config), now, base_url=BASE_URL
        )

    def digest(self, now: datetime) -> reminders.Report:
        self.sink.clear()
        return reminders.send_digests(
            db.session, SmtpMailer.from_config(self.app.config), now, base_url=BASE_URL
        )


@pytest.fixture
def world(mail_app: Flask, sink: Sink) -> World:
    return World(mail_app, sink)


def amira_with_fire_expiring(world: World) -> User:
    amira = world.worker("amira@example.com", "Amira Okafor")
    world.completed(amira, "FIRE-01", EXPIRY)
    world.completed(amira, "IPC-01", EXPIRY + timedelta(days=200))  # stays up to date
    return amira


def texts(sink: Sink, address: str) -> list[str]:
    return [r.text() for r in sink.to(address)]


def test_expiring_marks_at_90_60_30_days_each_sent_once(world: World, sink: Sink) -> None:
    amira = amira_with_fire_expiring(world)
    day = timedelta(days=1)
    second = timedelta(seconds=1)

    assert world.run(EXPIRY - 90 * day - second).emails_sent == 0  # 90 days and a second
    report = world.run(EXPIRY - 90 * day)  # exactly 90 days before: the 90-day mark
    assert (report.emails_sent, report.reminders_sent) == (1, 1)
    [mail] = sink.received
    assert mail.envelope_to == [amira.email]
    assert mail.subject == "Oakview Care: training to do"
    body = mail.text()
    assert "Fire safety" in body and "runs out on 14 June 2027" in body
    assert "Infection" not in body
    assert f"{BASE_URL}/" in body
    assert "Fire safety" in mail.html()

    assert world.run(EXPIRY - 90 * day).emails_sent == 0  # the same run again
    assert world.run(EXPIRY - 61 * day).emails_sent == 0  # still in the 90-day band
    assert world.run(EXPIRY - 60 * day).reminders_sent == 1
    assert world.run(EXPIRY - 30 * day - second).emails_sent == 0
    assert world.run(EXPIRY - 30 * day).reminders_sent == 1
    assert world.run(EXPIRY - second).emails_sent == 0
    rows = db.session.execute(
        select(ReminderSent.kind, ReminderSent.threshold, ReminderSent.state).order_by(
            ReminderSent.id
        )
    ).all()
    assert rows == [("expiring", 90, "sent"), ("expiring", 60, "sent"), ("expiring", 30, "sent")]


def test_a_worker_who_chose_hindi_is_reminded_in_hindi(world: World, sink: Sink) -> None:
    """Her language is kept on her account (lms.i18n): the e-mail is written in it; the module's
    title stays as written (lessons are in English); the others' e-mails stay in English."""
    amira = amira_with_fire_expiring(world)
    amira.locale = "hi"
    ben = world.worker("ben@example.com", "Ben Carter")
    world.completed(ben, "FIRE-01", EXPIRY)
    world.completed(ben, "IPC-01", EXPIRY + timedelta(days=200))
    db.session.commit()
    assert world.run(EXPIRY - timedelta(days=90)).emails_sent == 2
    [hindi] = sink.to(amira.email)
    assert hindi.subject == "Oakview Care: करने के लिए प्रशिक्षण"
    body = hindi.text()
    assert "नमस्ते Amira Okafor," in body
    assert "14 जून 2027 को समाप्त हो रहा है" in body  # the date in Hindi too
    assert "Fire safety" in body and "runs out" not in body
    assert 'lang="hi"' in hindi.html()
    [english] = sink.to(ben.email)
    assert english.subject == "Oakview Care: training to do"
    assert "runs out on 14 June 2027" in english.text() and 'lang="en"' in english.html()


def test_expired_tells_the_worker_and_escalates_to_managers_once(world: World, sink: Sink) -> None:
    amira = amira_with_fire_expiring(world)
    ben = world.worker("ben@example.com", "Ben Carter")
    world.completed(ben, "FIRE-01", EXPIRY - timedelta(days=3))
    world.completed(ben, "IPC-01", EXPIRY - timedelta(days=3))

    report = world.run(EXPIRY)  # the expiry instant: expired
    assert report.emails_sent == 3  # Amira, Ben, and one escalation to Grace
    [to_amira] = texts(sink, amira.email)
    assert "ran out on 14 June 2027" in to_amira
    assert "Your manager has been told" in to_amira
    [to_ben] = sink.to(ben.email)
    assert "Fire safety" in to_ben.text() and "Infection" in to_ben.text()
    [escalation] = sink.to(world.manager.email)
    assert escalation.subject == "Oakview Care: 3 training records now overdue"
    assert "Amira Okafor: Fire safety" in escalation.text()
    assert f"{BASE_URL}/manage/oakview/matrix" in escalation.text()
    assert sink.to(world.admin.email) == []  # admins only when there is no manager

    assert world.run(EXPIRY + timedelta(days=1)).emails_sent == 0
    assert world.run(EXPIRY + timedelta(days=40)).emails_sent == 0


def test_renewal_starts_a_new_cycle_that_is_reminded_again(world: World, sink: Sink) -> None:
    amira = amira_with_fire_expiring(world)
    assert world.run(EXPIRY - timedelta(days=30)).reminders_sent == 1
    # She renews (a new completion: 12 months from now), and later that expires too.
    renewed = EXPIRY - timedelta(days=20)
    world.completed(amira, "FIRE-01", renewed.replace(year=renewed.year + 1))
    assert world.run(renewed + timedelta(days=1)).emails_sent == 0  # up to date now
    next_expiry = renewed.replace(year=renewed.year + 1)
    world.run(next_expiry - timedelta(days=30))
    [mail] = sink.to(amira.email)
    assert "Fire safety" in mail.text() and "runs out on 25 May 2028" in mail.text()
    fire = db.session.execute(
        select(ReminderSent.cycle, ReminderSent.threshold)
        .where(ReminderSent.module_code == "FIRE-01")
        .order_by(ReminderSent.id)
    ).all()
    assert fire == [("2027-06-14", 30), ("2028-05-25", 30)]


def test_a_manager_who_is_also_a_worker_gets_her_own_reminder_and_the_escalation(
    world: World, sink: Sink
) -> None:
    amira_with_fire_expiring(world)
    grace = world.manager
    world.role_for(grace)
    world.completed(grace, "FIRE-01", EXPIRY)
    world.completed(grace, "IPC-01", EXPIRY + timedelta(days=200))
    assert world.run(EXPIRY).emails_sent == 3  # Amira; Grace's own; Grace's escalation
    escalation, own = sorted(sink.to(grace.email), key=lambda r: r.subject)
    assert own.subject == "Oakview Care: your training has run out"
    assert "Fire safety" in own.text() and "Amira" not in own.text()
    assert escalation.subject == "Oakview Care: 1 training record now overdue"
    assert "Amira Okafor: Fire safety" in escalation.text()
    assert "Grace Mensah:" not in escalation.text()  # never told about herself


def test_the_organisation_threshold_limits_the_marks(mail_app: Flask, sink: Sink) -> None:
    world = World(mail_app, sink, expiring_days=30)
    amira_with_fire_expiring(world)
    assert world.run(EXPIRY - timedelta(days=90)).emails_sent == 0
    assert world.run(EXPIRY - timedelta(days=60)).emails_sent == 0
    assert world.run(EXPIRY - timedelta(days=31)).emails_sent == 0
    assert world.run(EXPIRY - timedelta(days=30)).reminders_sent == 1
    assert db.session.scalar(select(ReminderSent.threshold)) == 30


def test_a_late_first_run_sends_only_the_nearest_mark(world: World, sink: Sink) -> None:
    amira_with_fire_expiring(world)
    assert world.run(EXPIRY - timedelta(days=45)).reminders_sent == 1
    assert db.session.scalar(select(ReminderSent.threshold)) == 60
    assert world.run(EXPIRY - timedelta(days=30)).reminders_sent == 1


def test_missing_training_is_reminded_once(world: World, sink: Sink) -> None:
    cara = world.worker("cara@example.com", "Cara Diaz")
    report = world.run(EXPIRY)
    assert (report.emails_sent, report.reminders_sent) == (1, 2)  # both modules, one e-mail
    [mail] = sink.to(cara.email)
    assert "you have not done this yet" in mail.text()
    assert sink.to(world.manager.email) == []  # missing is not escalated (it is in the digest)
    assert world.run(EXPIRY + timedelta(days=7)).emails_sent == 0


def test_leavers_future_starters_and_closed_accounts_get_nothing(world: World, sink: Sink) -> None:
    world.worker("left@example.com", "Dan Left", end_date=date(2027, 1, 1))
    world.worker("soon@example.com", "Fay Soon", start_date=EXPIRY.date() + timedelta(days=1))
    closed = world.worker("closed@example.com", "Eve Closed")
    closed.active = False
    db.session.commit()
    assert world.run(EXPIRY).emails_sent == 0


def test_no_managers_escalates_to_admins(world: World, sink: Sink) -> None:
    world.manager.active = False
    db.session.commit()
    amira_with_fire_expiring(world)
    world.run(EXPIRY)
    assert len(sink.to(world.admin.email)) == 1


def test_failure_is_recorded_and_retried_by_the_next_run(world: World, sink: Sink) -> None:
    amira = amira_with_fire_expiring(world)
    sink.fail_with = "451 4.3.0 Mailbox temporarily unavailable"
    report = world.run(EXPIRY - timedelta(days=30))
    assert (report.emails_sent, report.failed) == (0, 1)
    assert report.errors == [
        f"The mail server 127.0.0.1:{sink.port} refused the message (SMTP 451)."
    ]
    row = db.session.scalar(select(ReminderSent))
    assert row is not None and (row.state, row.attempts) == ("failed", 1)
    assert row.last_error and "451" in row.last_error

    sink.fail_with = None
    report = world.run(EXPIRY - timedelta(days=29))
    assert (report.emails_sent, report.failed) == (1, 0)
    assert len(sink.to(amira.email)) == 1
    db.session.refresh(row)
    assert (row.state, row.attempts, row.last_error) == ("sent", 2, None)
    assert world.run(EXPIRY - timedelta(days=28)).emails_sent == 0


def test_temporary_failures_are_retried_for_as_long_as_they_last(world: World, sink: Sink) -> None:
    amira = amira_with_fire_expiring(world)
    sink.fail_with = "451 4.3.0 try again later"
    for n in range(reminders.MAX_ATTEMPTS + 2):  # a week-long outage of a daily cron
        assert world.run(EXPIRY - timedelta(days=30, hours=-n)).failed == 1
    sink.fail_with = None
    assert world.run(EXPIRY - timedelta(days=20)).emails_sent == 1
    assert len(sink.to(amira.email)) == 1
    row = db.session.scalar(select(ReminderSent))
    assert row is not None and (row.state, row.attempts) == ("sent", reminders.MAX_ATTEMPTS + 3)


def test_retries_after_a_permanent_refusal_stop_after_max_attempts(
    world: World, sink: Sink
) -> None:
    amira_with_fire_expiring(world)
    sink.fail_with = "550 5.1.1 no such user"
    for n in range(reminders.MAX_ATTEMPTS):
        assert world.run(EXPIRY - timedelta(days=30, hours=-n)).failed == 1
    report = world.run(EXPIRY - timedelta(days=29))
    assert (report.failed, report.skipped, report.emails_sent) == (0, 1, 0)
    row = db.session.scalar(select(ReminderSent))
    assert row is not None and row.attempts == reminders.MAX_ATTEMPTS
    assert row.retryable is False and row.last_error and "SMTP 550" in row.last_error


def test_unreachable_server_fails_cleanly(world: World, sink: Sink) -> None:
    amira_with_fire_expiring(world)
    mailer = SmtpMailer(host="127.0.0.1", port=5509 if sink.port != 5509 else 5508, timeout=2)
    report = reminders.send_reminders(db.session, mailer, EXPIRY - timedelta(days=30))
    assert report.failed == 1 and "Could not reach the mail server" in report.errors[0]


def test_an_overlapping_run_sends_nothing_twice(world: World, sink: Sink) -> None:
    """A run that claimed reminders and is still sending: a second run skips them."""
    amira_with_fire_expiring(world)
    now = EXPIRY - timedelta(days=30)
    org = db.session.get(Organisation, world.org.id)
    assert org is not None
    [due] = reminders.due_reminders(db.session, org, now)
    assert reminders.claim(db.session, due, now) is not None
    db.session.commit()  # the first run's claim, committed before its send

    report = world.run(now)
    assert (report.emails_sent, report.skipped) == (0, 1)
    assert sink.received == []
    # If the first run died, the claim is taken back after the lease and sent once.
    later = now + reminders.CLAIM_LEASE + timedelta(seconds=1)
    assert world.run(later).emails_sent == 1
    assert world.run(later).emails_sent == 0


def test_claim_is_decided_by_the_unique_constraint(world: World) -> None:
    amira_with_fire_expiring(world)
    now = EXPIRY - timedelta(days=30)
    org = db.session.get(Organisation, world.org.id)
    assert org is not None
    [due] = reminders.due_reminders(db.session, org, now)
    first = reminders.claim(db.session, due, now)
    second = reminders.claim(db.session, due, now)
    assert first is not None and second is None
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(ReminderSent)) == 1


def test_weekly_digest_once_per_iso_week(world: World, sink: Sink) -> None:
    amira_with_fire_expiring(world)
    world.worker("cara@example.com", "Cara Diaz")
    monday = EXPIRY - timedelta(days=7 * 4)  # a Monday, 28 days before the expiry
    report = world.digest(monday)
    assert report.emails_sent == 1
    [mail] = sink.to(world.manager.email)
    assert mail.subject == "Oakview Care: weekly training summary (3 to follow up)"
    body = mail.text()
    assert "Up to date: 1. Expiring soon: 1. Expired: 0. Missing: 2." in body
    assert "Amira Okafor: Fire safety" in body and "runs out 14 June 2027" in body
    assert "Cara Diaz" in body and "(Missing)" in body
    assert f"{BASE_URL}/manage/oakview/matrix" in body
    assert sink.to(world.admin.email) == []

    sunday = monday + timedelta(days=6, hours=14)
    assert world.digest(sunday).emails_sent == 0  # same ISO week
    assert world.digest(monday + timedelta(days=7)).emails_sent == 1  # the next week


def test_digest_crosses_the_year_by_iso_week() -> None:
    assert reminders.iso_week(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"
    assert reminders.iso_week(datetime(2026, 12, 28, tzinfo=UTC)) == "2026-W53"
    assert reminders.iso_week(datetime(2027, 1, 4, tzinfo=UTC)) == "2027-W01"


def test_digest_with_nothing_to_follow_up(world: World, sink: Sink) -> None:
    amira = world.worker("amira@example.com", "Amira Okafor")
    for code in ("FIRE-01", "IPC-01"):
        world.completed(amira, code, EXPIRY + timedelta(days=300))
    world.digest(EXPIRY)
    [mail] = sink.to(world.manager.email)
    assert "all required training is up to date" in mail.text()
    assert "100% of required training is valid today" in mail.text()


def test_expiring_mark_edges() -> None:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    day = timedelta(days=1)
    assert reminders.expiring_mark(now + 90 * day, now, 90) == 90
    assert reminders.expiring_mark(now + 90 * day + timedelta(microseconds=1), now, 90) is None
    assert reminders.expiring_mark(now + 60 * day, now, 90) == 60
    assert reminders.expiring_mark(now + 59 * day, now, 90) == 60
    assert reminders.expiring_mark(now + 30 * day, now, 90) == 30
    assert reminders.expiring_mark(now + 89 * day, now, 60) is None
    assert reminders.expiring_mark(now + 60 * day, now, 60) == 60
    assert reminders.expiring_mark(now + 45 * day, now, 30) is None
    assert reminders.expiring_mark(now + 1 * day, now, 30) == 30


def test_messages_escape_names_in_html() -> None:
    org = Organisation(slug="o", name="Oak <Care>", kind="care_provider")
    user = User(email="x@example.com", name="<script>alert(1)</script>")
    due = reminders.Due(
        1, 1, 1, user.name, "FIRE-01", "Fire & safety", reminders.ReminderKind.MISSING, "missing"
    )
    message = reminders.worker_message(user, org, [due], BASE_URL)
    assert message.html is not None
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert "Fire &amp; safety" in message.html
    assert "<script>alert(1)</script>" in message.text  # plain text stays as written


# --- the commands ----------------------------------------------------------------------------


def test_cli_send_digest_and_dry_run(world: World, sink: Sink, mail_app: Flask) -> None:
    """With today's real clock: a worker whose training expires in 10 days."""
    amira = world.worker("amira@example.com", "Amira Okafor")
    soon = datetime.now(UTC) + timedelta(days=10)
    world.completed(amira, "FIRE-01", soon)
    world.completed(amira, "IPC-01", soon + timedelta(days=300))
    runner = mail_app.test_cli_runner()

    dry = runner.invoke(args=["reminders", "send", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "expiring (30 days): Amira Okafor, Fire safety" in dry.output
    assert "(to amira@example.com)" in dry.output
    assert sink.received == [] and db.session.scalar(select(func.count(ReminderSent.id))) == 0

    sent = runner.invoke(args=["reminders", "send"])
    assert sent.exit_code == 0, sent.output
    assert "1 e-mail(s) sent (1 reminders)" in sent.output
    assert len(sink.to(amira.email)) == 1
    again = runner.invoke(args=["reminders", "send"])
    assert "0 e-mail(s) sent" in again.output and len(sink.to(amira.email)) == 1

    unknown = runner.invoke(args=["reminders", "send", "--org", "nowhere"])
    assert unknown.exit_code == 1 and "There is no organisation 'nowhere'" in unknown.output
    only = runner.invoke(args=["reminders", "send", "--dry-run", "--org", "oakview"])
    assert only.exit_code == 0 and "0 reminder(s) due" in only.output

    digest = runner.invoke(args=["reminders", "digest", "--org", "oakview"])
    assert digest.exit_code == 0 and "1 e-mail(s) sent (1 digests)" in digest.output
    assert len(sink.to(world.manager.email)) == 1


def test_cli_fails_when_mail_is_not_set_up_or_refused(
    tmp_path: Path, sink: Sink, mail_app: Flask
) -> None:
    world = World(mail_app, sink)
    world.worker("cara@example.com", "Cara Diaz")
    mail_app.config["SMTP_HOST"] = ""
    result = mail_app.test_cli_runner().invoke(args=["reminders", "send"])
    assert result.exit_code == 1
    assert "No mail server is set up. Set LMS_SMTP_HOST" in result.output
    assert db.session.scalar(select(func.count(ReminderSent.id))) == 0

    mail_app.config.update(smtp_config(sink))
    sink.fail_with = "421 4.7.0 try later"
    result = mail_app.test_cli_runner().invoke(args=["reminders", "send"])
    assert result.exit_code == 1 and "2 reminder(s) failed" in result.output
    assert "refused the message (SMTP 421)" in result.output


def test_send_reminders_works_with_any_mailer(world: World) -> None:
    """The plain function a job queue can call: no Flask request, any Mailer."""
    world.worker("cara@example.com", "Cara Diaz")
    mailer = MemoryMailer()
    report = reminders.send_reminders(db.session, mailer, EXPIRY)
    assert report.emails_sent == 1 and mailer.sent[0].to == "cara@example.com"


@pytest.mark.postgres
@pytest.mark.skipif(
    not PG_URL, reason="two writers at once need PostgreSQL (SQLite has a single writer lock)"
)
def test_two_runs_at_the_same_moment_send_each_reminder_once(world: World, sink: Sink) -> None:
    """Two runs in two threads with their own connections, started together."""
    import threading

    from sqlalchemy.orm import Session

    for n in range(6):
        world.worker(f"w{n}@example.com", f"Worker {n}")  # each: two modules missing
    now = EXPIRY
    mailer = SmtpMailer.from_config(world.app.config)
    barrier = threading.Barrier(2)
    reports: list[reminders.Report] = []
    errors: list[BaseException] = []
    engine = db.engine

    def run() -> None:
        try:
            with Session(engine) as session:
                barrier.wait()
                reports.append(reminders.send_reminders(session, mailer, now))
        except BaseException as err:  # reported below, not swallowed
            errors.append(err)

    sink.clear()
    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.failed for r in reports) == 0
    assert sum(r.reminders_sent for r in reports) == 12
    assert sum(r.skipped for r in reports) == 12  # what one run sent, the other skipped
    for n in range(6):
        assert len(sink.to(f"w{n}@example.com")) == 1
    assert db.session.scalar(select(func.count(ReminderSent.id))) == 12


def test_a_long_digest_lists_the_first_gaps_and_counts_the_rest(world: World, sink: Sink) -> None:
    for n in range(31):  # 62 missing records
        world.worker(f"w{n:02d}@example.com", f"Worker {n:02d}")
    world.digest(EXPIRY)
    [mail] = sink.to(world.manager.email)
    body = mail.text()
    assert body.count("(Missing)") == reminders.DIGEST_GAPS_LISTED
    assert "- … and 2 more: see the training matrix." in body
    assert body.index("and 2 more") < body.index("See the training matrix:")


def test_an_invited_worker_who_has_not_set_a_password_is_reminded(world: World, sink: Sink) -> None:
    from lms.staff.importer import INVITED_HASH_PREFIX

    newcomer = world.worker("new@example.com", "Gita New")
    newcomer.active = False
    newcomer.password_hash = INVITED_HASH_PREFIX + "x"
    db.session.commit()
    assert world.run(EXPIRY).emails_sent == 1
    assert len(sink.to("new@example.com")) == 1


def test_digest_as_a_job(world: World, sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    from lms import jobs

    monkeypatch.setitem(
        jobs.REGISTRY,
        "reminders.digest",
        jobs.JobSpec("lms.staff.reminders:digest_job", 900, "Weekly digests"),
    )
    world.worker("cara@example.com", "Cara Diaz")
    sink.clear()
    first = jobs.execute("reminders.digest", {})
    assert first["emails_sent"] == 1 and len(sink.to(world.manager.email)) == 1
    assert jobs.execute("reminders.digest", {"org_id": world.org.id})["emails_sent"] == 0
