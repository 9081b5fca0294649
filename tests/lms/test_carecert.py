"""The Care Certificate: tracker states, phased sign-off, permissions, the award, its credential."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from courses.carecert import framework
from courses.models import CatalogueModule
from credentials import load_trust_list, verify_token
from lms import audit
from lms.accounts import ensure_membership, get_or_create_org, get_or_create_user
from lms.assess.models import Observation, ObservationCriterion, ObservationStatus
from lms.carecert import service
from lms.carecert.models import StandardSignoff
from lms.errors import Conflict, Forbidden, NotFound
from lms.extensions import db
from lms.issuance import IssuanceContext, trust_list
from lms.models import (
    AttemptStatus,
    AuditEvent,
    Completion,
    IssuedCredential,
    Organisation,
    QuizAttempt,
    Role,
    User,
)
from tests.conftest import PASSWORD, Auth, csrf_token, make_app

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


class World:
    def __init__(self, app: Flask) -> None:
        self.app = app
        s = db.session
        hasher = app.extensions["password_hasher"]
        self.org = get_or_create_org(s, "brook", "Brook House", "care_provider", NOW)
        self.other = get_or_create_org(s, "elm", "Elm Lodge", "care_provider", NOW)
        self.users: dict[str, User] = {}
        for key, org, role in (
            ("learner", self.org, Role.LEARNER),
            ("manager", self.org, Role.MANAGER),
            ("manager2", self.org, Role.MANAGER),
            ("mentor", self.org, Role.MENTOR),
            ("elsewhere", self.other, Role.MANAGER),
        ):
            user = get_or_create_user(
                s, hasher, f"{key}@brook.example.org", key.title(), PASSWORD, NOW
            )
            ensure_membership(s, user, org, role)
            self.users[key] = user
        s.commit()

    @property
    def learner(self) -> User:
        return self.users["learner"]

    @property
    def manager(self) -> User:
        return self.users["manager"]

    def module(self, code: str) -> CatalogueModule:
        module = db.session.scalar(
            select(CatalogueModule).where(CatalogueModule.code == code, CatalogueModule.is_current)
        )
        assert module is not None, code
        return module

    def pass_quiz(self, code: str, org: Organisation | None = None, passed: bool = True) -> None:
        module = self.module(code)
        db.session.add(
            QuizAttempt(
                user_id=self.learner.id,
                org_id=(org or self.org).id,
                module_id=module.id,
                question_ids=[],
                status=AttemptStatus.SUBMITTED.value,
                started_at=NOW - timedelta(hours=1),
                submitted_at=NOW - timedelta(minutes=30),
                passed=passed,
                score_percent=100 if passed else 10,
            )
        )
        db.session.flush()

    def observe(
        self,
        code: str,
        results: dict[str, str] | None = None,
        status: ObservationStatus | None = None,
    ) -> Observation:
        module = self.module(code)
        spec = module.observation or {}
        if status is None:
            status = (
                ObservationStatus.SIGNED_OFF
                if spec.get("manager_signoff")
                else ObservationStatus.COUNTERSIGNED
            )
        obs = Observation(
            learner_id=self.learner.id,
            org_id=self.org.id,
            module_id=module.id,
            module_code=code,
            assessor_id=self.users["mentor"].id,
            status=status.value,
            created_at=NOW,
            updated_at=NOW,
        )
        for c in spec["criteria"]:
            result = (results or {}).get(c["id"], "met")
            obs.criteria.append(ObservationCriterion(criterion_id=c["id"], result=result))
        db.session.add(obs)
        db.session.flush()
        return obs

    def evidence_standards(self, numbers: list[int]) -> None:
        fw = framework()
        quizzes: set[str] = set()
        observed: set[str] = set()
        for n in numbers:
            for c in fw.standard(n).criteria:
                e = c.evidence[0]
                (quizzes if e.outcome else observed).add(e.module)
        for code in sorted(quizzes):
            self.pass_quiz(code)
        for code in sorted(observed):
            self.observe(code)
        db.session.commit()

    def sign(self, numbers: list[int]) -> None:
        for n in numbers:
            service.sign_off_standard(
                db.session,
                self.org,
                self.learner.id,
                n,
                self.manager,
                NOW,
                note=f"checked {n}",
                checked_not_covered=True,
            )
        db.session.commit()


@pytest.fixture
def world(app: Flask, catalogue: None) -> World:
    return World(app)


def login(client: FlaskClient, user: User) -> None:
    response = Auth(client).login(user.email, PASSWORD)
    assert response.status_code == 302, response.text


ALL = list(range(1, 17))


# --- tracker --------------------------------------------------------------------------------


def test_tracker_marks_quiz_observed_and_to_do(world: World) -> None:
    world.pass_quiz("CC-01")
    world.observe("CC-01", {"OB1": "met", "OB2": "not_yet", "OB4": "met", "OB5": "na"})
    db.session.commit()
    t = service.tracker(db.session, world.org, world.learner, NOW)
    std1 = t.standard(1)
    marks = {c.spec.id: c.mark for c in std1.criteria}
    assert marks["1.1"] == marks["1.2"] == marks["1.3"] == marks["1.4"] == "quiz"
    assert marks["1.5"] == "observed" and marks["1.7"] == "observed"
    # not met, or not applicable, is not evidence
    assert marks["1.6"] == "to_do" and marks["1.8"] == "to_do"
    assert std1.status == "in_progress" and not std1.ready
    assert std1.outstanding == ["1.6", "1.8"]
    assert t.standard(2).status == "not_started"
    assert t.signed == 0 and not t.can_award


def test_observation_counts_only_when_complete(world: World) -> None:
    # CC-07 needs a manager's sign-off on the observation: countersigned is not enough yet
    world.observe("CC-07", status=ObservationStatus.COUNTERSIGNED)
    # IPC-01 does not: countersigned by the worker is complete
    world.observe("IPC-01", status=ObservationStatus.COUNTERSIGNED)
    world.observe("BLS-01", status=ObservationStatus.SUBMITTED)  # the worker has not signed
    db.session.commit()
    t = service.tracker(db.session, world.org, world.learner, NOW)
    assert {c.mark for c in t.standard(7).criteria if c.spec.kind == "performance"} == {"to_do"}
    assert {c.mark for c in t.standard(15).criteria if c.spec.kind == "performance"} == {"observed"}
    assert {c.mark for c in t.standard(12).criteria if c.spec.kind == "performance"} == {"to_do"}


def test_not_applicable_in_a_completed_observation_is_still_to_do(world: World) -> None:
    # A course completion of CC-01 counted an observation in which OB5 (criterion 1.8) was
    # "not applicable" and OB2 (1.6) not yet met: the completion is not evidence for either.
    obs = world.observe("CC-01", {"OB2": "not_yet", "OB5": "na"})
    later = NOW + timedelta(hours=1)
    completion = Completion(
        user_id=world.learner.id,
        org_id=world.org.id,
        module_id=world.module("CC-01").id,
        source="course",
        completed_at=later,
    )
    db.session.add(completion)
    db.session.flush()
    obs.completion_id = completion.id
    db.session.commit()
    t = service.tracker(db.session, world.org, world.learner, NOW)
    std1 = {c.spec.id: c for c in t.standard(1).criteria}
    assert std1["1.8"].mark == "to_do" and std1["1.6"].mark == "to_do"
    assert t.standard(1).outstanding == ["1.1", "1.2", "1.3", "1.4", "1.6", "1.8"]
    # what was met still counts, dated by the completion
    assert std1["1.5"].mark == "observed" and std1["1.5"].when == later


def test_failed_quiz_and_other_employers_records_are_not_evidence(world: World) -> None:
    world.pass_quiz("CC-16", passed=False)
    world.pass_quiz("SGA-01", org=world.other)
    db.session.commit()
    t = service.tracker(db.session, world.org, world.learner, NOW)
    assert t.standard(16).evidenced == 0
    assert t.standard(10).evidenced == 0


def test_standard_is_ready_when_every_criterion_is_evidenced(world: World) -> None:
    world.evidence_standards([16, 1])
    t = service.tracker(db.session, world.org, world.learner, NOW)
    assert t.standard(16).status == "ready" and t.standard(1).status == "ready"
    assert t.ready_to_sign == 2


# --- sign-off -------------------------------------------------------------------------------


def test_sign_off_records_version_evidence_and_audit(world: World) -> None:
    world.evidence_standards([16])
    world.sign([16])
    signoff = db.session.scalars(select(StandardSignoff)).one()
    assert (signoff.version, signoff.standard, signoff.signed_by_id, signoff.active) == (
        "2025",
        16,
        world.manager.id,
        True,
    )
    assert signoff.evidence["16.1"] == "quiz CC-16 LO1"
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "carecert.standard_signed")
    ).one()
    assert event.subject_user_id == world.learner.id and event.org_id == world.org.id
    assert event.after is not None and event.after["version"] == "2025"
    assert event.reason == "checked 16"
    assert audit.verify_chain(db.session).ok
    t = service.tracker(db.session, world.org, world.learner, NOW)
    assert t.standard(16).status == "signed_off" and t.signed == 1


def test_sign_off_refused_until_ready_and_only_once(world: World) -> None:
    world.pass_quiz("CC-01")
    db.session.commit()
    with pytest.raises(Conflict, match=r"criteria 1\.5, 1\.6, 1\.7, 1\.8 are not evidenced"):
        service.sign_off_standard(db.session, world.org, world.learner.id, 1, world.manager, NOW)
    db.session.rollback()
    world.evidence_standards([16])
    world.sign([16])
    with pytest.raises(Conflict, match="already signed off"):
        world.sign([16])
    db.session.rollback()
    assert db.session.scalar(select(func.count(StandardSignoff.id))) == 1


def test_sign_off_needs_the_uncovered_parts_checked(world: World) -> None:
    world.evidence_standards([9])
    with pytest.raises(Exception, match="confirm that you have checked"):
        service.sign_off_standard(db.session, world.org, world.learner.id, 9, world.manager, NOW)
    db.session.rollback()
    assert db.session.scalar(select(func.count(StandardSignoff.id))) == 0


def test_who_may_sign_off(world: World) -> None:
    world.evidence_standards([16])
    with pytest.raises(Forbidden):
        service.sign_off_standard(
            db.session, world.org, world.learner.id, 16, world.users["mentor"], NOW
        )
    with pytest.raises(Forbidden):
        service.sign_off_standard(db.session, world.org, world.learner.id, 16, world.learner, NOW)
    with pytest.raises(Forbidden):  # a manager elsewhere
        service.sign_off_standard(
            db.session, world.org, world.learner.id, 16, world.users["elsewhere"], NOW
        )
    with pytest.raises(NotFound):  # someone who does not work here
        service.sign_off_standard(
            db.session, world.other, world.learner.id, 16, world.users["elsewhere"], NOW
        )


def test_withdrawn_sign_off_stops_counting_and_can_be_redone(world: World) -> None:
    world.evidence_standards([16])
    world.sign([16])
    with pytest.raises(Exception, match="Give a reason"):
        service.withdraw_signoff(
            db.session, world.org, world.learner.id, 16, world.manager, " ", NOW
        )
    service.withdraw_signoff(
        db.session, world.org, world.learner.id, 16, world.manager, "signed the wrong person", NOW
    )
    db.session.commit()
    t = service.tracker(db.session, world.org, world.learner, NOW)
    assert t.standard(16).status == "ready"
    world.sign([16])  # the one-active rule allows a new sign-off after a withdrawal
    rows = db.session.scalars(select(StandardSignoff).order_by(StandardSignoff.id)).all()
    assert [(r.active, r.withdrawn_reason) for r in rows] == [
        (None, "signed the wrong person"),
        (True, None),
    ]
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("carecert.%"))
    ).all()
    assert actions == [
        "carecert.standard_signed",
        "carecert.signoff_withdrawn",
        "carecert.standard_signed",
    ]


# --- award ----------------------------------------------------------------------------------


def ctx(app: Flask) -> IssuanceContext:
    return IssuanceContext.from_config(app.config)


def test_award_refused_until_all_16_signed_naming_them(world: World, app: Flask) -> None:
    world.evidence_standards(ALL)
    world.sign([n for n in ALL if n not in (4, 12)])
    with pytest.raises(Conflict, match="Not signed off yet: standards 4, 12"):
        service.award(db.session, ctx(app), world.org, world.learner.id, world.manager, NOW)
    db.session.rollback()
    assert db.session.scalar(select(func.count(Completion.id))) == 0
    assert db.session.scalar(select(func.count(IssuedCredential.id))) == 0


def test_award_issues_one_credential_aligned_to_all_16_that_verifies_offline(
    world: World, app: Flask
) -> None:
    world.evidence_standards(ALL)
    world.sign(ALL)
    with pytest.raises(Forbidden):
        service.award(db.session, ctx(app), world.org, world.learner.id, world.users["mentor"], NOW)
    completion, cred = service.award(
        db.session, ctx(app), world.org, world.learner.id, world.manager, NOW
    )
    db.session.commit()
    assert completion.source == "award" and completion.module.code == "CC-CERT"
    assert completion.care_certificate_version == "2025"
    assert (completion.delivered_by, completion.delivery_mode) == ("in_house", "blended")
    assert completion.valid_until is None and completion.attempt_id is None
    assert completion.recorded_by_id == world.manager.id
    alignments = cred.credential_json["credentialSubject"]["achievement"]["alignment"]
    codes = sorted(a["targetCode"] for a in alignments if a.get("targetCode", "").startswith("CC"))
    assert codes == [f"CC2025-{n:02d}" for n in ALL]
    achievement = cred.credential_json["credentialSubject"]["achievement"]
    assert "all 16 standards" in achievement["criteria"]["narrative"]
    assert "quiz" not in achievement["criteria"]["narrative"].lower()  # not a module's criteria
    assert db.session.scalar(select(func.count(IssuedCredential.id))) == 1
    # offline: only the signed trust list and the token
    text, anchor = trust_list(db.session, ctx(app), NOW + timedelta(minutes=1))
    db.session.commit()
    moment = NOW + timedelta(minutes=2)
    result = verify_token(cred.token, load_trust_list(text, anchor, moment), moment)
    assert result.valid, result.reason
    assert result.achievement_name == "The Care Certificate (2025 standards)"
    assert db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action == "carecert.awarded")
    ).all() == ["carecert.awarded"]
    # the worker's PDF certificate carries it like any other
    from lms.pdf import certificate_context, render_certificate

    pdf = render_certificate(certificate_context(cred, "Test"), cred)
    assert pdf.startswith(b"%PDF")
    # only once
    with pytest.raises(Conflict, match="already awarded"):
        service.award(db.session, ctx(app), world.org, world.learner.id, world.manager, NOW)
    db.session.rollback()
    assert db.session.scalar(select(func.count(IssuedCredential.id))) == 1
    # after the award, sign-offs stand
    with pytest.raises(Conflict, match="already been awarded"):
        service.withdraw_signoff(
            db.session, world.org, world.learner.id, 3, world.manager, "mistake", NOW
        )


def test_learner_never_gets_a_quiz_for_the_award(world: World, app: Flask) -> None:
    from lms import learning

    enrolment = learning.enrol(db.session, world.learner.id, world.org.id, "CC-CERT", NOW)
    import random

    with pytest.raises(Conflict, match="awarded by your manager"):
        learning.open_attempt(
            db.session, world.learner.id, enrolment, world.module("CC-CERT"), random.Random(1), NOW
        )


# --- pages ----------------------------------------------------------------------------------


def test_learner_page_shows_text_labels(world: World, client: FlaskClient) -> None:
    world.pass_quiz("CC-01")
    world.observe("CC-01", {"OB2": "not_yet"})
    db.session.commit()
    login(client, world.learner)
    page = client.get("/care-certificate/")
    assert page.status_code == 200
    html = page.text
    assert "0 of 16 standards signed off" in html
    assert "Quiz passed" in html and "Observed" in html and "To do" in html
    assert "Understand your role" in html and "Criteria met: 7 of 8" in html


def test_manager_pages_and_who_may_see_them(world: World, client: FlaskClient) -> None:
    base = f"/manage/brook/care-certificate/{world.learner.id}"
    assert client.get("/manage/brook/care-certificate/").status_code == 302  # anonymous: log in
    login(client, world.learner)
    assert client.get("/manage/brook/care-certificate/").status_code == 404
    assert client.post(f"{base}/standards/16/sign-off").status_code == 404
    Auth(client).logout()
    login(client, world.users["mentor"])
    assert client.get(base).status_code == 404
    assert client.post(f"{base}/award", data={"award-confirm": "y"}).status_code == 404
    Auth(client).logout()
    login(client, world.users["elsewhere"])
    assert client.get(base).status_code == 404
    assert client.get(f"/manage/elm/care-certificate/{world.learner.id}").status_code == 404
    Auth(client).logout()
    login(client, world.manager)
    listing = client.get("/manage/brook/care-certificate/")
    assert listing.status_code == 200 and "Learner" in listing.text and "0 of 16" in listing.text
    assert client.get(base).status_code == 200
    assert (
        client.get(f"/manage/brook/care-certificate/{world.users['elsewhere'].id}").status_code
        == 404
    )


def test_manager_signs_off_and_awards_through_the_pages(world: World, client: FlaskClient) -> None:
    world.evidence_standards(ALL)
    login(client, world.manager)
    base = f"/manage/brook/care-certificate/{world.learner.id}"
    page = client.get(base)
    assert page.text.count("Sign off standard") == 16
    # award too early: refused, naming what is missing
    early = client.post(f"{base}/award", data={"award-confirm": "y"})
    assert early.status_code == 409 and "Not signed off yet" in early.text
    # standard 9 has parts the catalogue does not cover: the box must be ticked
    refused = client.post(f"{base}/standards/9/sign-off", data={"s9-note": "ok"})
    assert refused.status_code == 400 and "Tick the box to confirm you have checked" in refused.text
    assert 'aria-invalid="true"' in refused.text
    for n in ALL:
        r = client.post(
            f"{base}/standards/{n}/sign-off",
            data={f"s{n}-note": "seen at work", f"s{n}-checked_not_covered": "y"},
        )
        assert r.status_code == 302, (n, r.text)
    unticked = client.post(f"{base}/award", data={})
    assert unticked.status_code == 400 and "Tick the box" in unticked.text
    done = client.post(f"{base}/award", data={"award-confirm": "y"}, follow_redirects=True)
    assert done.status_code == 200 and "Care Certificate awarded" in done.text
    assert db.session.scalar(select(func.count(IssuedCredential.id))) == 1


def test_sign_off_form_needs_csrf(tmp_path: Path) -> None:
    gen: Iterator[Flask] = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    app = next(gen)
    try:
        from courses.loader import load_catalogue, read_catalogue

        load_catalogue(db.session, read_catalogue(), NOW)
        db.session.commit()
        w = World(app)
        w.evidence_standards([16])
        client = app.test_client()
        login_page = client.get("/auth/login")
        client.post(
            "/auth/login",
            data={
                "email": w.manager.email,
                "password": PASSWORD,
                "csrf_token": csrf_token(login_page.text),
            },
        )
        base = f"/manage/brook/care-certificate/{w.learner.id}"
        page = client.get(base)
        assert page.status_code == 200
        no_token = client.post(f"{base}/standards/16/sign-off", data={"s16-note": "x"})
        assert no_token.status_code == 400
        assert db.session.scalar(select(func.count(StandardSignoff.id))) == 0
        token = csrf_token(page.text)
        ok = client.post(
            f"{base}/standards/16/sign-off",
            data={"s16-note": "x", "s16-checked_not_covered": "y", "s16-csrf_token": token},
        )
        assert ok.status_code == 302, ok.text
        assert db.session.scalar(select(func.count(StandardSignoff.id))) == 1
    finally:
        gen.close()


# --- demo -----------------------------------------------------------------------------------


def test_demo_learner_is_part_way_through_and_demo_is_idempotent(
    demo: dict[str, str], runner, app: Flask
) -> None:
    from lms.external.models import ExternalRecord

    def counts() -> tuple[int, ...]:
        return tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (
                StandardSignoff,
                Completion,
                IssuedCredential,
                QuizAttempt,
                ExternalRecord,
            )
        )

    before = counts()
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0, again.output
    assert counts() == before
    org = db.session.scalar(select(Organisation).where(Organisation.slug == "oakview"))
    amira = db.session.scalar(select(User).where(User.email == "learner@example.com"))
    assert org is not None and amira is not None
    t = service.tracker(db.session, org, amira, datetime.now(UTC))
    status = {s.number: s.status for s in t.standards}
    assert status[16] == status[1] == "signed_off"
    assert status[7] == "ready"
    assert status[8] == "in_progress"
    assert t.signed == 2 and t.award is None
    record = db.session.scalars(
        select(ExternalRecord).where(
            ExternalRecord.user_id == amira.id, ExternalRecord.module_code == "OMMT-E"
        )
    ).one()
    assert record.completion.source == "external" and record.module_code == "OMMT-E"
    assert (
        db.session.scalar(
            select(func.count(IssuedCredential.id)).where(
                IssuedCredential.completion_id == record.completion_id
            )
        )
        == 0
    )


def test_courses_list_shows_the_award(world: World, runner) -> None:
    result = runner.invoke(args=["courses", "list"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("CC-CERT"))
    assert "The Care Certificate (2025 standards)" in line and "0 questions" in line


def test_evidence_made_under_the_2015_standards_does_not_count_for_2025(world: World) -> None:
    module = world.module("CC-16")
    module.care_certificate = {"version": "2015", "standards": [9]}
    world.pass_quiz("CC-16")
    db.session.commit()
    t = service.tracker(db.session, world.org, world.learner, NOW)
    assert t.standard(16).evidenced == 0
