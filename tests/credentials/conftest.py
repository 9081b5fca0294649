"""Shared keys, trust lists and token helpers for the `credentials` tests (no Flask, no app).

Test modules reach everything here through the ``kit`` fixture (this module itself), e.g.
``kit.make_token(kit.B_KEY, issuer=kit.ISSUER_B)``. That works under every pytest import mode
and whatever other ``conftest.py`` files exist in the tree (no ``from conftest import``).

World used throughout:

* ``ROOT`` signs the trust list; ``OTHER_ROOT`` is an unrelated root.
* Issuer A ("Oakview Care") has an old key ``A_OLD`` (may sign 2025-01-01 .. 2026-06-01) and a
  current key ``A_NEW`` (from 2026-06-01, open-ended).
* Issuer B ("Riverside Homecare") has ``B_KEY`` (from 2025-01-01).
* ``ATTACKER`` is in no trust list.
* "Now" is ``NOW`` = 2026-11-20T12:00:00Z; credentials are issued at ``ISSUED`` = 2026-11-12.

Status lists (revocation and suspension, W3C Bitstring Status List):

* Each issuer declares one pair in the version 2 trust list ``TRUST_V2`` (``STATUS_ISSUERS``):
  ``A_REVOCATION``/``A_SUSPENSION`` and ``B_REVOCATION``/``B_SUSPENSION``. Oakview also has an
  "other identifier" (its CQC provider ID).
* ``make_status_token(...)`` signs a list dated ``STATUS_ISSUED`` = 2026-11-03 (valid 30 days)
  with the given indexes set. ``TRUST_V2`` staples all four lists with nothing set.
* ``make_token(status=kit.entry_a(7))`` issues a credential carrying a status entry.
* Every test gets an empty trust store (``$CARECRED_TRUST_STORE`` points into ``tmp_path``).
"""

from __future__ import annotations

import json
import sys
import types
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
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
    build_credential,
    build_status_list_credential,
    generate_signing_key,
    key_thumbprint,
    load_trust_list,
    public_jwk,
    sign_credential,
    sign_status_list,
    sign_trust_list,
    status_entry,
)
from credentials._util import b64url_decode, b64url_encode

DATA = Path(__file__).parent / "data"
SCHEMA_PATH = DATA / "ob_v3p0_achievementcredential_schema.json"

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ISSUED = datetime(2026, 11, 12, 14, 30, 5, tzinfo=UTC)
EXPIRES = datetime(2029, 11, 12, 14, 30, 5, tzinfo=UTC)
LIST_ISSUED = datetime(2026, 11, 1, tzinfo=UTC)
LIST_EXPIRES = datetime(2027, 11, 1, tzinfo=UTC)

ROOT = generate_signing_key()
OTHER_ROOT = generate_signing_key()
A_OLD = generate_signing_key()
A_NEW = generate_signing_key()
B_KEY = generate_signing_key()
ATTACKER = generate_signing_key()

ANCHOR = key_thumbprint(ROOT)

ISSUER_A = IssuerProfile(
    id="https://lms.example.test/issuers/oakview",
    name="Oakview Care",
    url="https://lms.example.test",
)
ISSUER_B = IssuerProfile(
    id="https://lms.example.test/issuers/riverside",
    name="Riverside Homecare",
)

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
            target_type="ext:ASCWDSTrainingCategory",
        ),
        Alignment(
            target_name="Standard 13",
            target_url="https://www.skillsforcare.org.uk/care-certificate",
            target_framework="Care Certificate (2025)",
        ),
    ),
)

LEARNER_NAME = "Amira Okafor"
LEARNER_EMAIL = "Amira.Okafor@Example.org"
SALT = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def trusted_key(
    key: ec.EllipticCurvePrivateKey, start: datetime, end: datetime | None = None
) -> TrustedKey:
    return TrustedKey(
        kid=key_thumbprint(key), jwk=public_jwk(key), valid_from=start, valid_until=end
    )


TRUSTED_ISSUERS = (
    TrustedIssuer(
        id=ISSUER_A.id,
        name="Oakview Care Ltd",  # deliberately differs from the token's issuer.name
        url="https://oakview.example.test",
        keys=(
            trusted_key(A_OLD, datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)),
            trusted_key(A_NEW, datetime(2026, 6, 1, tzinfo=UTC)),
        ),
    ),
    TrustedIssuer(
        id=ISSUER_B.id,
        name="Riverside Homecare",
        keys=(trusted_key(B_KEY, datetime(2025, 1, 1, tzinfo=UTC)),),
    ),
)


