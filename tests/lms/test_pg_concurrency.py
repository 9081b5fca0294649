"""Concurrency-sensitive writes on PostgreSQL: real threads, separate sessions, one outcome.

Each test starts N threads on a barrier so their transactions overlap, then checks what the
database holds. SQLite allows one writer at a time, so these run only on PostgreSQL.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lms import audit, learning, status
from lms.accounts import ensure_membership, get_or_create_org, get_or_create_user
from lms.errors import Conflict
from lms.extensions import db
from lms.issuance import IssuanceContext, issue_for_completion, issuer_key
from lms.models import (
    AuditEvent,
    Completion,
    CompletionSource,
    IssuedCredential,
    OrgKind,
    QuizAttempt,
    Role,
    StatusList,
)
from tests.conftest import PG_URL

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not PG_URL, reason="needs PostgreSQL: set LMS_TEST_DATABASE_URL (SQLite has one writer)"
    ),
]

THREADS = 8


def _ctx(app: Flask) -> IssuanceContext:
    return IssuanceContext.from_config(app.config)


def _race(n: int, work: Callable[[Session, int], Any]) -> list[Any]:
    """Run work(session, i) in n threads at once, each in its own session; commit each."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    engine = db.engine

    def run(i: int) -> None:
        with Session(bind=engine, expire_on_commit=False) as session:
            barrier.wait(timeout=30)
            try:
                results[i] = work(session, i)
                session.commit()
            except Exception as err:  # collected and asserted on by the test
                session.rollback()
                results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung (lock wait?)"
    return results


def _world(n_learners: int = 1) -> tuple[int, list[int]]:
    now = datetime.now(UTC)
    org = get_or_create_org(db.session, "oakview", "Oakview Care", OrgKind.CARE_PROVIDER, now)
    hasher = current_app.extensions["password_hasher"]
    users = []
    for i in range(n_learners):
        user = get_or_create_user(
            db.session, hasher, f"w{i}@example.com", f"Worker {i}", "x" * 16, now
        )
        ensure_membership(db.session, user, org, Role.LEARNER)
        users.append(user.id)
    db.session.commit()
    return org.id, users


def _completions(org_id: int, user_ids: list[int], code: str = "DIG-01") -> list[int]:
    module = learning.current_module(db.session, code)
    rows = [
        Completion(
            user_id=uid,
            org_id=org_id,
            module_id=module.id,
            source=CompletionSource.COURSE.value,
            completed_at=datetime.now(UTC),
        )
        for uid in user_ids
    ]
    db.session.add_all(rows)
    db.session.commit()
    return [r.id for r in rows]


def test_concurrent_issuance_for_one_completion_makes_one_credential(
    app: Flask, catalogue: None
) -> None:
    org_id, users = _world()
    (completion_id,) = _completions(org_id, users)
    ctx = _ctx(app)

    def issue(session: Session, _: int) -> str:
        completion = session.get_one(Completion, completion_id)
        return issue_for_completion(session, ctx, completion, datetime.now(UTC)).credential_id

    results = _race(THREADS, issue)
    assert all(isinstance(r, str) for r in results), results
    assert len(set(results)) == 1  # every caller got the same credential back
    count = db.session.scalar(
        select(func.count(IssuedCredential.id)).where(
            IssuedCredential.completion_id == completion_id
        )
    )
    assert count == 1
    assert audit.verify_chain(db.session).ok


def test_concurrent_issuance_gets_distinct_slots_and_one_list_pair(
    app: Flask, catalogue: None
) -> None:
    """A fresh issuer: every thread wants list pair 1 created and a random slot in it."""
    org_id, users = _world(THREADS)
    completions = _completions(org_id, users)
    ctx = _ctx(app)
    from lms.models import Organisation

    issuer_key(db.session, ctx, db.session.get_one(Organisation, org_id), datetime.now(UTC))
    db.session.commit()

    def issue(session: Session, i: int) -> tuple[int | None, int | None]:
        completion = session.get_one(Completion, completions[i])
        cred = issue_for_completion(session, ctx, completion, datetime.now(UTC))
        return cred.status_list_number, cred.status_index

    results = _race(THREADS, issue)
    assert all(isinstance(r, tuple) for r in results), results
    assert len(set(results)) == THREADS
    lists = db.session.scalar(select(func.count(StatusList.id)).where(StatusList.org_id == org_id))
    assert lists == 2  # one revocation and one suspension list, not one pair per thread


