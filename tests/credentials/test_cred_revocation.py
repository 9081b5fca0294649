"""verify_token with credential status: revoked, suspended, stale or missing lists, compromised
keys, and several trust lists."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from credentials import (
    VerificationResult,
    key_thumbprint,
    load_status_list,
    load_trust_list,
    verify_token,
)

INDEX = 4711


def _check(result: VerificationResult, code: str) -> None:
    assert result.reason_code == code, (result.reason_code, result.reason)
    assert result.valid is (code == "valid")
    assert result.reason.endswith(".")


def _lists(kit: Any, trust: Any, *tokens: str) -> dict[str, Any]:
    loaded = [load_status_list(t, trust, kit.NOW) for t in tokens]
    return {s.url: s for s in loaded}


@pytest.fixture
def status_token(kit: Any) -> str:
    return kit.make_token(status=kit.entry_a(INDEX))


def test_not_revoked_with_stapled_lists(kit: Any, trust_v2: Any, status_token: str) -> None:
    result = verify_token(status_token, trust_v2, kit.NOW)
    _check(result, "valid")
    assert result.status_checked is True
    assert result.status_as_of == kit.STATUS_ISSUED
    assert result.warnings == ()
    assert result.issuer_identifiers == (("CQC provider ID", "1-101010101"),)
    data = result.to_json()
    assert data["status_checked"] is True
    assert data["status_as_of"] == "2026-11-03T00:00:00Z"
    assert data["warnings"] == []
    assert data["issuer_identifiers"] == [{"name": "CQC provider ID", "value": "1-101010101"}]


def test_revoked(kit: Any, trust_v2: Any, status_token: str) -> None:
    stapled = kit.default_status_tokens(revoked_a=[INDEX])
    trust = load_trust_list(kit.make_trust_v2_text(stapled=stapled), kit.ANCHOR, kit.NOW)
    result = verify_token(status_token, trust, kit.NOW)
    _check(result, "revoked")
    assert "revoked" in result.reason and "no longer valid" in result.reason
    # the signed details are still shown, so the employer knows what was withdrawn
    assert result.learner_name == "Amira Okafor"
    assert result.status_as_of == kit.STATUS_ISSUED
    # other indexes in the same list are unaffected
    other = kit.make_token(status=kit.entry_a(INDEX + 1))
    _check(verify_token(other, trust, kit.NOW), "valid")


def test_suspended_and_reinstated(kit: Any, trust_v2: Any, status_token: str) -> None:
    suspended = _lists(
        kit,
        trust_v2,
        kit.make_status_token(kit.A_REVOCATION, "revocation"),
        kit.make_status_token(kit.A_SUSPENSION, "suspension", [INDEX]),
    )
    result = verify_token(status_token, trust_v2, kit.NOW, status_lists=suspended)
    _check(result, "suspended")
    assert "may be reinstated" in result.reason
    reinstated = _lists(
        kit,
        trust_v2,
        kit.make_status_token(kit.A_REVOCATION, "revocation"),
        kit.make_status_token(
            kit.A_SUSPENSION, "suspension", [], valid_from=datetime(2026, 11, 10, tzinfo=UTC)
        ),
    )
    _check(verify_token(status_token, trust_v2, kit.NOW, status_lists=reinstated), "valid")


def test_revoked_beats_suspended(kit: Any, trust_v2: Any, status_token: str) -> None:
    both = _lists(
        kit,
        trust_v2,
        kit.make_status_token(kit.A_REVOCATION, "revocation", [INDEX]),
        kit.make_status_token(kit.A_SUSPENSION, "suspension", [INDEX]),
    )
    _check(verify_token(status_token, trust_v2, kit.NOW, status_lists=both), "revoked")


def test_stale_status_list_warning(kit: Any, trust_v2: Any, status_token: str) -> None:
    now = kit.STATUS_ISSUED + timedelta(days=45)
    result = verify_token(status_token, trust_v2, now)
    _check(result, "valid")
    assert result.status_checked
    assert result.warnings == (
        "The revocation information is 45 days old (from 3 November 2026); ask the issuer for a "
        "newer trust list.",
    )
    # a more lenient policy: no longer "too old", but the lists' own validUntil has passed
    lenient = verify_token(status_token, trust_v2, now, max_status_age=timedelta(days=60))
    assert lenient.warnings == (
        "The revocation information expired on 3 December 2026 (it is from 3 November 2026); "
        "ask the issuer for a newer trust list.",
    )
    # 30 days exactly is not "too old" (but that is when these lists' own validUntil passes)
    at_limit = verify_token(status_token, trust_v2, kit.STATUS_ISSUED + timedelta(days=30))
    assert not any("days old" in w for w in at_limit.warnings)
    fresh = verify_token(status_token, trust_v2, kit.STATUS_ISSUED + timedelta(days=29))
    assert fresh.warnings == ()


def test_stale_list_still_reports_revocation(kit: Any, status_token: str) -> None:
    stapled = kit.default_status_tokens(revoked_a=[INDEX])
    trust = load_trust_list(kit.make_trust_v2_text(stapled=stapled), kit.ANCHOR, kit.NOW)
    result = verify_token(status_token, trust, kit.STATUS_ISSUED + timedelta(days=90))
    _check(result, "revoked")
    assert result.warnings and "90 days old" in result.warnings[0]


def test_missing_status_list_warning(kit: Any, trust_v2: Any, status_token: str) -> None:
    result = verify_token(status_token, trust_v2, kit.NOW, status_lists={})
    _check(result, "valid")
    assert result.status_checked is False and result.status_as_of is None
    assert result.warnings == (
        "Revocation status could not be checked: no status list for this issuer was provided.",
        "Suspension status could not be checked: no suspension list for this issuer was provided.",
    )
    # a version 1 trust list knows nothing about the certificate's status list
    old = verify_token(status_token, kit.TRUST, kit.NOW)
    _check(old, "valid")
    assert old.warnings == (
        "Revocation status could not be checked: the trust list does not name this "
        "certificate's status list.",
    )


def test_missing_suspension_list_only(kit: Any, trust_v2: Any, status_token: str) -> None:
    revocation_only = _lists(kit, trust_v2, kit.make_status_token())
    result = verify_token(status_token, trust_v2, kit.NOW, status_lists=revocation_only)
    _check(result, "valid")
    assert result.status_checked is True
    assert result.warnings == (
        "Suspension status could not be checked: no suspension list for this issuer was provided.",
    )


def test_a_list_from_another_issuer_is_never_used(kit: Any, trust_v2: Any) -> None:
    """Defence in depth: even if a caller maps Oakview's URL to Riverside's (verified) list,
    the credential's status is not read from it."""
    riverside = trust_v2.status_lists[kit.B_REVOCATION]
    disguised = {kit.A_REVOCATION: replace(riverside, url=kit.A_REVOCATION)}
    token = kit.make_token(status=kit.entry_a(INDEX))
    result = verify_token(token, trust_v2, kit.NOW, status_lists=disguised)
    assert result.status_checked is False
    assert "could not be checked" in result.warnings[0]
    # and a credential pointing at another issuer's list cannot borrow it
    borrowed = kit.make_token(status=kit.status_entry(kit.B_REVOCATION, INDEX))
    result = verify_token(borrowed, trust_v2, kit.NOW)
    _check(result, "valid")
    assert result.status_checked is False
    assert "does not name this certificate's status list" in result.warnings[0]


