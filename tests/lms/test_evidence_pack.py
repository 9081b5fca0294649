"""CQC evidence pack: a PDF and a CSV, stamped with when and by whom, audited."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select

from lms.employer.pack import render_evidence_pack
from lms.extensions import db
from lms.models import AuditEvent, Organisation, User
from tests.conftest import Auth, csrf_token, make_app

from .employer_helpers import NOW


def _ids() -> tuple[int, int]:
    oak = db.session.scalar(select(Organisation).where(Organisation.slug == "oakview"))
    grace = db.session.scalar(select(User).where(User.email == "manager@example.com"))
    assert oak is not None and grace is not None
    return oak.id, grace.id


def test_render_gives_pdf_and_csv_with_the_stamp(demo: dict[str, str]) -> None:
    org_id, grace_id = _ids()
    pdf, text = render_evidence_pack(db.session, org_id, grace_id, NOW)
    reader = PdfReader(io.BytesIO(pdf))
    content = " ".join(page.extract_text() for page in reader.pages)
    assert "Produced 01/06/2026 at 09:00 UTC by Grace Mensah" in " ".join(content.split())
    assert "Training matrix" in content and "Gaps and due dates" in content
    assert "Evidence list" in content
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["CQC evidence pack", "Oakview Care", rows[0][2]]
    assert "by Grace Mensah" in rows[0][2]
    sections = {r[0] for r in rows if r}
    assert {"matrix", "gap", "evidence"} <= sections
    matrix_rows = [r for r in rows if r and r[0] == "matrix"]
    assert len({r[1] for r in matrix_rows}) == 30  # every member of staff
    gaps = [r for r in rows if r and r[0] == "gap"]
    assert gaps and all(r[7] for r in gaps)  # each gap has a due date


@pytest.fixture
def csrf_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, WTF_CSRF_ENABLED=True)


def test_button_downloads_a_zip_and_audits(csrf_app: Flask) -> None:
    from courses.loader import load_catalogue, read_catalogue

    load_catalogue(db.session, read_catalogue(), NOW)
    db.session.commit()
    runner = csrf_app.test_cli_runner()
    out = runner.invoke(args=["demo"])
    assert out.exit_code == 0, out.output
    client = csrf_app.test_client()
    auth = Auth(client)
    token = csrf_token(client.get("/auth/login").text)
    client.post(
        "/auth/login",
        data={
            "email": "manager@example.com",
            "password": "oakview-manager-demo-password",
            "csrf_token": token,
        },
    )
    assert auth  # logged in through the real form, CSRF on
    refused = client.post("/manage/oakview/evidence-pack")
    assert refused.status_code == 400  # no CSRF token: nothing produced
    page = client.get("/manage/oakview/matrix")
    resp = client.post("/manage/oakview/evidence-pack", data={"csrf_token": csrf_token(page.text)})
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
        names = sorted(z.namelist())
        assert names[0].endswith(".csv") and names[1].endswith(".pdf")
        assert z.read(names[1]).startswith(b"%PDF")
        assert "Grace Mensah" in z.read(names[0]).decode()
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "evidence_pack.produced")
    ).all()
    assert len(events) == 1 and events[0].actor_label == "manager@example.com"
