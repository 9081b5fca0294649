"""Issuing credentials: keys per organisation, the OB 3.0 credential, the trust list.

Application service between `courses` (what was learned) and `credentials` (how it is signed).
Takes the session, the key-encryption secret and the clock as parameters; never commits.
"""

from __future__ import annotations

import base64
import random
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from courses.frameworks import ASCWDS_URL, CARE_CERTIFICATE_2025, CARE_CERTIFICATE_URL
from courses.models import CatalogueModule
from credentials import (
    AchievementSpec,
    Alignment,
    Evidence,
    IssuerProfile,
    ResultDescription,
    StatusListPair,
    SubjectResult,
    TrustedIssuer,
    TrustedKey,
    build_credential,
    encode_qr,
    generate_signing_key,
    key_thumbprint,
    public_jwk,
    sign_credential,
    sign_trust_list,
    status_entry,
    unwrap_private_key,
    wrap_private_key,
)

from . import audit
from .models import Completion, IssuedCredential, KeyPurpose, Organisation, SigningKey, User


@dataclass(frozen=True)
class IssuanceContext:
    """What issuing needs from configuration."""

    key_encryption_key: str
    base_url: str
    instance_name: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> IssuanceContext:
        return cls(config["KEY_ENCRYPTION_KEY"], config["BASE_URL"], config["INSTANCE_NAME"])