def test_status_entry_outside_the_list(kit: Any, trust_v2: Any) -> None:
    token = kit.make_token(status=kit.entry_a(131_072))
    result = verify_token(token, trust_v2, kit.NOW)
    _check(result, "valid")
    assert result.status_checked is False
    assert any("outside its status list" in w for w in result.warnings)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.update(statusListIndex="abc"),
        lambda s: s.update(statusListIndex=7),
        lambda s: s.update(statusListIndex="-1"),
        lambda s: s.update(statusListIndex="007"),
        lambda s: s.update(statusSize=2),
        lambda s: s.update(statusListCredential="not a url"),
        lambda s: s.pop("statusPurpose"),
        lambda s: s.update(type=5),
    ],
)
def test_malformed_status_entry(kit: Any, trust_v2: Any, mutate: Any) -> None:
    payload = kit.payload_of(kit.make_token(status=kit.entry_a(INDEX)))
    mutate(payload["credentialStatus"])
    _check(verify_token(kit.signed_payload(payload), trust_v2, kit.NOW), "malformed")


def test_other_status_mechanisms_are_reported_not_trusted(kit: Any, trust_v2: Any) -> None:
    payload = kit.payload_of(kit.make_token())
    payload["credentialStatus"] = {"id": "https://x.test/crl#1", "type": "1EdTechRevocationList"}
    result = verify_token(kit.signed_payload(payload), trust_v2, kit.NOW)
    _check(result, "valid")
    assert result.status_checked is False
    assert result.warnings == (
        "Some status information in this certificate is of a kind this checker cannot read, so "
        "it was not checked.",
    )
    # refresh/message purposes do not affect validity and are not worth a warning
    payload["credentialStatus"] = [
        kit.entry_a(INDEX),
        {**kit.entry_a(INDEX), "statusPurpose": "message"},
    ]
    result = verify_token(kit.signed_payload(payload), trust_v2, kit.NOW)
    _check(result, "valid")
    assert result.status_checked and result.warnings == ()


