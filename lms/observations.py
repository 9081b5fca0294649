"""Observed practice: an assessor records, the worker countersigns, a manager signs off.

Rules:
- Who may assess: a user with the mentor, manager or admin role in the worker's organisation,
  never the worker themself. Anyone else gets 404 (they learn nothing about the worker).
- A draft can be saved any number of times, with whatever is filled in so far.
- Submitting needs: the method allowed by the module (simulation only where the module allows
  it), a date not in the future, a result for every criterion, the assessor's role and their
  statement of occupational competence. If every criterion is met or not applicable (and at
  least one is met) the observation is competent ("submitted"); if any is "not yet met" it is
  recorded as "not yet competent": kept, never complete; a new observation follows later.
- The worker countersigns their own observation (nobody else's). A manager signs it off where
  the module requires it; the manager cannot be the assessor or the worker.
- Each signature is a row (`Signature`) and an audit event; so is every saved change.
- When the last signature the module needs is made, the module completes if its lessons and
  quiz are done too (lms.completing).

Every function takes the session and the clock; none commits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from courses.models import CatalogueModule

from . import audit
from .assess.models import (
    CriterionResult,
    Observation,
    ObservationCriterion,
    ObservationStatus,
    Signature,
    SignatureKind,
)
from .authz import ASSESSORS, organisation_for, organisations_for
from .completing import complete_if_ready, final_status, manager_signoff_needed
from .errors import Conflict, Forbidden, NotFound, ServiceError
from .issuance import IssuanceContext
from .models import (
    Completion,
    Enrolment,
    IssuedCredential,
    Membership,
    Organisation,
    Role,
    User,
)

ASSESSOR_ROLES = ASSESSORS
MANAGER_ROLES = frozenset({Role.MANAGER.value, Role.ADMIN.value})
CLIENT_KEY = re.compile(r"^[A-Za-z0-9-]{8,64}$")
MAX_SHORT = 200
MAX_LONG = 4000


class ObservationRefused(ServiceError):
    """The observation cannot be submitted yet; `problems` lists what to fix, in plain words."""

    code, status = "observation_incomplete", 400

    def __init__(self, problems: list[str]) -> None:
        super().__init__("This observation cannot be submitted yet: " + " ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ObservationInput:
    """What the assessor filled in (any part may still be empty in a draft)."""

    method: str | None = None
    observed_on: date | None = None
    setting: str | None = None
    notes: str | None = None
    assessor_role: str | None = None
    competence_statement: str | None = None
    # criterion id -> (result, note)
    results: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class ToObserve:
    """One line of the mentor's list: a worker and a module that needs observed practice."""

    learner: User
    module: CatalogueModule
    latest: Observation | None
    complete: bool


@dataclass(frozen=True)
class Progress:
    observation: Observation
    completion: Completion | None = None
    credential: IssuedCredential | None = None


# --- who may do what -----------------------------------------------------------------------


def _roles(session: Session, user_id: int, org_id: int) -> set[str]:
    return set(
        session.scalars(
            select(Membership.role).where(
                Membership.user_id == user_id, Membership.org_id == org_id
            )
        )
    )


def assessing_organisation(session: Session, user: User, slug: str) -> Organisation:
    """The organisation if the user may assess in it (mentor, manager, admin); 404 otherwise."""
    return organisation_for(
        session, user, slug, ASSESSOR_ROLES, "There is no organisation here where you assess."
    )


def assessing_organisations(session: Session, user: User) -> list[Organisation]:
    return organisations_for(session, user, ASSESSOR_ROLES)


def check_assessor(session: Session, assessor: User, org_id: int, learner_id: int) -> User:
    """The worker, if `assessor` may assess them in this organisation."""
    if not _roles(session, assessor.id, org_id) & ASSESSOR_ROLES:
        raise NotFound("There is no such worker in an organisation where you assess.")
    learner = session.get(User, learner_id)
    if learner is None or not _roles(session, learner_id, org_id):
        raise NotFound("There is no such worker in an organisation where you assess.")
    if learner.id == assessor.id:
        raise Forbidden(
            "You cannot assess yourself. Ask another mentor or a manager to observe you."
        )
    return learner


