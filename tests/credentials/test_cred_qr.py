"""credentials.qr: the compact COSE_Sign1 + zlib + base45 QR code, drawn, photographed, attacked."""

from __future__ import annotations

import io
import json
import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from PIL import Image

from credentials import (
    AchievementSpec,
    Alignment,
    IssuerProfile,
    UnreadableInput,
    build_credential,
    encode_qr,
    key_thumbprint,
    load_trust_list,
    qr_png,
    qr_version,
    read_qr_image,
    status_entry,
    trim_credential,
    verify_qr,
)
from credentials.qr import MAX_QR_CHARS

KID = 4
ALG = 1


def _check(result: Any, code: str) -> None:
    assert result.reason_code == code, (result.reason_code, result.reason)
    assert result.valid is (code == "valid")


def _wrap(message: bytes, *, level: int = 9) -> str:
    return "CC1:" + base45.b45encode(zlib.compress(message, level)).decode()


def _unwrap(text: str) -> Any:
    assert text.startswith("CC1:")
    return cbor2.loads(zlib.decompress(base45.b45decode(text[4:])))


def _sign(key: ec.EllipticCurvePrivateKey, protected: bytes, payload: bytes) -> bytes:
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    r, s = decode_dss_signature(key.sign(to_sign, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _cose(
    kit: Any,
    *,
    header: dict[int, Any] | None = None,
    payload: bytes | None = None,
    key: ec.EllipticCurvePrivateKey | None = None,
    unprotected: dict[Any, Any] | None = None,
    tag: int = 18,
) -> str:
    """A QR text signed for real, with any protected header and payload."""
    key = key or kit.A_NEW
    if header is None:
        header = {
            1: -7,
            4: key_thumbprint(key).encode(),
            16: "application/vc+cose",
            3: "application/vc",
        }
    protected = cbor2.dumps(header)
    if payload is None:
        payload = json.dumps(trim_credential(kit.make_credential())).encode()
    signature = _sign(key, protected, payload)
    body = [protected, unprotected or {}, payload, signature]
    return _wrap(cbor2.dumps(cbor2.CBORTag(tag, body)))


@pytest.fixture
def qr_text(kit: Any) -> str:
    return encode_qr(kit.make_credential(status=kit.entry_a(12)), kit.A_NEW)


# --------------------------------------------------------------------------- format


def test_roundtrip(kit: Any, trust_v2: Any, qr_text: str) -> None:
    assert qr_text.startswith("CC1:")
    result = verify_qr(qr_text, trust_v2, kit.NOW)
    _check(result, "valid")
    assert result.source == "<qr>"
    assert result.credential_id == "urn:uuid:6f1c1a52-4d1e-4c63-9a55-0d6d8f1d2b7e"
    assert result.issuer_name == "Oakview Care Ltd"
    assert result.learner_name == "Amira Okafor"
    assert result.achievement_name == "Health and safety awareness"
    assert result.achievement_version == "1"
    assert result.valid_until == kit.EXPIRES and result.activity_end == kit.ISSUED
    assert result.alignments == ()  # trimmed away
    assert result.status_checked and result.status_as_of == kit.STATUS_ISSUED
    assert result.issuer_identifiers == (kit.CQC_ID,)


def test_cose_sign1_structure(kit: Any, qr_text: str) -> None:
    outer = _unwrap(qr_text)
    assert isinstance(outer, cbor2.CBORTag) and outer.tag == 18
    protected, unprotected, payload, signature = outer.value
    assert cbor2.loads(protected) == {
        1: -7,
        4: key_thumbprint(kit.A_NEW).encode("utf-8"),
        16: "application/vc+cose",
        3: "application/vc",
    }
    assert dict(unprotected) == {}
    assert len(signature) == 64
    # An independent check of the signature over the COSE Sig_structure.
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    kit.A_NEW.public_key().verify(der, to_sign, ec.ECDSA(hashes.SHA256()))
    # The payload is the compact JSON of the trimmed credential.
    document = json.loads(payload)
    assert payload == json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    assert document == trim_credential(kit.make_credential(status=kit.entry_a(12)))


def test_trimmed_contents(kit: Any) -> None:
    trimmed = trim_credential(kit.make_credential(status=kit.entry_a(12)))
    assert trimmed == {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "id": "urn:uuid:6f1c1a52-4d1e-4c63-9a55-0d6d8f1d2b7e",
        "issuer": {"id": kit.ISSUER_A.id, "name": "Oakview Care"},
        "name": "Health and safety awareness",
        "validFrom": "2026-11-12T14:30:05Z",
        "validUntil": "2029-11-12T14:30:05Z",
        "credentialSubject": {
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "name",
                    "hashed": False,
                    "identityHash": "Amira Okafor",
                }
            ],
            "achievement": {
                "id": kit.ACHIEVEMENT.id,
                "name": "Health and safety awareness",
                "version": "1",
            },
            "activityEndDate": "2026-11-12T14:30:05Z",
        },
        "credentialStatus": kit.entry_a(12),
    }
    # no e-mail hash (or salt) in a code anyone can photograph
    assert "sha256$" not in json.dumps(trimmed) and kit.SALT not in json.dumps(trimmed)


