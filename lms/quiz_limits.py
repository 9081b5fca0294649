"""Quiz attempt limits: after a module's `max_attempts` failed attempts in a row, no new attempt
until `cooling_off_hours` after the last of them, or until a manager resets the count.

The rule itself is `courses.quiz.locked_until`; this module finds the failures that count for
one learner (since their last pass or reset), records resets, and lists who is locked out.
Functions take the session and the clock and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from courses.db import Base, UTCDateTime
from courses.models import CatalogueModule
from courses.quiz import locked_until

from . import audit
from .errors import Conflict, NotFound
from .models import AttemptStatus, Membership, Organisation, QuizAttempt, User

# The longest cooling-off a module may set (courses.schema.QuizSettings): older failures can
# no longer keep anyone locked out.
MAX_COOLING_OFF = timedelta(hours=720)


class QuizReset(Base):
    """A manager let a learner start a new count of attempts at one module's quiz."""

    __tablename__ = "quiz_resets"
    __table_args__ = (Index("ix_quiz_resets_user_org_module", "user_id", "org_id", "module_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    module_code: Mapped[str] = mapped_column(String(16))
    reset_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reset_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(500))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    reset_by: Mapped[User] = relationship(foreign_keys=[reset_by_id])


class QuizLocked(Conflict):
    """Opening a new attempt is refused until `opens_at` (or a manager's reset)."""

    code = "quiz_locked"

    def __init__(self, message: str, opens_at: datetime, max_attempts: int) -> None:
        super().__init__(message)
        self.opens_at = opens_at
        self.max_attempts = max_attempts


@dataclass(frozen=True)
class Lock:
    failed: int  # failed attempts counted since the last pass or reset
    opens_at: datetime | None  # None: the learner may start an attempt now


def _count_starts(session: Session, user_id: int, org_id: int, code: str) -> datetime | None:
    """The latest pass or reset: failures before it do not count."""
    last_pass = session.scalar(
        select(func.max(QuizAttempt.submitted_at))
        .join(CatalogueModule, CatalogueModule.id == QuizAttempt.module_id)
        .where(
            QuizAttempt.user_id == user_id,
            QuizAttempt.org_id == org_id,
            CatalogueModule.code == code,
            QuizAttempt.passed.is_(True),
        )
    )
    last_reset = session.scalar(
        select(func.max(QuizReset.reset_at)).where(
            QuizReset.user_id == user_id,
            QuizReset.org_id == org_id,
            QuizReset.module_code == code,
        )
    )
    starts = [t for t in (last_pass, last_reset) if t is not None]
    return max(starts) if starts else None


def lock_for(
    session: Session, user_id: int, org_id: int, module: CatalogueModule, now: datetime
) -> Lock:
    """Whether this learner may start a new attempt at the module's quiz (any version)."""
    since = _count_starts(session, user_id, org_id, module.code)
    query = (
        select(QuizAttempt.submitted_at)
        .join(CatalogueModule, CatalogueModule.id == QuizAttempt.module_id)
        .where(
            QuizAttempt.user_id == user_id,
            QuizAttempt.org_id == org_id,
            CatalogueModule.code == module.code,
            QuizAttempt.status == AttemptStatus.SUBMITTED.value,
            QuizAttempt.passed.is_(False),
        )
    )
    if since is not None:
        query = query.where(QuizAttempt.submitted_at > since)
    failed = [t for t in session.scalars(query) if t is not None]
    opens = locked_until(
        failed, module.max_attempts, timedelta(hours=module.cooling_off_hours), now
    )
    return Lock(len(failed), opens)


def check_can_open(
    session: Session, user_id: int, org_id: int, module: CatalogueModule, now: datetime
) -> None:
    """Raise QuizLocked when a new attempt may not be drawn now."""
    lock = lock_for(session, user_id, org_id, module, now)
    if lock.opens_at is not None:
        raise QuizLocked(
            f"You have not passed this quiz in {module.max_attempts} tries. You can try again "
            f"from {lock.opens_at:%d %B %Y %H:%M} UTC, or ask your manager to let you try "
            "sooner. Read the lessons again first.",
            lock.opens_at,
            module.max_attempts,
        )


@dataclass(frozen=True)
class LockedLearner:
    user: User
    module: CatalogueModule
    failed: int
    opens_at: datetime


def locked_learners(session: Session, org: Organisation, now: datetime) -> list[LockedLearner]:
    """The organisation's learners who may not start a quiz now, soonest to open last."""
    recent = session.execute(
        select(QuizAttempt.user_id, CatalogueModule.code)
        .join(CatalogueModule, CatalogueModule.id == QuizAttempt.module_id)
        .where(
            QuizAttempt.org_id == org.id,
            QuizAttempt.passed.is_(False),
            QuizAttempt.submitted_at >= now - MAX_COOLING_OFF,
        )
        .distinct()
    ).all()
    out: list[LockedLearner] = []
    for user_id, code in recent:
        module = session.scalar(
            select(CatalogueModule).where(CatalogueModule.code == code, CatalogueModule.is_current)
        )
        if module is None:
            continue
        lock = lock_for(session, user_id, org.id, module, now)
        if lock.opens_at is not None:
            person = session.get_one(User, user_id)
            out.append(LockedLearner(person, module, lock.failed, lock.opens_at))
    out.sort(key=lambda row: (row.user.name.lower(), row.module.code))
    return out


def reset_attempts(
    session: Session,
    manager: User,
    org: Organisation,
    user_id: int,
    module_code: str,
    reason: str,
    now: datetime,
) -> QuizReset:
    """Let a locked-out learner try again now. Recorded, with the reason, in the audit trail."""
    member = session.scalar(
        select(Membership.id)
        .where(Membership.user_id == user_id, Membership.org_id == org.id)
        .limit(1)
    )
    if member is None:
        raise NotFound("That person is not in your organisation.")
    module = session.scalar(
        select(CatalogueModule).where(
            CatalogueModule.code == module_code, CatalogueModule.is_current
        )
    )
    if module is None:
        raise NotFound("There is no such module in the catalogue.")
    lock = lock_for(session, user_id, org.id, module, now)
    if lock.opens_at is None:
        raise Conflict(
            "This learner can already take the quiz (the wait is over or someone reset it). "
            "Nothing was changed."
        )
    reason = reason.strip()
    if not reason:
        raise Conflict("Give a reason for the reset. Nothing was changed.")
    reset = QuizReset(
        user_id=user_id,
        org_id=org.id,
        module_code=module.code,
        reset_by_id=manager.id,
        reset_at=now,
        reason=reason[:500],
    )
    session.add(reset)
    session.flush()
    audit.record(
        session,
        actor=manager,
        action="quiz.reset",
        entity_type="quiz_reset",
        entity_id=reset.id,
        now=now,
        org_id=org.id,
        subject_user_id=user_id,
        before={"module": module.code, "failed": lock.failed, "locked_until": lock.opens_at},
        after={"module": module.code, "failed": 0, "locked_until": None},
        reason=reset.reason,
    )
    return reset
