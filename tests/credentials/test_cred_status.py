"""credentials.status: the Bitstring Status List bits, the list credential, and loading it."""

from __future__ import annotations

import base64
import gzip
import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from credentials import (
    MIN_ENTRIES,
    StatusBits,
    StatusListError,
    TrustedKey,
    build_status_list_credential,
    key_thumbprint,
    load_status_list,
    load_trust_list,
    sign_status_list,
    status_entry,
)
from credentials._util import b64url_encode

# The example encodedList of the W3C Bitstring Status List v1.0 specification (§2.2): a list of
# 131,072 entries, none set.
SPEC_EXAMPLE = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"


def _encode_raw(data: bytes) -> str:
    return "u" + b64url_encode(gzip.compress(data, mtime=0))


def _code(exc_info: pytest.ExceptionInfo[StatusListError]) -> str:
    assert str(exc_info.value).endswith(".")
    return exc_info.value.code


# --------------------------------------------------------------------------- StatusBits


def test_bit_order_is_left_most_bit_of_first_byte() -> None:
    bits = StatusBits()
    assert bits.size == MIN_ENTRIES == 131_072 == len(bits)
    bits.set(0, True)
    bits.set(7, True)
    bits.set(9, True)
    raw = gzip.decompress(base64.urlsafe_b64decode(bits.encode()[1:] + "=="))
    assert raw[:2] == bytes([0b1000_0001, 0b0100_0000])
    assert len(raw) == 16 * 1024
    assert bits.get(0) and bits.get(7) and bits.get(9)
    assert not bits.get(1) and not bits.get(8)
    assert bits.set_indexes() == [0, 7, 9]
    bits.set(7, False)
    assert bits.set_indexes() == [0, 9]


def test_encode_decode_roundtrip_and_determinism() -> None:
    bits = StatusBits(MIN_ENTRIES * 2)
    for index in (0, 1, 4242, MIN_ENTRIES * 2 - 1):
        bits.set(index, True)
    encoded = bits.encode()
    assert encoded.startswith("u") and "=" not in encoded
    assert encoded == bits.encode()  # no timestamp in the GZIP header
    decoded = StatusBits.decode(encoded)
    assert decoded == bits
    assert decoded.set_indexes() == [0, 1, 4242, MIN_ENTRIES * 2 - 1]
    assert len(StatusBits().encode()) < 200  # an empty 16 KB list is tiny


def test_decodes_the_specification_example() -> None:
    bits = StatusBits.decode(SPEC_EXAMPLE)
    assert bits.size == 131_072
    assert bits.set_indexes() == []


def test_index_and_size_checks() -> None:
    bits = StatusBits()
    for bad in (-1, MIN_ENTRIES):
        with pytest.raises(IndexError):
            bits.get(bad)
        with pytest.raises(IndexError):
            bits.set(bad, True)
    with pytest.raises(TypeError):
        bits.get(True)
    for size in (MIN_ENTRIES - 8, MIN_ENTRIES + 1, 0):
        with pytest.raises(ValueError):
            StatusBits(size)


@pytest.mark.parametrize(
    ("encoded", "code"),
    [
        (SPEC_EXAMPLE[1:], "status_list_malformed"),  # no multibase prefix
        ("z" + SPEC_EXAMPLE[1:], "status_list_malformed"),  # base58btc prefix
        ("u!!!", "status_list_malformed"),
        ("u" + b64url_encode(b"not gzip at all"), "status_list_malformed"),
        ("u" + b64url_encode(gzip.compress(bytes(16384))[:-6]), "status_list_malformed"),
        ("u" + b64url_encode(gzip.compress(bytes(16384)) + b"extra"), "status_list_malformed"),
        (_encode_raw(bytes(1024)), "status_list_length_error"),  # 8,192 entries
        (_encode_raw(bytes(16383)), "status_list_length_error"),
        ("u" + "A" * (1024 * 1024), "status_list_too_large"),
    ],
)
def test_decode_refuses(encoded: str, code: str) -> None:
    with pytest.raises(StatusListError) as info:
        StatusBits.decode(encoded)
    assert _code(info) == code


