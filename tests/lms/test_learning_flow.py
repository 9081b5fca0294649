"""The walking skeleton end to end: login -> lessons -> quiz -> credential -> offline verify."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from pypdf import PdfReader, PdfWriter
from sqlalchemy import func, select

from courses.models import Question
from lms.extensions import db
from lms.models import Completion, IssuedCredential, QuizAttempt
from tests.conftest import Auth

from .helpers import LEARNER, answers_for, open_quiz, read_all_lessons

CODE = "DIG-01"  # the demo learner has not done this one yet


def verify_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "credentials", "verify", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def export_trust(runner: FlaskCliRunner, tmp_path: Path) -> tuple[Path, str]:
    trust = tmp_path / "trust.json"
    result = runner.invoke(args=["trust", "export", str(trust)])
    assert result.exit_code == 0, result.output
    thumbprint = result.output.strip().rsplit(" ", 1)[-1]
    return trust, thumbprint


@pytest.mark.slow
def test_lesson_to_offline_verified_certificate(
    client: FlaskClient, auth: Auth, runner: FlaskCliRunner, demo: dict[str, str], tmp_path: Path
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    home = client.get("/")
    assert "Data security, protection and cyber basics" in home.text or CODE in home.text

    read_all_lessons(client, CODE)
    attempt_id, qids, quiz_html = open_quiz(client, CODE)
    # the answers never reach the browser before submission
    for qid in qids:
        q = db.session.get_one(Question, qid)
        assert q.explanation not in quiz_html
    assert "correct" not in quiz_html.lower()

    response = client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=answers_for(qids))
    assert response.status_code == 302
    result = client.get(response.headers["Location"])
    assert "You passed" in result.text and "Your certificate is ready" in result.text

    cred = db.session.scalars(
        select(IssuedCredential)
        .join(IssuedCredential.module)
        .where(IssuedCredential.short_id.isnot(None))
        .order_by(IssuedCredential.id.desc())
    ).first()
    assert cred is not None and cred.module.code == CODE
    wallet = client.get("/certificates/")
    assert cred.short_id in wallet.text

    pdf = client.get(f"/certificates/{cred.short_id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    jwt = client.get(f"/certificates/{cred.short_id}.jwt")
    assert jwt.text.strip() == cred.token

    trust, anchor = export_trust(runner, tmp_path)
    pdf_path = tmp_path / "certificate.pdf"
    pdf_path.write_bytes(pdf.data)
    checked = verify_cli(str(pdf_path), "--trust", str(trust), "--anchor", anchor, "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    [report] = json.loads(checked.stdout)
    assert report["valid"] is True and report["reason_code"] == "valid"
    assert report["learner_name"] == "Amira Okafor"
    assert report["issuer"] == "Oakview Care"
    assert report["achievement"] == cred.module.title
    assert report["valid_until"] is not None  # DIG-01 is refreshed every 12 months

    human = verify_cli(str(pdf_path), "--trust", str(trust), "--anchor", anchor)
    assert human.returncode == 0 and "VALID" in human.stdout and "Amira Okafor" in human.stdout

    # a tampered copy is refused, naming why
    header, payload, signature = cred.token.split(".")
    forged = payload[:20] + ("A" if payload[20] != "A" else "B") + payload[21:]
    tampered_jwt = tmp_path / "tampered.jwt"
    tampered_jwt.write_text(f"{header}.{forged}.{signature}")
    refused = verify_cli(str(tampered_jwt), "--trust", str(trust), "--anchor", anchor, "--json")
    assert refused.returncode == 1
    assert json.loads(refused.stdout)[0]["reason_code"] in {"bad_signature", "malformed"}

    reader = PdfReader(BytesIO(pdf.data))
    writer = PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.add_attachment("credential.jwt", f"{header}.{forged}.{signature}".encode())
    tampered_pdf = tmp_path / "tampered.pdf"
    with tampered_pdf.open("wb") as fh:
        writer.write(fh)
    refused = verify_cli(str(tampered_pdf), "--trust", str(trust), "--anchor", anchor)
    assert refused.returncode == 1 and "NOT VALID" in refused.stdout


def test_failing_the_quiz_issues_nothing_and_allows_a_retry(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    read_all_lessons(client, CODE)
    attempt_id, qids, _ = open_quiz(client, CODE)
    response = client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=answers_for(qids, right=False))
    result = client.get(response.headers["Location"])
    assert "Not passed yet" in result.text and "Try again" in result.text
    before = db.session.scalar(select(func.count(IssuedCredential.id)))
    second_id, _, _ = open_quiz(client, CODE)
    assert second_id != attempt_id
    assert db.session.scalar(select(func.count(IssuedCredential.id))) == before


def test_quiz_is_locked_until_every_lesson_is_read(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    response = client.get(f"/learn/{CODE}/quiz")
    assert response.status_code == 409 and "Read all the lessons first" in response.text


def test_double_submission_is_recorded_once(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    read_all_lessons(client, CODE)
    attempt_id, qids, _ = open_quiz(client, CODE)
    first = client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=answers_for(qids))
    again = client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=answers_for(qids, right=False))
    assert first.status_code == 302 and again.status_code == 409
    assert "already submitted" in again.text
    attempt = db.session.get_one(QuizAttempt, attempt_id)
    db.session.refresh(attempt)
    assert attempt.passed is True  # the first answers were kept
    assert (
        db.session.scalar(
            select(func.count(Completion.id)).where(Completion.attempt_id == attempt_id)
        )
        == 1
    )


def test_forged_question_id_is_refused_and_saves_nothing(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    read_all_lessons(client, CODE)
    attempt_id, qids, _ = open_quiz(client, CODE)
    forged = answers_for(qids)
    other = db.session.scalar(select(Question.id).where(Question.id.notin_(qids)).limit(1))
    forged[f"q{other}"] = ["a"]
    response = client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=forged)
    assert response.status_code == 400 and "is not one of this quiz" in response.text
    attempt = db.session.get_one(QuizAttempt, attempt_id)
    db.session.refresh(attempt)
    assert attempt.status == "open" and attempt.submitted_at is None


def test_out_of_range_answer_is_refused(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    read_all_lessons(client, CODE)
    attempt_id, qids, _ = open_quiz(client, CODE)
    answers = answers_for(qids)
    answers[f"q{qids[0]}"] = ["zz"]
    response = client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=answers)
    assert response.status_code == 400
    assert db.session.get_one(QuizAttempt, attempt_id).status == "open"


def test_someone_elses_attempt_and_certificate_are_not_found(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    read_all_lessons(client, CODE)
    attempt_id, qids, _ = open_quiz(client, CODE)
    learner_cred = db.session.scalars(select(IssuedCredential)).first()
    assert learner_cred is not None
    auth.logout()
    auth.login("manager@example.com", demo["manager@example.com"])
    assert (
        client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=answers_for(qids)).status_code == 404
    )
    assert client.get(f"/learn/{CODE}/quiz/{attempt_id}/result").status_code == 404
    assert client.get(f"/certificates/{learner_cred.short_id}.pdf").status_code == 404
    assert client.get(f"/certificates/{learner_cred.short_id}.jwt").status_code == 404
    # and a module not assigned to the manager is not shown
    assert client.get(f"/learn/{CODE}").status_code == 404


def test_pages_are_phone_friendly(client: FlaskClient, auth: Auth, demo: dict[str, str]) -> None:
    auth.login(LEARNER, demo[LEARNER])
    for path in ("/", f"/learn/{CODE}", f"/learn/{CODE}/lessons/1", "/certificates/"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'name="viewport" content="width=device-width, initial-scale=1"' in page.text
        # JavaScript only from our own files (the CSP forbids inline script); the pages work
        # without it: every action is a plain link or form.
        assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", page.text), path
        assert "<form" in page.text or "href=" in page.text


def test_a_late_submission_records_nothing_and_a_new_quiz_is_drawn(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    from datetime import timedelta

    from lms.learning import ATTEMPT_TTL

    auth.login(LEARNER, demo[LEARNER])
    read_all_lessons(client, CODE)
    attempt_id, qids, _ = open_quiz(client, CODE)
    attempt = db.session.get_one(QuizAttempt, attempt_id)
    attempt.started_at = attempt.started_at - ATTEMPT_TTL - timedelta(minutes=1)
    db.session.commit()
    late = client.post(f"/learn/{CODE}/quiz/{attempt_id}", data=answers_for(qids))
    assert late.status_code == 409 and "expired" in late.text
    db.session.refresh(attempt)
    assert attempt.submitted_at is None and attempt.passed is None
    new_id, _, _ = open_quiz(client, CODE)
    assert new_id != attempt_id
    db.session.refresh(attempt)
    assert attempt.status == "expired"


def test_external_training_is_recorded_not_taken_here(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    from datetime import UTC, datetime

    from lms.learning import enrol
    from lms.models import User

    learner = db.session.scalar(select(User).where(User.email == LEARNER))
    assert learner is not None
    enrol(db.session, learner.id, learner.memberships[0].org_id, "OMMT-E", datetime.now(UTC))
    db.session.commit()
    auth.login(LEARNER, demo[LEARNER])
    home = client.get("/")
    assert "Your manager records it when you have done it" in home.text
    quiz = client.get("/learn/OMMT-E/quiz")
    assert quiz.status_code == 409 and "there is no quiz here" in quiz.text
    offline = client.get("/learn/offline.json").get_json()
    assert "OMMT-E" not in {m["code"] for m in offline["modules"]}
