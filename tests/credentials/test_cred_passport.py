"""credentials.passport: several credentials and their status lists in one file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from credentials import (
    Passport,
    UnreadableInput,
    build_passport,
    read_passport,
    read_tokens,
    verify_passport,
    verify_path,
)

NEWER = datetime(2026, 11, 15, tzinfo=UTC)


@pytest.fixture
def tokens(kit: Any) -> list[str]:
    return [
        kit.make_token(status=kit.entry_a(1)),
        kit.make_token(
            kit.B_KEY,
            issuer=kit.ISSUER_B,
            credential_id="urn:uuid:2a7d9f0e-5b1c-4e8a-9d3f-6c2b1a0e9f87",
            status=kit.status_entry(kit.B_REVOCATION, 2),
        ),
        kit.make_token(credential_id="urn:uuid:3b8e0a1f-6c2d-4f9b-8e4a-7d3c2b1f0a98"),
    ]


def _write(tmp_path: Path, text: str, name: str = "passport.json") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_format_and_roundtrip(kit: Any, tokens: list[str]) -> None:
    lists = [kit.make_status_token(valid_from=NEWER)]
    text = build_passport("Amira Okafor", tokens, lists, kit.NOW)
    document = json.loads(text)
    assert document == {
        "type": "CareCredPassport",
        "version": 1,
        "issuedAt": "2026-11-20T12:00:00Z",
        "holder": {"name": "Amira Okafor"},
        "credentials": tokens,
        "statusLists": lists,
    }
    passport = read_passport(text)
    assert passport == Passport("Amira Okafor", kit.NOW, tuple(tokens), tuple(lists))
    assert read_passport(text.encode()) == passport


def test_every_credential_is_verified(
    kit: Any, trust_v2: Any, tmp_path: Path, tokens: list[str]
) -> None:
    path = _write(tmp_path, build_passport("Amira Okafor", tokens, [], kit.NOW))
    results = verify_path(path, trust_v2, kit.NOW)
    assert [r.source for r in results] == [f"{path}#1", f"{path}#2", f"{path}#3"]
    assert [r.reason_code for r in results] == ["valid", "valid", "valid"]
    assert [r.status_checked for r in results] == [True, True, False]
    assert read_tokens(path) == tokens


def test_tampered_credential_fails_alone(
    kit: Any, trust_v2: Any, tmp_path: Path, tokens: list[str]
) -> None:
    tokens[1] = kit.replace_segment(tokens[1], 1, lambda p: p.replace(b"Amira", b"Amina"))
    path = _write(tmp_path, build_passport("Amira Okafor", tokens, [], kit.NOW))
    results = verify_path(path, trust_v2, kit.NOW)
    assert [r.reason_code for r in results] == ["valid", "bad_signature", "valid"]
    assert results[1].learner_name is None


def test_stapled_newer_list_is_used(
    kit: Any, trust_v2: Any, tmp_path: Path, tokens: list[str]
) -> None:
    """The trust list's lists are from 3 November; the passport brings 15 November's, in which
    Oakview revoked index 1."""
    newer = kit.make_status_token(set_indexes=[1], valid_from=NEWER)
    path = _write(tmp_path, build_passport("Amira Okafor", tokens, [newer], kit.NOW))
    results = verify_path(path, trust_v2, kit.NOW)
    assert [r.reason_code for r in results] == ["revoked", "valid", "valid"]
    assert results[0].status_as_of == kit.STATUS_ISSUED  # the suspension list is still older


def test_stapled_older_list_does_not_override(kit: Any, tmp_path: Path, tokens: list[str]) -> None:
    """An old list (before the revocation) in the passport cannot hide a newer revocation."""
    stapled = kit.default_status_tokens(revoked_a=[1])
    trust = kit.load_trust_list(kit.make_trust_v2_text(stapled=stapled), kit.ANCHOR, kit.NOW)
    older = kit.make_status_token(valid_from=datetime(2026, 10, 1, tzinfo=UTC))
    same_day = kit.make_status_token()  # same validFrom: the trust list's copy wins
    for stale in (older, same_day):
        path = _write(tmp_path, build_passport("Amira Okafor", tokens, [stale], kit.NOW))
        assert verify_path(path, trust, kit.NOW)[0].reason_code == "revoked"


def test_forged_stapled_list_is_ignored_with_a_warning(
    kit: Any, tmp_path: Path, tokens: list[str]
) -> None:
    stapled = kit.default_status_tokens(revoked_a=[1])
    trust = kit.load_trust_list(kit.make_trust_v2_text(stapled=stapled), kit.ANCHOR, kit.NOW)
    genuine = kit.make_status_token(set_indexes=[1], valid_from=NEWER)
    cleared = kit.make_status_token(valid_from=NEWER)
    forged = ".".join(cleared.split(".")[:2] + genuine.split(".")[2:])  # stolen signature
    path = _write(tmp_path, build_passport("Amira Okafor", tokens, [forged], kit.NOW))
    results = verify_path(path, trust, kit.NOW)
    assert results[0].reason_code == "revoked"
    warning = (
        "A status list in this passport could not be verified, so it was ignored "
        "(status list bad signature)."
    )
    assert all(warning in r.warnings for r in results)


def test_stapled_list_from_an_unknown_issuer_is_ignored_quietly(
    kit: Any, trust_v2: Any, tmp_path: Path, tokens: list[str]
) -> None:
    foreign = kit.make_status_token(key=kit.ATTACKER, valid_from=NEWER, set_indexes=[1])
    path = _write(tmp_path, build_passport("Amira Okafor", tokens, [foreign], kit.NOW))
    results = verify_path(path, trust_v2, kit.NOW)
    assert [r.reason_code for r in results] == ["valid", "valid", "valid"]
    assert all(r.warnings == () for r in results)


def test_status_lists_only_from_the_passport(kit: Any, tmp_path: Path, tokens: list[str]) -> None:
    """A trust list with no stapled lists: the passport's (verified) lists are used."""
    trust = kit.load_trust_list(kit.make_trust_v2_text(stapled=[]), kit.ANCHOR, kit.NOW)
    lists = [
        kit.make_status_token(set_indexes=[1]),
        kit.make_status_token(kit.A_SUSPENSION, "suspension"),
    ]
    path = _write(tmp_path, build_passport("Amira Okafor", tokens, lists, kit.NOW))
    results = verify_path(path, trust, kit.NOW)
    assert results[0].reason_code == "revoked"
    assert results[1].warnings == (
        "Revocation status could not be checked: no status list for this issuer was provided.",
        "Suspension status could not be checked: no suspension list for this issuer was provided.",
    )