def test_first_issuances_of_a_new_issuer_create_one_signing_key(
    app: Flask, catalogue: None
) -> None:
    """No key yet: every thread needs one; the chain lock makes them share the first."""
    from lms.models import SigningKey

    org_id, users = _world(THREADS)
    completions = _completions(org_id, users)
    ctx = _ctx(app)

    def issue(session: Session, i: int) -> str:
        completion = session.get_one(Completion, completions[i])
        return issue_for_completion(session, ctx, completion, datetime.now(UTC)).kid

    results = _race(THREADS, issue)
    assert all(isinstance(r, str) for r in results), results
    keys = db.session.scalar(select(func.count(SigningKey.id)).where(SigningKey.org_id == org_id))
    assert keys == 1 and len(set(results)) == 1


def test_status_slots_collide_only_in_the_constraint(app: Flask, catalogue: None) -> None:
    """Every thread draws the same 'random' index first: each still ends with its own."""
    org_id, users = _world(4)
    completions = _completions(org_id, users)
    ctx = _ctx(app)

    import lms.issuance as issuance

    original = issuance._slot_rng

    class PerThread(random.Random):
        def __init__(self) -> None:
            super().__init__(1)
            self._local = threading.local()

        def randrange(self, *args: Any, **kwargs: Any) -> int:  # type: ignore[override]
            if not getattr(self._local, "used", False):
                self._local.used = True
                return 4242
            return super().randrange(*args)

    issuance._slot_rng = PerThread()  # type: ignore[assignment]
    try:

        def issue(session: Session, i: int) -> int | None:
            completion = session.get_one(Completion, completions[i])
            return issue_for_completion(session, ctx, completion, datetime.now(UTC)).status_index

        results = _race(4, issue)
    finally:
        issuance._slot_rng = original
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 4 and 4242 in results


def test_concurrent_submissions_of_one_attempt_are_recorded_once(
    app: Flask, catalogue: None
) -> None:
    org_id, (user_id,) = _world()
    now = datetime.now(UTC)
    learning.enrol(db.session, user_id, org_id, "DIG-01", now)
    module = learning.current_module(db.session, "DIG-01")
    for lesson in module.lessons:
        learning.mark_lesson_read(db.session, user_id, lesson, now)
    enrolment = learning.enrolment_for(db.session, user_id, "DIG-01")
    attempt = learning.open_attempt(db.session, user_id, enrolment, module, random.Random(3), now)
    answers = {f"q{q.id}": list(q.correct) for q in learning.attempt_questions(module, attempt)}
    attempt_id = attempt.id
    db.session.commit()
    ctx = _ctx(app)

    def submit(session: Session, _: int) -> str:
        result = learning.submit_attempt(
            session, ctx, user_id, attempt_id, answers, datetime.now(UTC)
        )
        return "recorded" if result.completion is not None else "no completion"

    results = _race(THREADS, submit)
    recorded = [r for r in results if r == "recorded"]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(recorded) == 1 and len(refused) == THREADS - 1, results
    assert (
        db.session.scalar(
            select(func.count(Completion.id)).where(Completion.attempt_id == attempt_id)
        )
        == 1
    )
    assert (
        db.session.scalar(
            select(func.count(IssuedCredential.id)).where(IssuedCredential.user_id == user_id)
        )
        == 1
    )
    assert db.session.get_one(QuizAttempt, attempt_id).status == "submitted"


def test_twenty_concurrent_audited_writes_keep_the_chain_intact(app: Flask) -> None:
    org_id, _ = _world()

    def write(session: Session, i: int) -> int:
        event = audit.record(
            session,
            actor=None,
            action="test.concurrent",
            entity_type="test",
            entity_id=i,
            org_id=org_id,
            after={"i": i},
            now=datetime.now(UTC),
        )
        return event.seq

    results = _race(20, write)
    assert sorted(results) == list(range(1, 21)), results
    report = audit.verify_chain(db.session)
    assert report.ok and report.events == 20
    assert db.session.scalar(select(func.count(AuditEvent.id))) == 20


def test_concurrent_revocations_in_one_list_lose_no_bit(app: Flask, catalogue: None) -> None:
    org_id, users = _world(6)
    completions = _completions(org_id, users)
    ctx = _ctx(app)
    now = datetime.now(UTC)
    creds = [
        issue_for_completion(db.session, ctx, db.session.get_one(Completion, c), now)
        for c in completions
    ]
    db.session.commit()
    ids = [c.id for c in creds]

    def revoke(session: Session, i: int) -> None:
        status.revoke(
            session, session.get_one(IssuedCredential, ids[i]), "issued in error", datetime.now(UTC)
        )

    results = _race(len(ids), revoke)
    assert results == [None] * len(ids), results
    db.session.expire_all()
    row = db.session.scalar(
        select(StatusList).where(StatusList.org_id == org_id, StatusList.purpose == "revocation")
    )
    assert row is not None
    for cred in db.session.scalars(select(IssuedCredential).where(IssuedCredential.id.in_(ids))):
        index = cred.status_index
        assert index is not None
        assert row.bits[index // 8] & (0x80 >> (index % 8)), f"bit {index} was lost"
