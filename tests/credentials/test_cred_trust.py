"""credentials.trust: the signed trust list and its pinned root."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
import pytest

from credentials import (
    TrustedIssuer,
    TrustListError,
    key_thumbprint,
    load_trust_list,
    public_jwk,
    sign_trust_list,
)
from credentials._util import b64url_decode, b64url_encode


def _document(text: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(text)
    return result


def _with_token(token: str) -> str:
    return json.dumps({"type": "CareCredTrustList", "version": 1, "token": token})


def _root_signed(payload: dict[str, Any], kit: Any, **header: Any) -> str:
    """A trust list with an arbitrary payload, properly signed by the pinned root."""
    hdr = {
        "alg": "ES256",
        "typ": "trust-list+jwt",
        "kid": key_thumbprint(kit.ROOT),
        "jwk": public_jwk(kit.ROOT),
        **header,
    }
    return _with_token(pyjwt.encode(payload, kit.ROOT, algorithm="ES256", headers=hdr))


def _payload(kit: Any) -> dict[str, Any]:
    token = _document(kit.TRUST_TEXT)["token"]
    result: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return result


def test_file_format(kit: Any) -> None:
    doc = _document(kit.TRUST_TEXT)
    assert set(doc) == {"type", "version", "token"}
    assert doc["type"] == "CareCredTrustList" and doc["version"] == 1
    header = json.loads(b64url_decode(doc["token"].split(".")[0]))
    assert header == {
        "alg": "ES256",
        "typ": "trust-list+jwt",
        "kid": kit.ANCHOR,
        "jwk": public_jwk(kit.ROOT),
    }
    payload = _payload(kit)
    assert payload["iss"] == "CareCred test trust list"
    assert payload["iat"] == int(kit.LIST_ISSUED.timestamp())
    assert payload["exp"] == int(kit.LIST_EXPIRES.timestamp())
    oakview = payload["issuers"][0]
    assert oakview == {
        "id": "https://lms.example.test/issuers/oakview",
        "name": "Oakview Care Ltd",
        "url": "https://oakview.example.test",
        "keys": [
            {
                "kid": key_thumbprint(kit.A_OLD),
                "jwk": public_jwk(kit.A_OLD),
                "validFrom": "2025-01-01T00:00:00Z",
                "validUntil": "2026-06-01T00:00:00Z",
            },
            {
                "kid": key_thumbprint(kit.A_NEW),
                "jwk": public_jwk(kit.A_NEW),
                "validFrom": "2026-06-01T00:00:00Z",
            },
        ],
    }
    assert "url" not in payload["issuers"][1]


def test_roundtrip(kit: Any) -> None:
    trust = load_trust_list(kit.TRUST_TEXT, kit.ANCHOR, kit.NOW)
    assert trust.name == "CareCred test trust list"
    assert trust.root_thumbprint == kit.ANCHOR
    assert trust.issued_at == kit.LIST_ISSUED
    assert trust.valid_until == kit.LIST_EXPIRES
    assert trust.issuers == kit.TRUSTED_ISSUERS
    found = trust.find_key(key_thumbprint(kit.B_KEY))
    assert found is not None
    assert found[0].id == kit.ISSUER_B.id and found[1].jwk == public_jwk(kit.B_KEY)
    assert trust.find_key(key_thumbprint(kit.ATTACKER)) is None
    assert trust.find_key("") is None
    # bytes input and surrounding whitespace on the anchor are fine
    assert load_trust_list(kit.TRUST_TEXT.encode(), f"  {kit.ANCHOR}\n", kit.NOW) == trust


def test_no_expiry_is_allowed(kit: Any) -> None:
    text = kit.make_trust_text(valid_until=None)
    trust = load_trust_list(text, kit.ANCHOR, datetime(2100, 1, 1, tzinfo=UTC))
    assert trust.valid_until is None
    assert "exp" not in json.loads(b64url_decode(_document(text)["token"].split(".")[1]))


def test_signed_by_another_root_is_untrusted(kit: Any) -> None:
    text = kit.make_trust_text(root=kit.OTHER_ROOT)
    with pytest.raises(TrustListError) as info:
        load_trust_list(text, kit.ANCHOR, kit.NOW)
    assert info.value.code == "trust_list_untrusted_root"
    # ...and it is fine for someone who pins that other root
    assert load_trust_list(text, key_thumbprint(kit.OTHER_ROOT), kit.NOW).issuers


def test_swapping_the_header_key_is_untrusted(kit: Any) -> None:
    """An attacker re-signs a list with their own key but claims the real root's kid."""
    payload = _payload(kit)
    token = pyjwt.encode(
        payload,
        kit.ATTACKER,
        algorithm="ES256",
        headers={"typ": "trust-list+jwt", "kid": kit.ANCHOR, "jwk": public_jwk(kit.ATTACKER)},
    )
    with pytest.raises(TrustListError) as info:
        load_trust_list(_with_token(token), kit.ANCHOR, kit.NOW)
    assert info.value.code == "trust_list_untrusted_root"


