"""credentials.trust version 2: status list pairs, stapled lists, compromised keys, identifiers."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import jwt as pyjwt
import pytest

from credentials import (
    StatusListPair,
    TrustedIssuer,
    TrustListError,
    key_thumbprint,
    load_trust_list,
    public_jwk,
    sign_trust_list,
)
from credentials._util import b64url_decode


def _doc(text: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(text)
    return result


def _part(token: str, index: int) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(b64url_decode(token.split(".")[index]))
    return result


def _root_signed(kit: Any, payload: dict[str, Any], version: int, typ: str) -> str:
    header = {"typ": typ, "kid": kit.ANCHOR, "jwk": public_jwk(kit.ROOT)}
    token = pyjwt.encode(payload, kit.ROOT, algorithm="ES256", headers=header)
    return json.dumps({"type": "CareCredTrustList", "version": version, "token": token})


def _malformed(kit: Any, text: str) -> str:
    with pytest.raises(TrustListError) as info:
        load_trust_list(text, kit.ANCHOR, kit.NOW)
    assert info.value.code == "trust_list_malformed", info.value
    return str(info.value)


def test_v2_file_format(kit: Any) -> None:
    doc = _doc(kit.TRUST_V2_TEXT)
    assert doc["version"] == 2
    header = _part(doc["token"], 0)
    assert header["typ"] == "trust-list-v2+jwt"
    payload = _part(doc["token"], 1)
    oakview = payload["issuers"][0]
    assert oakview["otherIdentifiers"] == [{"name": "CQC provider ID", "value": "1-101010101"}]
    assert oakview["statusLists"] == [
        {"revocation": kit.A_REVOCATION, "suspension": kit.A_SUSPENSION}
    ]
    assert len(payload["statusListCredentials"]) == 4
    assert "compromisedAt" not in json.dumps(payload)


def test_plain_lists_stay_version_1(kit: Any) -> None:
    """Nothing new used: byte-for-byte the version 1 format older verifiers read."""
    doc = _doc(kit.TRUST_TEXT)
    assert doc["version"] == 1
    assert _part(doc["token"], 0)["typ"] == "trust-list+jwt"


def test_v2_roundtrip(kit: Any, trust_v2: Any) -> None:
    assert trust_v2.issuers == kit.STATUS_ISSUERS
    assert trust_v2.issuers[0].other_identifiers == (("CQC provider ID", "1-101010101"),)
    assert set(trust_v2.status_lists) == {
        kit.A_REVOCATION,
        kit.A_SUSPENSION,
        kit.B_REVOCATION,
        kit.B_SUSPENSION,
    }
    suspension = trust_v2.status_lists[kit.A_SUSPENSION]
    assert suspension.purpose == "suspension" and suspension.issuer_id == kit.ISSUER_A.id
    assert trust_v2.declares_status_list(kit.ISSUER_A.id, kit.A_REVOCATION, "revocation")
    assert not trust_v2.declares_status_list(kit.ISSUER_B.id, kit.A_REVOCATION, "revocation")
    assert trust_v2.status_pair(kit.ISSUER_A.id, kit.A_REVOCATION) == StatusListPair(
        kit.A_REVOCATION, kit.A_SUSPENSION
    )
    assert load_trust_list(kit.TRUST_V2_TEXT, kit.ANCHOR, kit.NOW) == trust_v2


def test_compromised_at_roundtrip(kit: Any) -> None:
    when = datetime(2026, 11, 10, 9, 30, tzinfo=UTC)
    oakview = kit.TRUSTED_ISSUERS[0]
    issuers = (
        replace(oakview, keys=(oakview.keys[0], replace(oakview.keys[1], compromised_at=when))),
        kit.TRUSTED_ISSUERS[1],
    )
    text = kit.make_trust_text(issuers=issuers)
    assert _doc(text)["version"] == 2  # a compromise marking needs a v2-aware verifier
    payload = _part(_doc(text)["token"], 1)
    assert payload["issuers"][0]["keys"][1]["compromisedAt"] == "2026-11-10T09:30:00Z"
    trust = load_trust_list(text, kit.ANCHOR, kit.NOW)
    key = trust.issuers[0].keys[1]
    assert key.compromised_at == when
    assert key.is_compromised_at(when) and not key.is_compromised_at(
        datetime(2026, 11, 10, 9, 29, 59, tzinfo=UTC)
    )
    assert trust.issuers[0].keys[0].compromised_at is None


def test_downgrading_the_version_is_refused(kit: Any) -> None:
    """The wrapper's version is not signed, but the token type is: a v2 list relabelled as v1
    is refused, so an old verifier cannot be made to ignore a compromise marking."""
    doc = _doc(kit.TRUST_V2_TEXT)
    doc["version"] = 1
    _malformed(kit, json.dumps(doc))
    doc = _doc(kit.TRUST_TEXT)
    doc["version"] = 2
    _malformed(kit, json.dumps(doc))


def test_v1_list_with_v2_members_is_refused(kit: Any) -> None:
    payload = _part(_doc(kit.TRUST_V2_TEXT)["token"], 1)
    _malformed(kit, _root_signed(kit, payload, 1, "trust-list+jwt"))
    payload.pop("statusListCredentials")
    _malformed(kit, _root_signed(kit, payload, 1, "trust-list+jwt"))
    # the same payload is fine as v2
    assert load_trust_list(_root_signed(kit, payload, 2, "trust-list-v2+jwt"), kit.ANCHOR, kit.NOW)


def test_a_forged_stapled_list_makes_the_trust_list_malformed(kit: Any) -> None:
    forged = kit.replace_segment(kit.make_status_token(), 2, lambda s: bytes([s[0] ^ 1]) + s[1:])
    payload = _part(_doc(kit.TRUST_V2_TEXT)["token"], 1)
    payload["statusListCredentials"][0] = forged
    message = _malformed(kit, _root_signed(kit, payload, 2, "trust-list-v2+jwt"))
    assert "status_list_bad_signature" in message


@pytest.mark.parametrize(
    "stapled",
    [
        lambda kit: [kit.make_status_token(key=kit.ATTACKER)],
        lambda kit: [kit.make_status_token(kit.A_REVOCATION, key=kit.B_KEY, issuer=kit.ISSUER_B)],
        lambda kit: [kit.make_status_token(), kit.make_status_token(set_indexes=[1])],
        lambda kit: ["not a token"],
        lambda kit: [42],
        lambda kit: "not a list",
    ],
)
def test_bad_stapled_lists(kit: Any, stapled: Any) -> None:
    payload = _part(_doc(kit.TRUST_V2_TEXT)["token"], 1)
    payload["statusListCredentials"] = stapled(kit)
    _malformed(kit, _root_signed(kit, payload, 2, "trust-list-v2+jwt"))


def test_sign_trust_list_checks_what_it_staples(kit: Any) -> None:
    with pytest.raises(TrustListError):
        kit.make_trust_v2_text(stapled=[kit.make_status_token(key=kit.ATTACKER)])
    with pytest.raises(TypeError):
        sign_trust_list(
            "x", kit.STATUS_ISSUERS, kit.ROOT, kit.LIST_ISSUED, status_list_tokens="a.b.c"
        )


@pytest.mark.parametrize(
    "issuers",
    [
        # the same URL declared by two issuers
        lambda kit: (
            kit.STATUS_ISSUERS[0],
            replace(kit.STATUS_ISSUERS[1], status_lists=(StatusListPair(kit.A_REVOCATION),)),
        ),
        # revocation and suspension the same list
        lambda kit: (
            replace(
                kit.STATUS_ISSUERS[0],
                status_lists=(StatusListPair(kit.A_REVOCATION, kit.A_REVOCATION),),
            ),
        ),
        lambda kit: (replace(kit.STATUS_ISSUERS[0], status_lists=(StatusListPair("not a url"),)),),
        lambda kit: (
            replace(kit.STATUS_ISSUERS[0], status_lists=(StatusListPair(kit.A_REVOCATION + "#x"),)),
        ),
        lambda kit: (replace(kit.STATUS_ISSUERS[0], other_identifiers=(("CQC provider ID", ""),)),),
    ],
)
def test_sign_refuses_bad_declarations(kit: Any, issuers: Any) -> None:
    with pytest.raises(TrustListError) as info:
        kit.make_trust_v2_text(stapled=[], issuers=issuers(kit))
    assert info.value.code == "trust_list_malformed"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p["issuers"][0].update(statusLists="x"),
        lambda p: p["issuers"][0].update(statusLists=[{"revocation": 5}]),
        lambda p: p["issuers"][0].update(statusLists=[{"revocation": "https://a.test/l", "x": 1}]),
        lambda p: p["issuers"][0].update(otherIdentifiers=[{"name": "CQC"}]),
        lambda p: p["issuers"][0].update(otherIdentifiers={"name": "CQC", "value": "1"}),
        lambda p: p["issuers"][0]["keys"][0].update(compromisedAt="last week"),
        lambda p: p.update(statusListCredentials=["x"] * 1001),
    ],
)
def test_malformed_v2_payloads(kit: Any, mutate: Any) -> None:
    payload = _part(_doc(kit.TRUST_V2_TEXT)["token"], 1)
    mutate(payload)
    _malformed(kit, _root_signed(kit, payload, 2, "trust-list-v2+jwt"))


def test_public_keys_are_parsed_once_per_kid(kit: Any, trust_v2: Any) -> None:
    kid = key_thumbprint(kit.A_NEW)
    first = trust_v2._lookup(kid)
    second = trust_v2._lookup(kid)
    assert first is not None and second is not None
    assert first[2] is second[2]
    assert trust_v2.find_key(kid) == first[:2]
    assert trust_v2._lookup("nope") is None and trust_v2.find_key(None) is None


def test_empty_issuer_still_fine(kit: Any) -> None:
    empty = TrustedIssuer(
        id="https://x.test/i",
        name="No keys yet",
        keys=(),
        status_lists=(StatusListPair("https://x.test/status/1"),),
    )
    text = sign_trust_list("x", [empty], kit.ROOT, kit.LIST_ISSUED)
    assert load_trust_list(text, kit.ANCHOR, kit.NOW).issuers == (empty,)
