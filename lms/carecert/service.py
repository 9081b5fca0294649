"""The Care Certificate: a worker's tracker, phased sign-off standard by standard, the award.

Evidence, per criterion of `courses/catalogue/care-certificate-2025.yaml`:
- a knowledge criterion is evidenced by a passed knowledge quiz of the module it names;
- a performance criterion is evidenced by a complete observation of that module (signed by the
  assessor and the worker, and by a manager where the module asks) in which that criterion was
  met. A completion of a module that requires observation evidences the criteria met in the
  observation it counted (never those marked not applicable or not yet met).
Only the employer's own records count (attempts and observations made in that organisation),
and only modules that follow the same Care Certificate version (2015 evidence stays 2015).

A standard is "ready" when all its criteria are evidenced; a manager signs ready standards off
one by one; when all 16 are signed off, a manager awards the certificate: a completion of
CC-CERT (source "award") and its credential, aligned to all 16 standards.

A worker who brings a Care Certificate from another employer, verified and accepted here
through lms.transfers (a CC-CERT completion of source "transfer"), holds it: the tracker says
so, with who awarded it and under which standards, instead of inviting everything again. The
employer may still observe her practice and award its own.

Every function takes the session and the clock and never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from courses.carecert import CURRENT_VERSION, CriterionSpec, Evidence, StandardSpec, framework
from courses.models import CatalogueModule

from .. import audit
from ..accounts import member_of
from ..authz import MANAGERS
from ..counting import counts, not_counting
from ..errors import Conflict, Forbidden, NotFound, ServiceError
from ..issuance import IssuanceContext, issue_for_completion
from ..models import (
    AttemptStatus,
    Completion,
    CompletionSource,
    DeliveredBy,
    DeliveryMode,
    IssuedCredential,
    Membership,
    Organisation,
    QuizAttempt,
    Role,
    User,
)
from .models import StandardSignoff

AWARD_MODULE = "CC-CERT"
NOTE_MAX = 1000

Mark = Literal["quiz", "observed", "to_do"]


@dataclass(frozen=True)
class CriterionState:
    spec: CriterionSpec
    mark: Mark
    evidence: Evidence | None = None  # the item that evidenced it
    when: datetime | None = None

    @property
    def evidenced(self) -> bool:
        return self.mark != "to_do"

    def describe(self) -> str:
        """Plain words for the audit trail and the manager's page."""
        if self.evidence is None:
            return "to do"
        if self.evidence.outcome is not None:
            return f"quiz {self.evidence.module} {self.evidence.outcome}"
        return f"observed {self.evidence.module} {self.evidence.criterion}"


@dataclass(frozen=True)
class StandardState:
    spec: StandardSpec
    criteria: tuple[CriterionState, ...]
    signoff: StandardSignoff | None

    @property
    def number(self) -> int:
        return self.spec.number

    @property
    def evidenced(self) -> int:
        return sum(1 for c in self.criteria if c.evidenced)

    @property
    def total(self) -> int:
        return len(self.criteria)

    @property
    def ready(self) -> bool:
        return self.evidenced == self.total

    @property
    def outstanding(self) -> list[str]:
        return [c.spec.id for c in self.criteria if not c.evidenced]

    @property
    def status(self) -> Literal["signed_off", "ready", "in_progress", "not_started"]:
        if self.signoff is not None:
            return "signed_off"
        if self.ready:
            return "ready"
        return "in_progress" if self.evidenced else "not_started"


@dataclass(frozen=True)
class Tracker:
    org: Organisation
    learner: User
    version: str
    standards: tuple[StandardState, ...]
    award: Completion | None
    credential: IssuedCredential | None
    # A Care Certificate from another employer, verified and accepted here (lms.transfers).
    held: Completion | None = None

    @property
    def holds(self) -> Completion | None:
        """The certificate the worker holds here: our own award, else an accepted transfer."""
        return self.award or self.held

    @property
    def signed(self) -> int:
        return sum(1 for s in self.standards if s.signoff is not None)

    @property
    def ready_to_sign(self) -> int:
        return sum(1 for s in self.standards if s.status == "ready")

    @property
    def unsigned(self) -> list[int]:
        return [s.number for s in self.standards if s.signoff is None]

    @property
    def can_award(self) -> bool:
        return self.award is None and not self.unsigned

    def standard(self, number: int) -> StandardState:
        for s in self.standards:
            if s.number == number:
                return s
        raise NotFound(f"The Care Certificate has no standard {number}.")


