"""Training reminders by e-mail, and the managers' weekly digest.

`send_reminders(session, mailer, now)` and `send_digests(session, mailer, now)` are plain
functions (cron runs them as `flask --app wsgi reminders send|digest`; a job queue can run
them too). Unlike services they commit, because each e-mail needs its own transactions: a
reminder is claimed (committed) *before* it is sent, then marked sent or failed (committed).

What is sent, per active employment and requirement (statuses from `lms.compliance`):

- **Expiring**: to the worker at the 90, 60 and 30-day marks before expiry, only the marks
  not above the organisation's threshold (`expiring_days`: with 60, the 60 and 30-day marks).
  A mark is reached when `expires_at - now <= mark days` (exactly 30 days before is the
  30-day mark), the same edge as the EXPIRING status. When a run finds several marks reached
  (the first run, or a pause in the cron) only the nearest one is sent.
- **Missing** (never done): to the worker, once per requirement.
- **Expired**: to the worker, once per expiry date, and an **escalation** to each of the
  organisation's managers (admins when it has no manager), once per worker, module and
  expiry date. A new completion gives a new expiry date, so the next cycle is reminded afresh.
- **Digest**: to each manager, once per ISO week: counts by status and the list of gaps.

Workers who have not started yet (start date in the future), leavers (lms.compliance leaves
them out) and closed accounts get no reminders; a worker imported but not yet set up (still
invited) does, since the reminder is how the training gets done.

One e-mail per person per run: everything newly due for a worker goes in one message, and a
manager's escalations in another.

Sent once: each reminder has a row in `reminders_sent` whose unique key is the reminder's
identity (organisation, recipient, worker, module, kind, cycle, threshold). A run inserts the
row before sending; a re-run, or a second run at the same moment, cannot insert it again and
skips it (the database's unique constraint decides, not a read-then-write).

Failures: when the SMTP server does not take a message, its rows are marked `failed` with the
reason, and the next run that finds the reminder still due claims them again: always after a
failure that may pass (server down, "try later", no server set up), and up to `MAX_ATTEMPTS`
attempts in all after a permanent refusal (SMTP 5xx, e.g. no such mailbox). A run that dies
between claiming and sending leaves rows in `sending`; after `CLAIM_LEASE` they are taken to
be lost and claimed again. That is the one case where a message may arrive twice (the process
died after the server took it but before the row was marked): a rare duplicate is better than
a silently lost reminder.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from babel.dates import format_date
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from courses.recert import Status

from ..compliance import STATUS_LABELS, Matrix, org_compliance
from ..i18n import language_of
from ..mail import Link, Mailer, MailError, Message, compose, kept_open
from ..models import Employment, Membership, Organisation, Role, User
from .invitations import is_invited
from .models import ReminderKind, ReminderSent, ReminderState

THRESHOLDS = (90, 60, 30)
MAX_ATTEMPTS = 5
CLAIM_LEASE = timedelta(hours=1)
DIGEST_GAPS_LISTED = 60


@dataclass(frozen=True)
class Due:
    """One reminder that should exist (before it is claimed)."""

    org_id: int
    recipient_id: int
    subject_user_id: int
    subject_name: str
    module_code: str
    module_title: str
    kind: ReminderKind
    cycle: str
    threshold: int = 0
    expires_at: datetime | None = None

    def key(self) -> tuple[int, int, int, str, str, str, int]:
        return (
            self.org_id,
            self.recipient_id,
            self.subject_user_id,
            self.module_code,
            self.kind.value,
            self.cycle,
            self.threshold,
        )


@dataclass
class Report:
    emails_sent: int = 0
    reminders_sent: int = 0  # reminder rows marked sent (an e-mail can carry several)
    failed: int = 0  # reminder rows that failed in this run (retried by the next run)
    skipped: int = 0  # already sent, or being sent by another run, or given up
    errors: list[str] = field(default_factory=list)

    def merge(self, other: Report) -> None:
        self.emails_sent += other.emails_sent
        self.reminders_sent += other.reminders_sent
        self.failed += other.failed
        self.skipped += other.skipped
        self.errors.extend(other.errors)


def day_text(moment: datetime | None, lang: str = "en") -> str:
    """A day as people write it ("5 March 2027"), in the language given."""
    if moment is None:
        return ""
    return format_date(moment.date(), "d MMMM y", locale=lang)


def iso_week(now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


def expiring_mark(expires_at: datetime, now: datetime, org_days: int) -> int | None:
    """The nearest 90/60/30-day mark reached, among those within the organisation's threshold."""
    left = expires_at - now
    reached = [m for m in THRESHOLDS if m <= org_days and left <= timedelta(days=m)]
    return min(reached) if reached else None