def test_realistic_credential_fits_version_25_at_ecc_m(kit: Any) -> None:
    credential = build_credential(
        credential_id="urn:uuid:0b8e5c84-91d4-4f0e-b7c1-3c2b7a9d5e61",
        issuer=IssuerProfile(
            id="https://learning.carecred.example.org/issuers/oakview-care-homes-group",
            name="Oakview Care Homes Group Ltd (North West England)",
            url="https://learning.carecred.example.org",
        ),
        achievement=AchievementSpec(
            id="https://learning.carecred.example.org/achievements/safeguarding-adults-l2/v3",
            name="Safeguarding adults at risk of abuse or neglect (level 2)",
            description="Recognising and reporting abuse and neglect. " * 10,
            criteria="Read all 8 lessons and passed the knowledge quiz with at least 80%.",
            version="3",
            human_code="SAF-02",
            alignments=(
                Alignment(
                    "Safeguarding adults",
                    "https://www.skillsforcare.org.uk/ascwds",
                    "ASC-WDS training category",
                    target_type="ext:ASCWDSTrainingCategory",
                ),
                Alignment(
                    "Standard 10: Safeguarding adults",
                    "https://www.skillsforcare.org.uk/care-certificate",
                    "Care Certificate (2025)",
                    "CC10",
                ),
                Alignment(
                    "Standard 11: Safeguarding children",
                    "https://www.skillsforcare.org.uk/care-certificate",
                    "Care Certificate (2025)",
                    "CC11",
                ),
            ),
        ),
        learner_name="Oluwaseun Chiamaka Adebayo-Fitzgerald Nkemdirim-Papadopoulou",
        learner_email="oluwaseun.adebayo-fitzgerald@example.org",
        salt="5d41402abc4b2a76b9719d911017c592",
        valid_from=datetime(2026, 11, 12, 14, 30, 5, tzinfo=UTC),
        valid_until=datetime(2029, 11, 12, 14, 30, 5, tzinfo=UTC),
        activity_end=datetime(2026, 11, 12, 14, 30, 5, tzinfo=UTC),
        status=status_entry(
            "https://learning.carecred.example.org/status/oakview-care-homes-group/revocation/1",
            98_765,
        ),
    )
    text = encode_qr(credential, kit.A_NEW)
    assert qr_version(text) <= 25, (len(text), qr_version(text))
    assert len(text) < 1500


# --------------------------------------------------------------------------- reason codes


def test_same_reason_codes_as_tokens(kit: Any, trust_v2: Any) -> None:
    def qr(key: Any = kit.A_NEW, **overrides: Any) -> str:
        return encode_qr(kit.make_credential(**overrides), key)

    _check(verify_qr(qr(kit.ATTACKER), trust_v2, kit.NOW), "unknown_key")
    _check(verify_qr(qr(issuer=kit.ISSUER_B), trust_v2, kit.NOW), "issuer_mismatch")
    _check(verify_qr(qr(kit.A_OLD), trust_v2, kit.NOW), "key_not_valid")
    _check(verify_qr(qr(), trust_v2, kit.EXPIRES), "expired")
    _check(verify_qr(qr(), trust_v2, kit.ISSUED.replace(second=0)), "not_yet_valid")
    stapled = kit.default_status_tokens(revoked_a=[3], suspended_a=[4])
    trust = load_trust_list(kit.make_trust_v2_text(stapled=stapled), kit.ANCHOR, kit.NOW)
    _check(verify_qr(qr(status=kit.entry_a(3)), trust, kit.NOW), "revoked")
    _check(verify_qr(qr(status=kit.entry_a(4)), trust, kit.NOW), "suspended")
    _check(verify_qr(qr(status=kit.entry_a(5)), trust, kit.NOW), "valid")


