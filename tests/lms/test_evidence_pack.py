"""CQC evidence pack: a PDF and a CSV, stamped with when and by whom, made by a job, audited."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import func, select

from lms.employer.pack import render_evidence_pack
from lms.extensions import db
from lms.models import AuditEvent, Export, Organisation, User
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
    yield from make_app(tmp_path, WTF_CSRF_ENABLED=True, EXPORTS_DIR=str(tmp_path / "exports"))


def test_button_makes_the_pack_then_the_page_offers_it(csrf_app: Flask) -> None:
    """The real form with CSRF on: refused without the token; with it, the pack is made (inline,
    no Redis), the page says Ready and each file downloads; produced and downloads audited."""
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
    assert db.session.scalar(select(func.count(Export.id))) == 0
    page = client.get("/manage/oakview/evidence-pack")
    assert page.status_code == 200 and "No evidence packs yet" in page.text
    resp = client.post("/manage/oakview/evidence-pack", data={"csrf_token": csrf_token(page.text)})
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith("/manage/oakview/evidence-pack")
    page = client.get(resp.headers["Location"])
    assert "Ready:" in page.text and "Download PDF" in page.text and "Download CSV" in page.text
    assert "By Grace Mensah" in page.text
    export = db.session.scalar(select(Export))
    assert export is not None and export.status == "done" and len(export.files) == 2
    pdf_name, csv_name = export.files
    assert pdf_name.startswith("cqc-evidence-oakview-") and pdf_name.endswith(".pdf")
    pdf = client.get(f"/manage/oakview/evidence-pack/{export.id}/{pdf_name}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == f"attachment; filename={pdf_name}"
    assert pdf.data.startswith(b"%PDF")
    pdf.close()
    csv_file = client.get(f"/manage/oakview/evidence-pack/{export.id}/{csv_name}")
    assert csv_file.status_code == 200 and csv_file.mimetype == "text/csv"
    assert "Grace Mensah" in csv_file.data.decode()
    csv_file.close()
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "evidence_pack.produced")
    ).all()
    assert len(events) == 1 and events[0].actor_label == "manager@example.com"
    assert events[0].entity_type == "export" and events[0].entity_id == str(export.id)
    downloads = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "export.downloaded")
    ).all()
    assert [e.after for e in downloads] == [{"file": pdf_name}, {"file": csv_name}]


def test_a_pack_for_one_site_holds_only_its_staff(
    app: Flask, client, auth: Auth, demo: dict[str, str]
) -> None:
    """CQC inspects a location: a manager can make the pack of one site, named on its page, in
    its file names and on the PDF; only that site's staff are in it."""
    from lms.models import Employment, Site

    org_id, grace_id = _ids()
    beech = db.session.scalar(select(Site).where(Site.org_id == org_id, Site.name == "Beech Court"))
    assert beech is not None
    at_beech = db.session.scalar(
        select(func.count(Employment.id)).where(
            Employment.org_id == org_id, Employment.site_id == beech.id
        )
    )
    assert at_beech and 0 < at_beech < 30
    pdf, text = render_evidence_pack(db.session, org_id, grace_id, NOW, site_id=beech.id)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["CQC evidence pack", "Oakview Care: Beech Court"]
    matrix_rows = [r for r in rows if r and r[0] == "matrix"]
    assert {r[3] for r in matrix_rows} == {"Beech Court"}  # the Site column
    content = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "Training evidence: Oakview Care: Beech Court" in content
    assert "Only the staff of Beech Court" in content

    assert auth.login("manager@example.com", demo["manager@example.com"]).status_code == 302
    page = client.get("/manage/oakview/evidence-pack").text
    assert f'<option value="{beech.id}">Beech Court</option>' in page
    made = client.post("/manage/oakview/evidence-pack", data={"site": str(beech.id)})
    assert made.status_code == 303
    export = db.session.scalars(select(Export).order_by(Export.id.desc())).first()
    assert export is not None and export.site_id == beech.id and export.status == "done"
    assert export.files[0].startswith("cqc-evidence-oakview-beech-court-")
    assert "Beech Court: asked for on" in client.get("/manage/oakview/evidence-pack").text
    # A site of another organisation, or rubbish, is not a site here: nothing is made.
    other = Site(
        org_id=db.session.scalar(select(Organisation.id).where(Organisation.slug != "oakview")),
        name="Elsewhere",
    )
    db.session.add(other)
    db.session.commit()
    for bad in (str(other.id), "x", "99999999999999"):
        before = db.session.scalar(select(func.count(Export.id)))
        assert client.post("/manage/oakview/evidence-pack", data={"site": bad}).status_code == 404
        assert db.session.scalar(select(func.count(Export.id))) == before