def get_for_assessor(session: Session, user: User, observation_id: int) -> Observation:
    obs = session.get(Observation, observation_id)
    if obs is None or not _roles(session, user.id, obs.org_id) & ASSESSOR_ROLES:
        raise NotFound("That observation does not exist.")
    if obs.learner_id == user.id:
        raise Forbidden("You cannot assess yourself.")
    return obs


def get_for_learner(session: Session, user: User, observation_id: int) -> Observation:
    obs = session.get(Observation, observation_id)
    if obs is None or obs.learner_id != user.id:
        # Someone else's observation is indistinguishable from a missing one.
        raise NotFound("That observation does not exist.")
    return obs


def get_for_manager(session: Session, user: User, observation_id: int) -> Observation:
    obs = session.get(Observation, observation_id)
    if obs is None:
        raise NotFound("That observation does not exist.")
    roles = _roles(session, user.id, obs.org_id)
    if not roles:
        raise NotFound("That observation does not exist.")
    if not roles & MANAGER_ROLES:
        raise Forbidden("Only a manager of this organisation can sign off an observation.")
    return obs


def lock_for_change(session: Session, obs: Observation) -> None:
    """Serialise writers of observations, then re-read the status another may have changed.

    On PostgreSQL the audit chain's transaction-scoped lock makes two concurrent signatures
    of one observation run one after the other; the second then sees the first's status and
    is refused (Conflict) instead of signing twice. On SQLite (one writer) only the re-read.
    """
    audit.lock_chain(session)
    session.refresh(obs, ["status"])


def check_may_add_to(session: Session, obs: Observation, actor: User, what: str) -> None:
    """Testimony and evidence: the observation's assessor (or a manager or admin of its
    organisation) adds them, while it is a draft or submitted and waiting for the worker:
    the worker then countersigns the whole record, testimony and evidence included. Once she
    has countersigned (or it was judged not yet competent) nothing more is added.

    A mentor recording with no signal submits straight from the phone, so the photo of a
    signed record follows when there is signal, before the worker signs.

    Call after `lock_for_change`. Forbidden for anyone else; Conflict once countersigned.
    """
    if obs.learner_id == actor.id:
        raise Forbidden("You cannot add to an observation about yourself.")
    if obs.assessor_id != actor.id and not _roles(session, actor.id, obs.org_id) & MANAGER_ROLES:
        raise Forbidden(
            f"Only the assessor who recorded this observation, or a manager, can add {what}."
        )
    if obs.status not in (ObservationStatus.DRAFT.value, ObservationStatus.SUBMITTED.value):
        raise Conflict(
            f"The worker has already signed this observation (or it was not yet competent), so "
            f"no {what} can be added. Nothing was saved; add it to a new observation."
        )


# --- lists ---------------------------------------------------------------------------------


def to_observe(session: Session, org_id: int, assessor: User) -> list[ToObserve]:
    """Workers of the organisation with a module that has observed practice (never oneself)."""
    rows = session.execute(
        select(Enrolment, User)
        .join(User, User.id == Enrolment.user_id)
        .where(Enrolment.org_id == org_id, Enrolment.user_id != assessor.id)
        .order_by(User.name, Enrolment.module_code)
    ).all()
    modules = {
        m.code: m
        for m in session.scalars(select(CatalogueModule).where(CatalogueModule.is_current))
    }
    out = []
    for enrolment, learner in rows:
        module = modules.get(enrolment.module_code)
        if module is None or not module.observation or module.delivery != "online":
            continue
        latest = session.scalar(
            select(Observation)
            .where(
                Observation.learner_id == learner.id,
                Observation.org_id == org_id,
                Observation.module_code == module.code,
            )
            .order_by(Observation.created_at.desc(), Observation.id.desc())
            .limit(1)
        )
        complete = latest is not None and latest.status == final_status(module).value
        out.append(ToObserve(learner, module, latest, complete))
    return out