def test_key_compromised(kit: Any) -> None:
    from dataclasses import replace

    oakview = kit.TRUSTED_ISSUERS[0]
    when = datetime(2026, 11, 1, tzinfo=UTC)
    issuers = (
        replace(oakview, keys=(oakview.keys[0], replace(oakview.keys[1], compromised_at=when))),
    )
    trust = load_trust_list(kit.make_trust_text(issuers=issuers), kit.ANCHOR, kit.NOW)
    _check(
        verify_qr(encode_qr(kit.make_credential(), kit.A_NEW), trust, kit.NOW), "key_compromised"
    )
    earlier = encode_qr(
        kit.make_credential(valid_from=datetime(2026, 10, 1, tzinfo=UTC)), kit.A_NEW
    )
    _check(verify_qr(earlier, trust, kit.NOW), "valid")


def test_qr_signed_by_unknown_key(kit: Any, trust_v2: Any) -> None:
    result = verify_qr(_cose(kit, key=kit.ATTACKER), trust_v2, kit.NOW)
    _check(result, "unknown_key")
    assert result.credential_id is None
    # claiming a trusted kid does not help
    header = {1: -7, 4: key_thumbprint(kit.A_NEW).encode(), 16: "application/vc+cose"}
    forged = _cose(kit, header=header, key=kit.ATTACKER)
    _check(verify_qr(forged, trust_v2, kit.NOW), "bad_signature")


@pytest.mark.parametrize("alg", [-35, -36, -8, -37, -257, 5, 0, "ES256", b"\xf9", None])
def test_qr_with_other_algorithms(kit: Any, trust_v2: Any, alg: Any) -> None:
    header: dict[int, Any] = {4: key_thumbprint(kit.A_NEW).encode()}
    if alg is not None:
        header[1] = alg
    result = verify_qr(_cose(kit, header=header), trust_v2, kit.NOW)
    _check(result, "unsupported_algorithm")
    assert result.credential_id is None


def test_changed_payload_is_bad_signature(kit: Any, trust_v2: Any, qr_text: str) -> None:
    protected, unprotected, payload, signature = _unwrap(qr_text).value
    changed = payload.replace(b"Amira", b"Amina")
    text = _wrap(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, changed, signature])))
    result = verify_qr(text, trust_v2, kit.NOW)
    _check(result, "bad_signature")
    assert result.learner_name is None
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    text = _wrap(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, flipped])))
    _check(verify_qr(text, trust_v2, kit.NOW), "bad_signature")
    for bad_sig in (signature[:-1], signature + b"\x00", b""):
        text = _wrap(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, bad_sig])))
        _check(verify_qr(text, trust_v2, kit.NOW), "bad_signature")


def _malformed(kit: Any, trust: Any, text: Any) -> None:
    result = verify_qr(text, trust, kit.NOW)
    _check(result, "malformed")
    assert result.credential_id is None


def test_oversized_and_malformed_text(kit: Any, trust_v2: Any, qr_text: str) -> None:
    for text in (
        "",
        "HC1:" + qr_text[4:],  # the EU DCC prefix is not ours
        "cc1:" + qr_text[4:],
        qr_text[4:],
        qr_text[:-1],  # base45 of the wrong length
        "CC1:" + "A" * (MAX_QR_CHARS - 4 + 3),  # too long (also not base45 of zlib)
        "CC1:" + ":::",  # value out of range for base45
        "CC1:abc",  # lower case is not base45
        _wrap(b"not cbor")[:-3],
        42,
        None,
    ):
        _malformed(kit, trust_v2, text)
    # surrounding whitespace (from a scanner app) is fine
    _check(verify_qr(f"  {qr_text}\n", trust_v2, kit.NOW), "valid")


def test_zlib_problems(kit: Any, trust_v2: Any, qr_text: str) -> None:
    message = zlib.decompress(base45.b45decode(qr_text[4:]))
    _malformed(kit, trust_v2, "CC1:" + base45.b45encode(message).decode())  # not compressed
    truncated = zlib.compress(message, 9)[:-8]
    _malformed(kit, trust_v2, "CC1:" + base45.b45encode(truncated).decode())
    trailing = zlib.compress(message, 9) + b"junk"
    _malformed(kit, trust_v2, "CC1:" + base45.b45encode(trailing).decode())
    # a zlib bomb: 2 MB of zeros fits in a QR-sized text, and is refused after 64 KB
    bomb = zlib.compress(bytes(2 * 1024 * 1024), 9)
    text = "CC1:" + base45.b45encode(bomb).decode()
    assert len(text) < MAX_QR_CHARS
    _malformed(kit, trust_v2, text)