def _new_key(
    session: Session,
    ctx: IssuanceContext,
    purpose: KeyPurpose,
    org: Organisation | None,
    now: datetime,
) -> tuple[SigningKey, ec.EllipticCurvePrivateKey]:
    private = generate_signing_key()
    # Key windows start on a whole second: credentials and trust lists carry whole seconds.
    now = now.replace(microsecond=0)
    row = SigningKey(
        purpose=purpose.value,
        org_id=org.id if org is not None else None,
        kid=key_thumbprint(private),
        public_jwk=public_jwk(private),
        private_key_wrapped=wrap_private_key(private, ctx.key_encryption_key),
        valid_from=now,
        valid_until=None,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, private


def _active_key(
    session: Session, purpose: KeyPurpose, org_id: int | None, now: datetime
) -> SigningKey | None:
    query = select(SigningKey).where(
        SigningKey.purpose == purpose.value,
        SigningKey.compromised_at.is_(None),  # never sign with a key that may have leaked
        SigningKey.valid_from <= now,
        or_(SigningKey.valid_until.is_(None), SigningKey.valid_until > now),
    )
    query = query.where(
        SigningKey.org_id.is_(None) if org_id is None else SigningKey.org_id == org_id
    )
    return session.scalar(
        query.order_by(SigningKey.valid_from.desc(), SigningKey.id.desc()).limit(1)
    )


def issuer_key(
    session: Session, ctx: IssuanceContext, org: Organisation, now: datetime
) -> tuple[SigningKey, ec.EllipticCurvePrivateKey]:
    """The organisation's current signing key, created on first use.

    Creating one takes the audit chain's lock first and looks again, so two first issuances at
    the same moment create one key, not two.
    """
    row = _active_key(session, KeyPurpose.ISSUER, org.id, now)
    if row is None:
        audit.lock_chain(session)
        row = _active_key(session, KeyPurpose.ISSUER, org.id, now)
    if row is None:
        return _new_key(session, ctx, KeyPurpose.ISSUER, org, now)
    return row, unwrap_private_key(row.private_key_wrapped, ctx.key_encryption_key)


def root_key(
    session: Session, ctx: IssuanceContext, now: datetime
) -> tuple[SigningKey, ec.EllipticCurvePrivateKey]:
    """The instance's trust-list root key, created on first use."""
    row = _active_key(session, KeyPurpose.ROOT, None, now)
    if row is None:
        return _new_key(session, ctx, KeyPurpose.ROOT, None, now)
    return row, unwrap_private_key(row.private_key_wrapped, ctx.key_encryption_key)


def issuer_profile(org: Organisation, base_url: str) -> IssuerProfile:
    return IssuerProfile(id=f"{base_url}/issuers/{org.slug}", name=org.name, url=base_url)


def alignments_for(module: CatalogueModule, base_url: str) -> tuple[Alignment, ...]:
    out = [
        Alignment(
            target_name=module.ascwds_category,
            target_url=ASCWDS_URL,
            target_framework="ASC-WDS training categories",
            target_type="ext:ASCWDSTrainingCategory",
        )
    ]
    cc = module.care_certificate
    if cc:
        for number in cc["standards"]:
            out.append(
                Alignment(
                    target_name=f"Standard {number}: {CARE_CERTIFICATE_2025[number]}",
                    target_url=CARE_CERTIFICATE_URL,
                    target_framework=f"Care Certificate ({cc['version']})",
                    target_code=f"CC{cc['version']}-{number:02d}",
                    target_type="ext:CareCertificateStandard",
                )
            )
    if module.cstf_subject:
        out.append(
            Alignment(
                target_name=module.cstf_subject,
                target_url="https://www.skillsforhealth.org.uk/",
                target_framework="Core Skills Training Framework",
                target_type="ext:CSTFSubject",
            )
        )
    return tuple(out)


METHOD_NAMES = {
    "direct_observation": "direct observation",
    "simulation": "simulation",
    "witness_testimony": "witness testimony",
    "professional_discussion": "professional discussion",
    "questioning": "questioning",
}
AWARD_CRITERIA = (
    "Awarded by the registered manager when every knowledge and performance criterion of all "
    "16 standards was evidenced"
)


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def observation_result_id(module: CatalogueModule, base_url: str) -> str:
    return f"{base_url}/achievements/{module.code}/v{module.version}#observed-practice"


def achievement_for(module: CatalogueModule, base_url: str) -> AchievementSpec:
    """The achievement of a module version; its criteria say what was really required."""
    achievement_id = f"{base_url}/achievements/{module.code}/v{module.version}"
    if module.delivery == "award":
        return AchievementSpec(
            id=achievement_id,
            name=module.title,
            description=module.summary,
            criteria=AWARD_CRITERIA
            + (
                f" (Care Certificate {module.care_certificate['version']})."
                if module.care_certificate
                else "."
            ),
            achievement_type="Certificate",
            version=str(module.version),
            human_code=module.code,
            alignments=alignments_for(module, base_url),
        )
    lessons = len(module.lessons)
    parts = [
        f"Read all {lessons} lessons of {module.title} (version {module.version}) and passed its "
        f"knowledge quiz with at least {module.pass_mark}% on questions drawn from every "
        "learning outcome: " + "; ".join(o["text"] for o in module.outcomes) + "."
    ]
    spec = module.observation or {}
    results: tuple[ResultDescription, ...] = ()
    if spec:
        methods = [METHOD_NAMES.get(m, m) for m in spec.get("methods", ["direct_observation"])]
        signers = "the assessor and the learner"
        if spec.get("manager_signoff"):
            signers = "the assessor, the learner and a manager"
        kind = "Then" if spec.get("required", True) else "Where observed,"
        parts.append(
            f"{kind} an assessor in the employer's organisation observed the learner's practice "
            f"by {_or_list(methods)}"
            + (
                ""
                if spec.get("simulation_allowed")
                else ", in real work (simulation does not count)"
            )
            + f", and found every one of its {len(spec.get('criteria', []))} criteria met or not "
            f"applicable; the record was signed by {signers}."
        )
        results = (
            ResultDescription(
                id=observation_result_id(module, base_url),
                name="Observed practice",
                result_type="Status",
            ),
        )
    return AchievementSpec(
        id=achievement_id,
        name=module.title,
        description=module.summary,
        criteria=" ".join(parts),
        achievement_type="CertificateOfCompletion",
        version=str(module.version),
        human_code=module.code,
        alignments=alignments_for(module, base_url),
        result_descriptions=results,
    )


def observation_evidence(
    session: Session, completion: Completion, base_url: str
) -> tuple[tuple[Evidence, ...], tuple[SubjectResult, ...]]:
    """How competence was shown, for the credential: method, assessor name and role, date.

    Only words: never the learner's e-mail, never an uploaded file or a link to one, and never
    the assessor's free-text setting (it can name a home, a room or a person who uses services,
    and a signed credential travels with the worker for ever).
    """
    from .assess.models import METHOD_LABELS, Observation

    obs = session.scalar(select(Observation).where(Observation.completion_id == completion.id))
    module = completion.module
    if obs is None or obs.method is None or obs.observed_on is None or not module.observation:
        return (), ()
    method = METHOD_LABELS.get(obs.method, obs.method)
    when = f"{obs.observed_on.day} {obs.observed_on:%B %Y}"
    role = obs.assessor_role or "assessor"
    results = obs.results()
    met = sum(1 for r in results.values() if r == "met")
    na = sum(1 for r in results.values() if r == "na")
    signed = ", ".join(
        {"assessor": "assessor", "witness": "witness", "learner": "learner", "manager": "manager"}[
            s.kind
        ]
        for s in obs.signatures
    )
    narrative = (
        f"{method} of practice on {when} by {obs.assessor.name} ({role}). "
        f"{met} criteria met" + (f", {na} not applicable" if na else "") + ". "
        f"Signed by: {signed}."
    )
    evidence = Evidence(
        id=f"urn:uuid:{uuid.uuid4()}",
        name=f"Observed practice: {module.title}",
        description=f"Assessed by {method.lower()} on {obs.observed_on.isoformat()}; "
        f"assessor {obs.assessor.name}, {role}.",
        narrative=narrative,
        genre=method,
        audience="Employers and regulators checking this worker's competence",
    )
    result = SubjectResult(
        result_description=observation_result_id(module, base_url),
        status="Completed",
        value=f"Competent: {method.lower()}, {obs.observed_on.isoformat()}, "
        f"assessed by {obs.assessor.name} ({role})",
    )
    return (evidence,), (result,)


def short_id_for(credential_id: str) -> str:
    raw = uuid.UUID(credential_id.removeprefix("urn:uuid:")).bytes
    return base64.b32encode(raw).decode()[:12].lower()


_slot_rng = random.SystemRandom()
SLOT_ATTEMPTS = 5


def issue_for_completion(
    session: Session, ctx: IssuanceContext, completion: Completion, now: datetime
) -> IssuedCredential:
    """Sign and store the credential for a completion (idempotent: one per completion).

    The credential gets a random status-list slot. Two issuances racing for the same slot (or
    for the same completion) meet the database's unique constraints; the loser retries inside a
    savepoint, so nothing else in the transaction is lost.
    """
    from . import status  # status builds on this module

    existing = session.scalar(
        select(IssuedCredential).where(IssuedCredential.completion_id == completion.id)
    )
    if existing is not None:
        return existing
    org = session.get_one(Organisation, completion.org_id)
    user = session.get_one(User, completion.user_id)
    module = completion.module
    key_row, private = issuer_key(session, ctx, org, now)
    evidence, results = observation_evidence(session, completion, ctx.base_url)
    for attempt in range(SLOT_ATTEMPTS):
        slot = status.allocate(session, org, _slot_rng, now)
        credential_id = f"urn:uuid:{uuid.uuid4()}"
        credential = build_credential(
            credential_id=credential_id,
            issuer=issuer_profile(org, ctx.base_url),
            achievement=achievement_for(module, ctx.base_url),
            learner_name=user.name,
            learner_email=user.email,
            salt=secrets.token_hex(16),
            # Valid from when it is signed (nbf), never earlier than the key that signs it.
            valid_from=now,
            valid_until=completion.valid_until,
            activity_end=completion.completed_at,
            evidence=evidence,
            results=results,
            status=status_entry(
                status.list_url(ctx.base_url, org, "revocation", slot.number), slot.index
            ),
        )
        issued = IssuedCredential(
            credential_id=credential_id,
            short_id=short_id_for(credential_id),
            completion_id=completion.id,
            user_id=user.id,
            org_id=org.id,
            module_id=module.id,
            kid=key_row.kid,
            token=sign_credential(credential, private),
            qr_text=encode_qr(credential, private),
            credential_json=credential,
            issued_at=now,
            valid_until=completion.valid_until,
            status_list_number=slot.number,
            status_index=slot.index,
        )
        try:
            with session.begin_nested():
                session.add(issued)
                session.flush()
                audit.record(
                    session,
                    actor=None,
                    action="credential.issued",
                    entity_type="credential",
                    entity_id=credential_id,
                    org_id=org.id,
                    subject_user_id=user.id,
                    after={
                        "module": module.code,
                        "version": module.version,
                        "completion_id": completion.id,
                        "kid": key_row.kid,
                        "valid_until": completion.valid_until,
                    },
                    now=now,
                )
        except IntegrityError:
            existing = session.scalar(
                select(IssuedCredential).where(IssuedCredential.completion_id == completion.id)
            )
            if existing is not None:
                return existing
            if attempt == SLOT_ATTEMPTS - 1:
                raise
            continue
        return issued
    raise AssertionError("unreachable")  # pragma: no cover


def trust_list(session: Session, ctx: IssuanceContext, now: datetime) -> tuple[str, str]:
    """The signed trust list of every issuer on this instance, and the root thumbprint."""
    from . import status

    root_row, root_private = root_key(session, ctx, now)
    issuers = []
    stapled: list[str] = []
    orgs = session.scalars(select(Organisation).order_by(Organisation.slug))
    for org in orgs:
        keys = session.scalars(
            select(SigningKey)
            .where(SigningKey.org_id == org.id, SigningKey.purpose == KeyPurpose.ISSUER.value)
            .order_by(SigningKey.valid_from)
        ).all()
        if not keys:
            continue
        profile = issuer_profile(org, ctx.base_url)
        issuers.append(
            TrustedIssuer(
                id=profile.id,
                name=org.name,
                url=profile.url,
                keys=tuple(
                    TrustedKey(
                        kid=k.kid,
                        jwk=dict(k.public_jwk),
                        valid_from=k.valid_from,
                        valid_until=k.valid_until,
                        compromised_at=k.compromised_at,
                    )
                    for k in keys
                ),
                other_identifiers=(
                    (("CQC provider ID", org.cqc_provider_id),) if org.cqc_provider_id else ()
                ),
                status_lists=tuple(
                    StatusListPair(revocation=r, suspension=s)
                    for r, s in status.pairs(session, ctx, org)
                ),
            )
        )
        stapled.extend(status.all_signed_lists(session, ctx, org, now))
    text = sign_trust_list(
        name=ctx.instance_name,
        issuers=issuers,
        root_key=root_private,
        issued_at=now,
        status_list_tokens=stapled,
    )
    return text, root_row.kid