def test_gzip_bomb_is_stopped_at_the_cap() -> None:
    """1 GB of zeros compresses to about 1 MB of gzip; 200 MB to ~200 KB. Decoding stops at
    2 MB of output, quickly, without inflating the rest."""
    bomb = gzip.compress(bytes(200 * 1024 * 1024), compresslevel=9)
    encoded = "u" + b64url_encode(bomb)
    assert len(encoded) < 1024 * 1024
    started = time.perf_counter()
    with pytest.raises(StatusListError) as info:
        StatusBits.decode(encoded)
    assert _code(info) == "status_list_too_large"
    assert time.perf_counter() - started < 1.0
    # Just under the cap is fine.
    assert StatusBits.decode(_encode_raw(bytes(2 * 1024 * 1024))).size == 16 * 1024 * 1024


# --------------------------------------------------------------------------- the credential


def test_status_entry_shape() -> None:
    assert status_entry("https://lms.example.test/status/1", 94567) == {
        "id": "https://lms.example.test/status/1#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": "https://lms.example.test/status/1",
    }
    for url, index in (
        ("not a url", 1),
        ("https://x.test/list#frag", 1),
        ("https://x.test/l", -1),
        ("https://x.test/l", True),
        ("https://x.test/l", 2**40),
    ):
        with pytest.raises(ValueError):
            status_entry(url, index)


def test_status_list_credential_shape(kit: Any) -> None:
    bits = StatusBits()
    bits.set(3, True)
    credential = build_status_list_credential(
        list_url=kit.A_REVOCATION,
        issuer=kit.ISSUER_A,
        purpose="revocation",
        bits=bits,
        valid_from=datetime(2026, 11, 3, 0, 0, 0, 900_000, tzinfo=UTC),
        valid_until=kit.STATUS_EXPIRES,
    )
    assert credential == {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": kit.A_REVOCATION,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": kit.ISSUER_A.id,
        "validFrom": "2026-11-03T00:00:00Z",
        "validUntil": "2026-12-03T00:00:00Z",
        "credentialSubject": {
            "id": f"{kit.A_REVOCATION}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": bits.encode(),
        },
    }
    with pytest.raises(ValueError):
        build_status_list_credential(
            list_url=kit.A_REVOCATION,
            issuer=kit.ISSUER_A,
            purpose="message",  # type: ignore[arg-type]
            bits=bits,
            valid_from=kit.STATUS_ISSUED,
            valid_until=kit.STATUS_EXPIRES,
        )
    with pytest.raises(ValueError):
        build_status_list_credential(
            list_url=kit.A_REVOCATION,
            issuer=kit.ISSUER_A,
            purpose="revocation",
            bits=bits,
            valid_from=kit.STATUS_EXPIRES,
            valid_until=kit.STATUS_ISSUED,
        )


def test_signed_token_header_and_claims(kit: Any) -> None:
    token = kit.make_status_token()
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "ES256", "typ": "JWT", "kid": key_thumbprint(kit.A_NEW)}
    payload = kit.payload_of(token)
    assert payload["iss"] == kit.ISSUER_A.id
    assert payload["jti"] == kit.A_REVOCATION
    assert payload["nbf"] == int(kit.STATUS_ISSUED.timestamp())
    assert payload["exp"] == int(kit.STATUS_EXPIRES.timestamp())
    with pytest.raises(ValueError):
        sign_status_list(kit.make_credential(), kit.A_NEW)  # not a status list


def test_load_roundtrip(kit: Any, trust_v2: Any) -> None:
    token = kit.make_status_token(kit.A_SUSPENSION, "suspension", [5, 99_999])
    status_list = load_status_list(token, trust_v2, kit.NOW)
    assert status_list.url == kit.A_SUSPENSION
    assert status_list.purpose == "suspension"
    assert status_list.issuer_id == kit.ISSUER_A.id
    assert status_list.valid_from == kit.STATUS_ISSUED
    assert status_list.valid_until == kit.STATUS_EXPIRES
    assert status_list.bits.set_indexes() == [5, 99_999]
    assert status_list.is_set(5) and not status_list.is_set(6)
    assert status_list.token == token