def for_learner(session: Session, user_id: int, code: str) -> list[Observation]:
    return list(
        session.scalars(
            select(Observation)
            .where(Observation.learner_id == user_id, Observation.module_code == code)
            .order_by(Observation.created_at.desc(), Observation.id.desc())
        )
    )


def awaiting_signoff(session: Session, org_id: int) -> list[Observation]:
    rows = session.scalars(
        select(Observation)
        .where(
            Observation.org_id == org_id,
            Observation.status == ObservationStatus.COUNTERSIGNED.value,
        )
        .order_by(Observation.updated_at)
    )
    return [o for o in rows if manager_signoff_needed(o.module)]


# --- recording -----------------------------------------------------------------------------


def module_for(session: Session, org_id: int, learner_id: int, code: str) -> CatalogueModule:
    enrolled = session.scalar(
        select(Enrolment.id).where(
            Enrolment.user_id == learner_id,
            Enrolment.org_id == org_id,
            Enrolment.module_code == code,
        )
    )
    module = session.scalar(
        select(CatalogueModule).where(CatalogueModule.code == code, CatalogueModule.is_current)
    )
    if enrolled is None or module is None:
        raise NotFound("This module is not assigned to this worker here.")
    if not module.observation:
        raise Conflict(f"{module.title} has no observed practice to record.")
    return module


def start(
    session: Session,
    assessor: User,
    org_id: int,
    learner_id: int,
    code: str,
    now: datetime,
    client_key: str | None = None,
) -> Observation:
    """The assessor's open draft for this worker and module, or a new one."""
    learner = check_assessor(session, assessor, org_id, learner_id)
    module = module_for(session, org_id, learner.id, code)
    if client_key is None:
        draft = session.scalar(
            select(Observation)
            .where(
                Observation.learner_id == learner.id,
                Observation.org_id == org_id,
                Observation.module_code == code,
                Observation.assessor_id == assessor.id,
                Observation.status == ObservationStatus.DRAFT.value,
            )
            .order_by(Observation.id.desc())
            .limit(1)
        )
        if draft is not None:
            return draft
    obs = Observation(
        learner_id=learner.id,
        org_id=org_id,
        module_id=module.id,
        module_code=module.code,
        assessor_id=assessor.id,
        status=ObservationStatus.DRAFT.value,
        client_key=client_key,
        created_at=now,
        updated_at=now,
    )
    session.add(obs)
    session.flush()
    audit.record(
        session,
        actor=assessor,
        action="observation.started",
        entity_type="observation",
        entity_id=obs.id,
        now=now,
        org_id=org_id,
        subject_user_id=learner.id,
        after={"module": module.code, "version": module.version, "client_key": client_key},
    )
    return obs


