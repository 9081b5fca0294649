"""Check-then-write races on PostgreSQL: the Care Certificate award and sign-offs, and the
signatures of one observation (assessor, worker, manager).

Each service takes the audit chain's lock before it checks anything, so two requests at once
run one after the other and the second sees what the first saved: exactly one succeeds, the
others are refused with Conflict (never a second row, never an IntegrityError). Real threads,
separate sessions, started together on a barrier. SQLite allows one writer at a time, so these
run only on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms import audit
from lms import observations as svc
from lms.accounts import ensure_membership, get_or_create_user
from lms.assess.models import Observation, ObservationStatus, Signature
from lms.carecert import service as carecert
from lms.carecert.models import StandardSignoff
from lms.errors import Conflict
from lms.extensions import db
from lms.models import AuditEvent, Completion, IssuedCredential, Organisation, Role, User
from tests.conftest import PASSWORD, PG_URL

from .test_carecert import ALL, World
from .test_carecert import NOW as CC_NOW
from .test_observations import AMP, CC, NOW, People, _ctx, all_met, make_people, pass_quiz
from .test_pg_concurrency import _race

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not PG_URL,
        reason="needs PostgreSQL: set LMS_TEST_DATABASE_URL (SQLite has one writer, so "
        "nothing races)",
    ),
]

THREADS = 4


def _one_winner(results: list[Any]) -> Any:
    """Exactly one thread succeeded; every other one was refused with Conflict."""
    errors = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(e, Conflict) for e in errors), errors
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1, results
    return wins[0]


def _count(model: Any, *where: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _actions(action: str) -> int:
    return _count(AuditEvent, AuditEvent.action == action)


# --- the Care Certificate ---------------------------------------------------------------------


@pytest.fixture
def world(app: Flask, catalogue: None) -> World:
    w = World(app)
    w.evidence_standards(ALL)
    w.sign(ALL)
    return w


def test_the_care_certificate_is_awarded_once_when_managers_award_at_once(
    app: Flask, world: World
) -> None:
    ctx = _ctx(app)
    org_id, learner_id = world.org.id, world.learner.id
    managers = [world.users["manager"].id, world.users["manager2"].id]

    def award(session: Session, i: int) -> int:
        org = session.get_one(Organisation, org_id)
        actor = session.get_one(User, managers[i % 2])
        completion, _ = carecert.award(session, ctx, org, learner_id, actor, CC_NOW)
        return completion.id

    _one_winner(_race(THREADS, award))
    awards = _count(Completion, Completion.user_id == learner_id, Completion.source == "award")
    assert awards == 1
    assert _count(IssuedCredential) == 1
    assert _actions("carecert.awarded") == 1
    assert audit.verify_chain(db.session).ok


def test_withdrawing_a_sign_off_while_awarding_lets_only_one_happen(
    app: Flask, world: World
) -> None:
    ctx = _ctx(app)
    org_id, learner_id = world.org.id, world.learner.id
    managers = [world.users["manager"].id, world.users["manager2"].id]

    def work(session: Session, i: int) -> str:
        org = session.get_one(Organisation, org_id)
        actor = session.get_one(User, managers[i])
        if i == 0:
            carecert.award(session, ctx, org, learner_id, actor, CC_NOW)
            return "awarded"
        carecert.withdraw_signoff(session, org, learner_id, 16, actor, "signed by mistake", CC_NOW)
        return "withdrawn"

    won = _one_winner(_race(2, work))
    awards = _count(Completion, Completion.user_id == learner_id, Completion.source == "award")
    active = _count(StandardSignoff, StandardSignoff.active.is_(True))
    if won == "awarded":
        assert awards == 1 and active == 16  # awarded on all 16 sign-offs, none withdrawn
    else:
        assert awards == 0 and active == 15  # the award saw standard 16 unsigned
    assert audit.verify_chain(db.session).ok


def test_one_standard_signed_off_at_once_by_two_managers_is_signed_once(
    app: Flask, catalogue: None
) -> None:
    w = World(app)
    w.evidence_standards([16])
    org_id, learner_id = w.org.id, w.learner.id
    managers = [w.users["manager"].id, w.users["manager2"].id]

    def sign(session: Session, i: int) -> int:
        org = session.get_one(Organisation, org_id)
        actor = session.get_one(User, managers[i % 2])
        return carecert.sign_off_standard(
            session, org, learner_id, 16, actor, CC_NOW, checked_not_covered=True
        ).id

    _one_winner(_race(THREADS, sign))
    assert _count(StandardSignoff, StandardSignoff.standard == 16) == 1
    assert _actions("carecert.standard_signed") == 1
    assert audit.verify_chain(db.session).ok


# --- one observation's signatures -------------------------------------------------------------


@pytest.fixture
def people(app: Flask, catalogue: None) -> People:
    return make_people(app)


def _submitted(app: Flask, people: People, code: str) -> Observation:
    obs = svc.start(db.session, people.mentor, people.org.id, people.learner.id, code, NOW)
    obs, problems = svc.record(db.session, _ctx(app), obs, people.mentor, all_met(code), True, NOW)
    assert problems == []
    db.session.commit()
    return obs


def _signatures(obs_id: int, kind: str) -> int:
    return _count(Signature, Signature.observation_id == obs_id, Signature.kind == kind)


def test_two_submits_of_one_draft_sign_it_once(app: Flask, people: People) -> None:
    ctx = _ctx(app)
    obs = svc.start(db.session, people.mentor, people.org.id, people.learner.id, AMP, NOW)
    svc.save(db.session, obs, people.mentor, all_met(AMP), NOW)
    db.session.commit()
    obs_id, mentor_id = obs.id, people.mentor.id

    def submit(session: Session, _: int) -> str:
        row = session.get_one(Observation, obs_id)
        svc.submit(session, ctx, row, session.get_one(User, mentor_id), NOW)
        return row.status

    assert _one_winner(_race(THREADS, submit)) == ObservationStatus.SUBMITTED.value
    assert _signatures(obs_id, "assessor") == 1
    assert _actions("observation.signed") == 1
    assert audit.verify_chain(db.session).ok


def test_two_countersigns_at_once_sign_and_complete_once(app: Flask, people: People) -> None:
    ctx = _ctx(app)
    pass_quiz(app, people.learner, AMP)
    obs = _submitted(app, people, AMP)
    obs_id, learner_id = obs.id, people.learner.id

    def countersign(session: Session, _: int) -> int | None:
        row = session.get_one(Observation, obs_id)
        progress = svc.countersign(
            session, ctx, row, session.get_one(User, learner_id), "Accurate.", NOW
        )
        return progress.completion.id if progress.completion else None

    assert _one_winner(_race(THREADS, countersign)) is not None  # the module completed
    assert _signatures(obs_id, "learner") == 1
    assert _actions("observation.countersigned") == 1
    assert _count(Completion, Completion.user_id == learner_id) == 1
    assert _count(IssuedCredential) == 1
    assert audit.verify_chain(db.session).ok


def test_two_managers_signing_off_at_once_sign_off_once(app: Flask, people: People) -> None:
    ctx = _ctx(app)
    hasher = app.extensions["password_hasher"]
    second = get_or_create_user(
        db.session, hasher, "manager2@example.com", "Priya Shah", PASSWORD, NOW
    )
    ensure_membership(db.session, second, people.org, Role.MANAGER)
    db.session.commit()
    pass_quiz(app, people.learner, CC)
    obs = _submitted(app, people, CC)
    svc.countersign(db.session, ctx, obs, people.learner, None, NOW)
    db.session.commit()
    obs_id = obs.id
    managers = [people.manager.id, second.id]

    def sign_off(session: Session, i: int) -> int | None:
        row = session.get_one(Observation, obs_id)
        progress = svc.sign_off(
            session, ctx, row, session.get_one(User, managers[i % 2]), "Checked.", NOW
        )
        return progress.completion.id if progress.completion else None

    assert _one_winner(_race(THREADS, sign_off)) is not None
    assert _signatures(obs_id, "manager") == 1
    assert _actions("observation.signed_off") == 1
    assert _count(Completion, Completion.user_id == people.learner.id) == 1
    assert audit.verify_chain(db.session).ok
