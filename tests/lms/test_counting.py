"""One rule for what counts: a revoked or suspended credential, or a withdrawn external record,
stops counting everywhere (matrix, ASC-WDS export, My learning), and a lifted suspension counts
again. The completion itself is kept as history."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from lms import learning, status
from lms.compliance import cell_evidence, org_compliance
from lms.counting import NotCounting, not_counting
from lms.employer.service import ascwds_rows
from lms.extensions import db
from lms.models import IssuedCredential, Organisation, User

from .helpers import LEARNER


def _world() -> tuple[Organisation, User, IssuedCredential]:
    org = db.session.scalar(select(Organisation).where(Organisation.slug == "oakview"))
    learner = db.session.scalar(select(User).where(User.email == LEARNER))
    assert org is not None and learner is not None
    cred = db.session.scalar(
        select(IssuedCredential).where(
            IssuedCredential.user_id == learner.id,
            IssuedCredential.org_id == org.id,
            IssuedCredential.module.has(code="HSA-01"),
        )
    )
    assert cred is not None
    return org, learner, cred


def _cell_completion(org: Organisation, learner: User, code: str) -> int | None:
    matrix = org_compliance(db.session, org.id, datetime.now(UTC))
    row = next(r for r in matrix.rows if r.worker.user_id == learner.id)
    cell = row.cell(code)
    assert cell is not None, f"{code} is required for the demo learner"
    return cell.completion_id


def _exported(org: Organisation, learner: User, cred: IssuedCredential) -> int:
    """How many ASC-WDS rows the learner has for the credential's module."""
    now = datetime.now(UTC)
    worker_ref = next(
        r.worker.worker_ref
        for r in org_compliance(db.session, org.id, now).rows
        if r.worker.user_id == learner.id
    )
    return sum(
        1
        for r in ascwds_rows(db.session, org.id, now)
        if r.values[1] == worker_ref and r.values[3] == cred.module.title
    )


def test_revoked_credential_stops_counting_everywhere(demo: dict[str, str]) -> None:
    org, learner, cred = _world()
    now = datetime.now(UTC)
    assert _cell_completion(org, learner, "HSA-01") == cred.completion_id
    latest = learning.latest_completion(db.session, learner.id, "HSA-01")
    assert latest is not None and latest.id == cred.completion_id

    exported_before = _exported(org, learner, cred)

    status.revoke(db.session, cred, "Obtained by fraud", now)
    db.session.commit()
    assert not_counting(db.session, org.id)[cred.completion_id] is NotCounting.REVOKED
    assert _cell_completion(org, learner, "HSA-01") != cred.completion_id
    after = learning.latest_completion(db.session, learner.id, "HSA-01")
    assert after is None or after.id != cred.completion_id  # an older record may count again
    assert _exported(org, learner, cred) == exported_before - 1  # that record is not exported
    # still shown as history in the drill-down, with the reason it does not count
    evidence = cell_evidence(db.session, org.id, learner.id, "HSA-01", now)
    item = next(i for i in evidence.items if i.completion.id == cred.completion_id)
    assert item.withdrawn and item.excluded == "revoked" and not item.counts


def test_suspension_stops_counting_until_it_is_lifted(demo: dict[str, str]) -> None:
    org, learner, cred = _world()
    now = datetime.now(UTC)
    status.suspend(db.session, cred, "Under investigation", now)
    db.session.commit()
    assert not_counting(db.session, org.id)[cred.completion_id] is NotCounting.SUSPENDED
    assert _cell_completion(org, learner, "HSA-01") != cred.completion_id
    status.reinstate(db.session, cred, now)
    db.session.commit()
    assert cred.completion_id not in not_counting(db.session, org.id)
    assert _cell_completion(org, learner, "HSA-01") == cred.completion_id