def _clean(value: str | None, limit: int, name: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise ServiceError(f"{name} is too long: at most {limit} characters.")
    return value or None


def _snapshot(obs: Observation) -> dict[str, Any]:
    return {
        "status": obs.status,
        "method": obs.method,
        "observed_on": obs.observed_on,
        "setting": obs.setting,
        "assessor_role": obs.assessor_role,
        "competence_statement": obs.competence_statement,
        "notes": obs.notes,
        "results": obs.results(),
    }


def check_input(module: CatalogueModule, data: ObservationInput) -> None:
    """Refuse values the module does not allow, before anything is changed."""
    spec = module.observation or {}
    criteria = {c["id"] for c in spec.get("criteria", [])}
    if data.method is not None and data.method not in spec.get("methods", []):
        raise ServiceError("That assessment method is not allowed for this module.")
    unknown = sorted(set(data.results) - criteria)
    if unknown:
        raise ServiceError(f"Unknown criteria: {', '.join(unknown)}.")
    allowed = {r.value for r in CriterionResult}
    for cid, (result, note) in data.results.items():
        if result not in allowed:
            raise ServiceError(f"{cid}: choose met, not yet met or not applicable.")
        _clean(note, 1000, f"The note on {cid}")
    _clean(data.setting, MAX_SHORT, "Setting")
    _clean(data.notes, MAX_LONG, "Notes")
    _clean(data.assessor_role, 120, "Your role")
    _clean(data.competence_statement, MAX_LONG, "Your competence statement")


def save(
    session: Session, obs: Observation, actor: User, data: ObservationInput, now: datetime
) -> Observation:
    """Save what is filled in so far (a draft only); refuses unknown values, keeps the rest."""
    lock_for_change(session, obs)
    if obs.status != ObservationStatus.DRAFT.value:
        raise Conflict("This observation was already submitted, so it cannot be changed.")
    check_input(obs.module, data)
    before = _snapshot(obs)
    obs.method = data.method
    obs.observed_on = data.observed_on
    obs.setting = _clean(data.setting, MAX_SHORT, "Setting")
    obs.notes = _clean(data.notes, MAX_LONG, "Notes")
    obs.assessor_role = _clean(data.assessor_role, 120, "Your role")
    obs.competence_statement = _clean(
        data.competence_statement, MAX_LONG, "Your competence statement"
    )
    existing = {c.criterion_id: c for c in obs.criteria}
    for cid, (result, note) in data.results.items():
        row = existing.get(cid)
        if row is None:
            row = ObservationCriterion(criterion_id=cid, result=result)
            obs.criteria.append(row)
        row.result = result
        row.note = _clean(note, 1000, f"The note on {cid}")
    obs.updated_at = now
    session.flush()
    after = _snapshot(obs)
    if after != before:
        audit.record(
            session,
            actor=actor,
            action="observation.saved",
            entity_type="observation",
            entity_id=obs.id,
            now=now,
            org_id=obs.org_id,
            subject_user_id=obs.learner_id,
            before=before,
            after=after,
        )
    return obs


def problems(obs: Observation, today: date) -> list[str]:
    """What stops this draft being submitted (empty when it can be)."""
    spec = obs.module.observation or {}
    out = []
    methods = spec.get("methods", [])
    if obs.method is None:
        out.append("Choose how you assessed.")
    elif obs.method not in methods:
        out.append("That assessment method is not allowed for this module.")
    elif obs.method == "simulation" and not spec.get("simulation_allowed"):
        out.append("Simulation does not count for this module: observe real work.")
    if obs.observed_on is None:
        out.append("Give the date of the observation.")
    elif obs.observed_on > today:
        out.append("The date of the observation cannot be in the future.")
    results = obs.results()
    missing = [c["id"] for c in spec.get("criteria", []) if c["id"] not in results]
    if missing:
        out.append(f"Mark every criterion: {', '.join(missing)} not marked yet.")
    elif not any(r == CriterionResult.MET.value for r in results.values()):
        out.append("At least one criterion must be met: they cannot all be not applicable.")
    if not obs.assessor_role:
        out.append("Give your role.")
    if not obs.competence_statement:
        out.append("Write your statement of occupational competence.")
    return out


def _sign(
    session: Session,
    obs: Observation,
    kind: SignatureKind,
    actor: User,
    now: datetime,
    statement: str | None,
    action: str,
    before_status: str,
    *,
    witness_name: str | None = None,
    witness_role: str | None = None,
) -> Signature:
    sig = Signature(
        kind=kind.value,
        user_id=None if kind == SignatureKind.WITNESS else actor.id,
        witness_name=witness_name,
        witness_role=witness_role,
        signed_at=now,
        statement=statement,
    )
    obs.signatures.append(sig)
    obs.updated_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="observation",
        entity_id=obs.id,
        now=now,
        org_id=obs.org_id,
        subject_user_id=obs.learner_id,
        before={"status": before_status},
        after={
            "status": obs.status,
            "signature_id": sig.id,
            "kind": kind.value,
            "witness_name": witness_name,
            "witness_role": witness_role,
            "statement": statement,
        },
    )
    return sig


