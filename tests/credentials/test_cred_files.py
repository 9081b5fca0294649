"""credentials.verify.read_tokens / verify_path: PDFs with attachments, token files, limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from credentials import UnreadableInput, read_tokens, verify_path


def _code(path: Path) -> str:
    with pytest.raises(UnreadableInput) as info:
        read_tokens(path)
    assert str(info.value).endswith(".")
    assert str(path) not in str(info.value)
    return info.value.code


def test_pdf_with_credential_attachment(kit: Any, tmp_path: Path, token: str) -> None:
    pdf = kit.make_pdf(
        tmp_path / "certificate.pdf",
        {"credential.json": kit.credential_json(token), "credential.jwt": token.encode() + b"\n"},
    )
    assert read_tokens(pdf) == [token]
    [result] = verify_path(pdf, kit.TRUST, kit.NOW)
    assert result.valid and result.source == str(pdf)


def test_pdf_detected_by_content_not_name(kit: Any, tmp_path: Path, token: str) -> None:
    pdf = kit.make_pdf(tmp_path / "certificate.download", {"credential.jwt": token})
    assert read_tokens(str(pdf)) == [token]


def test_pdf_with_tampered_attachment(kit: Any, tmp_path: Path, token: str) -> None:
    tampered = kit.replace_segment(token, 1, lambda p: p.replace(b"Amira", b"Amina"))
    pdf = kit.make_pdf(tmp_path / "tampered.pdf", {"credential.jwt": tampered})
    [result] = verify_path(pdf, kit.TRUST, kit.NOW)
    assert result.reason_code == "bad_signature"


def test_pdf_without_attachment(kit: Any, tmp_path: Path) -> None:
    pdf = kit.make_pdf(tmp_path / "plain.pdf")
    assert _code(pdf) == "no_attachment"
    other = kit.make_pdf(tmp_path / "other.pdf", {"credential.txt": b"hello"})
    assert _code(other) == "no_attachment"


def test_pdf_attachment_that_is_not_a_token(kit: Any, tmp_path: Path) -> None:
    pdf = kit.make_pdf(tmp_path / "junk.pdf", {"credential.jwt": b"\x00\x01 not a token"})
    assert _code(pdf) == "not_a_token"


def test_damaged_pdf(tmp_path: Path) -> None:
    path = tmp_path / "damaged.pdf"
    path.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 100)
    assert _code(path) == "pdf_damaged"


def test_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(b"PK\x03\x04 this is a zip file")
    assert _code(path) == "not_a_pdf"


def test_text_that_is_not_a_token(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Dear manager, please find attached...\n")
    assert _code(path) == "not_a_token"
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert _code(binary) == "not_a_token"
    empty = tmp_path / "empty.jwt"
    empty.write_bytes(b"")
    assert _code(empty) == "not_a_token"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert _code(tmp_path / "nope.pdf") == "not_found"
    assert _code(tmp_path) == "not_a_file"


def test_token_file_with_bom_and_whitespace(tmp_path: Path, token: str) -> None:
    path = tmp_path / "certificate.jwt"
    path.write_bytes(b"\xef\xbb\xbf  " + token.encode() + b"\r\n")
    assert read_tokens(path) == [token]


def test_oversized_token_file(tmp_path: Path) -> None:
    path = tmp_path / "big.jwt"
    path.write_bytes(b"a" * (256 * 1024 + 1))
    assert _code(path) == "too_large"
    ok = tmp_path / "max.jwt"
    ok.write_bytes(b"a" * (256 * 1024))
    assert _code(ok) == "not_a_token"  # within the limit, just not a token


def test_oversized_pdf(tmp_path: Path) -> None:
    path = tmp_path / "huge.pdf"
    with path.open("wb") as fh:
        fh.write(b"%PDF-1.7\n")
        fh.truncate(20 * 1024 * 1024 + 1)  # sparse: cheap to create
    assert _code(path) == "too_large"


def test_two_credentials_in_one_pdf(kit: Any, tmp_path: Path, token: str) -> None:
    other = kit.make_token(kit.B_KEY, issuer=kit.ISSUER_B)
    pdf = kit.make_pdf(tmp_path / "two.pdf", {"credential.jwt": token})
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(pdf))
    writer.add_attachment("credential.jwt", other)
    with pdf.open("wb") as fh:
        writer.write(fh)
    tokens = read_tokens(pdf)
    assert sorted(tokens) == sorted([token, other])
    results = verify_path(pdf, kit.TRUST, kit.NOW)
    assert [r.source for r in results] == [f"{pdf}#1", f"{pdf}#2"]
    assert all(r.valid for r in results)
