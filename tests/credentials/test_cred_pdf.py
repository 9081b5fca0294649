"""verify_path on PDFs: the attachments, the printed text and the printed QR code must agree
with the signed credential (``pdf_mismatch``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from credentials import encode_qr, qr_png, verify_path


@pytest.fixture
def full_pdf(kit: Any, tmp_path: Path, token: str) -> Path:
    qr = qr_png(encode_qr(kit.make_credential(), kit.A_NEW))
    return kit.make_pdf(
        tmp_path / "certificate.pdf",
        {"credential.jwt": token, "credential.json": kit.credential_json(token)},
        qr_images=[qr],
    )


def _one(path: Path, kit: Any, trust: Any = None) -> Any:
    [result] = verify_path(path, trust or kit.TRUST, kit.NOW)
    return result


def test_consistent_pdf_is_valid(kit: Any, full_pdf: Path) -> None:
    result = _one(full_pdf, kit)
    assert result.valid and result.reason_code == "valid", result.reason
    assert result.warnings == ()


def test_pdf_without_qr_or_json_is_fine(kit: Any, tmp_path: Path, token: str) -> None:
    pdf = kit.make_pdf(tmp_path / "plain.pdf", {"credential.jwt": token})
    assert _one(pdf, kit).valid


def test_credential_json_disagrees(kit: Any, tmp_path: Path, token: str) -> None:
    edited = json.loads(kit.credential_json(token))
    edited["credentialSubject"]["identifier"][0]["identityHash"] = "Mallory Jones"
    pdf = kit.make_pdf(
        tmp_path / "edited.pdf",
        {"credential.jwt": token, "credential.json": json.dumps(edited)},
    )
    result = _one(pdf, kit)
    assert result.reason_code == "pdf_mismatch" and not result.valid
    assert result.reason == (
        "The PDF's attached credential.json does not match its signed credential."
    )
    # the details shown are the signed ones
    assert result.learner_name == "Amira Okafor"


@pytest.mark.parametrize(
    "attached",
    [
        b"{}",
        b"not json",
        b'{"a": 1, "a": 1}',
        # the whole signed payload, JWT claims included, is not what credential.json holds
        lambda kit, token: json.dumps(kit.payload_of(token)).encode(),
        # true and 1 are different JSON values
        lambda kit, token: kit.credential_json(token).replace(b'"hashed": false', b'"hashed": 0'),
    ],
)
def test_other_credential_json_mismatches(
    kit: Any, tmp_path: Path, token: str, attached: Any
) -> None:
    data = attached(kit, token) if callable(attached) else attached
    pdf = kit.make_pdf(tmp_path / "c.pdf", {"credential.jwt": token, "credential.json": data})
    assert _one(pdf, kit).reason_code == "pdf_mismatch"


def test_credential_json_formatting_does_not_matter(kit: Any, tmp_path: Path, token: str) -> None:
    compact = json.dumps(json.loads(kit.credential_json(token)), separators=(",", ":"))
    pdf = kit.make_pdf(tmp_path / "c.pdf", {"credential.jwt": token, "credential.json": compact})
    assert _one(pdf, kit).valid


def test_visible_learner_name_disagrees(kit: Any, tmp_path: Path, token: str) -> None:
    lines = ("Certificate of completion", "Mallory Jones", kit.ACHIEVEMENT.name)
    pdf = kit.make_pdf(tmp_path / "c.pdf", {"credential.jwt": token}, lines=lines)
    result = _one(pdf, kit)
    assert result.reason_code == "pdf_mismatch"
    assert result.reason == (
        "The PDF's printed text does not show the learner name 'Amira Okafor' from its signed "
        "credential, so the printed certificate cannot be trusted."
    )


def test_visible_course_name_disagrees(kit: Any, tmp_path: Path, token: str) -> None:
    lines = ("Certificate of completion", kit.LEARNER_NAME, "Advanced clinical skills")
    pdf = kit.make_pdf(tmp_path / "c.pdf", {"credential.jwt": token}, lines=lines)
    result = _one(pdf, kit)
    assert result.reason_code == "pdf_mismatch"
    assert "the course name 'Health and safety awareness'" in result.reason


def test_visible_text_whitespace_is_normalised(kit: Any, tmp_path: Path, token: str) -> None:
    lines = ("Certificate", "Amira", "Okafor", "Health and", "safety   awareness")
    pdf = kit.make_pdf(tmp_path / "c.pdf", {"credential.jwt": token}, lines=lines)
    assert _one(pdf, kit).valid


def test_pdf_without_text_gives_a_warning(kit: Any, tmp_path: Path, token: str) -> None:
    pdf = kit.make_pdf(tmp_path / "c.pdf", {"credential.jwt": token}, lines=())
    result = _one(pdf, kit)
    assert result.valid
    assert result.warnings == (
        "The PDF's printed text could not be read, so check by eye that it shows the details "
        "above.",
    )


def test_qr_for_another_credential(kit: Any, tmp_path: Path, token: str) -> None:
    other = kit.make_credential(credential_id="urn:uuid:00000000-0000-4000-8000-000000000001")
    qr = qr_png(encode_qr(other, kit.A_NEW))
    pdf = kit.make_pdf(tmp_path / "c.pdf", {"credential.jwt": token}, qr_images=[qr])
    result = _one(pdf, kit)
    assert result.reason_code == "pdf_mismatch"
    assert "QR code printed on the PDF is for a different certificate" in result.reason


def test_forged_qr(kit: Any, tmp_path: Path, token: str) -> None:
    forged = qr_png(encode_qr(kit.make_credential(), kit.ATTACKER))
    pdf = kit.make_pdf(tmp_path / "c.pdf", {"credential.jwt": token}, qr_images=[forged])
    result = _one(pdf, kit)
    assert result.reason_code == "pdf_mismatch"
    assert result.reason.startswith("The QR code printed on the PDF is not genuine: this ")


def test_other_images_are_ignored(kit: Any, tmp_path: Path, token: str) -> None:
    """A logo, or a QR code with a web address, is not a certificate QR and is not an error."""
    import io

    import segno
    from PIL import Image

    logo = io.BytesIO()
    Image.new("L", (120, 60), 128).save(logo, format="PNG")
    url = io.BytesIO()
    segno.make_qr("https://oakview.example.test").save(url, kind="png", scale=4)
    pdf = kit.make_pdf(
        tmp_path / "c.pdf",
        {"credential.jwt": token},
        qr_images=[logo.getvalue(), url.getvalue()],
    )
    assert _one(pdf, kit).valid


def test_bad_signature_is_reported_before_pdf_checks(kit: Any, tmp_path: Path, token: str) -> None:
    tampered = kit.replace_segment(token, 1, lambda p: p.replace(b"Amira", b"Amina"))
    pdf = kit.make_pdf(tmp_path / "c.pdf", {"credential.jwt": tampered, "credential.json": b"{}"})
    result = _one(pdf, kit)
    assert result.reason_code == "bad_signature" and result.learner_name is None


def test_expired_certificate_in_a_consistent_pdf(kit: Any, tmp_path: Path, full_pdf: Path) -> None:
    trust = kit.load_trust_list(kit.make_trust_text(valid_until=None), kit.ANCHOR, kit.NOW)
    [result] = verify_path(full_pdf, trust, kit.EXPIRES)
    assert result.reason_code == "expired"


def test_pdf_mismatch_with_two_credentials(kit: Any, tmp_path: Path, token: str) -> None:
    from pypdf import PdfReader, PdfWriter

    other = kit.make_token(kit.B_KEY, issuer=kit.ISSUER_B)
    pdf = kit.make_pdf(
        tmp_path / "two.pdf",
        {"credential.jwt": token, "credential.json": kit.credential_json(other)},
    )
    writer = PdfWriter(clone_from=PdfReader(pdf))
    writer.add_attachment("credential.jwt", other)
    with pdf.open("wb") as fh:
        writer.write(fh)
    assert all(r.valid for r in verify_path(pdf, kit.TRUST, kit.NOW))  # matches one of them
    writer = PdfWriter(clone_from=PdfReader(pdf))
    writer.add_attachment("credential.json", b"{}")
    with pdf.open("wb") as fh:
        writer.write(fh)
    results = verify_path(pdf, kit.TRUST, kit.NOW)
    assert [r.reason_code for r in results] == ["pdf_mismatch", "pdf_mismatch"]