def _header(kit: Any) -> bytes:
    return cbor2.dumps({1: -7, 4: key_thumbprint(kit.A_NEW).encode()})


@pytest.mark.parametrize(
    "message",
    [
        lambda kit: cbor2.dumps([b"", {}, b"", b""]),  # untagged
        lambda kit: cbor2.dumps(cbor2.CBORTag(98, [b"", {}, b"", b""])),  # COSE_Sign, not Sign1
        lambda kit: cbor2.dumps(cbor2.CBORTag(18, [_header(kit), {}, b"{}"])),  # three members
        lambda kit: cbor2.dumps(cbor2.CBORTag(18, {"a": 1})),
        lambda kit: cbor2.dumps(cbor2.CBORTag(18, [_header(kit), {}, "text", b""])),
        lambda kit: cbor2.dumps(cbor2.CBORTag(18, [_header(kit), {}, b"{}", b"x" * 64])) + b"\x00",
        # indefinite-length array
        lambda kit: b"\xd2\x9f" + b"".join(cbor2.dumps(x) for x in [b"", {}, b"", b""]) + b"\xff",
        # a bignum tag (semantic tags are never decoded) and a float inside
        lambda kit: cbor2.dumps(
            cbor2.CBORTag(18, [_header(kit), {}, cbor2.CBORTag(2, b"\x01"), b""])
        ),
        lambda kit: cbor2.dumps(cbor2.CBORTag(18, [_header(kit), {1: 1.5}, b"{}", b""])),
        # nested tags (shared references could build cycles)
        lambda kit: cbor2.dumps(cbor2.CBORTag(18, cbor2.CBORTag(28, [b"", {}, b"", b""]))),
        # a byte string claiming 2**62 bytes
        lambda kit: b"\xd2\x84\x5b" + (2**62).to_bytes(8, "big") + b"x",
        # an array claiming 2**32 members
        lambda kit: b"\xd2\x9a\xff\xff\xff\xff",
        # deep nesting
        lambda kit: b"\xd2" + b"\x81" * 500 + b"\x00",
        # unprotected header parameters are not accepted (kid must be signed)
        lambda kit: cbor2.dumps(
            cbor2.CBORTag(18, [cbor2.dumps({1: -7}), {4: b"kid"}, b"{}", b"x" * 64])
        ),
        # the protected header is not a map / not CBOR / has trailing bytes
        lambda kit: cbor2.dumps(cbor2.CBORTag(18, [cbor2.dumps([1, -7]), {}, b"{}", b"x" * 64])),
        lambda kit: cbor2.dumps(cbor2.CBORTag(18, [b"\xff", {}, b"{}", b"x" * 64])),
        lambda kit: cbor2.dumps(cbor2.CBORTag(18, [_header(kit) + b"\x00", {}, b"{}", b"x" * 64])),
        # duplicate map keys in the protected header
        lambda kit: cbor2.dumps(cbor2.CBORTag(18, [b"\xa2\x01\x26\x01\x26", {}, b"{}", b"x" * 64])),
    ],
)
def test_malformed_cbor(kit: Any, trust_v2: Any, message: Any) -> None:
    _malformed(kit, trust_v2, _wrap(message(kit)))


@pytest.mark.parametrize(
    "header",
    [
        {16: "application/cose"},  # wrong typ
        {3: "application/json"},  # wrong content type
        {2: [1]},  # crit
        {33: b"x509"},  # unknown parameter
    ],
)
def test_unexpected_protected_header(kit: Any, trust_v2: Any, header: dict[int, Any]) -> None:
    full = {1: -7, 4: key_thumbprint(kit.A_NEW).encode(), **header}
    _malformed(kit, trust_v2, _cose(kit, header=full))


def test_kid_must_be_bytes(kit: Any, trust_v2: Any) -> None:
    header = {1: -7, 4: key_thumbprint(kit.A_NEW)}  # text, not bytes
    _check(verify_qr(_cose(kit, header=header), trust_v2, kit.NOW), "unknown_key")
    _check(verify_qr(_cose(kit, header={1: -7, 4: b"\xff\xfe"}), trust_v2, kit.NOW), "unknown_key")


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[]", b'{"id": 1}', b'{"a": 1, "a": 2}', json.dumps({"x": "y"}).encode()],
)
def test_signed_but_malformed_payload(kit: Any, trust_v2: Any, payload: bytes) -> None:
    _malformed(kit, trust_v2, _cose(kit, payload=payload))