# --- who ----------------------------------------------------------------------------------


def learner_in(session: Session, org: Organisation, user_id: int) -> User:
    """A worker of the organisation (any membership); 404 for anyone else."""
    user = member_of(session, org, user_id)
    if user is None:
        raise NotFound("That person does not work for this organisation.")
    return user


def learners(session: Session, org: Organisation) -> list[User]:
    """The organisation's learners, by name."""
    return list(
        session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.org_id == org.id, Membership.role == Role.LEARNER.value)
            .order_by(User.name, User.id)
            .distinct()
        )
    )


def learner_orgs(session: Session, user: User) -> list[Organisation]:
    """Organisations in which the user is a learner (their tracker is kept per employer)."""
    return list(
        session.scalars(
            select(Organisation)
            .join(Membership, Membership.org_id == Organisation.id)
            .where(Membership.user_id == user.id, Membership.role == Role.LEARNER.value)
            .order_by(Organisation.name)
            .distinct()
        )
    )


def _require_manager(org: Organisation, actor: User) -> None:
    if not actor.roles_in(org.id) & MANAGERS:
        raise Forbidden("Only a manager of this organisation can sign off the Care Certificate.")


# --- evidence -----------------------------------------------------------------------------


def _follows(module: CatalogueModule, version: str) -> bool:
    cc = module.care_certificate
    return cc is None or cc.get("version") == version


def _quiz_evidence(
    session: Session, org_id: int, user_id: int, version: str
) -> dict[str, datetime]:
    """Module code -> when its knowledge quiz was last passed here.

    A pass whose completion no longer counts (its credential revoked or suspended) is not
    evidence either (lms.counting).
    """
    discounted = (
        select(Completion.id).where(Completion.attempt_id == QuizAttempt.id, ~counts()).exists()
    )
    rows = session.execute(
        select(CatalogueModule, QuizAttempt.submitted_at)
        .join(QuizAttempt, QuizAttempt.module_id == CatalogueModule.id)
        .where(
            QuizAttempt.user_id == user_id,
            QuizAttempt.org_id == org_id,
            QuizAttempt.status == AttemptStatus.SUBMITTED.value,
            QuizAttempt.passed.is_(True),
            ~discounted,
        )
    ).all()
    out: dict[str, datetime] = {}
    for module, when in rows:
        if when is not None and _follows(module, version):
            out[module.code] = max(out.get(module.code, when), when)
    return out


def _observation_evidence(
    session: Session, org_id: int, user_id: int, version: str
) -> dict[tuple[str, str], datetime]:
    """(module code, criterion id) -> when it was last observed as met, here."""
    out: dict[tuple[str, str], datetime] = {}

    def note(code: str, criterion: str, when: datetime) -> None:
        key = (code, criterion)
        out[key] = max(out.get(key, when), when)

    # A completion of a module that requires observation evidences the criteria met in the
    # observation it counted (Observation.completion_id); "not applicable" is not evidence.
    for code, criterion, when in _completion_criteria(session, org_id, user_id, version):
        note(code, criterion, when)
    for code, criterion, when in _observed_criteria(session, org_id, user_id, version):
        note(code, criterion, when)
    return out


def _completion_criteria(
    session: Session, org_id: int, user_id: int, version: str
) -> list[tuple[str, str, datetime]]:
    """Criteria met in the observation each course completion here counted, per criterion."""
    try:
        from ..assess.models import CriterionResult, Observation, ObservationCriterion
    except ImportError:  # pragma: no cover - observations not installed
        return []
    rows = session.execute(
        select(CatalogueModule, Completion.completed_at, ObservationCriterion.criterion_id)
        .join(Completion, Completion.module_id == CatalogueModule.id)
        .join(Observation, Observation.completion_id == Completion.id)
        .join(ObservationCriterion, ObservationCriterion.observation_id == Observation.id)
        .where(
            Completion.user_id == user_id,
            Completion.org_id == org_id,
            Completion.source == CompletionSource.COURSE.value,
            ObservationCriterion.result == CriterionResult.MET.value,
            counts(),
        )
    ).all()
    return [
        (module.code, criterion, when)
        for module, when, criterion in rows
        if _follows(module, version)
    ]