def _managers(session: Session, org_id: int) -> list[User]:
    def with_role(role: Role) -> list[User]:
        return list(
            session.scalars(
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .where(
                    Membership.org_id == org_id,
                    Membership.role == role.value,
                    User.active.is_(True),
                )
                .order_by(User.id)
            )
        )

    return with_role(Role.MANAGER) or with_role(Role.ADMIN)


def _reachable(session: Session, user_ids: Iterable[int]) -> dict[int, User]:
    """Workers who can act on a reminder: active accounts, or invited and not yet set up."""
    ids = sorted(set(user_ids))
    out: dict[int, User] = {}
    for start in range(0, len(ids), 500):
        for user in session.scalars(select(User).where(User.id.in_(ids[start : start + 500]))):
            if user.active or is_invited(user):
                out[user.id] = user
    return out


def _due(
    about: tuple[int, int, str, str, str],
    expires_at: datetime | None,
    kind: ReminderKind,
    recipient_id: int,
    cycle: str,
    threshold: int = 0,
) -> Due:
    org_id, user_id, name, code, title = about
    return Due(org_id, recipient_id, user_id, name, code, title, kind, cycle, threshold, expires_at)


def due_reminders(session: Session, org: Organisation, now: datetime) -> list[Due]:
    """Every reminder that should have been sent by `now` for one organisation."""
    matrix = org_compliance(session, org.id, now)
    titles = {c.code: c.title for c in matrix.columns}
    workers = _reachable(session, (r.worker.user_id for r in matrix.rows))
    managers = _managers(session, org.id)
    out: list[Due] = []
    for row in matrix.rows:
        worker = row.worker
        if worker.user_id not in workers:
            continue
        if worker.start_date is not None and worker.start_date > now.date():
            continue  # not started yet: the digest shows their gaps, they are not chased
        for code, cell in sorted(row.cells.items()):
            about = (org.id, worker.user_id, worker.name, code, titles.get(code, code))
            if cell.status is Status.EXPIRING and cell.expires_at is not None:
                mark = expiring_mark(cell.expires_at, now, matrix.expiring_days)
                if mark is not None:
                    cycle = cell.expires_at.date().isoformat()
                    out.append(
                        _due(
                            about,
                            cell.expires_at,
                            ReminderKind.EXPIRING,
                            worker.user_id,
                            cycle,
                            mark,
                        )
                    )
            elif cell.status is Status.MISSING:
                out.append(_due(about, None, ReminderKind.MISSING, worker.user_id, "missing"))
            elif cell.status is Status.EXPIRED and cell.expires_at is not None:
                cycle = cell.expires_at.date().isoformat()
                out.append(
                    _due(about, cell.expires_at, ReminderKind.EXPIRED, worker.user_id, cycle)
                )
                out.extend(
                    _due(about, cell.expires_at, ReminderKind.ESCALATION, manager.id, cycle)
                    for manager in managers
                    if manager.id != worker.user_id
                )
    return out


# --- claiming: the database decides who sends ------------------------------------------------


def _find(session: Session, due: Due) -> ReminderSent | None:
    org_id, recipient, subject, code, kind, cycle, threshold = due.key()
    return session.scalar(
        select(ReminderSent).where(
            ReminderSent.org_id == org_id,
            ReminderSent.recipient_id == recipient,
            ReminderSent.subject_user_id == subject,
            ReminderSent.module_code == code,
            ReminderSent.kind == kind,
            ReminderSent.cycle == cycle,
            ReminderSent.threshold == threshold,
        )
    )