@pytest.mark.parametrize("anchor", ["", "x", "A" * 43])
def test_wrong_anchor(kit: Any, anchor: str) -> None:
    with pytest.raises(TrustListError) as info:
        load_trust_list(kit.TRUST_TEXT, anchor, kit.NOW)
    assert info.value.code == "trust_list_untrusted_root"


def test_altered_payload_is_bad_signature(kit: Any) -> None:
    doc = _document(kit.TRUST_TEXT)

    def add_attacker(raw: bytes) -> bytes:
        payload = json.loads(raw)
        payload["issuers"][0]["keys"].append(
            {
                "kid": key_thumbprint(kit.ATTACKER),
                "jwk": public_jwk(kit.ATTACKER),
                "validFrom": "2020-01-01T00:00:00Z",
            }
        )
        return json.dumps(payload).encode()

    doc["token"] = kit.replace_segment(doc["token"], 1, add_attacker)
    with pytest.raises(TrustListError) as info:
        load_trust_list(json.dumps(doc), kit.ANCHOR, kit.NOW)
    assert info.value.code == "trust_list_bad_signature"


def test_altered_signature_is_bad_signature(kit: Any) -> None:
    doc = _document(kit.TRUST_TEXT)
    doc["token"] = kit.replace_segment(doc["token"], 2, lambda s: bytes([s[0] ^ 1]) + s[1:])
    with pytest.raises(TrustListError) as info:
        load_trust_list(json.dumps(doc), kit.ANCHOR, kit.NOW)
    assert info.value.code == "trust_list_bad_signature"


def test_expired_trust_list(kit: Any) -> None:
    with pytest.raises(TrustListError) as info:
        load_trust_list(kit.TRUST_TEXT, kit.ANCHOR, kit.LIST_EXPIRES)
    assert info.value.code == "trust_list_expired"
    assert "expired" in str(info.value)
    load_trust_list(kit.TRUST_TEXT, kit.ANCHOR, kit.LIST_EXPIRES - timedelta(seconds=1))


def test_kid_must_be_the_thumbprint_of_the_jwk(kit: Any) -> None:
    payload = _payload(kit)
    payload["issuers"][1]["keys"][0]["kid"] = key_thumbprint(kit.ATTACKER)
    with pytest.raises(TrustListError) as info:
        load_trust_list(_root_signed(payload, kit), kit.ANCHOR, kit.NOW)
    assert info.value.code == "trust_list_malformed"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.pop("issuers"),
        lambda p: p.pop("iat"),
        lambda p: p.update(iat="yesterday"),
        lambda p: p.update(exp=True),
        lambda p: p.pop("iss"),
        lambda p: p["issuers"][0].pop("name"),
        lambda p: p["issuers"][0]["keys"][0].pop("validFrom"),
        lambda p: p["issuers"][0]["keys"][0].update(validFrom="2025-01-01"),
        lambda p: p["issuers"][0]["keys"][0]["jwk"].update(d="AAAA"),
        lambda p: p["issuers"][0]["keys"][0]["jwk"].update(crv="P-384"),
        lambda p: p["issuers"][0].update(keys="none"),
        lambda p: p["issuers"].append(p["issuers"][0]),  # issuer twice
        lambda p: p["issuers"][1]["keys"].append(p["issuers"][0]["keys"][0]),  # key twice
    ],
)
def test_malformed_payloads(kit: Any, mutate: Any) -> None:
    payload = _payload(kit)
    mutate(payload)
    with pytest.raises(TrustListError) as info:
        load_trust_list(_root_signed(payload, kit), kit.ANCHOR, kit.NOW)
    assert info.value.code == "trust_list_malformed"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '{"type": "CareCredTrustList", "version": 2, "token": "a.b.c"}',
        '{"type": "Other", "version": 1, "token": "a.b.c"}',
        '{"type": "CareCredTrustList", "version": 1, "token": "a.b.c"}',
        '{"type": "CareCredTrustList", "version": 1}',
        '{"type": "CareCredTrustList", "version": 1, "version": 1, "token": "a.b.c"}',
    ],
)
def test_malformed_files(kit: Any, text: str) -> None:
    with pytest.raises(TrustListError) as info:
        load_trust_list(text, kit.ANCHOR, kit.NOW)
    assert info.value.code == "trust_list_malformed"