def submit(
    session: Session, ctx: IssuanceContext, obs: Observation, actor: User, now: datetime
) -> Progress:
    """The assessor signs: competent ("submitted") or not yet competent ("not_yet")."""
    lock_for_change(session, obs)
    if obs.status != ObservationStatus.DRAFT.value:
        raise Conflict("This observation was already submitted.")
    if obs.assessor_id != actor.id:
        raise Forbidden("Only the assessor who recorded this observation can submit it.")
    found = problems(obs, now.date())
    if found:
        raise ObservationRefused(found)
    competent = all(r != CriterionResult.NOT_YET.value for r in obs.results().values())
    obs.status = (ObservationStatus.SUBMITTED if competent else ObservationStatus.NOT_YET).value
    _sign(
        session,
        obs,
        SignatureKind.ASSESSOR,
        actor,
        now,
        obs.competence_statement,
        "observation.signed" if competent else "observation.not_yet",
        ObservationStatus.DRAFT.value,
    )
    return Progress(obs)


def add_witness(
    session: Session,
    obs: Observation,
    actor: User,
    name: str,
    role: str,
    statement: str,
    now: datetime,
) -> Signature:
    """A witness's testimony, recorded by the assessor (the witness may have no account).

    Only the observation's assessor or a manager of its organisation, and only to a draft:
    testimony added after the assessor signed would change what the worker countersigns and
    what the credential says.
    """
    lock_for_change(session, obs)
    check_may_add_to(session, obs, actor, "testimony")
    name_ = _clean(name, 120, "The witness's name")
    role_ = _clean(role, 120, "The witness's role")
    text = _clean(statement, MAX_LONG, "The testimony")
    if not name_ or not role_ or not text:
        raise ServiceError("Give the witness's name, their role and what they saw.")
    return _sign(
        session,
        obs,
        SignatureKind.WITNESS,
        actor,
        now,
        text,
        "observation.witnessed",
        obs.status,
        witness_name=name_,
        witness_role=role_,
    )


def _complete(
    session: Session, ctx: IssuanceContext, obs: Observation, actor: User, now: datetime
) -> Progress:
    if obs.status != final_status(obs.module).value:
        return Progress(obs)
    completion, credential = complete_if_ready(
        session, ctx, obs.learner_id, obs.org_id, obs.module, now, actor=actor
    )
    return Progress(obs, completion, credential)


def countersign(
    session: Session,
    ctx: IssuanceContext,
    obs: Observation,
    learner: User,
    statement: str | None,
    now: datetime,
) -> Progress:
    """The worker signs their own observation's account as accurate."""
    if obs.learner_id != learner.id:
        raise NotFound("That observation does not exist.")
    lock_for_change(session, obs)
    if obs.status != ObservationStatus.SUBMITTED.value:
        raise Conflict("This observation is not waiting for your signature.")
    obs.status = ObservationStatus.COUNTERSIGNED.value
    _sign(
        session,
        obs,
        SignatureKind.LEARNER,
        learner,
        now,
        _clean(statement, MAX_LONG, "Your comment"),
        "observation.countersigned",
        ObservationStatus.SUBMITTED.value,
    )
    return _complete(session, ctx, obs, learner, now)


def sign_off(
    session: Session,
    ctx: IssuanceContext,
    obs: Observation,
    manager: User,
    statement: str | None,
    now: datetime,
) -> Progress:
    """A manager signs off a countersigned observation of a module that requires it."""
    lock_for_change(session, obs)
    if not _roles(session, manager.id, obs.org_id) & MANAGER_ROLES:
        raise Forbidden("Only a manager of this organisation can sign off an observation.")
    if manager.id in (obs.learner_id, obs.assessor_id):
        raise Forbidden("You cannot sign off an observation you carried out or that is about you.")
    if not manager_signoff_needed(obs.module):
        raise Conflict("This module does not need a manager's sign-off.")
    if obs.status != ObservationStatus.COUNTERSIGNED.value:
        raise Conflict("This observation is not waiting for sign-off.")
    obs.status = ObservationStatus.SIGNED_OFF.value
    _sign(
        session,
        obs,
        SignatureKind.MANAGER,
        manager,
        now,
        _clean(statement, MAX_LONG, "Your comment"),
        "observation.signed_off",
        ObservationStatus.COUNTERSIGNED.value,
    )
    return _complete(session, ctx, obs, manager, now)