def _observed_criteria(
    session: Session, org_id: int, user_id: int, version: str
) -> list[tuple[str, str, datetime]]:
    """Criteria met in complete observations (lms.assess), per criterion."""
    try:
        from ..assess.models import CriterionResult, Observation, ObservationStatus
    except ImportError:  # pragma: no cover - observations not installed
        return []
    observations: Sequence[Any] = session.scalars(
        select(Observation)
        .options(selectinload(Observation.criteria), selectinload(Observation.module))
        .where(
            Observation.learner_id == user_id,
            Observation.org_id == org_id,
            Observation.status.in_(
                [ObservationStatus.COUNTERSIGNED.value, ObservationStatus.SIGNED_OFF.value]
            ),
        )
    ).all()
    discounted = not_counting(session, org_id)
    out = []
    for obs in observations:
        if obs.completion_id is not None and obs.completion_id in discounted:
            continue  # its credential was revoked or is suspended
        module = obs.module
        needs_manager = bool((module.observation or {}).get("manager_signoff"))
        if needs_manager and obs.status != ObservationStatus.SIGNED_OFF.value:
            continue  # not complete until a manager signs it off
        if not _follows(module, version):
            continue
        for code_criterion in obs.criteria:
            if code_criterion.result == CriterionResult.MET.value:
                out.append((obs.module_code, code_criterion.criterion_id, obs.updated_at))
    return out


def _active_signoffs(
    session: Session, org_id: int, user_id: int, version: str
) -> dict[int, StandardSignoff]:
    rows = session.scalars(
        select(StandardSignoff).where(
            StandardSignoff.org_id == org_id,
            StandardSignoff.user_id == user_id,
            StandardSignoff.version == version,
            StandardSignoff.active.is_(True),
        )
    )
    return {s.standard: s for s in rows}


def held_from_elsewhere(session: Session, org_id: int, user_id: int) -> Completion | None:
    """The newest Care Certificate the worker brought from another employer that this one
    verified and accepted, and that still counts (any standards version: it says which)."""
    return session.scalar(
        select(Completion)
        .join(CatalogueModule, CatalogueModule.id == Completion.module_id)
        .where(
            Completion.user_id == user_id,
            Completion.org_id == org_id,
            Completion.source == CompletionSource.TRANSFER.value,
            CatalogueModule.code == AWARD_MODULE,
            counts(),
        )
        .order_by(Completion.completed_at.desc(), Completion.id.desc())
        .limit(1)
    )


def award_completion(
    session: Session, org_id: int, user_id: int, version: str = CURRENT_VERSION
) -> Completion | None:
    """The worker's standing award here (the latest whose credential is not revoked)."""
    rows = session.scalars(
        select(Completion)
        .join(CatalogueModule, CatalogueModule.id == Completion.module_id)
        .where(
            Completion.user_id == user_id,
            Completion.org_id == org_id,
            Completion.source == CompletionSource.AWARD.value,
            CatalogueModule.code == AWARD_MODULE,
            Completion.care_certificate_version == version,
        )
        .order_by(Completion.completed_at.desc(), Completion.id.desc())
    ).all()
    for completion in rows:
        cred = session.scalar(
            select(IssuedCredential).where(IssuedCredential.completion_id == completion.id)
        )
        if cred is None or cred.revoked_at is None:
            return completion
    return None