def claim(session: Session, due: Due, now: datetime) -> ReminderSent | None:
    """The reminder's row, now ours to send; None if it was sent or another run has it.

    Runs inside the caller's transaction (a savepoint per row); the caller commits the claims
    before sending anything.
    """
    row = ReminderSent(
        org_id=due.org_id,
        recipient_id=due.recipient_id,
        subject_user_id=due.subject_user_id,
        module_code=due.module_code,
        kind=due.kind.value,
        cycle=due.cycle,
        threshold=due.threshold,
        state=ReminderState.SENDING.value,
        attempts=1,
        claimed_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return row
    except IntegrityError:
        pass
    existing = _find(session, due)
    if existing is None or existing.state == ReminderState.SENT.value:
        return None
    failed_retry = existing.state == ReminderState.FAILED.value and (
        existing.retryable or existing.attempts < MAX_ATTEMPTS
    )
    lost_claim = (
        existing.state == ReminderState.SENDING.value and existing.claimed_at < now - CLAIM_LEASE
    )
    retry = failed_retry or lost_claim
    if not retry:
        return None
    # Compare-and-set on what we read: of two runs retrying the same row, one wins.
    taken = session.execute(
        update(ReminderSent)
        .where(
            ReminderSent.id == existing.id,
            ReminderSent.state == existing.state,
            ReminderSent.attempts == existing.attempts,
        )
        .values(
            state=ReminderState.SENDING.value,
            attempts=existing.attempts + 1,
            claimed_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.refresh(existing)
    return existing


def _deliver(
    session: Session,
    mailer: Mailer,
    message: Message,
    rows: list[ReminderSent],
    now: datetime,
    report: Report,
) -> None:
    """Send one message for claimed (and committed) rows; record the outcome (commits)."""
    ids = [r.id for r in rows]
    try:
        mailer.send(message)
    except MailError as err:
        session.execute(
            update(ReminderSent)
            .where(ReminderSent.id.in_(ids))
            .values(
                state=ReminderState.FAILED.value,
                last_error=str(err)[:500],
                retryable=not err.permanent,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
        report.failed += len(rows)
        report.errors.append(str(err))
        return
    session.execute(
        update(ReminderSent)
        .where(ReminderSent.id.in_(ids))
        .values(state=ReminderState.SENT.value, sent_at=now, last_error=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    report.emails_sent += 1
    report.reminders_sent += len(rows)


def _claim_all(
    session: Session, items: list[Due], now: datetime, report: Report
) -> list[tuple[Due, ReminderSent]]:
    claimed = []
    for due in items:
        row = claim(session, due, now)
        if row is None:
            report.skipped += 1
        else:
            claimed.append((due, row))
    session.commit()  # the claims are visible to every other run before anything is sent
    return claimed


# --- the messages (plain, short words: many readers have English as a second language) --------


def worker_message(user: User, org: Organisation, items: list[Due], base_url: str) -> Message:
    """The worker's reminder, in the language they chose (module titles stay as written)."""
    lang = language_of(user)
    with force_locale(lang):
        lines = []
        for due in items:
            day = day_text(due.expires_at, lang)
            if due.kind is ReminderKind.EXPIRING:
                lines.append(
                    _(
                        "%(title)s: runs out on %(day)s. Please do it again before then.",
                        title=due.module_title,
                        day=day,
                    )
                )
            elif due.kind is ReminderKind.MISSING:
                lines.append(
                    _(
                        "%(title)s: you have not done this yet. Please do it soon.",
                        title=due.module_title,
                    )
                )
            else:
                lines.append(
                    _(
                        "%(title)s: ran out on %(day)s. Please do it again now.",
                        title=due.module_title,
                        day=day,
                    )
                )
        expired = any(d.kind is ReminderKind.EXPIRED for d in items)
        subject = (
            _("%(org)s: your training has run out", org=org.name)
            if expired
            else _("%(org)s: training to do", org=org.name)
        )
        paragraphs = [
            _("Hello %(name)s,", name=user.name),
            _("This training is needed for your job:"),
        ]
        after = (
            [_("Your manager has been told about training that has run out.")] if expired else []
        )
        after.append(_("If you have already done it somewhere else, tell your manager."))
        return compose(
            user.email,
            subject,
            paragraphs,
            items=lines,
            link=Link(_("Open CareCred"), base_url.rstrip("/") + "/") if base_url else None,
            after=after,
            lang=lang,
        )


def escalation_message(
    manager: User, org: Organisation, items: list[Due], base_url: str
) -> Message:
    lines = [
        f"{d.subject_name}: {d.module_title}, ran out on {day_text(d.expires_at)}"
        for d in sorted(items, key=lambda d: (d.subject_name, d.module_title))
    ]
    count = len(items)
    return compose(
        manager.email,
        f"{org.name}: {count} training record{'s' if count != 1 else ''} now overdue",
        [
            f"Hello {manager.name},",
            "This training has run out. The workers have been e-mailed too.",
        ],
        items=lines,
        link=(
            Link("See the training matrix", f"{base_url.rstrip('/')}/manage/{org.slug}/matrix")
            if base_url
            else None
        ),
    )


def digest_message(manager: User, matrix: Matrix, base_url: str) -> Message:
    org = matrix.org
    gaps = matrix.gaps()
    counts = matrix.counts
    percent = matrix.overall.percent
    summary = (
        f"Up to date: {counts[Status.ACTIVE]}. Expiring soon: {counts[Status.EXPIRING]}. "
        f"Expired: {counts[Status.EXPIRED]}. Missing: {counts[Status.MISSING]}."
    )
    paragraphs = [
        f"Hello {manager.name},",
        f"This is the weekly training summary for {org.name} "
        f"({len(matrix.rows)} staff, {matrix.now:%d/%m/%Y}).",
        summary
        + (f" {percent}% of required training is valid today." if percent is not None else ""),
    ]
    lines = []
    for row, column, cell in gaps[:DIGEST_GAPS_LISTED]:
        when = ""
        if cell.status is Status.EXPIRING:
            when = f", runs out {day_text(cell.expires_at)}"
        elif cell.status is Status.EXPIRED:
            when = f", ran out {day_text(cell.expires_at)}"
        lines.append(f"{row.worker.name}: {column.title} ({STATUS_LABELS[cell.status]}{when})")
    if len(gaps) > DIGEST_GAPS_LISTED:
        lines.append(f"… and {len(gaps) - DIGEST_GAPS_LISTED} more: see the training matrix.")
    if gaps:
        paragraphs.append("Training to follow up:")
    else:
        paragraphs.append("Nothing to follow up: all required training is up to date.")
    return compose(
        manager.email,
        f"{org.name}: weekly training summary ({len(gaps)} to follow up)",
        paragraphs,
        items=lines,
        link=(
            Link("See the training matrix", f"{base_url.rstrip('/')}/manage/{org.slug}/matrix")
            if base_url
            else None
        ),
    )


# --- the runs --------------------------------------------------------------------------------


def _organisations(session: Session, org_id: int | None) -> list[Organisation]:
    q = (
        select(Organisation)
        .where(exists().where(Employment.org_id == Organisation.id))
        .order_by(Organisation.id)
    )
    if org_id is not None:
        q = q.where(Organisation.id == org_id)
    return list(session.scalars(q))


def send_reminders(
    session: Session,
    mailer: Mailer,
    now: datetime,
    *,
    base_url: str = "",
    org_id: int | None = None,
) -> Report:
    """Send every reminder that is due and not yet sent, in every organisation (or one)."""
    report = Report()
    with kept_open(mailer) as held:
        for org in _organisations(session, org_id):
            _remind_org(session, held, org, now, base_url, report)
    return report


def _remind_org(
    session: Session,
    mailer: Mailer,
    org: Organisation,
    now: datetime,
    base_url: str,
    report: Report,
) -> None:
    due = due_reminders(session, org, now)
    session.commit()  # end the read transaction before the per-recipient ones
    # One e-mail per recipient about their own training, and one with their escalations (a
    # manager can be both a worker and the one told about others).
    batches: dict[tuple[int, bool], list[Due]] = defaultdict(list)
    for item in due:
        batches[(item.recipient_id, item.kind is ReminderKind.ESCALATION)].append(item)
    for (recipient_id, escalations), items in batches.items():
        claimed = _claim_all(session, items, now, report)
        if not claimed:
            continue
        recipient = session.get(User, recipient_id)
        if recipient is None:  # pragma: no cover - users are never deleted
            continue
        mine = [d for d, _ in claimed]
        if escalations:
            message = escalation_message(recipient, org, mine, base_url)
        else:
            message = worker_message(recipient, org, mine, base_url)
        _deliver(session, mailer, message, [r for _, r in claimed], now, report)


def send_digests(
    session: Session,
    mailer: Mailer,
    now: datetime,
    *,
    base_url: str = "",
    org_id: int | None = None,
) -> Report:
    """The weekly summary to each manager, once per ISO week (re-runs that week send nothing)."""
    report = Report()
    week = iso_week(now)
    with kept_open(mailer) as held:
        for org in _organisations(session, org_id):
            _digest_org(session, held, org, now, week, base_url, report)
    return report


def _digest_org(
    session: Session,
    mailer: Mailer,
    org: Organisation,
    now: datetime,
    week: str,
    base_url: str,
    report: Report,
) -> None:
    managers = _managers(session, org.id)
    if not managers:
        return
    matrix = org_compliance(session, org.id, now)
    for manager in managers:
        due = Due(
            org_id=org.id,
            recipient_id=manager.id,
            subject_user_id=manager.id,
            subject_name=manager.name,
            module_code="",
            module_title="",
            kind=ReminderKind.DIGEST,
            cycle=week,
        )
        claimed = _claim_all(session, [due], now, report)
        if claimed:
            message = digest_message(manager, matrix, base_url)
            _deliver(session, mailer, message, [claimed[0][1]], now, report)


def pending_summary(session: Session, now: datetime, *, org_id: int | None = None) -> list[Due]:
    """What `send_reminders` would send now, without claiming anything (for --dry-run)."""
    out: list[Due] = []
    for org in _organisations(session, org_id):
        for due in due_reminders(session, org, now):
            row = _find(session, due)
            if row is None or row.state != ReminderState.SENT.value:
                out.append(due)
    return out


def digest_job(org_id: int | None = None) -> dict[str, object]:
    """The weekly digest as a job (lms.jobs: plain ids in, plain data out); safe to repeat."""
    from dataclasses import asdict

    from flask import current_app

    from ..jobs import job_session
    from ..mail import mailer_for

    with job_session() as session:
        report = send_digests(
            session,
            mailer_for(current_app),
            datetime.now(UTC),
            base_url=current_app.config["BASE_URL"],
            org_id=org_id,
        )
    return asdict(report)
