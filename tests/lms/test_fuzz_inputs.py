"""Fuzzing every place that reads what a stranger sends: thousands of generated inputs, no crash.

Targets (hypothesis; bounded examples, no deadline, the whole module well under a minute):

* the offline verifier: arbitrary and mutated tokens, QR texts, passports, trust lists and
  files (PDF, image, JSON, text): only the credentials package's typed errors may escape;
* POST /api/v1/verify and POST /credentials/verify: any body gets an answer below 500;
* the staff CSV importer's parser (never raises), the evidence upload check (only
  EvidenceRefused) and the transfer upload reader (only TransferRefused);
* the upload forms end to end (staff CSV import, transfer upload, trust-list upload, an
  observation's evidence), as their manager or mentor: never a 500.

Mutations start from a real credential, QR code and passport signed by an issuer the trust
list knows, so they reach the signature and content checks, not just the parser.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credentials import (
    AchievementSpec,
    CredentialError,
    IssuerProfile,
    TrustedIssuer,
    TrustedKey,
    build_credential,
    build_passport,
    encode_qr,
    generate_signing_key,
    key_thumbprint,
    load_trust_list,
    public_jwk,
    read_passport,
    sign_credential,
    sign_trust_list,
    verify_passport,
    verify_path,
    verify_qr,
    verify_token,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ISSUED = NOW - timedelta(days=3)
ROOT = generate_signing_key()
ISSUER_KEY = generate_signing_key()
ISSUER = IssuerProfile(id="https://lms.example.test/issuers/oakview", name="Oakview Care",
                       url="https://lms.example.test")  # fmt: skip
TRUST_TEXT = sign_trust_list(
    name="fuzz",
    issuers=[
        TrustedIssuer(
            id=ISSUER.id,
            name=ISSUER.name,
            url=ISSUER.url,
            keys=(
                TrustedKey(
                    kid=key_thumbprint(ISSUER_KEY),
                    jwk=public_jwk(ISSUER_KEY),
                    valid_from=ISSUED - timedelta(days=30),
                    valid_until=None,
                ),
            ),
        )
    ],
    root_key=ROOT,
    issued_at=ISSUED,
)
TRUST = load_trust_list(TRUST_TEXT, key_thumbprint(ROOT), NOW)
CREDENTIAL = build_credential(
    credential_id="urn:uuid:6f1c1b1e-4f7e-4a39-9a59-0b7c1a2b3c4d",
    issuer=ISSUER,
    achievement=AchievementSpec(
        id="https://lms.example.test/achievements/HSA-01/v1",
        name="Health and safety awareness",
        description="Keeping people safe at work.",
        criteria="Read every lesson and passed the quiz.",
        achievement_type="CertificateOfCompletion",
        version="1",
        human_code="HSA-01",
    ),
    learner_name="Amira Okafor",
    learner_email="learner@example.com",
    salt="00112233445566778899aabbccddeeff",
    valid_from=ISSUED,
    valid_until=ISSUED + timedelta(days=365),
    activity_end=ISSUED,
)
TOKEN = sign_credential(CREDENTIAL, ISSUER_KEY)
QR = encode_qr(CREDENTIAL, ISSUER_KEY)
PASSPORT = build_passport("Amira Okafor", [TOKEN], [], NOW)

FAST = settings(max_examples=500, deadline=None, derandomize=True)
WITH_APP = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def test_the_seeds_are_valid() -> None:
    """The mutations start from good inputs (else they would only ever test the parser)."""
    assert verify_token(TOKEN, TRUST, NOW).valid
    assert verify_qr(QR, TRUST, NOW).valid
    assert all(r.valid for r in verify_passport(read_passport(PASSPORT), TRUST, NOW))


@st.composite
def mutated(draw: st.DrawFn, seed: str) -> str:
    """`seed` with a few characters replaced, inserted, deleted, or cut short."""
    text = list(seed)
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        where = draw(st.integers(0, len(text) - 1))
        action = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        char = draw(st.characters(codec="utf-8"))
        if action == "replace":
            text[where] = char
        elif action == "insert":
            text.insert(where, char)
        elif action == "delete":
            del text[where]
        else:
            text = text[:where]
    return "".join(text)


def _segments(seed: str) -> st.SearchStrategy[str]:
    """Valid-looking JWS with fuzzed header or payload JSON (base64url of arbitrary JSON)."""
    import base64

    def b64(value: Any) -> str:
        raw = json.dumps(value).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head, payload, sig = seed.split(".")
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    )
    return st.one_of(
        json_values.map(lambda v: f"{b64(v)}.{payload}.{sig}"),
        json_values.map(lambda v: f"{head}.{b64(v)}.{sig}"),
        st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "b64", "jwk"]),
                        json_values, max_size=4).map(lambda h: f"{b64(h)}.{payload}.{sig}"),
    )  # fmt: skip


TOKENS = st.one_of(st.text(max_size=300), mutated(TOKEN), _segments(TOKEN))
QR_TEXTS = st.one_of(st.text(max_size=200).map(lambda t: "CC1:" + t), mutated(QR))


# --- the verifier --------------------------------------------------------------------------


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(token=TOKENS)
def test_verify_token_never_raises(token: str) -> None:
    result = verify_token(token, TRUST, NOW)
    assert result.valid is (token == TOKEN)
    assert result.reason and result.reason_code


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(text=QR_TEXTS)
def test_verify_qr_never_raises(text: str) -> None:
    result = verify_qr(text, TRUST, NOW)
    assert result.valid is (text == QR) or result.valid is False
    assert result.reason_code


@FAST
@given(data=st.one_of(st.binary(max_size=400), mutated(PASSPORT).map(str.encode)))
def test_passports_fail_only_with_typed_errors(data: bytes) -> None:
    try:
        passport = read_passport(data)
    except CredentialError:
        return
    for result in verify_passport(passport, TRUST, NOW):
        assert result.reason_code


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.one_of(st.binary(max_size=400), mutated(TRUST_TEXT).map(str.encode)))
def test_trust_lists_fail_only_with_typed_errors(data: bytes) -> None:
    with contextlib.suppress(CredentialError):
        load_trust_list(data, key_thumbprint(ROOT), NOW)


FILE_HEADS = [b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"{", b"", b"CC1:"]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(head=st.sampled_from(FILE_HEADS), body=st.binary(max_size=600))
def test_files_of_any_kind_fail_only_with_typed_errors(head: bytes, body: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        path.write_bytes(head + body)
        try:
            results = verify_path(path, TRUST, NOW)
        except CredentialError:
            return
        assert all(r.reason_code for r in results)


# --- the HTTP verify endpoints ---------------------------------------------------------------

JSON_BODIES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=20), inner,
                                                                max_size=3),
    max_leaves=8,
)  # fmt: skip


def _api_bodies() -> st.SearchStrategy[Any]:
    return st.one_of(
        JSON_BODIES,
        TOKENS.map(lambda t: {"credential": t}),
        QR_TEXTS.map(lambda t: {"credential": t}),
        st.fixed_dictionaries({"credential": JSON_BODIES}),
    )


def _vc_bodies() -> st.SearchStrategy[Any]:
    enveloped = st.fixed_dictionaries(
        {
            "@context": st.one_of(st.just("https://www.w3.org/ns/credentials/v2"), JSON_BODIES),
            "type": st.one_of(st.just("EnvelopedVerifiableCredential"), JSON_BODIES),
            "id": st.one_of(TOKENS.map(lambda t: "data:application/vc+jwt," + t), JSON_BODIES),
        }
    )
    return st.one_of(
        JSON_BODIES,
        st.fixed_dictionaries({"verifiableCredential": st.one_of(enveloped, JSON_BODIES)},
                              optional={"options": JSON_BODIES}),
    )  # fmt: skip


@WITH_APP
@given(body=_api_bodies())
def test_api_verify_never_fails_on_a_body(app: Flask, body: Any) -> None:
    r = app.test_client().post("/api/v1/verify", json=body)
    assert r.status_code < 500 and r.is_json


@WITH_APP
@given(body=_vc_bodies())
def test_vc_api_verify_never_fails_on_a_body(app: Flask, body: Any) -> None:
    r = app.test_client().post("/credentials/verify", json=body)
    assert r.status_code < 500 and r.is_json


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(raw=st.binary(max_size=500))
def test_verify_endpoints_survive_raw_bytes(app: Flask, raw: bytes) -> None:
    client = app.test_client()
    for url in ("/api/v1/verify", "/credentials/verify", "/credentials/issue"):
        r = client.post(url, data=raw, content_type="application/json")
        assert r.status_code < 500, url


# --- uploads and imports of other areas ----------------------------------------------------

CSV_ROWS = st.lists(
    st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=12), min_size=1, max_size=8),
    max_size=8,
)
HEADERS = "first name,last name,email,job role,site,start date,worker id\n"
STAFF_HEADERS = "name,email,job_role,site,start_date\n"
STAFF_ROWS = st.lists(
    st.tuples(
        st.text(max_size=20),
        st.one_of(st.emails(), st.text(max_size=20)),
        st.sampled_from(["Care worker", "Senior care worker", "Cook", ""]),
        st.sampled_from(["Main house", "Garden lodge", "Nowhere", ""]),
        st.one_of(st.dates().map(str), st.text(max_size=10)),
    ).map(lambda row: ",".join(row)),
    max_size=6,
).map(lambda rows: (STAFF_HEADERS + "\n".join(rows)).encode())


@FAST
@given(
    data=st.one_of(
        st.binary(max_size=600),
        CSV_ROWS.map(lambda rows: (HEADERS + "\n".join(",".join(r) for r in rows)).encode()),
        CSV_ROWS.map(lambda rows: "\n".join(";".join(r) for r in rows).encode("utf-16")),
    )
)
def test_staff_csv_parser_never_raises(data: bytes) -> None:
    importer = pytest.importorskip("lms.staff.importer", reason="staff importer not installed")
    parsed = importer.parse_csv(data, date(2026, 11, 20))
    assert parsed is not None


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    name=st.one_of(st.none(), st.text(max_size=80)),
    data=st.one_of(
        st.binary(max_size=800),
        st.binary(max_size=400).map(lambda b: b"%PDF-1.4\n" + b),
        st.binary(max_size=400).map(lambda b: PNG[:24] + b),
        st.binary(max_size=400).map(lambda b: b"\xff\xd8\xff\xe0" + b),
        mutated(PNG.decode("latin-1")).map(lambda t: t.encode("latin-1", "replace")),
    ),
)
def test_evidence_uploads_are_checked_or_refused(name: str | None, data: bytes) -> None:
    evidence = pytest.importorskip("lms.evidence", reason="evidence uploads not installed")
    try:
        prepared = evidence.prepare(name, data)
    except evidence.EvidenceRefused as err:
        assert err.message
        return
    assert prepared.content_type in {"image/jpeg", "image/png", "application/pdf"}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    data=st.one_of(
        st.none(),
        st.binary(max_size=500),
        TOKENS.map(str.encode),
        mutated(PASSPORT).map(str.encode),
        st.binary(max_size=300).map(lambda b: b"%PDF-1.4\n" + b),
    ),
    qr=st.one_of(st.none(), QR_TEXTS, st.text(max_size=40)),
)
def test_transfer_uploads_are_read_or_refused(data: bytes | None, qr: str | None) -> None:
    from lms.transfers import service

    try:
        service._read_upload(data, qr, [TRUST], NOW)
    except service.TransferRefused as err:
        assert err.message


# --- the upload forms, end to end ------------------------------------------------------------


UPLOAD_BYTES = st.one_of(
    st.binary(max_size=800),
    TOKENS.map(str.encode),
    mutated(PASSPORT).map(str.encode),
    mutated(TRUST_TEXT).map(str.encode),
    st.binary(max_size=400).map(lambda b: b"%PDF-1.4\n" + b),
    st.binary(max_size=400).map(lambda b: PNG[:24] + b),
    CSV_ROWS.map(lambda rows: (HEADERS + "\n".join(",".join(r) for r in rows)).encode()),
)
FILE_NAMES = st.one_of(st.just("upload.csv"), st.text(max_size=60))
UPLOADS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _as(app: Flask, email: str, password: str) -> Any:
    from flask import g

    g.pop("_login_user", None)
    client = app.test_client()
    r = client.post("/auth/login", data={"email": email, "password": password})
    assert r.status_code == 302
    return client


def _post_file(client: Any, url: str, field: str, data: bytes, name: str, **form: Any) -> int:
    import io

    from flask import g

    g.pop("_login_user", None)  # the test's app context outlives requests
    r = client.post(
        url,
        data={**form, field: (io.BytesIO(data), name or "upload")},
        content_type="multipart/form-data",
    )
    status: int = r.status_code
    r.close()
    if os.environ.get("FUZZ_SHOW"):
        print("UPLOAD", url, status)
    return status


@UPLOADS
@given(data=st.one_of(UPLOAD_BYTES, STAFF_ROWS), name=FILE_NAMES)
def test_staff_import_upload_never_fails(
    app: Flask, demo: dict[str, str], data: bytes, name: str
) -> None:
    client = _as(app, "manager@example.com", demo["manager@example.com"])
    status = _post_file(client, "/manage/oakview/staff/import", "file", data, name)
    assert status < 500


@UPLOADS
@given(data=UPLOAD_BYTES, name=FILE_NAMES, qr=st.one_of(st.just(""), QR_TEXTS))
def test_transfer_upload_never_fails(
    app: Flask, demo: dict[str, str], data: bytes, name: str, qr: str
) -> None:
    from sqlalchemy import select

    from lms.extensions import db
    from lms.models import User

    learner = db.session.scalar(select(User.id).where(User.email == "learner@example.com"))
    client = _as(app, "manager@example.com", demo["manager@example.com"])
    status = _post_file(
        client, "/manage/oakview/transfers/new", "file", data, name, worker=learner, qr_text=qr
    )
    assert status < 500


@UPLOADS
@given(data=UPLOAD_BYTES, name=FILE_NAMES, anchor=st.text(max_size=60))
def test_trust_list_upload_never_fails(
    app: Flask, demo: dict[str, str], data: bytes, name: str, anchor: str
) -> None:
    client = _as(app, "manager@example.com", demo["manager@example.com"])
    status = _post_file(client, "/manage/oakview/trust-lists", "file", data, name, anchor=anchor)
    assert status < 500


@UPLOADS
@given(data=UPLOAD_BYTES, name=FILE_NAMES)
def test_evidence_upload_never_fails(
    app: Flask, demo: dict[str, str], data: bytes, name: str
) -> None:
    from sqlalchemy import select

    from lms.extensions import db

    models = pytest.importorskip("lms.assess.models", reason="observations not installed")
    observations = pytest.importorskip("lms.observations", reason="observations not installed")
    from lms.models import User

    done = db.session.scalar(select(models.Observation).limit(1))
    assert done is not None, "the demo records an observation"
    mentor = db.session.scalar(select(User).where(User.email == "mentor@example.com"))
    # A draft (the demo's observations are complete, and a complete one takes no evidence).
    draft = observations.start(
        db.session, mentor, done.org_id, done.learner_id, done.module_code, datetime.now(UTC)
    )
    db.session.commit()
    observation = draft.id
    client = _as(app, "mentor@example.com", demo["mentor@example.com"])
    status = _post_file(client, f"/assess/observations/{observation}/evidence", "file", data, name)
    assert status < 500