def test_header_checks(kit: Any) -> None:
    payload = _payload(kit)
    for header in ({"typ": "JWT"}, {"kid": "other"}, {"jwk": None}, {"crit": ["x"]}):
        with pytest.raises(TrustListError) as info:
            load_trust_list(_root_signed(payload, kit, **header), kit.ANCHOR, kit.NOW)
        assert info.value.code in ("trust_list_malformed", "trust_list_untrusted_root")
    # A trust list must be ES256: an HMAC "signed" list is refused before anything else.
    token = pyjwt.encode(
        payload,
        "secret-secret-secret-secret-secret",
        algorithm="HS256",
        headers={"typ": "trust-list+jwt", "jwk": public_jwk(kit.ROOT)},
    )
    with pytest.raises(TrustListError):
        load_trust_list(_with_token(token), kit.ANCHOR, kit.NOW)


def test_too_large(kit: Any) -> None:
    doc = _document(kit.TRUST_TEXT)
    doc["padding"] = "x" * (5 * 1024 * 1024)
    with pytest.raises(TrustListError) as info:
        load_trust_list(json.dumps(doc), kit.ANCHOR, kit.NOW)
    assert info.value.code == "trust_list_malformed"


def test_sign_trust_list_validates_its_input(kit: Any) -> None:
    good = kit.TRUSTED_ISSUERS[1]
    wrong_kid = replace(good, keys=(replace(good.keys[0], kid=key_thumbprint(kit.ATTACKER)),))
    with pytest.raises(TrustListError):
        sign_trust_list("x", [wrong_kid], kit.ROOT, kit.LIST_ISSUED)
    with pytest.raises(TrustListError):
        sign_trust_list("x", [good, good], kit.ROOT, kit.LIST_ISSUED)
    naive = replace(good, keys=(replace(good.keys[0], valid_from=datetime(2025, 1, 1)),))
    with pytest.raises(ValueError):
        sign_trust_list("x", [naive], kit.ROOT, kit.LIST_ISSUED)
    with pytest.raises(ValueError):
        sign_trust_list("x", [good], kit.ROOT, kit.LIST_ISSUED, kit.LIST_ISSUED)
    empty = TrustedIssuer(id="https://x.test/i", name="No keys yet", keys=())
    trust = load_trust_list(
        sign_trust_list("x", [empty], kit.ROOT, kit.LIST_ISSUED), kit.ANCHOR, kit.NOW
    )
    assert trust.issuers == (empty,)


def test_key_window_is_half_open_at_second_precision(kit: Any) -> None:
    key = kit.TRUSTED_ISSUERS[0].keys[0]  # 2025-01-01 .. 2026-06-01
    assert key.may_sign_at(datetime(2025, 1, 1, tzinfo=UTC))
    assert key.may_sign_at(datetime(2026, 5, 31, 23, 59, 59, 999_999, tzinfo=UTC))
    assert not key.may_sign_at(datetime(2026, 6, 1, tzinfo=UTC))
    assert not key.may_sign_at(datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC))
    precise = replace(key, valid_from=datetime(2025, 1, 1, 0, 0, 0, 700_000, tzinfo=UTC))
    assert precise.may_sign_at(datetime(2025, 1, 1, tzinfo=UTC))


def test_b64_helpers_are_strict() -> None:
    assert b64url_encode(b"\xfb\xff") == "-_8"
    assert b64url_decode("-_8") == b"\xfb\xff"
    for bad in ("-_9", "-_8=", "+/8", "A", "AB C"):
        with pytest.raises(ValueError):
            b64url_decode(bad)
