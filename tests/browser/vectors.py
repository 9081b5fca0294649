"""Test vectors for the in-browser verifier (/verify/), built with the `credentials` package.

Every vector carries the verdict of the Python reference verifier (`verify_token`, `verify_qr`
or `verify_passport`), computed here at build time, so a test can check that the page reaches
the same `valid`, `reason_code`, `reason` and `warnings`.

World (all dates relative to the moment the vectors are built, so the page, which reads the
real clock, agrees with Python):

* ``root`` signs a version 2 trust list (``trust_text``, pinned by ``anchor``) with three
  issuers: Oakview (current key ``a_new``, retired key ``a_old``, a CQC identifier, and a
  revocation/suspension pair with index 101 revoked and 202 suspended), Riverside (``b_key``;
  its stapled lists are 40 days old, so results warn), and Compromised Care (``c_key``, marked
  compromised 30 days ago). ``attacker`` is in no list.
* ``root_v1`` signs a second, version 1, trust list (``trust_v1_text``/``anchor_v1``) vouching
  only for Dovecote Training (``d_key``): its credentials verify only once that list is added.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import base45
import cbor2
import jwt as pyjwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from credentials import (
    AchievementSpec,
    Alignment,
    IssuerProfile,
    StatusBits,
    StatusListPair,
    TrustedIssuer,
    TrustedKey,
    TrustList,
    VerificationResult,
    build_credential,
    build_passport,
    build_status_list_credential,
    encode_qr,
    generate_signing_key,
    key_thumbprint,
    load_trust_list,
    public_jwk,
    read_passport,
    sign_credential,
    sign_status_list,
    sign_trust_list,
    status_entry,
    verify_passport,
    verify_qr,
    verify_token,
)
from credentials._util import b64url_decode, b64url_encode

REVOKED = 101
SUSPENDED = 202

ISSUER_A = IssuerProfile(
    id="https://lms.example.test/issuers/oakview", name="Oakview Care", url="https://oak.test"
)
ISSUER_B = IssuerProfile(id="https://lms.example.test/issuers/riverside", name="Riverside Care")
ISSUER_C = IssuerProfile(id="https://lms.example.test/issuers/compromised", name="Compromised")
ISSUER_D = IssuerProfile(id="did:web:dovecote.example.test", name="Dovecote Training")
A_REVOCATION = "https://lms.example.test/status/oakview/revocation/1"
A_SUSPENSION = "https://lms.example.test/status/oakview/suspension/1"
B_REVOCATION = "https://lms.example.test/status/riverside/revocation/1"
B_SUSPENSION = "https://lms.example.test/status/riverside/suspension/1"

ACHIEVEMENT = AchievementSpec(
    id="https://lms.example.test/achievements/HSA-01/v1",
    name="Health and safety awareness",
    description="What the law asks of you and your employer, and how to keep people safe.",
    criteria="Read all 5 lessons and passed the knowledge quiz with at least 80%.",
    version="1",
    human_code="HSA-01",
    alignments=(
        Alignment(
            target_name="Health and safety awareness",
            target_url="https://www.skillsforcare.org.uk/ascwds",
            target_framework="ASC-WDS training category",
        ),
        Alignment(
            target_name="Standard 13",
            target_url="https://www.skillsforcare.org.uk/care-certificate",
            target_framework="Care Certificate (2025)",
            target_code="CC13",
        ),
    ),
)
LEARNER = "Amira Okafor"


@dataclass(frozen=True)
class Expected:
    """One result of the Python verifier, reduced to what the page shows."""

    valid: bool
    reason_code: str
    reason: str
    warnings: tuple[str, ...]
    learner_name: str | None

    @classmethod
    def of(cls, result: VerificationResult) -> Expected:
        return cls(
            result.valid,
            result.reason_code,
            result.reason,
            result.warnings,
            result.learner_name,
        )


@dataclass(frozen=True)
class Vector:
    """Input for the page (`text` is pasted) and the Python verdicts, one per certificate."""

    name: str
    kind: str  # "jwt", "qr" or "passport"
    text: str
    expected: tuple[Expected, ...]
    needs_v1_list: bool = False


@dataclass
class VectorSet:
    now: datetime
    trust_text: str
    anchor: str
    trust_v1_text: str
    anchor_v1: str
    expired_trust_text: str
    vectors: list[Vector] = field(default_factory=list)
    trust: TrustList | None = None
    keys: dict[str, ec.EllipticCurvePrivateKey] = field(default_factory=dict)

    def by_name(self, name: str) -> Vector:
        return next(v for v in self.vectors if v.name == name)


def _key(
    key: ec.EllipticCurvePrivateKey, start: datetime, end: datetime | None = None
) -> TrustedKey:
    return TrustedKey(
        kid=key_thumbprint(key), jwk=public_jwk(key), valid_from=start, valid_until=end
    )


def _status_token(
    url: str,
    purpose: str,
    issuer: IssuerProfile,
    key: ec.EllipticCurvePrivateKey,
    start: datetime,
    end: datetime,
    set_indexes: tuple[int, ...] = (),
) -> str:
    bits = StatusBits()
    for index in set_indexes:
        bits.set(index, True)
    credential = build_status_list_credential(
        list_url=url,
        issuer=issuer,
        purpose=purpose,  # type: ignore[arg-type]
        bits=bits,
        valid_from=start,
        valid_until=end,
    )
    return sign_status_list(credential, key)


def _segment(data: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(data, separators=(",", ":")).encode())


def _header(token: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(b64url_decode(token.split(".")[0]))
    return result


def _payload(token: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return result


def _es256(header: dict[str, Any], payload: dict[str, Any], key: ec.EllipticCurvePrivateKey) -> str:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return pyjwt.PyJWS().encode(body, key, algorithm="ES256", headers=header)


def _hs256_with_public_key(token: str, public_key: ec.EllipticCurvePublicKey) -> str:
    """The classic algorithm-confusion forgery: HS256 keyed with the issuer's public key."""
    secret = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {**_header(token), "alg": "HS256"}
    signing_input = f"{_segment(header)}.{token.split('.')[1]}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url_encode(mac)}"


