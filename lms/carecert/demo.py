"""Demo data of this area, called by `flask --app wsgi demo` (development instances only).

The demo learner (Amira Okafor) is part-way through the Care Certificate, all through the real
services: standard 16 (knowledge only) and standard 1 (quiz, then practice observed by the
demo mentor, countersigned by Amira and signed off by the demo manager) are complete and signed
off; standard 7 is complete but waiting for the manager's sign-off; standard 8's quiz is passed
and its observation is still to do; the rest are outstanding. The demo manager has also recorded
Amira's Oliver McGowan e-learning, done on e-Learning for Healthcare (an external record: it
counts, and no certificate of ours is issued for it). Safe to run again: never duplicates.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import learning
from ..demo_helpers import pass_quiz
from ..issuance import IssuanceContext
from ..models import Organisation, Role, User
from . import service
from .models import StandardSignoff

QUIZ_ONLY = ("CC-16", "CC-08")  # CC-16 has no observed practice; CC-08's is still to do
OBSERVED = ("CC-01", "CC-07")
SIGNED = (16, 1)


def _observe(
    session: Session,
    ctx: IssuanceContext,
    org: Organisation,
    users: dict[Role, User],
    code: str,
    now: datetime,
) -> None:
    """Observed practice through the observations service: assessor, worker, manager."""
    from .. import observations
    from ..assess.models import Observation

    learner, mentor, manager = users[Role.LEARNER], users[Role.MENTOR], users[Role.MANAGER]
    exists = session.scalar(
        select(Observation.id).where(
            Observation.learner_id == learner.id,
            Observation.org_id == org.id,
            Observation.module_code == code,
            Observation.status != "draft",
        )
    )
    if exists is not None:
        return
    obs = observations.start(session, mentor, org.id, learner.id, code, now)
    spec = obs.module.observation or {}
    observations.save(
        session,
        obs,
        mentor,
        observations.ObservationInput(
            method="direct_observation",
            observed_on=now.date(),
            setting="Oakview House, morning personal care",
            assessor_role="Senior care worker and mentor",
            competence_statement=(
                "I have worked in adult social care for nine years, hold the Level 3 Diploma in "
                "Adult Care and have been trained in workplace assessment."
            ),
            results={c["id"]: ("met", None) for c in spec.get("criteria", [])},
        ),
        now,
    )
    observations.submit(session, ctx, obs, mentor, now)
    observations.countersign(session, ctx, obs, learner, "This is what I did.", now)
    if spec.get("manager_signoff"):
        observations.sign_off(session, ctx, obs, manager, "Seen the record; agreed.", now)


def seed(
    session: Session,
    ctx: IssuanceContext,
    org: Organisation,
    users: dict[Role, User],
    now: datetime,
) -> None:
    """Create (or keep) this area's demo records. Safe to run again: never duplicates."""
    learner, manager = users[Role.LEARNER], users[Role.MANAGER]
    for code in (*QUIZ_ONLY, *OBSERVED):
        pass_quiz(session, ctx, learner, org, code, now, due_in=timedelta(28), rng_seed=code)
    for code in OBSERVED:
        _observe(session, ctx, org, users, code, now)
    for number in SIGNED:
        signed = session.scalar(
            select(StandardSignoff.id).where(
                StandardSignoff.org_id == org.id,
                StandardSignoff.user_id == learner.id,
                StandardSignoff.standard == number,
                StandardSignoff.active.is_(True),
            )
        )
        if signed is None:
            service.sign_off_standard(
                session,
                org,
                learner.id,
                number,
                manager,
                now,
                note="Knowledge and observed practice checked with Amira in supervision.",
                checked_not_covered=True,
            )
    _external(session, org, users, now)


def _external(session: Session, org: Organisation, users: dict[Role, User], now: datetime) -> None:
    from ..external import service as external
    from ..external.models import ExternalRecord

    learner, manager = users[Role.LEARNER], users[Role.MANAGER]
    learning.enrol(session, learner.id, org.id, "OMMT-E", now)
    exists = session.scalar(
        select(ExternalRecord.id).where(
            ExternalRecord.org_id == org.id,
            ExternalRecord.user_id == learner.id,
            ExternalRecord.module_code == "OMMT-E",
        )
    )
    if exists is not None:
        return
    folder = Path(current_app.config["EVIDENCE_DIR"])
    external.record_external(
        session,
        org,
        manager,
        external.ExternalInput(
            user_id=learner.id,
            module_code="OMMT-E",
            provider_name="NHS England e-Learning for Healthcare (elfh)",
            completed_on=(now - timedelta(days=20)).date(),
            delivery_mode="e_learning",
            accredited="no",
            evidence_ref="elfh certificate of completion seen; copy in Amira's staff file",
            certificate_number="ELFH-DEMO-0001",
        ),
        now,
        folder / "external",
    )