# --------------------------------------------------------------------------- attacks


def _load_code(token: str, trust: Any, now: datetime) -> str:
    with pytest.raises(StatusListError) as info:
        load_status_list(token, trust, now)
    return _code(info)


def test_forged_status_list_changed_byte(kit: Any, trust_v2: Any) -> None:
    """The issuer revoked index 7; an attacker flips the bit back and keeps the signature."""
    token = kit.make_status_token(set_indexes=[7])
    cleared = StatusBits().encode()

    def clear(raw: bytes) -> bytes:
        payload = json.loads(raw)
        payload["credentialSubject"]["encodedList"] = cleared
        return json.dumps(payload, separators=(",", ":")).encode()

    forged = kit.replace_segment(token, 1, clear)
    assert _load_code(forged, trust_v2, kit.NOW) == "status_list_bad_signature"
    flipped = kit.replace_segment(token, 2, lambda s: bytes([s[0] ^ 1]) + s[1:])
    assert _load_code(flipped, trust_v2, kit.NOW) == "status_list_bad_signature"


def test_status_list_signed_by_another_issuers_key(kit: Any, trust_v2: Any) -> None:
    """Riverside's (trusted) key signs a list for Oakview's URL."""
    # claiming to be Oakview: the key belongs to Riverside
    claimed = kit.make_status_token(kit.A_REVOCATION, key=kit.B_KEY, issuer=kit.ISSUER_A)
    assert _load_code(claimed, trust_v2, kit.NOW) == "status_list_issuer_mismatch"
    # honest about being Riverside, but at Oakview's URL: Riverside does not declare that URL
    own = kit.make_status_token(kit.A_REVOCATION, key=kit.B_KEY, issuer=kit.ISSUER_B)
    assert _load_code(own, trust_v2, kit.NOW) == "status_list_not_declared"


def test_purpose_must_match_the_declaration(kit: Any, trust_v2: Any) -> None:
    swapped = kit.make_status_token(kit.A_REVOCATION, "suspension")
    assert _load_code(swapped, trust_v2, kit.NOW) == "status_list_not_declared"


def test_unknown_key_and_other_algorithms(kit: Any, trust_v2: Any) -> None:
    attacker = kit.make_status_token(key=kit.ATTACKER)
    assert _load_code(attacker, trust_v2, kit.NOW) == "status_list_unknown_key"
    token = kit.make_status_token()
    for alg in ("none", "HS256", "ES384", None):
        header: dict[str, Any] = {"alg": alg, "typ": "JWT", "kid": key_thumbprint(kit.A_NEW)}
        if alg is None:
            del header["alg"]
        changed = kit.replace_segment(token, 0, lambda _, h=header: json.dumps(h).encode())
        assert _load_code(changed, trust_v2, kit.NOW) == "status_list_unsupported_algorithm"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.update(type=["VerifiableCredential"]),
        lambda p: p.update({"@context": ["https://www.w3.org/2018/credentials/v1"]}),
        lambda p: p["credentialSubject"].update(statusPurpose="message"),
        lambda p: p["credentialSubject"].update(type="Other"),
        lambda p: p["credentialSubject"].pop("encodedList"),
        lambda p: p.update(validFrom="yesterday"),
        lambda p: p.update(id="not a url"),
        lambda p: p.pop("issuer"),
    ],
)
def test_malformed_signed_contents(kit: Any, trust_v2: Any, mutate: Any) -> None:
    payload = kit.payload_of(kit.make_status_token())
    mutate(payload)
    assert _load_code(kit.signed_payload(payload), trust_v2, kit.NOW) == "status_list_malformed"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.update(jti="https://lms.example.test/status/other"),
        lambda p: p.update(iss="https://elsewhere.test"),
        lambda p: p.update(nbf=p["nbf"] - 86400),
        lambda p: p.update(exp=p["exp"] + 86400),
        lambda p: p.pop("exp"),
        lambda p: p.update(sub="someone"),
    ],
)
def test_claims_mismatch(kit: Any, trust_v2: Any, mutate: Any) -> None:
    payload = kit.payload_of(kit.make_status_token())
    mutate(payload)
    code = _load_code(kit.signed_payload(payload), trust_v2, kit.NOW)
    assert code == "status_list_claims_mismatch"