def _qr_parts(text: str) -> list[Any]:
    tag = cbor2.loads(zlib.decompress(base45.b45decode(text[4:])))
    return list(tag.value)


def _qr_text(parts: list[Any]) -> str:
    message = cbor2.dumps(cbor2.CBORTag(18, parts))
    return "CC1:" + base45.b45encode(zlib.compress(message, 9)).decode("ascii")


def build() -> VectorSet:
    now = datetime.now(UTC).replace(microsecond=0)
    day = timedelta(days=1)
    root, root_v1 = generate_signing_key(), generate_signing_key()
    a_new, a_old, b_key, c_key, d_key = (generate_signing_key() for _ in range(5))
    attacker = generate_signing_key()

    issuers = (
        TrustedIssuer(
            id=ISSUER_A.id,
            name="Oakview Care Ltd",
            url="https://oak.test",
            keys=(_key(a_old, now - 1500 * day, now - 400 * day), _key(a_new, now - 400 * day)),
            status_lists=(StatusListPair(A_REVOCATION, A_SUSPENSION),),
            other_identifiers=(("CQC provider ID", "1-101010101"),),
        ),
        TrustedIssuer(
            id=ISSUER_B.id,
            name="Riverside Care",
            keys=(_key(b_key, now - 1000 * day),),
            status_lists=(StatusListPair(B_REVOCATION, B_SUSPENSION),),
        ),
        TrustedIssuer(
            id=ISSUER_C.id,
            name="Compromised Care",
            keys=(replace(_key(c_key, now - 1000 * day), compromised_at=now - 30 * day),),
        ),
    )
    fresh = (now - 2 * day, now + 28 * day)
    stale = (now - 40 * day, now + 10 * day)
    stapled = [
        _status_token(A_REVOCATION, "revocation", ISSUER_A, a_new, *fresh, (REVOKED,)),
        _status_token(A_SUSPENSION, "suspension", ISSUER_A, a_new, *fresh, (SUSPENDED,)),
        _status_token(B_REVOCATION, "revocation", ISSUER_B, b_key, *stale),
        _status_token(B_SUSPENSION, "suspension", ISSUER_B, b_key, *stale),
    ]
    trust_text = sign_trust_list(
        "Browser test trust list",
        issuers,
        root,
        now - 1 * day,
        now + 300 * day,
        status_list_tokens=stapled,
    )
    anchor = key_thumbprint(root)
    trust = load_trust_list(trust_text, anchor, now)
    trust_v1_text = sign_trust_list(
        "Second trust list (version 1)",
        (
            TrustedIssuer(
                id=ISSUER_D.id, name="Dovecote Training", keys=(_key(d_key, now - 900 * day),)
            ),
        ),
        root_v1,
        now - 3 * day,
    )
    anchor_v1 = key_thumbprint(root_v1)
    trust_v1 = load_trust_list(trust_v1_text, anchor_v1, now)
    expired_trust_text = sign_trust_list(
        "Expired trust list", issuers[1:2], root, now - 60 * day, now - 1 * day
    )

    def credential(**overrides: Any) -> dict[str, Any]:
        args: dict[str, Any] = {
            "credential_id": "urn:uuid:6f1c1a52-4d1e-4c63-9a55-0d6d8f1d2b7e",
            "issuer": ISSUER_A,
            "achievement": ACHIEVEMENT,
            "learner_name": LEARNER,
            "learner_email": "amira@example.org",
            "salt": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "valid_from": now - 5 * day,
            "valid_until": now + 3 * 365 * day,
            "activity_end": now - 5 * day,
            "status": status_entry(A_REVOCATION, 7),
        }
        args.update(overrides)
        return build_credential(**args)

    vectors = VectorSet(now, trust_text, anchor, trust_v1_text, anchor_v1, expired_trust_text)
    vectors.trust = trust
    vectors.keys.update(
        root=root, a_new=a_new, a_old=a_old, b_key=b_key, c_key=c_key, attacker=attacker
    )

    def jwt(name: str, token: str, *, v1: bool = False) -> None:
        lists: Any = [trust, trust_v1] if v1 else trust
        result = verify_token(token, lists, datetime.now(UTC))
        vectors.vectors.append(Vector(name, "jwt", token, (Expected.of(result),), v1))

    def qr(name: str, text: str) -> None:
        result = verify_qr(text, trust, datetime.now(UTC))
        vectors.vectors.append(Vector(name, "qr", text, (Expected.of(result),)))

    def passport(name: str, text: str) -> None:
        results = verify_passport(read_passport(text), trust, datetime.now(UTC))
        vectors.vectors.append(
            Vector(name, "passport", text, tuple(Expected.of(r) for r in results))
        )

    valid = sign_credential(credential(), a_new)
    head, body, sig = valid.split(".")
    jwt("valid", valid)
    jwt("valid without status", sign_credential(credential(status=None), a_new))
    jwt(
        "tampered header",
        f"{_segment({**_header(valid), 'typ': 'vc+jwt'})}.{body}.{sig}",
    )
    changed = _payload(valid)
    changed["credentialSubject"]["identifier"][0]["identityHash"] = "Someone Else"
    jwt("tampered payload", f"{head}.{_segment(changed)}.{sig}")
    raw_sig = bytearray(b64url_decode(sig))
    raw_sig[10] ^= 0x01
    jwt("tampered signature byte", f"{head}.{body}.{b64url_encode(bytes(raw_sig))}")
    none_header = {"alg": "none", "typ": "JWT", "kid": key_thumbprint(a_new)}
    jwt("alg none, empty signature", f"{_segment(none_header)}.{body}.")
    jwt("alg none, with a signature", f"{_segment(none_header)}.{body}.{sig}")
    jwt("HS256 keyed with the public key", _hs256_with_public_key(valid, a_new.public_key()))
    attacker_header = {
        "alg": "ES256",
        "typ": "JWT",
        "kid": key_thumbprint(attacker),
        "jwk": public_jwk(attacker),
    }
    jwt("attacker jwk header", _es256(attacker_header, _payload(valid), attacker))
    jwt(
        "attacker jwk header with a trusted kid",
        _es256({**attacker_header, "kid": key_thumbprint(a_new)}, _payload(valid), attacker),
    )
    jwt("kid of another issuer", sign_credential(credential(), b_key))
    jwt("key outside its window", sign_credential(credential(), a_old))
    jwt(
        "compromised key",
        sign_credential(credential(issuer=ISSUER_C, status=None), c_key),
    )
    jwt(
        "compromised key, signed before",
        sign_credential(credential(issuer=ISSUER_C, status=None, valid_from=now - 60 * day), c_key),
    )
    jwt(
        "expired",
        sign_credential(credential(valid_from=now - 400 * day, valid_until=now - 10 * day), a_new),
    )
    jwt("not yet valid", sign_credential(credential(valid_from=now + 10 * day), a_new))
    jwt("revoked", sign_credential(credential(status=status_entry(A_REVOCATION, REVOKED)), a_new))
    suspended = sign_credential(credential(status=status_entry(A_REVOCATION, SUSPENDED)), a_new)
    jwt("suspended", suspended)
    jwt(
        "stale status list (warning)",
        sign_credential(credential(issuer=ISSUER_B, status=status_entry(B_REVOCATION, 5)), b_key),
    )
    jwt(
        "undeclared status list (warning)",
        sign_credential(
            credential(status=status_entry("https://elsewhere.test/status/1", 5)), a_new
        ),
    )
    wrong_nbf = _payload(valid)
    wrong_nbf["nbf"] += 3600
    jwt("claims mismatch", _es256(_header(valid), wrong_nbf, a_new))
    no_achievement = _payload(valid)
    del no_achievement["credentialSubject"]["achievement"]
    jwt("signed but malformed contents", _es256(_header(valid), no_achievement, a_new))
    float_size = _payload(valid)
    float_size["credentialStatus"]["statusSize"] = 1.0
    jwt("statusSize 1.0 is not the integer 1", _es256(_header(valid), float_size, a_new))
    duplicate = f'{{"alg":"ES256","alg":"ES256","kid":"{key_thumbprint(a_new)}"}}'
    jwt(
        "duplicate header member",
        f"{b64url_encode(duplicate.encode())}.{body}.{sig}",
    )
    jwt(
        "HTML in the learner's name",
        sign_credential(credential(learner_name='<img src="x" id="injected">Amira'), a_new),
    )
    jwt("garbage text", "this is not a certificate")
    jwt(
        "issuer on the second (v1) list",
        sign_credential(credential(issuer=ISSUER_D, status=None), d_key),
        v1=True,
    )

    qr_valid = encode_qr(credential(), a_new)
    qr("QR valid", qr_valid)
    parts = _qr_parts(qr_valid)
    document = json.loads(parts[2])
    document["credentialSubject"]["achievement"]["name"] = "Advanced surgery"
    parts[2] = json.dumps(document, separators=(",", ":")).encode()
    qr("QR tampered payload", _qr_text(parts))
    corrupted = qr_valid[:40] + ("A" if qr_valid[40] != "A" else "B") + qr_valid[41:]
    qr("QR corrupted text", corrupted)
    qr("QR revoked", encode_qr(credential(status=status_entry(A_REVOCATION, REVOKED)), a_new))
    qr("QR signed by an attacker", encode_qr(credential(), attacker))
    qr(
        "QR expired",
        encode_qr(credential(valid_from=now - 400 * day, valid_until=now - day), a_new),
    )

    other = sign_credential(
        credential(
            credential_id="urn:uuid:0b0e7c2e-2d5a-4a8f-9a62-4b8f6b3f1a11",
            status=status_entry(A_REVOCATION, 8),
        ),
        a_new,
    )
    tampered = f"{head}.{_segment(changed)}.{sig}"
    passport(
        "passport with one tampered credential",
        build_passport(LEARNER, [valid, tampered, other], [], now),
    )
    newer = _status_token(
        A_REVOCATION, "revocation", ISSUER_A, a_new, now - day, now + 29 * day, (8,)
    )
    clean = _status_token(A_SUSPENSION, "suspension", ISSUER_A, a_new, now - day, now + day)
    lifted = _payload(clean)
    lifted["validFrom"] = (now + 1 * day).strftime("%Y-%m-%dT%H:%M:%SZ")
    forged = f"{clean.split('.')[0]}.{_segment(lifted)}.{clean.split('.')[2]}"
    passport(
        "passport whose newer status list revokes one",
        build_passport("A. Okafor", [valid, other, suspended], [newer, forged], now),
    )
    return vectors


