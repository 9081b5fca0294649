"""Completing a module: only when every required part is done, then the credential.

The parts: every lesson read, the knowledge quiz passed (a passing attempt made since the last
completion and not yet used by one), and, where the module requires observed practice, an
observation that is complete (competent, countersigned by the worker and signed off by a
manager where the module says so) and not yet used by a completion.

Called after a quiz is marked and after an observation's last signature, in whichever order
they come. Takes the session and the clock; never commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.completion import is_complete, valid_until
from courses.models import CatalogueModule

from . import audit
from .assess.models import Observation, ObservationStatus
from .issuance import IssuanceContext, issue_for_completion
from .models import (
    Completion,
    CompletionSource,
    DeliveredBy,
    DeliveryMode,
    IssuedCredential,
    LessonProgress,
    QuizAttempt,
    User,
)


def manager_signoff_needed(module: CatalogueModule) -> bool:
    return bool((module.observation or {}).get("manager_signoff"))


def observation_required(module: CatalogueModule) -> bool:
    spec = module.observation
    return bool(spec) and bool(spec.get("required", True))  # type: ignore[union-attr]


def final_status(module: CatalogueModule) -> ObservationStatus:
    """The status at which an observation of this module is complete."""
    if manager_signoff_needed(module):
        return ObservationStatus.SIGNED_OFF
    return ObservationStatus.COUNTERSIGNED


def _last_completion(session: Session, user_id: int, code: str) -> Completion | None:
    return session.scalar(
        select(Completion)
        .join(CatalogueModule, CatalogueModule.id == Completion.module_id)
        .where(Completion.user_id == user_id, CatalogueModule.code == code)
        .order_by(Completion.completed_at.desc(), Completion.id.desc())
        .limit(1)
    )


def passing_attempt(
    session: Session, user_id: int, module: CatalogueModule, since: datetime | None
) -> QuizAttempt | None:
    """The latest passing attempt at this module's quiz since `since`, not used by a completion."""
    used = select(Completion.attempt_id).where(Completion.attempt_id.is_not(None))
    query = (
        select(QuizAttempt)
        .join(CatalogueModule, CatalogueModule.id == QuizAttempt.module_id)
        .where(
            QuizAttempt.user_id == user_id,
            CatalogueModule.code == module.code,
            QuizAttempt.passed.is_(True),
            QuizAttempt.id.not_in(used),
        )
    )
    if since is not None:
        query = query.where(QuizAttempt.submitted_at >= since)
    return session.scalar(
        query.order_by(QuizAttempt.submitted_at.desc(), QuizAttempt.id.desc()).limit(1)
    )


def complete_observation(
    session: Session, user_id: int, org_id: int, module: CatalogueModule
) -> Observation | None:
    """The latest complete observation of this worker and module not yet used by a completion."""
    return session.scalar(
        select(Observation)
        .where(
            Observation.learner_id == user_id,
            Observation.org_id == org_id,
            Observation.module_code == module.code,
            Observation.status == final_status(module).value,
            Observation.completion_id.is_(None),
        )
        .order_by(Observation.updated_at.desc(), Observation.id.desc())
        .limit(1)
    )


def lessons_read(session: Session, user_id: int, module: CatalogueModule) -> set[int]:
    return set(
        session.scalars(
            select(LessonProgress.lesson_id).where(
                LessonProgress.user_id == user_id,
                LessonProgress.lesson_id.in_([lesson.id for lesson in module.lessons]),
            )
        )
    )


def complete_if_ready(
    session: Session,
    ctx: IssuanceContext,
    user_id: int,
    org_id: int,
    module: CatalogueModule,
    now: datetime,
    attempt: QuizAttempt | None = None,
    *,
    actor: User | None = None,
) -> tuple[Completion | None, IssuedCredential | None]:
    """Create the completion and issue its credential if every required part is done.

    Returns (None, None) while something is outstanding. `attempt` is the attempt just marked
    (preferred when it passed); `actor` is who caused it, for the audit trail.
    """
    if module.delivery != "online":
        return None, None  # external records and awards are completed by their own services
    last = _last_completion(session, user_id, module.code)
    since = last.completed_at if last is not None else None
    if attempt is None or not attempt.passed or attempt.module.code != module.code:
        attempt = passing_attempt(session, user_id, module, since)
    elif session.scalar(select(Completion.id).where(Completion.attempt_id == attempt.id)):
        return None, None
    observation = None
    if module.observation:
        observation = complete_observation(session, user_id, org_id, module)
    required = observation_required(module)
    if not is_complete(
        [lesson.id for lesson in module.lessons],
        lessons_read(session, user_id, module),
        attempt is not None,
        observation_required=required,
        observation_complete=observation is not None,
    ):
        return None, None
    if attempt is None:  # pragma: no cover - is_complete needs a passed quiz
        return None, None
    completion = Completion(
        user_id=user_id,
        org_id=org_id,
        module_id=module.id,
        attempt_id=attempt.id,
        completed_at=now,
        valid_until=valid_until(now, module.refresh_months),
        source=CompletionSource.COURSE.value,
        delivered_by=DeliveredBy.IN_HOUSE.value,
        delivery_mode=(
            DeliveryMode.BLENDED.value if observation is not None else DeliveryMode.E_LEARNING.value
        ),
        care_certificate_version=(module.care_certificate or {}).get("version"),
    )
    session.add(completion)
    session.flush()
    if observation is not None:
        observation.completion_id = completion.id
        session.flush()
    audit.record(
        session,
        actor=actor,
        action="completion.created",
        entity_type="completion",
        entity_id=completion.id,
        now=now,
        org_id=org_id,
        subject_user_id=user_id,
        after={
            "module": module.code,
            "version": module.version,
            "source": completion.source,
            "attempt_id": attempt.id,
            "observation_id": observation.id if observation is not None else None,
            "delivery_mode": completion.delivery_mode,
            "valid_until": completion.valid_until,
        },
    )
    credential = issue_for_completion(session, ctx, completion, now)
    return completion, credential
