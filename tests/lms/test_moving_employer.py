"""A worker who moved employer: what she does now counts for, and is signed by, her current
employer, even when her previous employer assigned the same module (found in review)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask

from lms import learning
from lms.compliance import org_compliance
from lms.extensions import db
from lms.issuance import IssuanceContext
from lms.models import Membership, Role
from tests.lms import employer_helpers as h

CODE = "HSA-01"


def _pass(app: Flask, user_id: int) -> tuple[int, int]:
    """Read every lesson and pass the quiz; (completion org, credential issuer org)."""
    now = datetime.now(UTC)
    module = learning.current_module(db.session, CODE)
    for lesson in module.lessons:
        learning.mark_lesson_read(db.session, user_id, lesson, now)
    enrolment = learning.enrolment_for(db.session, user_id, CODE)
    attempt = learning.open_attempt(db.session, user_id, enrolment, module, random.Random(1), now)
    form = {f"q{q.id}": list(q.correct) for q in learning.attempt_questions(module, attempt)}
    result = learning.submit_attempt(
        db.session, IssuanceContext.from_config(app.config), user_id, attempt.id, form, now
    )
    db.session.commit()
    assert result.completion is not None and result.credential is not None
    return result.completion.org_id, result.credential.org_id


@pytest.mark.parametrize("left_the_old_one", [False, True])
def test_training_counts_for_the_current_employer(
    app: Flask, catalogue: None, left_the_old_one: bool
) -> None:
    old, new = h.org("riverside"), h.org("oakview")
    worker = h.user("amira@example.test", "Amira", old, Role.LEARNER)
    db.session.add(Membership(user_id=worker.id, org_id=new.id, role=Role.LEARNER.value))
    role = h.job_role(new, "Care worker")
    h.require(role, CODE)
    h.employ(new, worker, role, None, "W1")
    now = datetime.now(UTC)
    if left_the_old_one:
        # she left; the old employer's assignment is even the newer one, and must not win
        h.employ(old, worker, None, None, "R1", end_date=date.today() - timedelta(days=30))
        learning.enrol(db.session, worker.id, new.id, CODE, now - timedelta(days=10))
        learning.enrol(db.session, worker.id, old.id, CODE, now - timedelta(days=5))
    else:
        learning.enrol(db.session, worker.id, old.id, CODE, now - timedelta(days=400))
        learning.enrol(db.session, worker.id, new.id, CODE, now)
    db.session.commit()

    completion_org, issuer_org = _pass(app, worker.id)
    assert completion_org == issuer_org == new.id
    row = org_compliance(db.session, new.id, datetime.now(UTC)).rows[0]
    cell = row.cell(CODE)
    assert cell is not None and cell.status.value == "active"