def test_gzip_bomb_in_signed_encoded_list(kit: Any, trust_v2: Any) -> None:
    """The issuer's own (trusted) key signs a list whose encodedList is a gzip bomb."""
    payload = kit.payload_of(kit.make_status_token())
    bomb = gzip.compress(bytes(64 * 1024 * 1024), compresslevel=9)
    payload["credentialSubject"]["encodedList"] = "u" + b64url_encode(bomb)
    token = kit.signed_payload(payload)
    assert _load_code(token, trust_v2, kit.NOW) == "status_list_too_large"


def test_short_signed_list_is_a_length_error(kit: Any, trust_v2: Any) -> None:
    payload = kit.payload_of(kit.make_status_token())
    payload["credentialSubject"]["encodedList"] = _encode_raw(bytes(100))
    token = kit.signed_payload(payload)
    assert _load_code(token, trust_v2, kit.NOW) == "status_list_length_error"


def test_key_window_and_compromise(kit: Any) -> None:
    # A_OLD may sign only until 2026-06-01.
    old = kit.make_status_token(key=kit.A_OLD)
    assert _load_code(old, kit.TRUST_V2, kit.NOW) == "status_list_key_not_valid"
    in_window = kit.make_status_token(
        key=kit.A_OLD,
        valid_from=datetime(2026, 5, 1, tzinfo=UTC),
        valid_until=datetime(2026, 6, 1, tzinfo=UTC),
    )
    assert load_status_list(in_window, kit.TRUST_V2, kit.NOW).bits.size == MIN_ENTRIES

    # A_NEW marked compromised on 2026-11-02: a list dated 2026-11-03 fails, 2026-11-01 passes.
    compromised = _trust_with_compromised_a_new(kit, datetime(2026, 11, 2, tzinfo=UTC))
    after = kit.make_status_token()
    assert _load_code(after, compromised, kit.NOW) == "status_list_key_compromised"
    at_the_moment = kit.make_status_token(valid_from=datetime(2026, 11, 2, tzinfo=UTC))
    assert _load_code(at_the_moment, compromised, kit.NOW) == "status_list_key_compromised"
    before = kit.make_status_token(valid_from=datetime(2026, 11, 1, tzinfo=UTC))
    assert load_status_list(before, compromised, kit.NOW).valid_from.day == 1


def _trust_with_compromised_a_new(kit: Any, when: datetime) -> Any:
    oakview = kit.STATUS_ISSUERS[0]
    keys = tuple(
        replace(k, compromised_at=when) if k.kid == key_thumbprint(kit.A_NEW) else k
        for k in oakview.keys
    )
    assert all(isinstance(k, TrustedKey) for k in keys)
    issuers = (replace(oakview, keys=keys), kit.STATUS_ISSUERS[1])
    text = kit.make_trust_v2_text(stapled=[], issuers=issuers)
    return load_trust_list(text, kit.ANCHOR, kit.NOW)


def test_v1_trust_list_declares_no_status_lists(kit: Any, trust: Any) -> None:
    assert _load_code(kit.make_status_token(), trust, kit.NOW) == "status_list_not_declared"


def test_garbage_token(kit: Any, trust_v2: Any) -> None:
    for junk in ("", "a.b.c", "not a token", 42):
        assert _load_code(junk, trust_v2, kit.NOW) == "status_list_malformed"
    with pytest.raises(ValueError):
        load_status_list(kit.make_status_token(), trust_v2, datetime(2026, 11, 20))