# --------------------------------------------------------------------------- images


def test_png_roundtrip(kit: Any, trust_v2: Any, tmp_path: Path, qr_text: str) -> None:
    png = qr_png(qr_text, scale=4)
    assert png.startswith(b"\x89PNG")
    path = tmp_path / "qr.png"
    path.write_bytes(png)
    assert read_qr_image(path) == qr_text
    _check(verify_qr(read_qr_image(path), trust_v2, kit.NOW), "valid")


def test_jpeg_photo_slightly_scaled(kit: Any, trust_v2: Any, tmp_path: Path, qr_text: str) -> None:
    with Image.open(io.BytesIO(qr_png(qr_text, scale=5))) as image:
        gray = image.convert("L")
    width, height = gray.size
    scaled = gray.resize((int(width * 0.93), int(height * 0.93)), Image.Resampling.BILINEAR)
    canvas = Image.new("L", (scaled.width + 120, scaled.height + 80), 235)  # off-white paper
    canvas.paste(scaled, (70, 30))
    path = tmp_path / "photo.jpg"
    canvas.save(path, format="JPEG", quality=80)
    assert read_qr_image(path) == qr_text


def test_transparent_png(tmp_path: Path, qr_text: str) -> None:
    with Image.open(io.BytesIO(qr_png(qr_text, scale=3))) as image:
        gray = image.convert("L")
    # black modules on a transparent background, as some design tools export them
    rgba = Image.new("RGBA", gray.size, (0, 0, 0, 0))
    rgba.putalpha(gray.point(lambda v: 255 - v))
    path = tmp_path / "transparent.png"
    rgba.save(path)
    assert read_qr_image(path) == qr_text


def _unreadable(path: Path) -> str:
    with pytest.raises(UnreadableInput) as info:
        read_qr_image(path)
    assert str(info.value).endswith(".")
    return info.value.code


def _png_with_size(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims ``width`` x ``height`` (a decompression bomb's header)."""
    buffer = io.BytesIO()
    Image.new("1", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr = data[12:29]
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def test_oversized_and_damaged_images(tmp_path: Path) -> None:
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_with_size(8000, 6000))  # 48 megapixels
    assert _unreadable(huge) == "too_large"
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_with_size(30000, 30000))  # 900 megapixels: Pillow's own limit too
    assert _unreadable(bomb) == "too_large"
    big_file = tmp_path / "big.png"
    with big_file.open("wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.truncate(20 * 1024 * 1024 + 1)
    assert _unreadable(big_file) == "too_large"
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    assert _unreadable(damaged) == "image_damaged"
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(qr_png("CC1:ABC", scale=8)[:200])
    assert _unreadable(truncated) == "image_damaged"
    gif = tmp_path / "qr.gif"
    Image.new("L", (50, 50), 255).save(gif, format="GIF")
    assert _unreadable(gif) == "image_damaged"  # only PNG and JPEG are opened
    assert _unreadable(tmp_path / "missing.png") == "not_found"
    assert _unreadable(tmp_path) == "not_a_file"


def test_no_qr_or_another_qr(tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    Image.new("L", (400, 300), 255).save(blank)
    assert _unreadable(blank) == "no_qr"
    import segno

    other = tmp_path / "url.png"
    segno.make_qr("https://example.org/verify?code=123").save(other, scale=4)
    assert _unreadable(other) == "not_a_certificate_qr"


def test_qr_png_refuses_other_text() -> None:
    for text in ("https://example.org", "CC1:lowercase", "CC1:" + "A" * MAX_QR_CHARS):
        with pytest.raises(ValueError):
            qr_png(text)
    with pytest.raises(ValueError):
        qr_png("CC1:ABC", scale=0)


def test_encode_refuses_bad_input(kit: Any) -> None:
    with pytest.raises(TypeError):
        encode_qr(kit.make_credential(), ec.generate_private_key(ec.SECP384R1()))
    credential = kit.make_credential()
    del credential["id"]
    with pytest.raises(ValueError):
        encode_qr(credential, kit.A_NEW)
    huge = kit.make_credential(learner_name="x" * 500)
    huge["credentialSubject"]["identifier"][0]["identityHash"] = "".join(
        chr(0x4E00 + i) for i in range(5000)
    )
    with pytest.raises(ValueError):
        encode_qr(huge, kit.A_NEW)