def make_credential(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "credential_id": "urn:uuid:6f1c1a52-4d1e-4c63-9a55-0d6d8f1d2b7e",
        "issuer": ISSUER_A,
        "achievement": ACHIEVEMENT,
        "learner_name": LEARNER_NAME,
        "learner_email": LEARNER_EMAIL,
        "salt": SALT,
        "valid_from": ISSUED,
        "valid_until": EXPIRES,
        "activity_end": ISSUED,
    }
    args.update(overrides)
    return build_credential(**args)


def make_token(key: ec.EllipticCurvePrivateKey = A_NEW, **overrides: Any) -> str:
    return sign_credential(make_credential(**overrides), key)


def raw_token(
    header: Mapping[str, Any],
    payload: Mapping[str, Any] | bytes,
    key: ec.EllipticCurvePrivateKey | None,
) -> str:
    """Sign arbitrary header/payload bytes with ES256 (or leave an empty signature if no key)."""
    h = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    p = b64url_encode(body)
    if key is None:
        return f"{h}.{p}."
    return pyjwt.PyJWS().encode(body, key, algorithm="ES256", headers=dict(header))


def signed_payload(
    payload: Mapping[str, Any], key: ec.EllipticCurvePrivateKey = A_NEW, **header: Any
) -> str:
    """A token with exactly this payload, signed by ``key`` with the usual header."""
    hdr = {"alg": "ES256", "typ": "JWT", "kid": key_thumbprint(key), **header}
    return raw_token(hdr, payload, key)