def printed_pdf(lines: tuple[str, ...], attachments: dict[str, str]) -> bytes:
    """A one-page PDF printing `lines` (Helvetica) with `attachments` embedded, written by pypdf
    (plain objects and a classic xref table, unlike WeasyPrint's object streams)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=595, height=842)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
    )
    escaped = (line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines)
    ops = [f"BT /F1 16 Tf 60 {780 - 28 * n} Td ({text}) Tj ET" for n, text in enumerate(escaped)]
    content = DecodedStreamObject()
    content.set_data("\n".join(ops).encode("cp1252"))
    page[NameObject("/Contents")] = writer._add_object(content)
    for name, data in attachments.items():
        writer.add_attachment(name, data)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def credential_json(token: str) -> str:
    """What the LMS attaches as credential.json: the signed payload without the JWT claims."""
    payload = _payload(token)
    for claim in ("iss", "jti", "nbf", "exp", "sub"):
        payload.pop(claim, None)
    return json.dumps(payload, indent=2)


def pdf_vectors(world: VectorSet) -> dict[str, bytes]:
    """PDFs of the `valid` credential: faithful, and disagreeing with it in each checked way."""
    token = world.by_name("valid").text
    faithful = ("Certificate of completion", LEARNER, ACHIEVEMENT.name, "Oakview Care")
    changed = {**json.loads(credential_json(token)), "name": "Advanced surgery"}
    return {
        "faithful.pdf": printed_pdf(
            faithful, {"credential.jwt": token, "credential.json": credential_json(token)}
        ),
        "name on two lines.pdf": printed_pdf(
            ("Amira", "Okafor", "Health and safety", "awareness"), {"credential.jwt": token}
        ),
        "another learner printed.pdf": printed_pdf(
            ("Certificate of completion", "Someone Else", ACHIEVEMENT.name),
            {"credential.jwt": token},
        ),
        "credential.json altered.pdf": printed_pdf(
            faithful, {"credential.jwt": token, "credential.json": json.dumps(changed)}
        ),
        "no printed text.pdf": printed_pdf((), {"credential.jwt": token}),
        "tampered credential.pdf": printed_pdf(
            faithful, {"credential.jwt": world.by_name("tampered payload").text}
        ),
        "no credential.pdf": printed_pdf(faithful, {}),
    }
