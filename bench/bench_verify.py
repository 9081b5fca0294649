"""Benchmark: offline credential verification, side by side with bare JOSE and raw ECDSA.

Run::

    .venv/bin/python bench/bench_verify.py [--json FILE] [--tokens 2000] [--rounds 7] [--cpu N]

Everything runs in this process, pinned to one CPU (``--cpu``, default: the last CPU this
process may use), on the same tokens:

``verify_per_s``
    :func:`credentials.verify_token` on ~2,000 VC-JWTs from four issuers (five keys): strict
    parsing, ``alg``/``typ`` checks, key lookup by ``kid`` in a signed trust list, the ES256
    signature, OB 3.0 contents and claims, issuer binding, key window and compromise, dates,
    and the revocation *and* suspension bits from the status lists stapled to the trust list.
``jwt_decode_per_s``
    ``jwt.decode(token, key, algorithms=["ES256"])`` (PyJWT) of the same tokens with the
    public key object already built: signature, JSON and PyJWT's default ``exp``/``nbf``/``iat``
    claim checks only.
``raw_ecdsa_per_s``
    ``cryptography``'s ``EllipticCurvePublicKey.verify`` on the same signing inputs, with the
    DER signatures prepared in advance: the floor no JOSE library can go below.
``passport50_ms``
    :func:`credentials.verify_path` on a 50-credential passport file carrying four status
    lists: read and parse the file, verify each stapled status list against the trust list,
    then verify the 50 credentials. Baseline: 50 bare ``jwt.decode`` calls.

Each round times every method once over all tokens, interleaved, and the best round of each
is kept (the usual way to measure a noisy shared machine). With ``--json FILE`` a list of
``{"name", "value", "unit", "baseline", "baseline_value", "ratio"}`` objects is written;
``ratio`` is always "times better than the baseline" (``value / baseline`` for rates,
``baseline / value`` for times).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from credentials import (  # imported after the path set-up, so this checkout is used
    AchievementSpec,
    Alignment,
    IssuerProfile,
    StatusBits,
    StatusListPair,
    TrustedIssuer,
    TrustedKey,
    TrustList,
    build_credential,
    build_passport,
    build_status_list_credential,
    generate_signing_key,
    key_thumbprint,
    load_trust_list,
    public_jwk,
    sign_credential,
    sign_status_list,
    sign_trust_list,
    status_entry,
    verify_path,
    verify_token,
)
from credentials._util import b64url_decode

TARGET_RATE = 5000.0
TARGET_RATIO = 1.3
PASSPORT_SIZE = 50
HOLDER = "Amira Okafor-Nkemdirim"
_ECDSA = ec.ECDSA(hashes.SHA256())


class World:
    """Four issuers (one with a retired and a current key), their status lists, a trust list."""

    def __init__(self, now: datetime, count: int, seed: int = 20261120) -> None:
        rng = random.Random(seed)
        self.now = now
        self.root = generate_signing_key()
        start = now - timedelta(days=720)
        names = ("Oakview Care", "Riverside Homecare", "Hillcrest Nursing", "Meadow Lane Support")
        issuers: list[TrustedIssuer] = []
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        signers: list[tuple[IssuerProfile, ec.EllipticCurvePrivateKey, str]] = []
        stapled: list[str] = []
        for n, name in enumerate(names):
            slug = name.lower().replace(" ", "-")
            profile = IssuerProfile(id=f"https://lms.bench.test/issuers/{slug}", name=name)
            current = generate_signing_key()
            keys = [TrustedKey(key_thumbprint(current), public_jwk(current), start, None)]
            if n == 0:
                retired = generate_signing_key()
                keys.insert(
                    0,
                    TrustedKey(
                        key_thumbprint(retired),
                        public_jwk(retired),
                        start - timedelta(days=700),
                        start,
                    ),
                )
            revocation = f"https://lms.bench.test/status/{slug}/revocation/1"
            suspension = f"https://lms.bench.test/status/{slug}/suspension/1"
            issuers.append(
                TrustedIssuer(
                    id=profile.id,
                    name=f"{name} Ltd",
                    keys=tuple(keys),
                    status_lists=(StatusListPair(revocation, suspension),),
                    other_identifiers=(("CQC provider ID", f"1-{100000000 + n}"),),
                )
            )
            self.keys[key_thumbprint(current)] = current
            signers.append((profile, current, revocation))
            for url, purpose in ((revocation, "revocation"), (suspension, "suspension")):
                bits = StatusBits()
                for index in rng.sample(range(100_000, 131_072), 40):  # others, not ours
                    bits.set(index, True)
                credential = build_status_list_credential(
                    list_url=url,
                    issuer=profile,
                    purpose=purpose,  # type: ignore[arg-type]
                    bits=bits,
                    valid_from=now - timedelta(days=2),
                    valid_until=now + timedelta(days=28),
                )
                stapled.append(sign_status_list(credential, current))
        self.status_tokens = stapled
        self.trust_text = sign_trust_list(
            "Benchmark trust list",
            issuers,
            self.root,
            now - timedelta(days=1),
            now + timedelta(days=365),
            status_list_tokens=stapled,
        )
        self.trust: TrustList = load_trust_list(self.trust_text, key_thumbprint(self.root), now)
        self.tokens: list[str] = []
        self.token_keys: list[ec.EllipticCurvePublicKey] = []
        for i in range(count):
            profile, key, revocation = signers[i % len(signers)]
            credential = build_credential(
                credential_id=f"urn:uuid:{rng.getrandbits(128):032x}",
                issuer=profile,
                achievement=_ACHIEVEMENTS[i % len(_ACHIEVEMENTS)],
                # the first PASSPORT_SIZE belong to one worker: they make up the passport
                learner_name=(
                    HOLDER if i < PASSPORT_SIZE else f"Learner {i:05d} {rng.choice(_SURNAMES)}"
                ),
                learner_email=f"learner{i}@example.org",
                salt=f"{rng.getrandbits(128):032x}",
                valid_from=now - timedelta(days=1, seconds=i),
                valid_until=now + timedelta(days=3 * 365),
                activity_end=now - timedelta(days=1, seconds=i),
                status=status_entry(revocation, rng.randrange(0, 100_000)),
            )
            self.tokens.append(sign_credential(credential, key))
            self.token_keys.append(key.public_key())


_SURNAMES = ("Okafor", "Kowalczyk", "Nguyen", "O'Brien", "Fitzgerald-Adebayo", "Smith")
_ACHIEVEMENTS = tuple(
    AchievementSpec(
        id=f"https://lms.bench.test/achievements/{code}/v2",
        name=name,
        description="What the law asks of you and your employer, and how to keep people safe.",
        criteria="Read all lessons and passed the knowledge quiz with at least 80%.",
        version="2",
        human_code=code,
        alignments=(
            Alignment(name, "https://www.skillsforcare.org.uk/ascwds", "ASC-WDS training category"),
            Alignment(
                f"Standard {n + 1}",
                "https://www.skillsforcare.org.uk/care-certificate",
                "Care Certificate (2025)",
            ),
        ),
    )
    for n, (code, name) in enumerate(
        (
            ("HSA-01", "Health and safety awareness"),
            ("SAF-02", "Safeguarding adults"),
            ("IPC-01", "Infection prevention and control"),
            ("MED-03", "Safe handling of medicines"),
        )
    )
)


def _pin(cpu: int | None) -> str:
    affinity = getattr(os, "sched_setaffinity", None)
    if affinity is None:
        return "not pinned (no sched_setaffinity)"
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[-1] if cpu is None else cpu
    affinity(0, {chosen})
    return f"pinned to CPU {chosen} of {len(allowed)}"


def _best_of(rounds: int, methods: dict[str, Callable[[], object]]) -> dict[str, float]:
    best = {name: float("inf") for name in methods}
    for _ in range(rounds):
        for name, run in methods.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def run(count: int, rounds: int, cpu: int | None) -> tuple[list[dict[str, Any]], list[str]]:
    pinned = _pin(cpu)
    now = datetime.now(UTC).replace(microsecond=0)
    setup_started = time.perf_counter()
    world = World(now, count)
    tokens, trust = world.tokens, world.trust

    # Correctness first: every token must pass every check, or the timing means nothing.
    for token in tokens:
        result = verify_token(token, trust, now)
        if not (result.valid and result.status_checked and not result.warnings):
            raise SystemExit(f"benchmark token did not verify: {result.reason_code}")
    pairs = list(zip(tokens, world.token_keys, strict=True))
    for token, key in pairs[:50]:
        jwt.decode(token, key, algorithms=["ES256"])
    raw: list[tuple[ec.EllipticCurvePublicKey, bytes, bytes]] = []
    for token, key in pairs:
        signing_input, _, signature_b64 = token.rpartition(".")
        signature = b64url_decode(signature_b64)
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        raw.append((key, der, signing_input.encode("ascii")))

    with tempfile.TemporaryDirectory() as tmp:
        passport = Path(tmp) / "passport.json"
        passport.write_text(
            build_passport(HOLDER, tokens[:PASSPORT_SIZE], world.status_tokens, now)
        )
        checked = verify_path(passport, trust, now)
        if len(checked) != PASSPORT_SIZE or not all(r.valid and not r.warnings for r in checked):
            raise SystemExit("benchmark passport did not verify")
        setup = time.perf_counter() - setup_started

        def ours() -> None:
            for token in tokens:
                verify_token(token, trust, now)

        def pyjwt_decode() -> None:
            for token, key in pairs:
                jwt.decode(token, key, algorithms=["ES256"])

        def raw_ecdsa() -> None:
            for key, der, message in raw:
                key.verify(der, message, _ECDSA)

        def passport50() -> None:
            verify_path(passport, trust, now)

        best = _best_of(
            rounds,
            {"ours": ours, "jwt": pyjwt_decode, "raw": raw_ecdsa, "passport": passport50},
        )

    verify_rate = count / best["ours"]
    jwt_rate = count / best["jwt"]
    raw_rate = count / best["raw"]
    passport_ms = best["passport"] * 1000
    jwt50_ms = PASSPORT_SIZE / jwt_rate * 1000
    records: list[dict[str, Any]] = [
        {
            "name": "verify_per_s",
            "value": round(verify_rate, 1),
            "unit": "verifications/s",
            "baseline": "jwt_decode_per_s",
            "baseline_value": round(jwt_rate, 1),
            "ratio": round(verify_rate / jwt_rate, 3),
        },
        {
            "name": "passport50_ms",
            "value": round(passport_ms, 2),
            "unit": "ms",
            "baseline": "jwt_decode_50_ms",
            "baseline_value": round(jwt50_ms, 2),
            "ratio": round(jwt50_ms / passport_ms, 3),
        },
        {
            "name": "raw_ecdsa_per_s",
            "value": round(raw_rate, 1),
            "unit": "verifications/s",
            "baseline": "verify_per_s",
            "baseline_value": round(verify_rate, 1),
            "ratio": round(raw_rate / verify_rate, 3),
        },
    ]
    notes = [
        f"{count} tokens from 4 issuers (5 keys), {rounds} interleaved rounds, best round kept; "
        f"{pinned}; Python {sys.version.split()[0]}; setup {setup:.1f} s",
    ]
    return records, notes


def _table(records: Sequence[dict[str, Any]], notes: Sequence[str]) -> str:
    rate = {r["name"]: r for r in records}
    verify, passport, raw = rate["verify_per_s"], rate["passport50_ms"], rate["raw_ecdsa_per_s"]
    us = 1e6 / verify["value"]
    lines = [
        f"{'measure':<44}{'value':>14}  {'per item':>10}",
        f"{'-' * 44}{'-' * 14}  {'-' * 10}",
        f"{'full offline verify_token (all checks)':<44}{verify['value']:>10,.0f} /s  "
        f"{us:>7.1f} us",
        f"{'bare jwt.decode, key pre-built':<44}{verify['baseline_value']:>10,.0f} /s  "
        f"{1e6 / verify['baseline_value']:>7.1f} us",
        f"{'raw cryptography ECDSA verify':<44}{raw['value']:>10,.0f} /s  "
        f"{1e6 / raw['value']:>7.1f} us",
        f"{'50-credential passport (verify_path)':<44}{passport['value']:>11.2f} ms  "
        f"{passport['value'] * 1000 / PASSPORT_SIZE:>7.1f} us",
        "",
        f"verify_token / jwt.decode: {verify['ratio']:.2f}x (target >= {TARGET_RATIO}x)  "
        f"{'PASS' if verify['ratio'] >= TARGET_RATIO else 'FAIL'}",
        f"verify_token rate: {verify['value']:,.0f}/s (target >= {TARGET_RATE:,.0f}/s)  "
        f"{'PASS' if verify['value'] >= TARGET_RATE else 'FAIL'}",
        f"passport of 50 vs 50 bare jwt.decode calls: {passport['ratio']:.2f}x",
        *notes,
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--tokens", type=int, default=2000, help="tokens to verify (2000)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (7)")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to")
    args = parser.parse_args(argv)
    if args.tokens < PASSPORT_SIZE or args.rounds < 1:
        parser.error(f"--tokens must be at least {PASSPORT_SIZE} and --rounds at least 1")
    records, notes = run(args.tokens, args.rounds, args.cpu)
    print(_table(records, notes))
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