def tracker(
    session: Session,
    org: Organisation,
    learner: User,
    now: datetime,
    version: str = CURRENT_VERSION,
) -> Tracker:
    """Where the worker stands on every standard and criterion, at this employer."""
    fw = framework(version)
    quiz = _quiz_evidence(session, org.id, learner.id, version)
    observed = _observation_evidence(session, org.id, learner.id, version)
    signoffs = _active_signoffs(session, org.id, learner.id, version)
    standards = []
    for spec in fw.standards:
        states = []
        for c in spec.criteria:
            state = CriterionState(c, "to_do")
            for e in c.evidence:
                if e.outcome is not None and e.module in quiz:
                    state = CriterionState(c, "quiz", e, quiz[e.module])
                    break
                if e.criterion is not None and (e.module, e.criterion) in observed:
                    state = CriterionState(c, "observed", e, observed[(e.module, e.criterion)])
                    break
            states.append(state)
        standards.append(StandardState(spec, tuple(states), signoffs.get(spec.number)))
    award = award_completion(session, org.id, learner.id, version)
    credential = None
    if award is not None:
        credential = session.scalar(
            select(IssuedCredential).where(IssuedCredential.completion_id == award.id)
        )
    held = held_from_elsewhere(session, org.id, learner.id)
    return Tracker(org, learner, version, tuple(standards), award, credential, held)


# --- sign-off and award -------------------------------------------------------------------


def _clean_note(note: str | None) -> str | None:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ServiceError(f"Keep the note under {NOTE_MAX} characters.")
    return note or None


def sign_off_standard(
    session: Session,
    org: Organisation,
    learner_id: int,
    number: int,
    actor: User,
    now: datetime,
    *,
    note: str | None = None,
    checked_not_covered: bool = False,
    version: str = CURRENT_VERSION,
) -> StandardSignoff:
    """Sign off one ready standard. Refused (naming why) when it is not ready or already signed."""
    # Before any check: concurrent sign-offs, withdrawals and awards run one after another on
    # PostgreSQL, so the second sees what the first saved (a no-op on SQLite: one writer).
    audit.lock_chain(session)
    _require_manager(org, actor)
    learner = learner_in(session, org, learner_id)
    if learner.id == actor.id:
        raise Forbidden("Another manager must sign off your own Care Certificate.")
    state = tracker(session, org, learner, now, version).standard(number)
    title = f"Standard {number} ({state.spec.title})"
    if state.signoff is not None:
        raise Conflict(
            f"{title} was already signed off on {state.signoff.signed_at:%-d %B %Y}. "
            "Nothing was changed."
        )
    if not state.ready:
        raise Conflict(
            f"{title} is not ready to sign off: criteria {', '.join(state.outstanding)} are not "
            "evidenced yet. Nothing was saved."
        )
    if state.spec.not_covered and not checked_not_covered:
        raise ServiceError(
            f"{title}: confirm that you have checked the parts the catalogue does not cover "
            "(listed on the page). Nothing was saved."
        )
    note = _clean_note(note)
    evidence = {c.spec.id: c.describe() for c in state.criteria}
    signoff = StandardSignoff(
        org_id=org.id,
        user_id=learner.id,
        version=version,
        standard=number,
        signed_by_id=actor.id,
        signed_at=now,
        note=note,
        evidence=evidence,
        active=True,
    )
    session.add(signoff)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="carecert.standard_signed",
        entity_type="carecert_signoff",
        entity_id=signoff.id,
        now=now,
        org_id=org.id,
        subject_user_id=learner.id,
        after={
            "version": version,
            "standard": number,
            "evidence": evidence,
            "checked_not_covered": bool(state.spec.not_covered),
        },
        reason=note,
    )
    return signoff


