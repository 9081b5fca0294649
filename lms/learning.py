"""Learning services: what a worker is assigned, lesson progress, quiz attempts, completion.

Each function takes the session and the clock; none commits. Rules about content (drawing,
marking, completion, expiry) come from `courses`; this module applies them to people's records.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, func, select, update
from sqlalchemy.orm import Session, selectinload

from courses.completion import lessons_outstanding
from courses.errors import InvalidAnswers, ModuleNotFound
from courses.models import CatalogueModule, Lesson, Question
from courses.quiz import (
    AnswersRefused,
    Marking,
    OrderIncomplete,
    display_options,
    draw_questions,
    mark,
    parse_answers,
)

from . import audit
from .counting import counts
from .errors import Conflict, LessonsOutstanding, NotFound
from .issuance import IssuanceContext
from .models import (
    AttemptStatus,
    Completion,
    Employment,
    Enrolment,
    IssuedCredential,
    LessonProgress,
    Membership,
    QuizAttempt,
    User,
)
from .quiz_limits import QuizLocked, check_can_open

__all__ = ["QuizLocked"]

log = logging.getLogger(__name__)

# How long a drawn quiz stays open: long enough to take it offline and sync days later.
ATTEMPT_TTL = timedelta(days=14)


class AttemptExpired(Conflict):
    code = "attempt_expired"


class AlreadySubmitted(Conflict):
    code = "already_submitted"


def _expired(attempt: QuizAttempt, now: datetime) -> bool:
    return attempt.started_at + ATTEMPT_TTL < now


@dataclass(frozen=True)
class Assignment:
    """One line of "My learning"."""

    enrolment: Enrolment
    module: CatalogueModule
    lessons_total: int
    lessons_done: int
    next_lesson: Lesson | None
    latest_completion: Completion | None

    @property
    def percent(self) -> int:
        return 100 * self.lessons_done // self.lessons_total if self.lessons_total else 0

    def state(self, now: datetime) -> str:
        c = self.latest_completion
        if c is not None and (c.valid_until is None or c.valid_until > now):
            return "complete"
        if c is not None:
            return "expired"
        if self.enrolment.due_on is not None and self.enrolment.due_on < now.date():
            return "overdue"
        return "in_progress" if self.lessons_done else "not_started"


@dataclass(frozen=True)
class SubmitResult:
    attempt: QuizAttempt
    marking: Marking
    questions: Sequence[Question]
    completion: Completion | None
    credential: IssuedCredential | None
    replayed: bool = False


def current_module(session: Session, code: str) -> CatalogueModule:
    module = session.scalar(
        select(CatalogueModule).where(CatalogueModule.code == code, CatalogueModule.is_current)
    )
    if module is None:
        raise ModuleNotFound(f"There is no module {code[:16]!r} in the catalogue.")
    return module


@dataclass(frozen=True)
class LessonText:
    """One lesson as the lesson page shows it: a copy of its immutable catalogue row."""

    id: int
    position: int
    title: str
    body_html: str


@dataclass(frozen=True)
class ModuleLessons:
    """A module version and its lessons, copied from the catalogue for the lesson page.

    A `catalogue_modules` row (code, version) and its lessons never change once loaded, so a
    copy stays right for as long as that row is the current version of its code.
    """

    id: int
    code: str
    version: int
    title: str
    lessons: tuple[LessonText, ...]

    def lesson_at(self, position: int) -> LessonText:
        for lesson in self.lessons:
            if lesson.position == position:
                return lesson
        raise NotFound("That lesson does not exist in this module.")


class CatalogueCache:
    """Per-process copies of module versions and their lessons, keyed by the module row's id
    and content hash (both fixed for the life of a row).

    Which version is current is NOT cached: `assigned_module` asks the database on every
    request, so a version added by `courses load` is used by the very next request. Bounded:
    emptied when it holds more than `max_entries` versions (there are a few dozen).
    """

    def __init__(self, max_entries: int = 512) -> None:
        self.max_entries = max_entries
        self._entries: dict[tuple[int, str], ModuleLessons] = {}

    def get(self, session: Session, module_id: int, content_hash: str) -> ModuleLessons:
        key = (module_id, content_hash)
        found = self._entries.get(key)
        if found is None:
            found = self._load(session, module_id)
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = found
        return found

    @staticmethod
    def _load(session: Session, module_id: int) -> ModuleLessons:
        module = session.execute(
            select(
                CatalogueModule.id,
                CatalogueModule.code,
                CatalogueModule.version,
                CatalogueModule.title,
            ).where(CatalogueModule.id == module_id)
        ).one()
        lessons = session.execute(
            select(Lesson.id, Lesson.position, Lesson.title, Lesson.body_html)
            .where(Lesson.module_id == module_id)
            .order_by(Lesson.position)
        ).all()
        return ModuleLessons(
            id=module.id,
            code=module.code,
            version=module.version,
            title=module.title,
            lessons=tuple(LessonText(*row) for row in lessons),
        )


# Built once (building it costs more than running it): the worker's first enrolment in a
# code, with that code's current version if there is one.
# A worker can hold the same module from two organisations (she moved employer). Her work
# counts for, and is signed by, the one she works for now: an organisation she is still a member
# of and has not left (no ended Employment), and among those the latest to assign it.
_STILL_THERE = and_(
    select(Membership.id)
    .where(Membership.user_id == Enrolment.user_id, Membership.org_id == Enrolment.org_id)
    .exists(),
    ~select(Employment.id)
    .where(
        Employment.user_id == Enrolment.user_id,
        Employment.org_id == Enrolment.org_id,
        Employment.end_date.is_not(None),
        Employment.end_date <= func.current_date(),
    )
    .exists(),
)
_CURRENT_EMPLOYER_FIRST = (
    case((_STILL_THERE, 0), else_=1),
    Enrolment.assigned_at.desc(),
    Enrolment.id.desc(),
)

_ASSIGNED_MODULE = (
    select(Enrolment.id, CatalogueModule.id, CatalogueModule.content_hash)
    .select_from(Enrolment)
    .outerjoin(
        CatalogueModule,
        (CatalogueModule.code == Enrolment.module_code) & CatalogueModule.is_current,
    )
    .where(Enrolment.user_id == bindparam("user_id"), Enrolment.module_code == bindparam("code"))
    .order_by(*_CURRENT_EMPLOYER_FIRST)
    .limit(1)
)


def assigned_module(
    session: Session, cache: CatalogueCache, user_id: int, code: str
) -> ModuleLessons:
    """The current version of a module assigned to the worker, with its lessons, in one query
    (plus, the first time a version is seen in this process, two to copy it into `cache`).

    Refuses as `enrolment_for` then `current_module` do: 404 for a module not assigned to
    them, ModuleNotFound for an assigned code with no current version.
    """
    # On the session's connection: the ORM's statement handling is not needed for a row of
    # plain columns, and costs more than the query on SQLite.
    row = session.connection().execute(_ASSIGNED_MODULE, {"user_id": user_id, "code": code}).first()
    if row is None:
        raise NotFound("This module is not assigned to you.")
    _, module_id, content_hash = row
    if module_id is None:
        raise ModuleNotFound(f"There is no module {code[:16]!r} in the catalogue.")
    return cache.get(session, module_id, content_hash)


def enrolment_for(session: Session, user_id: int, code: str) -> Enrolment:
    """The worker's assignment of a module (her current employer's, see above); 404 for a
    module not assigned to her."""
    enrolment = session.scalar(
        select(Enrolment)
        .where(Enrolment.user_id == user_id, Enrolment.module_code == code)
        .order_by(*_CURRENT_EMPLOYER_FIRST)
        .limit(1)
    )
    if enrolment is None:
        raise NotFound("This module is not assigned to you.")
    return enrolment


def enrol(
    session: Session,
    user_id: int,
    org_id: int,
    code: str,
    now: datetime,
    due_on: datetime | None = None,
) -> Enrolment:
    current_module(session, code)
    enrolment = session.scalar(
        select(Enrolment).where(
            Enrolment.user_id == user_id, Enrolment.org_id == org_id, Enrolment.module_code == code
        )
    )
    if enrolment is None:
        enrolment = Enrolment(
            user_id=user_id,
            org_id=org_id,
            module_code=code,
            assigned_at=now,
            due_on=due_on.date() if due_on else None,
        )
        session.add(enrolment)
        session.flush()
    return enrolment


def done_lesson_ids(session: Session, user_id: int, module: CatalogueModule) -> set[int]:
    return set(
        session.scalars(
            select(LessonProgress.lesson_id)
            .join(Lesson, Lesson.id == LessonProgress.lesson_id)
            .where(LessonProgress.user_id == user_id, Lesson.module_id == module.id)
        )
    )


def latest_completion(session: Session, user_id: int, code: str) -> Completion | None:
    """The worker's newest completion of a module that still counts (see lms.counting).

    An external record a manager withdrew, or a completion whose credential was revoked or is
    suspended, no longer counts; the one before it, if any, does again.
    """
    return session.scalar(
        select(Completion)
        .join(CatalogueModule, CatalogueModule.id == Completion.module_id)
        .where(Completion.user_id == user_id, CatalogueModule.code == code, counts())
        .order_by(Completion.completed_at.desc(), Completion.id.desc())
        .limit(1)
    )


def my_learning(session: Session, user_id: int) -> list[Assignment]:
    """Every assignment of the worker, with progress and the completion that counts.

    Five queries whatever the number of assignments (enrolments, their current modules, their
    lessons, the lessons read, the completions that count), not four per assignment.
    """
    enrolments = session.scalars(
        select(Enrolment).where(Enrolment.user_id == user_id).order_by(Enrolment.assigned_at)
    ).all()
    if not enrolments:
        return []
    codes = {e.module_code for e in enrolments}
    modules = {
        m.code: m
        for m in session.scalars(
            select(CatalogueModule)
            .where(CatalogueModule.code.in_(codes), CatalogueModule.is_current)
            .options(selectinload(CatalogueModule.lessons))
        )
    }
    missing = sorted(codes - modules.keys())
    if missing:
        raise ModuleNotFound(f"There is no module {missing[0][:16]!r} in the catalogue.")
    done = set(
        session.scalars(
            select(LessonProgress.lesson_id)
            .join(Lesson, Lesson.id == LessonProgress.lesson_id)
            .where(
                LessonProgress.user_id == user_id,
                Lesson.module_id.in_([m.id for m in modules.values()]),
            )
        )
    )
    latest: dict[str, Completion] = {}
    for code, completion in session.execute(
        select(CatalogueModule.code, Completion)
        .join(CatalogueModule, CatalogueModule.id == Completion.module_id)
        .where(Completion.user_id == user_id, CatalogueModule.code.in_(codes), counts())
        .order_by(Completion.completed_at.desc(), Completion.id.desc())
    ):
        latest.setdefault(code, completion)  # newest first: the first one seen counts
    out = []
    for enrolment in enrolments:
        module = modules[enrolment.module_code]
        lessons = module.lessons
        read = {lesson.id for lesson in lessons} & done
        next_lesson = next((lesson for lesson in lessons if lesson.id not in read), None)
        out.append(
            Assignment(
                enrolment, module, len(lessons), len(read), next_lesson, latest.get(module.code)
            )
        )
    return out


def lesson_at(module: CatalogueModule, position: int) -> Lesson:
    for lesson in module.lessons:
        if lesson.position == position:
            return lesson
    raise NotFound("That lesson does not exist in this module.")


def mark_lesson_read(session: Session, user_id: int, lesson: Lesson, now: datetime) -> None:
    exists = session.scalar(
        select(LessonProgress.id).where(
            LessonProgress.user_id == user_id, LessonProgress.lesson_id == lesson.id
        )
    )
    if exists is None:
        session.add(LessonProgress(user_id=user_id, lesson_id=lesson.id, completed_at=now))
        session.flush()


def open_attempt(
    session: Session,
    user_id: int,
    enrolment: Enrolment,
    module: CatalogueModule,
    rng: random.Random,
    now: datetime,
    *,
    require_lessons: bool = True,
) -> QuizAttempt:
    """The worker's open attempt at this module's quiz, drawing a new one if there is none.

    `require_lessons=False` draws it in advance, so a phone can cache the questions (never the
    answers) before going offline; submitting still needs every lesson read.
    """
    if module.delivery == "award":
        raise Conflict("This certificate is awarded by your manager; there is no quiz for it.")
    if module.delivery == "external":
        provider = (module.external or {}).get("provider", "another provider")
        raise Conflict(
            f"This training is delivered by {provider}. Your manager records it when you have "
            "done it; there is no quiz here."
        )
    if require_lessons:
        _check_lessons(session, user_id, module)
    attempt = session.scalar(
        select(QuizAttempt).where(
            QuizAttempt.user_id == user_id,
            QuizAttempt.module_id == module.id,
            QuizAttempt.status == AttemptStatus.OPEN.value,
        )
    )
    if attempt is not None and _expired(attempt, now):
        attempt.status = AttemptStatus.EXPIRED.value
        attempt = None
    if attempt is None:
        check_can_open(session, user_id, enrolment.org_id, module, now)
        attempt = QuizAttempt(
            user_id=user_id,
            org_id=enrolment.org_id,
            module_id=module.id,
            question_ids=draw_questions(module.questions, module.per_outcome, rng),
            status=AttemptStatus.OPEN.value,
            started_at=now,
        )
        session.add(attempt)
        session.flush()
    return attempt


def _check_lessons(session: Session, user_id: int, module: CatalogueModule) -> None:
    outstanding = lessons_outstanding(
        [lesson.id for lesson in module.lessons], done_lesson_ids(session, user_id, module)
    )
    if outstanding:
        raise LessonsOutstanding(f"Read all the lessons first: {len(outstanding)} still to read.")


def attempt_questions(module: CatalogueModule, attempt: QuizAttempt) -> list[Question]:
    by_id = {q.id: q for q in module.questions}
    return [by_id[qid] for qid in attempt.question_ids]


@dataclass(frozen=True)
class QuizItem:
    """A question as shown: an ordering question's steps shuffled (the file order is the
    answer), the same way every time this attempt is shown, online or offline."""

    question: Question
    options: list[dict[str, str]]

    @property
    def positions(self) -> range:
        return range(1, len(self.options) + 1)


def quiz_items(attempt: QuizAttempt, questions: Sequence[Question], secret: str) -> list[QuizItem]:
    # Seeded with a keyed hash of the attempt: stable for this attempt, and not something a
    # learner can recompute to undo the shuffle.
    seed = hmac.new(
        secret.encode(), f"quiz-order:{attempt.id}".encode(), hashlib.sha256
    ).hexdigest()
    return [QuizItem(q, display_options(q, seed)) for q in questions]


def get_attempt(session: Session, user_id: int, attempt_id: int) -> QuizAttempt:
    attempt = session.get(QuizAttempt, attempt_id)
    if attempt is None or attempt.user_id != user_id:
        # Another person's attempt is indistinguishable from a missing one.
        raise NotFound("That quiz attempt does not exist.")
    return attempt


def submit_attempt(
    session: Session,
    ctx: IssuanceContext,
    user_id: int,
    attempt_id: int,
    form: Mapping[str, Sequence[str]],
    now: datetime,
    submission_key: str | None = None,
) -> SubmitResult:
    """Mark an attempt on the server; on a pass that completes the module, issue the credential.

    The attempt is closed by a conditional UPDATE (open -> submitted), so a double submission,
    even two at the same moment, is recorded once. A retry carrying the same `submission_key`
    (an offline phone re-sending after a lost reply) gets the recorded result back
    (`SubmitResult.replayed`); any other second submission is refused with Conflict: the
    server's record wins.
    """
    attempt = get_attempt(session, user_id, attempt_id)
    module = attempt.module
    questions = attempt_questions(module, attempt)
    if attempt.status == AttemptStatus.EXPIRED.value:
        raise AttemptExpired(
            "This quiz expired before it was sent, so nothing was recorded. Open the quiz "
            "again for a new set of questions."
        )
    if attempt.status != AttemptStatus.OPEN.value:
        if submission_key is not None and attempt.submission_key == submission_key:
            return _recorded(session, attempt, questions, replayed=True)
        raise AlreadySubmitted(
            "This quiz attempt was already submitted. Your first answers were kept."
        )
    if _expired(attempt, now):
        raise AttemptExpired(
            f"This quiz was started more than {ATTEMPT_TTL.days} days ago, so it has expired. "
            "Nothing was recorded. Open the quiz again for a new set of questions."
        )
    _check_lessons(session, user_id, module)
    answers = parse_answers(form, questions)
    marking = mark(questions, answers, module.pass_mark)
    closed = session.execute(
        update(QuizAttempt)
        .where(QuizAttempt.id == attempt.id, QuizAttempt.status == AttemptStatus.OPEN.value)
        .values(
            status=AttemptStatus.SUBMITTED.value,
            submitted_at=now,
            submission_key=submission_key,
            answers={str(k): list(v) for k, v in answers.items()},
            correct_count=marking.correct_count,
            total=marking.total,
            score_percent=marking.score_percent,
            passed=marking.passed,
        )
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:  # type: ignore[attr-defined]
        raise AlreadySubmitted(
            "This quiz attempt was already submitted. Your first answers were kept."
        )
    session.refresh(attempt)
    audit.record(
        session,
        actor=_person(session, user_id),
        action="quiz.submitted",
        entity_type="quiz_attempt",
        entity_id=attempt.id,
        now=now,
        org_id=attempt.org_id,
        subject_user_id=user_id,
        after={
            "module": module.code,
            "version": module.version,
            "score_percent": marking.score_percent,
            "correct": marking.correct_count,
            "total": marking.total,
            "passed": marking.passed,
            "offline": submission_key is not None,
        },
    )
    from .completing import complete_if_ready  # completing builds on this module's models
    from .models import User

    completion, credential = complete_if_ready(
        session,
        ctx,
        user_id,
        attempt.org_id,
        module,
        now,
        attempt,
        actor=session.get(User, user_id),
    )
    return SubmitResult(attempt, marking, questions, completion, credential)


@dataclass(frozen=True)
class OutcomeFeedback:
    """One learning outcome on the result page: met or to review, and where it is taught."""

    outcome_id: str
    text: str
    met: bool
    lessons: tuple[Lesson, ...]


def outcome_feedback(module: CatalogueModule, marking: Marking) -> list[OutcomeFeedback]:
    """Per outcome, never per question: which answers were right stays unsaid, because the
    same questions can be drawn again."""
    texts = module.outcome_text
    return [
        OutcomeFeedback(
            outcome,
            texts.get(outcome, outcome),
            met,
            tuple(lesson for lesson in module.lessons if outcome in (lesson.outcomes or [])),
        )
        for outcome, met in marking.outcome_feedback()
    ]


def _person(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def refusal_reason(err: Exception) -> str | None:
    """The audit reason code of a refused submission; None for a learner's slip on the form
    (an ordering question left part-done), which is shown back to them, not recorded."""
    if isinstance(err, OrderIncomplete):
        return None
    if isinstance(err, AnswersRefused):
        return err.reason
    if isinstance(err, InvalidAnswers):
        return "invalid_answers"
    if isinstance(err, AttemptExpired):
        return "attempt_expired"
    if isinstance(err, AlreadySubmitted):
        return "already_submitted"
    return None


def record_refusal(
    session: Session, user_id: int, attempt_id: int, err: Exception, now: datetime
) -> bool:
    """Log and audit a refused submission ("quiz.refused"). Call it after rolling back the
    refused work, then commit: the refusal is kept even though nothing else was saved.

    The log line names the user id, the attempt and the reason code: never answers, names or
    e-mail addresses. Returns False (nothing recorded) for a slip or someone else's attempt.
    """
    reason = refusal_reason(err)
    attempt = session.get(QuizAttempt, attempt_id)
    if reason is None or attempt is None or attempt.user_id != user_id:
        return False
    log.warning(
        "quiz submission refused: user %s, attempt %s, reason %s", user_id, attempt_id, reason
    )
    audit.record(
        session,
        actor=_person(session, user_id),
        action="quiz.refused",
        entity_type="quiz_attempt",
        entity_id=attempt.id,
        now=now,
        org_id=attempt.org_id,
        subject_user_id=user_id,
        after={"module": attempt.module.code, "status": attempt.status},
        reason=reason,
    )
    return True


def _recorded(
    session: Session, attempt: QuizAttempt, questions: Sequence[Question], replayed: bool
) -> SubmitResult:
    marking = marking_of(attempt, questions, attempt.module.pass_mark)
    completion = session.scalar(select(Completion).where(Completion.attempt_id == attempt.id))
    credential = credential_for(session, completion)
    return SubmitResult(attempt, marking, questions, completion, credential, replayed)


def marking_of(attempt: QuizAttempt, questions: Sequence[Question], pass_mark: int) -> Marking:
    """Rebuild the marking of a submitted attempt (for showing its result page again)."""
    answers = {int(k): tuple(v) for k, v in (attempt.answers or {}).items()}
    return mark(questions, answers, pass_mark)


def my_credentials(session: Session, user_id: int) -> list[IssuedCredential]:
    return list(
        session.scalars(
            select(IssuedCredential)
            .where(IssuedCredential.user_id == user_id)
            .order_by(IssuedCredential.issued_at.desc())
        )
    )


def credential_for(session: Session, completion: Completion | None) -> IssuedCredential | None:
    if completion is None:
        return None
    return session.scalar(
        select(IssuedCredential).where(IssuedCredential.completion_id == completion.id)
    )


def credential_of(session: Session, user_id: int, short_id: str) -> IssuedCredential:
    cred = session.scalar(select(IssuedCredential).where(IssuedCredential.short_id == short_id))
    if cred is None or cred.user_id != user_id:
        raise NotFound("That certificate does not exist.")
    return cred
