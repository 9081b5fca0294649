"""Evidence uploads: type from content, size limit, malformed files, metadata stripped, access."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder

from lms import evidence as ev
from lms import observations as svc
from lms.accounts import ensure_membership, get_or_create_user
from lms.assess.models import EvidenceFile, Observation, ObservationStatus
from lms.errors import Conflict, Forbidden
from lms.extensions import db
from lms.models import Role
from tests.conftest import PASSWORD, csrf_token, make_app

from .test_observations import AMP, NOW, People, login, make_people


def png_bytes(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (64, 48), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = {1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 40.0)}
    exif[0x8825] = gps  # GPSInfo IFD
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def pdf_bytes() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- the checks, without the web layer -----------------------------------------------------


def test_a_pdf_name_on_a_png_is_treated_as_a_png() -> None:
    prepared = ev.prepare("scan.pdf", png_bytes())
    assert prepared.content_type == "image/png"
    assert prepared.original_name == "scan.png"


def test_text_renamed_to_jpg_is_refused() -> None:
    with pytest.raises(ev.EvidenceRefused, match="Only photos"):
        ev.prepare("photo.jpg", b"just some words, not a picture\n")


def test_oversize_is_refused() -> None:
    data = b"%PDF-1.4\n" + b"0" * ev.MAX_BYTES
    with pytest.raises(ev.EvidenceRefused, match="the limit is 5 MB"):
        ev.prepare("big.pdf", data)


def test_malformed_pdf_is_refused() -> None:
    with pytest.raises(ev.EvidenceRefused, match="PDF could not be read"):
        ev.prepare("record.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage\n")


def test_truncated_image_is_refused() -> None:
    with pytest.raises(ev.EvidenceRefused, match="image could not be read"):
        ev.prepare("photo.png", png_bytes()[:60])


def test_real_pdf_is_kept_as_it_is() -> None:
    data = pdf_bytes()
    prepared = ev.prepare("../../etc/Record of training.pdf", data)
    assert prepared.content_type == "application/pdf"
    assert prepared.data == data
    assert prepared.original_name == "Record of training.pdf"


def test_location_and_camera_metadata_are_removed_from_photos() -> None:
    original = jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as img:
        assert img.getexif().get_ifd(0x8825)  # the test photo really has a location
    prepared = ev.prepare("IMG_0001.JPG", original)
    assert prepared.content_type == "image/jpeg"
    with Image.open(io.BytesIO(prepared.data)) as img:
        assert img.size == (64, 48)
        exif = img.getexif()
        assert not exif.get_ifd(0x8825)
        assert 0x010F not in exif
        assert "exif" not in img.info
    assert b"PhoneMaker" not in prepared.data


# --- through the pages ---------------------------------------------------------------------


@pytest.fixture
def draft(app: Flask, catalogue: None, tmp_path: Path) -> tuple[People, Observation]:
    app.config["EVIDENCE_DIR"] = str(tmp_path / "evidence")
    people = make_people(app)
    obs = svc.start(db.session, people.mentor, people.org.id, people.learner.id, AMP, NOW)
    svc.save(
        db.session,
        obs,
        people.mentor,
        svc.ObservationInput(setting="Lounge", observed_on=date(2026, 11, 29)),
        NOW,
    )
    db.session.commit()
    return people, obs


def upload(client: FlaskClient, obs_id: int, name: str, data: bytes, **extra: str) -> object:
    builder = EnvironBuilder(
        path=f"/assess/observations/{obs_id}/evidence",
        method="POST",
        data={"file": (io.BytesIO(data), name), **extra},
        content_type="multipart/form-data",
    )
    environ = builder.get_environ()
    try:
        return client.open(environ)
    finally:  # the encoded body of a large upload is a temporary file
        environ["wsgi.input"].close()
        builder.close()


def test_upload_is_stored_outside_static_and_served_only_to_allowed_people(
    app: Flask, client: FlaskClient, draft: tuple[People, Observation]
) -> None:
    people, obs = draft
    login(client, "mentor@example.com")
    response = upload(client, obs.id, "signed record.pdf", png_bytes())
    assert response.status_code == 302  # type: ignore[attr-defined]
    row = db.session.scalar(select(EvidenceFile))
    assert row is not None and row.content_type == "image/png"
    folder = Path(app.config["EVIDENCE_DIR"])
    assert (folder / row.stored_name).is_file()
    assert row.stored_name not in row.original_name

    got = client.get(f"/assess/evidence/{row.id}")
    got.close()
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"].startswith("attachment")
    client.post("/auth/logout")
    assert client.get(f"/assess/evidence/{row.id}").status_code == 302  # log in first
    login(client, "learner@example.com")  # the worker observed
    mine = client.get(f"/assess/evidence/{row.id}")
    mine.close()
    assert mine.status_code == 200
    client.post("/auth/logout")
    login(client, "second@example.com")  # another worker of the same organisation
    assert client.get(f"/assess/evidence/{row.id}").status_code == 404
    client.post("/auth/logout")
    login(client, "rivermentor@example.com")  # a mentor of another organisation
    assert client.get(f"/assess/evidence/{row.id}").status_code == 404
    assert upload(client, obs.id, "x.png", png_bytes()).status_code == 404  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.jpg", b"plain text pretending\n", "Only photos"),
        ("record.pdf", b"%PDF-1.4\nnot really a pdf", "PDF could not be read"),
        ("huge.png", b"\x89PNG\r\n\x1a\n" + b"0" * (ev.MAX_BYTES + 10), "the limit is 5 MB"),
        ("enormous.pdf", b"%PDF-1.4\n" + b"0" * (ev.MAX_BYTES + 512 * 1024), "larger than 5 MB"),
    ],
)
def test_refused_upload_keeps_the_draft(
    client: FlaskClient, draft: tuple[People, Observation], name: str, data: bytes, message: str
) -> None:
    _, obs = draft
    login(client, "mentor@example.com")
    response = upload(client, obs.id, name, data)
    assert response.status_code == 302  # type: ignore[attr-defined]
    page = client.get(f"/assess/observations/{obs.id}")
    assert message in page.text
    assert "Everything else is kept" in page.text
    assert db.session.scalar(select(func.count()).select_from(EvidenceFile)) == 0
    kept = db.session.get_one(Observation, obs.id)
    assert kept.status == ObservationStatus.DRAFT.value and kept.setting == "Lounge"


def test_no_evidence_after_the_worker_signed(
    app: Flask, client: FlaskClient, draft: tuple[People, Observation]
) -> None:
    from .test_observations import _ctx, all_met

    people, obs = draft
    svc.record(db.session, _ctx(app), obs, people.mentor, all_met(AMP), True, NOW)
    svc.countersign(db.session, _ctx(app), obs, people.learner, None, NOW)
    db.session.commit()
    login(client, "mentor@example.com")
    response = upload(client, obs.id, "late.png", png_bytes())
    assert response.status_code == 409  # type: ignore[attr-defined]
    assert db.session.scalar(select(func.count()).select_from(EvidenceFile)) == 0


def test_only_the_assessor_or_a_manager_adds_evidence(
    app: Flask, client: FlaskClient, draft: tuple[People, Observation]
) -> None:
    people, obs = draft
    hasher = app.extensions["password_hasher"]
    other = get_or_create_user(db.session, hasher, "mentor2@example.com", "Sam Reid", PASSWORD, NOW)
    ensure_membership(db.session, other, people.org, Role.MENTOR)
    db.session.commit()
    folder = Path(app.config["EVIDENCE_DIR"])
    with pytest.raises(Forbidden, match="Only the assessor"):  # the service refuses...
        ev.store(db.session, obs, other, "a.png", png_bytes(), folder, NOW)
    db.session.rollback()
    login(client, "mentor2@example.com")  # ...and so the page: another mentor of the home
    assert upload(client, obs.id, "a.png", png_bytes()).status_code == 403  # type: ignore[attr-defined]
    assert db.session.scalar(select(func.count()).select_from(EvidenceFile)) == 0
    assert not folder.exists() or not any(folder.iterdir())  # nothing written either
    client.post("/auth/logout")
    login(client, "manager@example.com")  # a manager of the organisation may
    assert upload(client, obs.id, "b.png", png_bytes()).status_code == 302  # type: ignore[attr-defined]
    assert db.session.scalar(select(func.count()).select_from(EvidenceFile)) == 1


def test_evidence_after_submitting_but_not_once_the_worker_signed(
    app: Flask, client: FlaskClient, draft: tuple[People, Observation]
) -> None:
    from .test_observations import _ctx, all_met

    people, obs = draft
    svc.record(db.session, _ctx(app), obs, people.mentor, all_met(AMP), True, NOW)
    db.session.commit()
    assert obs.status == ObservationStatus.SUBMITTED.value
    # submitted from a phone with no signal: the photo of the signed record follows
    login(client, "mentor@example.com")
    assert upload(client, obs.id, "record.png", png_bytes()).status_code == 302  # type: ignore[attr-defined]
    client.post("/auth/logout")
    svc.countersign(db.session, _ctx(app), obs, people.learner, "", NOW)
    db.session.commit()
    with pytest.raises(Conflict, match="already signed"):
        ev.store(
            db.session,
            obs,
            people.mentor,
            "late.png",
            png_bytes(),
            Path(app.config["EVIDENCE_DIR"]),
            NOW,
        )
    db.session.rollback()
    login(client, "mentor@example.com")
    assert upload(client, obs.id, "late.png", png_bytes()).status_code == 409  # type: ignore[attr-defined]
    assert db.session.scalar(select(func.count()).select_from(EvidenceFile)) == 1


@pytest.fixture
def csrf_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(tmp_path, WTF_CSRF_ENABLED=True)


def test_upload_needs_its_csrf_token(csrf_app: Flask, tmp_path: Path) -> None:
    from courses.loader import load_catalogue, read_catalogue

    csrf_app.config["EVIDENCE_DIR"] = str(tmp_path / "evidence")
    load_catalogue(db.session, read_catalogue(), NOW)
    db.session.commit()
    people = make_people(csrf_app)
    obs = svc.start(db.session, people.mentor, people.org.id, people.learner.id, AMP, NOW)
    db.session.commit()
    client = csrf_app.test_client()
    page = client.get("/auth/login")
    client.post(
        "/auth/login",
        data={
            "email": "mentor@example.com",
            "password": PASSWORD,
            "csrf_token": csrf_token(page.text),
        },
    )
    assert upload(client, obs.id, "a.png", png_bytes()).status_code == 400  # type: ignore[attr-defined]
    assert db.session.scalar(select(func.count()).select_from(EvidenceFile)) == 0
    token = csrf_token(client.get(f"/assess/observations/{obs.id}").text)
    response = upload(client, obs.id, "a.png", png_bytes(), csrf_token=token)
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert db.session.scalar(select(func.count()).select_from(EvidenceFile)) == 1