def test_expired_wins_over_revoked(kit: Any, status_token: str) -> None:
    stapled = kit.default_status_tokens(revoked_a=[INDEX])
    trust = load_trust_list(
        kit.make_trust_v2_text(stapled=stapled, valid_until=None), kit.ANCHOR, kit.NOW
    )
    _check(verify_token(status_token, trust, kit.EXPIRES), "expired")


# --------------------------------------------------------------------------- compromised keys


def _trust_compromised(kit: Any, when: datetime, stapled: list[str] | None = None) -> Any:
    oakview = kit.STATUS_ISSUERS[0]
    keys = tuple(
        replace(k, compromised_at=when) if k.kid == key_thumbprint(kit.A_NEW) else k
        for k in oakview.keys
    )
    issuers = (replace(oakview, keys=keys), kit.STATUS_ISSUERS[1])
    if stapled is None:
        stapled = [kit.make_status_token(valid_from=datetime(2026, 11, 1, tzinfo=UTC))]
    text = kit.make_trust_v2_text(stapled=stapled, issuers=issuers)
    return load_trust_list(text, kit.ANCHOR, kit.NOW)


def test_key_compromised(kit: Any) -> None:
    trust = _trust_compromised(kit, datetime(2026, 11, 10, tzinfo=UTC))
    after = kit.make_token(kit.A_NEW)  # validFrom 2026-11-12: after the compromise
    result = verify_token(after, trust, kit.NOW)
    _check(result, "key_compromised")
    assert "stolen or misused" in result.reason
    at = kit.make_token(kit.A_NEW, valid_from=datetime(2026, 11, 10, tzinfo=UTC))
    _check(verify_token(at, trust, kit.NOW), "key_compromised")
    before = kit.make_token(kit.A_NEW, valid_from=datetime(2026, 11, 9, 23, 59, 59, tzinfo=UTC))
    _check(verify_token(before, trust, kit.NOW), "valid")
    # other keys of the same issuer are unaffected
    old = kit.make_token(
        kit.A_OLD,
        valid_from=datetime(2026, 1, 10, tzinfo=UTC),
        valid_until=datetime(2029, 1, 10, tzinfo=UTC),
    )
    _check(verify_token(old, trust, kit.NOW), "valid")


def test_key_window_beats_compromise(kit: Any) -> None:
    trust = _trust_compromised(kit, datetime(2026, 6, 1, tzinfo=UTC), stapled=[])
    early = kit.make_token(kit.A_NEW, valid_from=datetime(2026, 5, 1, tzinfo=UTC))
    _check(verify_token(early, trust, kit.NOW), "key_not_valid")


# --------------------------------------------------------------------------- several trust lists


def test_valid_if_any_trust_list_vouches(kit: Any, trust_v2: Any, status_token: str) -> None:
    other_text = kit.make_trust_text(issuers=(kit.TRUSTED_ISSUERS[1],), root=kit.OTHER_ROOT)
    other = load_trust_list(other_text, key_thumbprint(kit.OTHER_ROOT), kit.NOW)
    assert verify_token(status_token, other, kit.NOW).reason_code == "unknown_key"
    result = verify_token(status_token, [other, trust_v2], kit.NOW)
    _check(result, "valid")
    assert result.status_checked
    # nobody vouches for the attacker
    _check(verify_token(kit.make_token(kit.ATTACKER), [other, trust_v2], kit.NOW), "unknown_key")
    # the most informative failure is reported
    tampered = kit.replace_segment(status_token, 1, lambda p: p.replace(b"Amira", b"Amina"))
    _check(verify_token(tampered, [other, trust_v2], kit.NOW), "bad_signature")
    with pytest.raises(TypeError):
        verify_token(status_token, [], kit.NOW)