# --- offline capture -----------------------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    observation: Observation
    replayed: bool
    problems: tuple[str, ...] = ()


def parse_input(body: Mapping[str, Any]) -> ObservationInput:
    """An observation sent as JSON by the mentor's phone; ServiceError names what is wrong."""

    def text(name: str) -> str | None:
        value = body.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise ServiceError(f"{name} must be text.")
        return value

    observed_on = None
    raw_date = text("observed_on")
    if raw_date is not None:
        try:
            observed_on = date.fromisoformat(raw_date)
        except ValueError:
            raise ServiceError("observed_on must be a date like 2026-11-30.") from None
    raw = body.get("results") or {}
    if not isinstance(raw, dict):
        raise ServiceError("results must be an object of criterion id to result.")
    results: dict[str, tuple[str, str | None]] = {}
    for cid, item in raw.items():
        if isinstance(item, str):
            results[str(cid)] = (item, None)
        elif isinstance(item, dict) and isinstance(item.get("result"), str):
            note = item.get("note")
            if note is not None and not isinstance(note, str):
                raise ServiceError(f"{cid}: the note must be text.")
            results[str(cid)] = (item["result"], note)
        else:
            raise ServiceError(f"{cid}: give a result (met, not_yet or na).")
    return ObservationInput(
        method=text("method"),
        observed_on=observed_on,
        setting=text("setting"),
        notes=text("notes"),
        assessor_role=text("assessor_role"),
        competence_statement=text("competence_statement"),
        results=results,
    )


def sync(
    session: Session,
    ctx: IssuanceContext,
    assessor: User,
    org: Organisation,
    learner_id: int,
    code: str,
    client_key: str,
    data: ObservationInput,
    submit_it: bool,
    now: datetime,
) -> SyncResult:
    """Record an observation captured offline, exactly once per `client_key`.

    A replay of a key already recorded returns the stored observation unchanged. What the
    phone sent is always kept as a draft first; if it cannot be submitted yet, the result
    lists the problems and the mentor finishes it online.
    """
    if not CLIENT_KEY.match(client_key):
        raise ServiceError("client_key must be 8-64 letters, digits or dashes.")
    existing = session.scalar(select(Observation).where(Observation.client_key == client_key))
    if existing is not None:
        if existing.assessor_id != assessor.id:
            raise Conflict("That observation was recorded by someone else.")
        return SyncResult(existing, replayed=True)
    learner = check_assessor(session, assessor, org.id, learner_id)
    check_input(module_for(session, org.id, learner.id, code), data)
    try:
        with session.begin_nested():
            obs = start(session, assessor, org.id, learner_id, code, now, client_key=client_key)
    except IntegrityError:  # the same key arrived twice at once: the first one wins
        existing = session.scalar(select(Observation).where(Observation.client_key == client_key))
        if existing is None:
            raise
        return SyncResult(existing, replayed=True)
    save(session, obs, assessor, data, now)
    if not submit_it:
        return SyncResult(obs, replayed=False)
    found = problems(obs, now.date())
    if found:
        return SyncResult(obs, replayed=False, problems=tuple(found))
    submit(session, ctx, obs, assessor, now)
    return SyncResult(obs, replayed=False)


def record(
    session: Session,
    ctx: IssuanceContext,
    obs: Observation,
    assessor: User,
    data: ObservationInput,
    submit_it: bool,
    now: datetime,
) -> tuple[Observation, list[str]]:
    """Save the draft and, when asked and possible, submit it.

    Returns the problems that stopped submission (the draft is saved whatever they are), so a
    half-finished observation is never lost.
    """
    if obs.assessor_id != assessor.id:
        raise Forbidden("Only the assessor who started this observation can change it.")
    save(session, obs, assessor, data, now)
    if not submit_it:
        return obs, []
    found = problems(obs, now.date())
    if found:
        return obs, found
    submit(session, ctx, obs, assessor, now)
    return obs, []