def test_holder_name_differs(kit: Any, trust_v2: Any, tmp_path: Path, tokens: list[str]) -> None:
    path = _write(tmp_path, build_passport("Jo Bloggs", tokens[:1], [], kit.NOW))
    [result] = verify_path(path, trust_v2, kit.NOW)
    assert result.valid
    assert result.warnings == (
        "This certificate was issued to Amira Okafor, but the passport is in the name of "
        "Jo Bloggs.",
    )
    # case and spacing do not matter
    path = _write(tmp_path, build_passport("  amira   OKAFOR ", tokens[:1], [], kit.NOW))
    assert verify_path(path, trust_v2, kit.NOW)[0].warnings == ()


def test_verify_passport_directly_with_several_trust_lists(
    kit: Any, trust_v2: Any, tokens: list[str]
) -> None:
    other = kit.load_trust_list(
        kit.make_trust_text(issuers=(kit.TRUSTED_ISSUERS[1],), root=kit.OTHER_ROOT),
        kit.key_thumbprint(kit.OTHER_ROOT),
        kit.NOW,
    )
    passport = read_passport(build_passport("Amira Okafor", tokens, [], kit.NOW))
    results = verify_passport(passport, [other, trust_v2], kit.NOW, source="p")
    assert [r.reason_code for r in results] == ["valid", "valid", "valid"]
    assert results[0].source == "p#1"
    only_other = verify_passport(passport, other, kit.NOW)
    assert [r.reason_code for r in only_other] == ["unknown_key", "valid", "unknown_key"]


def _bad(text: str | bytes) -> str:
    with pytest.raises(UnreadableInput) as info:
        read_passport(text)
    return info.value.code


def test_limits_and_malformed_files(kit: Any, tokens: list[str]) -> None:
    good = json.loads(build_passport("Amira Okafor", tokens, [], kit.NOW))

    def variant(**changes: Any) -> str:
        return json.dumps({**good, **changes})

    assert _bad(variant(credentials=tokens * 200)) == "passport_malformed"  # 600 > 500
    assert _bad(variant(credentials=[])) == "passport_malformed"
    assert _bad(variant(credentials="x")) == "passport_malformed"
    assert _bad(variant(credentials=[1])) == "passport_malformed"
    assert _bad(variant(statusLists=["x"] * 101)) == "passport_malformed"
    assert _bad(variant(version=2)) == "passport_malformed"
    assert _bad(variant(version=True)) == "passport_malformed"
    assert _bad(variant(type="CareCredTrustList")) == "passport_malformed"
    assert _bad(variant(holder={})) == "passport_malformed"
    assert _bad(variant(issuedAt="today")) == "passport_malformed"
    assert _bad("[]") == "passport_malformed"
    assert _bad("not json") == "passport_malformed"
    assert _bad('{"type": "CareCredPassport", "type": "CareCredPassport"}') == "passport_malformed"
    assert _bad(" " * (5 * 1024 * 1024 + 1)) == "too_large"
    # 500 is allowed
    assert len(read_passport(variant(credentials=(tokens * 167)[:500])).credentials) == 500


def test_oversized_passport_file(tmp_path: Path, kit: Any, trust_v2: Any) -> None:
    path = tmp_path / "big.json"
    with path.open("wb") as fh:
        fh.write(b"{")
        fh.truncate(5 * 1024 * 1024 + 1)
    with pytest.raises(UnreadableInput) as info:
        verify_path(path, trust_v2, kit.NOW)
    assert info.value.code == "too_large"


def test_a_plain_credential_json_is_not_a_passport(
    kit: Any, trust_v2: Any, tmp_path: Path, token: str
) -> None:
    path = tmp_path / "credential.json"
    path.write_bytes(kit.credential_json(token))
    with pytest.raises(UnreadableInput) as info:
        verify_path(path, trust_v2, kit.NOW)
    assert info.value.code == "passport_malformed"


def test_build_refuses_bad_input(kit: Any, tokens: list[str]) -> None:
    with pytest.raises(ValueError):
        build_passport(" ", tokens, [], kit.NOW)
    with pytest.raises(ValueError):
        build_passport("A", [], [], kit.NOW)
    with pytest.raises(ValueError):
        build_passport("A", tokens * 200, [], kit.NOW)
    with pytest.raises(TypeError):
        build_passport("A", tokens[0], [], kit.NOW)  # type: ignore[arg-type]
    with pytest.raises(UnreadableInput):
        build_passport("A", ["not a token"], [], kit.NOW)
    with pytest.raises(ValueError):
        build_passport("A", tokens, [], datetime(2026, 11, 20))