def withdraw_signoff(
    session: Session,
    org: Organisation,
    learner_id: int,
    number: int,
    actor: User,
    reason: str,
    now: datetime,
    *,
    version: str = CURRENT_VERSION,
) -> StandardSignoff:
    """Withdraw a standard's sign-off (kept, marked withdrawn). Refused once awarded."""
    audit.lock_chain(session)  # before any check: see sign_off_standard
    _require_manager(org, actor)
    learner = learner_in(session, org, learner_id)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Give a reason for withdrawing the sign-off: it is recorded.")
    if len(reason) > NOTE_MAX:
        raise ServiceError(f"Keep the reason under {NOTE_MAX} characters.")
    signoff = _active_signoffs(session, org.id, learner.id, version).get(number)
    if signoff is None:
        raise Conflict(f"Standard {number} is not signed off, so there is nothing to withdraw.")
    if award_completion(session, org.id, learner.id, version) is not None:
        raise Conflict(
            "The Care Certificate has already been awarded. Revoke the certificate first if a "
            "standard was signed off by mistake."
        )
    signoff.active = None
    signoff.withdrawn_at = now
    signoff.withdrawn_by_id = actor.id
    signoff.withdrawn_reason = reason
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="carecert.signoff_withdrawn",
        entity_type="carecert_signoff",
        entity_id=signoff.id,
        now=now,
        org_id=org.id,
        subject_user_id=learner.id,
        before={"version": version, "standard": number, "active": True},
        after={"version": version, "standard": number, "active": False},
        reason=reason,
    )
    return signoff


def award(
    session: Session,
    ctx: IssuanceContext,
    org: Organisation,
    learner_id: int,
    actor: User,
    now: datetime,
    *,
    version: str = CURRENT_VERSION,
) -> tuple[Completion, IssuedCredential]:
    """Award the Care Certificate when all standards are signed off; issue its credential."""
    audit.lock_chain(session)  # before any check: a second award at once sees the first
    _require_manager(org, actor)
    learner = learner_in(session, org, learner_id)
    if learner.id == actor.id:
        raise Forbidden("Another manager must award your own Care Certificate.")
    state = tracker(session, org, learner, now, version)
    if state.award is not None:
        raise Conflict(
            f"{learner.name} was already awarded the Care Certificate on "
            f"{state.award.completed_at:%-d %B %Y}. Nothing was changed."
        )
    if state.unsigned:
        raise Conflict(
            "The Care Certificate can only be awarded when every standard is signed off. "
            f"Not signed off yet: standard{'s' if len(state.unsigned) > 1 else ''} "
            f"{', '.join(str(n) for n in state.unsigned)}. Nothing was saved."
        )
    module = session.scalar(
        select(CatalogueModule).where(
            CatalogueModule.code == AWARD_MODULE, CatalogueModule.is_current
        )
    )
    if module is None or module.delivery != "award":
        raise Conflict(
            f"The catalogue has no {AWARD_MODULE} award module. Run `flask --app wsgi courses "
            "load` first. Nothing was saved."
        )
    completion = Completion(
        user_id=learner.id,
        org_id=org.id,
        module_id=module.id,
        source=CompletionSource.AWARD.value,
        attempt_id=None,
        completed_at=now,
        valid_until=None,  # the Care Certificate does not expire
        delivered_by=DeliveredBy.IN_HOUSE.value,
        delivery_mode=DeliveryMode.BLENDED.value,
        accredited=False,  # the Care Certificate is not an accredited qualification
        care_certificate_version=version,
        recorded_by_id=actor.id,
    )
    session.add(completion)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="carecert.awarded",
        entity_type="completion",
        entity_id=completion.id,
        now=now,
        org_id=org.id,
        subject_user_id=learner.id,
        after={
            "module": module.code,
            "module_version": module.version,
            "version": version,
            "signoffs": {str(s.number): s.signoff.id for s in state.standards if s.signoff},
        },
    )
    credential = issue_for_completion(session, ctx, completion, now)
    return completion, credential


@dataclass(frozen=True)
class ProgressRow:
    learner: User
    signed: int
    ready: int
    evidenced: int
    criteria: int
    awarded: datetime | None
    held_from: str | None = None  # who awarded a Care Certificate accepted from elsewhere


def org_progress(session: Session, org: Organisation, now: datetime) -> list[ProgressRow]:
    """Every learner of the organisation with their Care Certificate progress."""
    out = []
    for learner in learners(session, org):
        t = tracker(session, org, learner, now)
        out.append(
            ProgressRow(
                learner,
                t.signed,
                t.ready_to_sign,
                sum(s.evidenced for s in t.standards),
                sum(s.total for s in t.standards),
                t.holds.completed_at if t.holds else None,
                None if t.award or not t.held else (t.held.provider_name or "another employer"),
            )
        )
    return out