def payload_of(token: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return result


def replace_segment(token: str, index: int, transform: Callable[[bytes], bytes]) -> str:
    parts = token.split(".")
    parts[index] = b64url_encode(transform(b64url_decode(parts[index])))
    return ".".join(parts)


@dataclass(frozen=True)
class TrustFiles:
    text: str
    trust: TrustList
    anchor: str


def make_trust_text(
    issuers: tuple[TrustedIssuer, ...] = TRUSTED_ISSUERS,
    root: ec.EllipticCurvePrivateKey = ROOT,
    issued_at: datetime = LIST_ISSUED,
    valid_until: datetime | None = LIST_EXPIRES,
) -> str:
    return sign_trust_list("CareCred test trust list", issuers, root, issued_at, valid_until)


TRUST_TEXT = make_trust_text()
TRUST = load_trust_list(TRUST_TEXT, ANCHOR, NOW)


@pytest.fixture
def trust() -> TrustList:
    return TRUST


@pytest.fixture
def trust_file(tmp_path: Path) -> Path:
    path = tmp_path / "trust.json"
    path.write_text(TRUST_TEXT, encoding="utf-8")
    return path


@pytest.fixture
def token() -> str:
    return make_token()


@pytest.fixture
def token_file(tmp_path: Path, token: str) -> Path:
    path = tmp_path / "certificate.jwt"
    path.write_text(token + "\n", encoding="ascii")
    return path


PDF_LINES = ("Certificate of completion", LEARNER_NAME, ACHIEVEMENT.name, "Oakview Care")


def _pdf_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(
    path: Path,
    attachments: Mapping[str, bytes | str] | None = None,
    *,
    lines: Sequence[str] = PDF_LINES,
    qr_images: Sequence[bytes] = (),
) -> Path:
    """A one-page PDF showing ``lines`` (Helvetica), with ``qr_images`` (PNG bytes) drawn as
    image XObjects and ``attachments`` embedded as files, like the LMS's certificates."""
    from PIL import Image
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject, NumberObject

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
    resources = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
    ops = []
    y = 780
    for line in lines:
        ops.append(f"BT /F1 16 Tf 60 {y} Td ({_pdf_text(line)}) Tj ET")
        y -= 28
    xobjects = DictionaryObject()
    for n, png in enumerate(qr_images):
        import io

        with Image.open(io.BytesIO(png)) as img:
            gray = img.convert("L")
        image = DecodedStreamObject()
        image.set_data(zlib.compress(gray.tobytes()))
        image.update(
            {
                NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Image"),
                NameObject("/Width"): NumberObject(gray.width),
                NameObject("/Height"): NumberObject(gray.height),
                NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                NameObject("/BitsPerComponent"): NumberObject(8),
                NameObject("/Filter"): NameObject("/FlateDecode"),
            }
        )
        xobjects[NameObject(f"/Im{n}")] = writer._add_object(image)
        ops.append(f"q 200 0 0 200 {60 + 220 * n} 300 cm /Im{n} Do Q")
    if xobjects:
        resources[NameObject("/XObject")] = xobjects
    content = DecodedStreamObject()
    content.set_data("\n".join(ops).encode("cp1252"))
    page[NameObject("/Contents")] = writer._add_object(content)
    page[NameObject("/Resources")] = resources
    for name, data in (attachments or {}).items():
        writer.add_attachment(name, data)
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def credential_json(token: str) -> bytes:
    """What the LMS attaches as credential.json: the signed payload without the JWT claims."""
    payload = payload_of(token)
    for claim in ("iss", "jti", "nbf", "exp", "sub"):
        payload.pop(claim, None)
    return json.dumps(payload, indent=2).encode()


def later(days: int) -> datetime:
    return NOW + timedelta(days=days)


# --------------------------------------------------------------------------- status lists

STATUS_ISSUED = datetime(2026, 11, 3, tzinfo=UTC)
STATUS_EXPIRES = datetime(2026, 12, 3, tzinfo=UTC)
A_REVOCATION = "https://lms.example.test/status/oakview/revocation/1"
A_SUSPENSION = "https://lms.example.test/status/oakview/suspension/1"
B_REVOCATION = "https://lms.example.test/status/riverside/revocation/1"
B_SUSPENSION = "https://lms.example.test/status/riverside/suspension/1"
CQC_ID = ("CQC provider ID", "1-101010101")

STATUS_ISSUERS = (
    replace(
        TRUSTED_ISSUERS[0],
        status_lists=(StatusListPair(revocation=A_REVOCATION, suspension=A_SUSPENSION),),
        other_identifiers=(CQC_ID,),
    ),
    replace(
        TRUSTED_ISSUERS[1],
        status_lists=(StatusListPair(revocation=B_REVOCATION, suspension=B_SUSPENSION),),
    ),
)


def entry_a(index: int) -> dict[str, Any]:
    return status_entry(A_REVOCATION, index)


def make_status_token(
    url: str = A_REVOCATION,
    purpose: str = "revocation",
    set_indexes: Iterable[int] = (),
    *,
    key: ec.EllipticCurvePrivateKey = A_NEW,
    issuer: IssuerProfile = ISSUER_A,
    valid_from: datetime = STATUS_ISSUED,
    valid_until: datetime = STATUS_EXPIRES,
    size: int = 131_072,
) -> str:
    bits = StatusBits(size)
    for index in set_indexes:
        bits.set(index, True)
    credential = build_status_list_credential(
        list_url=url,
        issuer=issuer,
        purpose=purpose,  # type: ignore[arg-type]
        bits=bits,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    return sign_status_list(credential, key)


def default_status_tokens(
    revoked_a: Iterable[int] = (), suspended_a: Iterable[int] = ()
) -> list[str]:
    return [
        make_status_token(A_REVOCATION, "revocation", revoked_a),
        make_status_token(A_SUSPENSION, "suspension", suspended_a),
        make_status_token(B_REVOCATION, "revocation", key=B_KEY, issuer=ISSUER_B),
        make_status_token(B_SUSPENSION, "suspension", key=B_KEY, issuer=ISSUER_B),
    ]


def make_trust_v2_text(
    stapled: Sequence[str] | None = None,
    issuers: tuple[TrustedIssuer, ...] = STATUS_ISSUERS,
    root: ec.EllipticCurvePrivateKey = ROOT,
    issued_at: datetime = datetime(2026, 11, 4, tzinfo=UTC),
    valid_until: datetime | None = LIST_EXPIRES,
) -> str:
    tokens = default_status_tokens() if stapled is None else stapled
    return sign_trust_list(
        "CareCred test trust list v2",
        issuers,
        root,
        issued_at,
        valid_until,
        status_list_tokens=tokens,
    )


TRUST_V2_TEXT = make_trust_v2_text()
TRUST_V2 = load_trust_list(TRUST_V2_TEXT, ANCHOR, NOW)


@pytest.fixture
def trust_v2() -> TrustList:
    return TRUST_V2


@pytest.fixture(autouse=True)
def _isolated_trust_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No test may read or write the real user's trust store."""
    store = tmp_path / "trust-store"
    monkeypatch.setenv("CARECRED_TRUST_STORE", str(store))
    yield store


_SELF = sys.modules[__name__]


@pytest.fixture(scope="session")
def kit() -> types.ModuleType:
    """This module: keys, constants and helpers."""
    return _SELF
