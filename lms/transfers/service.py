"""Accepting transferred training: verify a worker's certificates offline, match them to what her
job role requires, check them against the employer's acceptance policy, and record the
manager's decision.

Pure of Flask: every function takes the session, the issuance context (for "trust this
instance") and the clock, and never commits. Every change is audited in the same transaction.

The flow:

1. `add_trust_list` / `trust_instance` / `remove_trust_list`: the trust lists an organisation
   chooses to trust (`OrgTrustList`), each verified against its anchor; an older list from a
   root already held is refused (rollback protection).
2. `upload`: read a passport, PDF, credential file, QR image or QR text (the kind is sniffed
   from the content), verify every credential in it against the organisation's trust lists
   (valid only if one of them vouches for it), and check each valid one: it belongs to the
   worker (name and salted e-mail hash), it matches a requirement of her job role by its
   alignments (ASC-WDS category, then Care Certificate standard, then CSTF subject), and it meets
   that requirement's policy (transfers accepted, completed within our refresh interval,
   observed practice stated when required). The upload is stored as a `TransferReview` with one
   `TransferItem` per credential, so deciding does not need the file again. Nothing else changes.
3. `decide`: accept or reject one item with a reason. Accepting re-verifies and re-checks
   everything at that moment (a credential revoked since the upload is refused), then adds a
   `Completion` (source TRANSFER) and its `AcceptedCredential` evidence.
4. `accepted_detail`: what the matrix drill-down shows for a TRANSFER completion
   ("recognised prior learning").
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from courses.completion import valid_until as policy_valid_until
from courses.models import CatalogueModule
from credentials import (
    Passport,
    TrustList,
    TrustListError,
    UnreadableInput,
    VerificationResult,
    decode_unverified,
    email_matches,
    load_trust_list,
    read_passport,
    read_qr_image,
    read_tokens,
    verify_passport,
    verify_path,
    verify_qr,
    verify_token,
)

from .. import audit
from ..errors import Conflict, NotFound, ServiceError
from ..issuance import IssuanceContext, issuer_profile, trust_list
from ..models import (
    Completion,
    CompletionSource,
    DeliveredBy,
    Employment,
    IssuedCredential,
    JobRole,
    Membership,
    Organisation,
    Requirement,
    Role,
    User,
)
from .models import (
    AcceptedCredential,
    InputKind,
    ItemStatus,
    OrgTrustList,
    TransferItem,
    TransferReview,
)

#: Largest upload read (the app refuses bigger requests before they reach us).
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_REASON = 1000
QR_PREFIX = "CC1:"
ASCWDS_TYPE = "ext:ASCWDSTrainingCategory"
CC_TYPE = "ext:CareCertificateStandard"
CSTF_TYPE = "ext:CSTFSubject"
RECOGNISED_PRIOR_LEARNING = "Recognised prior learning"

_ANCHOR_RE = re.compile(r"[A-Za-z0-9_-]{43}")
_CC_CODE_RE = re.compile(r"CC(\d{4})-(\d{1,2})")
_CC_NAME_RE = re.compile(r"Standard (\d{1,2})\b")
_SAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._ -]+")


class TransferRefused(ServiceError):
    """Bad input for this flow (unreadable file, bad trust list...): shown on the form."""

    code, status = "refused", 400


# --------------------------------------------------------------------------- small helpers


def _same_name(a: str, b: str) -> bool:
    def norm(s: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", s).casefold().split())

    return norm(a) == norm(b)


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def iso_day(text: str | None) -> str:
    """A stored ISO date-time ("2026-11-03T00:00:00Z") as "3 November 2026"."""
    if not text:
        return "an unknown date"
    try:
        return day_text(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return text


def day_text(moment: datetime | None) -> str:
    return moment.strftime("%-d %B %Y") if moment is not None else "an unknown date"


def _safe_file_name(name: str | None) -> str | None:
    if not name:
        return None
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _SAFE_NAME_RE.sub("_", base).strip(" ._")
    return cleaned[:120] or None


def _clean_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise TransferRefused("Give a reason: it is recorded with the decision.")
    if len(text) > MAX_REASON:
        raise TransferRefused(f"Keep the reason under {MAX_REASON} characters.")
    return text


# --------------------------------------------------------------------------- trust lists


def trust_lists(session: Session, org: Organisation) -> list[OrgTrustList]:
    return list(
        session.scalars(
            select(OrgTrustList)
            .where(OrgTrustList.org_id == org.id)
            .order_by(OrgTrustList.is_instance.desc(), OrgTrustList.name, OrgTrustList.id)
        )
    )


def _held(session: Session, org: Organisation, anchor: str) -> OrgTrustList | None:
    return session.scalar(
        select(OrgTrustList).where(
            OrgTrustList.org_id == org.id, OrgTrustList.root_thumbprint == anchor
        )
    )


def _load(text: str | bytes, anchor: str, now: datetime) -> TrustList:
    try:
        return load_trust_list(text, anchor, now)
    except TrustListError as exc:
        raise TransferRefused(_trust_message(exc)) from exc


def _trust_message(exc: TrustListError) -> str:
    if exc.code == "trust_list_untrusted_root":
        return (
            "This trust list was not signed by the root key with the thumbprint you entered. "
            "Check the thumbprint with the issuer (by phone or on their website): a wrong "
            "thumbprint, or a forged list, fails this check. Nothing was saved."
        )
    if exc.code == "trust_list_bad_signature":
        return (
            "This trust list has been changed since it was signed, so it cannot be trusted. "
            "Ask the issuer for a fresh copy. Nothing was saved."
        )
    return f"{exc} Nothing was saved."


def add_trust_list(
    session: Session,
    org: Organisation,
    actor: User | None,
    data: bytes,
    anchor: str,
    now: datetime,
) -> tuple[OrgTrustList, str]:
    """Verify a trust list file against its anchor and trust it (or replace an older copy).

    Returns the row and "added" or "replaced". Refuses (TransferRefused) a list that does not
    verify, one older than or the same as the one held for that root, or the instance's own
    root (already trusted live).
    """
    anchor = (anchor or "").strip()
    if not _ANCHOR_RE.fullmatch(anchor):
        raise TransferRefused(
            "The root thumbprint should be 43 letters, digits, - or _ (as the issuer gave it). "
            "Nothing was saved."
        )
    if not data:
        raise TransferRefused("Choose the trust list file (trust.json). Nothing was saved.")
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise TransferRefused(
            "This file is not a trust list (it is not text). Nothing was saved."
        ) from exc
    loaded = _load(text, anchor, now)
    held = _held(session, org, anchor)
    if held is not None and held.is_instance:
        raise TransferRefused(
            "This is this CareCred instance's own trust list, which you already trust: it is "
            "always checked at its latest. Nothing was changed."
        )
    if held is not None and held.issued_at >= loaded.issued_at:
        if held.issued_at == loaded.issued_at:
            raise TransferRefused(
                f"You already hold this trust list ({held.name}, issued "
                f"{day_text(held.issued_at)}). Nothing was changed."
            )
        raise TransferRefused(
            "You already hold a newer trust list from this root "
            f"(issued {day_text(held.issued_at)}); this one was issued "
            f"{day_text(loaded.issued_at)}. An older list could bring back a key since reported "
            "stolen, so it is refused. Nothing was changed."
        )
    fields = {
        "name": loaded.name[:200],
        "trust_list_text": text,
        "issued_at": loaded.issued_at,
        "added_by_id": actor.id if actor is not None else None,
        "added_at": now,
    }
    before = None
    if held is None:
        held = OrgTrustList(org_id=org.id, root_thumbprint=anchor, is_instance=False, **fields)
        session.add(held)
        action = "added"
    else:
        before = {"name": held.name, "issued_at": held.issued_at}
        action = "replaced"
        for key, value in fields.items():
            setattr(held, key, value)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"trust_list.{action}",
        actor_label="cli",
        entity_type="org_trust_list",
        entity_id=held.id,
        org_id=org.id,
        before=before,
        after={
            "name": held.name,
            "root_thumbprint": anchor,
            "issued_at": held.issued_at,
            "issuers": [i.name for i in loaded.issuers],
        },
        now=now,
    )
    return held, action


def trust_instance(
    session: Session, ctx: IssuanceContext, org: Organisation, actor: User | None, now: datetime
) -> OrgTrustList:
    """Trust every issuer on this CareCred instance (its trust list, rebuilt at each check)."""
    text, anchor = trust_list(session, ctx, now)
    loaded = _load(text, anchor, now)
    held = _held(session, org, anchor)
    if held is not None and held.is_instance:
        raise Conflict("Your organisation already trusts this instance.")
    fields = {
        "is_instance": True,
        "name": loaded.name[:200],
        "trust_list_text": text,
        "issued_at": loaded.issued_at,
        "added_by_id": actor.id if actor is not None else None,
        "added_at": now,
    }
    before = None if held is None else {"name": held.name, "issued_at": held.issued_at}
    if held is None:
        held = OrgTrustList(org_id=org.id, root_thumbprint=anchor, **fields)
        session.add(held)
    else:
        for key, value in fields.items():
            setattr(held, key, value)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="trust_list.added",
        actor_label="cli",
        entity_type="org_trust_list",
        entity_id=held.id,
        org_id=org.id,
        before=before,
        after={"name": held.name, "root_thumbprint": anchor, "instance": True},
        now=now,
    )
    return held


def remove_trust_list(
    session: Session, org: Organisation, actor: User | None, trust_id: int, now: datetime
) -> str:
    row = session.get(OrgTrustList, trust_id)
    if row is None or row.org_id != org.id:
        raise NotFound("Your organisation does not hold that trust list.")
    name = row.name
    audit.record(
        session,
        actor=actor,
        action="trust_list.removed",
        actor_label="cli",
        entity_type="org_trust_list",
        entity_id=row.id,
        org_id=org.id,
        before={"name": row.name, "root_thumbprint": row.root_thumbprint},
        now=now,
    )
    session.delete(row)
    session.flush()
    return name


@dataclass(frozen=True)
class LoadedTrust:
    lists: list[TrustList]
    problems: list[str]


def org_trusts(
    session: Session, ctx: IssuanceContext, org: Organisation, now: datetime
) -> LoadedTrust:
    """The organisation's trust lists, each verified again now (expired ones are left out)."""
    lists: list[TrustList] = []
    problems: list[str] = []
    for row in trust_lists(session, org):
        text = row.trust_list_text
        if row.is_instance:
            text, anchor = trust_list(session, ctx, now)
            if anchor != row.root_thumbprint:
                problems.append(
                    f"{row.name}: this instance's root key has changed since you chose to trust "
                    'it; choose "Trust this instance" again.'
                )
                continue
        try:
            lists.append(load_trust_list(text, row.root_thumbprint, now))
        except TrustListError as exc:
            problems.append(f"{row.name}: {exc}")
    return LoadedTrust(lists, problems)


# --------------------------------------------------------------------------- staff


def staff(session: Session, org: Organisation, today: date) -> list[User]:
    """The organisation's workers: current employments and learner members, by name."""
    employed = select(Employment.user_id).where(
        Employment.org_id == org.id,
        or_(Employment.end_date.is_(None), Employment.end_date >= today),
    )
    learners = select(Membership.user_id).where(
        Membership.org_id == org.id, Membership.role == Role.LEARNER.value
    )
    return list(
        session.scalars(
            select(User)
            .where(User.active.is_(True), or_(User.id.in_(employed), User.id.in_(learners)))
            .order_by(User.name, User.id)
        )
    )


def _worker(session: Session, org: Organisation, worker_id: int, today: date) -> User:
    for user in staff(session, org, today):
        if user.id == worker_id:
            return user
    raise NotFound("That person is not one of your organisation's staff.")


def _job_role(session: Session, org: Organisation, worker: User) -> JobRole | None:
    employment = session.scalar(
        select(Employment).where(Employment.org_id == org.id, Employment.user_id == worker.id)
    )
    return employment.job_role if employment is not None else None


# --------------------------------------------------------------------------- reading uploads


@dataclass
class _Read:
    kind: InputKind
    results: list[VerificationResult]
    texts: list[str]  # token or QR text per result
    item_kinds: list[str]  # 'jwt' / 'qr' per result
    status_lists: list[str] = field(default_factory=list)


def _sniff(data: bytes) -> InputKind:
    head = data[:1024]
    if b"%PDF-" in head:
        return InputKind.PDF
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
        return InputKind.QR_IMAGE
    if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{"):
        return InputKind.PASSPORT
    return InputKind.TOKEN


def _read_upload(
    data: bytes | None, qr_text: str | None, trusts: Sequence[TrustList], now: datetime
) -> _Read:
    if qr_text and qr_text.strip():
        text = qr_text.strip()
        if not text.startswith(QR_PREFIX):
            raise TransferRefused(
                "That is not the text of a CareCred QR code (it should start with CC1:). "
                "Nothing was saved."
            )
        return _Read(InputKind.QR_TEXT, [verify_qr(text, trusts, now)], [text], ["qr"])
    if not data:
        raise TransferRefused(
            "Choose a file (passport, PDF certificate, credential file or a photo of the QR "
            "code), or paste the QR code's text. Nothing was saved."
        )
    if len(data) > MAX_UPLOAD_BYTES:
        raise TransferRefused(
            f"The file is too large (the limit is {MAX_UPLOAD_BYTES // (1024 * 1024)} MB). "
            "Nothing was saved."
        )
    kind = _sniff(data)
    try:
        if kind is InputKind.PASSPORT:
            passport = read_passport(data)
            results = verify_passport(passport, trusts, now)
            return _Read(
                kind,
                results,
                list(passport.credentials),
                ["jwt"] * len(results),
                list(passport.status_lists),
            )
        with tempfile.TemporaryDirectory(prefix="carecred-transfer-") as folder:
            path = Path(folder) / "upload"
            path.write_bytes(data)
            if kind is InputKind.PDF:
                results = verify_path(path, trusts, now)
                tokens = read_tokens(path)
                return _Read(kind, results, tokens, ["jwt"] * len(results))
            if kind is InputKind.QR_IMAGE:
                text = read_qr_image(path)
                return _Read(kind, [verify_qr(text, trusts, now)], [text], ["qr"])
            try:
                as_text = data.decode("utf-8").removeprefix("\ufeff").strip()
            except UnicodeDecodeError:
                as_text = ""
            if as_text.startswith(QR_PREFIX):
                return _Read(
                    InputKind.QR_TEXT, [verify_qr(as_text, trusts, now)], [as_text], ["qr"]
                )
            tokens = read_tokens(path)
            return _Read(kind, [verify_token(tokens[0], trusts, now)], tokens[:1], ["jwt"])
    except UnreadableInput as exc:
        raise TransferRefused(f"{exc} Nothing was saved.") from exc


# --------------------------------------------------------------------------- checks


@dataclass
class _Assessment:
    checks: list[dict[str, Any]]
    requirement: Requirement | None
    acceptable: bool
    completed_at: datetime | None


def _check(name: str, ok: bool, message: str) -> dict[str, Any]:
    return {"check": name, "ok": ok, "message": message}


def _payload(token: str) -> dict[str, Any]:
    try:
        return decode_unverified(token)[1]
    except UnreadableInput:
        return {}


def _alignments(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    subject = payload.get("credentialSubject")
    achievement = subject.get("achievement") if isinstance(subject, Mapping) else None
    raw = achievement.get("alignment") if isinstance(achievement, Mapping) else None
    return [a for a in raw if isinstance(a, Mapping)] if isinstance(raw, list) else []


def _typed(payload: Mapping[str, Any], target_type: str) -> list[Mapping[str, Any]]:
    return [a for a in _alignments(payload) if a.get("targetType") == target_type]


def _cc_standards(payload: Mapping[str, Any]) -> tuple[set[int], str | None]:
    numbers: set[int] = set()
    version: str | None = None
    for item in _typed(payload, CC_TYPE):
        code = item.get("targetCode")
        match = _CC_CODE_RE.fullmatch(code) if isinstance(code, str) else None
        if match:
            version = version or match.group(1)
            numbers.add(int(match.group(2)))
            continue
        name = item.get("targetName")
        found = _CC_NAME_RE.search(name) if isinstance(name, str) else None
        if found:
            numbers.add(int(found.group(1)))
    return numbers, version


def _names(payload: Mapping[str, Any], target_type: str) -> set[str]:
    return {
        _norm(a["targetName"])
        for a in _typed(payload, target_type)
        if isinstance(a.get("targetName"), str)
    }


def match_requirements(
    payload: Mapping[str, Any],
    requirements: Sequence[Requirement],
    modules: Mapping[str, CatalogueModule],
) -> list[Requirement]:
    """The requirements a credential meets by its alignments: ASC-WDS category first (narrowed
    by Care Certificate standard, then CSTF subject, when several share the category), else Care
    Certificate standard, else CSTF subject. Empty when nothing matches."""
    ascwds = _names(payload, ASCWDS_TYPE)
    standards, _ = _cc_standards(payload)
    cstf = _names(payload, CSTF_TYPE)
    reqs = [r for r in requirements if r.module_code in modules]

    def has_cc(r: Requirement) -> bool:
        cc = modules[r.module_code].care_certificate
        return bool(cc) and bool(set(cc.get("standards", [])) & standards)

    def has_cstf(r: Requirement) -> bool:
        subject = modules[r.module_code].cstf_subject
        return bool(subject) and _norm(subject or "") in cstf

    def narrow(found: list[Requirement]) -> list[Requirement]:
        for test, present in ((has_cc, standards), (has_cstf, cstf)):
            if len(found) > 1 and present:
                better = [r for r in found if test(r)]
                if better:
                    found = better
        return found

    by_category = [r for r in reqs if _norm(modules[r.module_code].ascwds_category) in ascwds]
    if by_category:
        return narrow(by_category)
    by_standard = [r for r in reqs if has_cc(r)] if standards else []
    if by_standard:
        return narrow(by_standard)
    return [r for r in reqs if has_cstf(r)] if cstf else []


def states_observed_practice(payload: Mapping[str, Any]) -> bool:
    """True if the credential's OB 3.0 `evidence` says competence was observed in practice.

    The assessment method is the evidence's `genre` ("Direct observation", "Simulation",
    "Witness testimony", "Professional discussion", "Questioning", as lms.issuance writes it);
    only direct observation counts. The `name` is read only when there is no genre (ours is
    "Observed practice: ..." whatever the method, so it cannot decide when a genre is given).
    """
    evidence = payload.get("evidence")
    items = evidence if isinstance(evidence, list) else [evidence]
    for item in items:
        if not isinstance(item, Mapping):
            continue
        genre = item.get("genre")
        if isinstance(genre, str) and genre.strip():
            if "observation" in genre.casefold():
                return True
            continue
        name = item.get("name")
        if isinstance(name, str) and "direct observation" in name.casefold():
            return True
    return False


def _completed_at(result: VerificationResult) -> datetime | None:
    """When the training was done: the activity's end date, else when the credential starts."""
    return result.activity_end or result.valid_from


def _refresh_months(requirement: Requirement, module: CatalogueModule) -> int:
    if requirement.refresh_months is not None:
        return requirement.refresh_months
    return module.refresh_months


def _assess(
    session: Session,
    ctx: IssuanceContext,
    org: Organisation,
    worker: User,
    other_email: str | None,
    result: VerificationResult,
    token: str,
    now: datetime,
    *,
    exclude_item_id: int | None = None,
) -> _Assessment:
    """Ownership, match and policy checks for one verified VC-JWT."""
    payload = _payload(token)
    checks: list[dict[str, Any]] = []
    completed = _completed_at(result)

    ours = result.issuer_id == issuer_profile(org, ctx.base_url).id
    if ours:
        checks.append(
            _check(
                "not_ours",
                False,
                "Your own organisation issued this certificate, so it already counts as your "
                "own training.",
            )
        )

    name = result.learner_name or ""
    name_ok = bool(name) and _same_name(name, worker.name)
    checks.append(
        _check(
            "owner_name",
            name_ok,
            f"Issued to {name}: the same name as the worker's."
            if name_ok
            else f"This certificate was issued to {name or 'an unnamed person'}, not to "
            f"{worker.name}, so it cannot be accepted for her or him.",
        )
    )
    addresses = [worker.email] + ([other_email] if other_email else [])
    email_ok = any(email_matches(payload, address) for address in addresses)
    checks.append(
        _check(
            "owner_email",
            email_ok,
            "The e-mail address sealed in the certificate matches " + (" or ".join(addresses)) + "."
            if email_ok
            else "The e-mail address sealed in this certificate is not "
            + " or ".join(addresses)
            + ", so it may belong to someone else. If the worker used another address with "
            "the issuer, enter it and upload the file again.",
        )
    )

    role = _job_role(session, org, worker)
    requirement: Requirement | None = None
    policy_ok = False
    if role is None:
        checks.append(
            _check(
                "match",
                False,
                f"{worker.name} has no job role recorded, so there is nothing to match this "
                "certificate against. Record her or his job role first.",
            )
        )
    else:
        codes = [r.module_code for r in role.requirements]
        modules = {
            m.code: m
            for m in session.scalars(
                select(CatalogueModule).where(
                    CatalogueModule.code.in_(codes), CatalogueModule.is_current.is_(True)
                )
            )
        }
        matched = match_requirements(payload, role.requirements, modules)
        if not matched:
            checks.append(
                _check(
                    "match",
                    False,
                    "This certificate does not match anything your organisation requires for "
                    f"the job role {role.name}.",
                )
            )
        else:
            titles = ", ".join(modules[r.module_code].title for r in matched)
            checks.append(_check("match", True, f"Matches what {role.name} requires: {titles}."))
            evaluated = [
                (r, _policy(r, modules[r.module_code], payload, completed, now)) for r in matched
            ]
            passing = [(r, c) for r, c in evaluated if all(x["ok"] for x in c)]
            requirement, policy_checks = passing[0] if passing else evaluated[0]
            policy_ok = bool(passing)
            checks.extend(policy_checks)

    if result.credential_id:
        already = session.scalar(
            select(AcceptedCredential).where(
                AcceptedCredential.org_id == org.id,
                AcceptedCredential.user_id == worker.id,
                AcceptedCredential.credential_id == result.credential_id,
                AcceptedCredential.item_id != (exclude_item_id or 0),
            )
        )
        if already is not None:
            checks.append(
                _check(
                    "not_already_accepted",
                    False,
                    f"This certificate was already accepted for {worker.name} on "
                    f"{day_text(already.accepted_at)}.",
                )
            )
    acceptable = not ours and name_ok and email_ok and policy_ok and all(c["ok"] for c in checks)
    return _Assessment(checks, requirement, acceptable, completed)


def _policy(
    requirement: Requirement,
    module: CatalogueModule,
    payload: Mapping[str, Any],
    completed: datetime | None,
    now: datetime,
) -> list[dict[str, Any]]:
    title = module.title
    checks = [
        _check(
            "accept_transfers",
            requirement.accept_transfers,
            f"Your policy for {title} accepts training from other organisations."
            if requirement.accept_transfers
            else f"Your policy for {title} does not accept training done with other "
            "organisations: it must be done here.",
        )
    ]
    months = _refresh_months(requirement, module)
    if completed is None:
        checks.append(_check("in_date", False, "The certificate does not say when it was done."))
    elif months == 0:
        checks.append(
            _check(
                "in_date",
                True,
                f"Completed on {day_text(completed)}; your policy for {title} does not expire.",
            )
        )
    else:
        due = policy_valid_until(completed, months)
        in_date = due is not None and due > now
        checks.append(
            _check(
                "in_date",
                in_date,
                f"Completed on {day_text(completed)}, within your refresh interval for {title} "
                f"({months} months): it counts until {day_text(due)}."
                if in_date
                else f"Completed on {day_text(completed)}: your policy for {title} asks for it "
                f"every {months} months, so it ran out on {day_text(due)}.",
            )
        )
    if requirement.transfer_needs_observation:
        observed = states_observed_practice(payload)
        checks.append(
            _check(
                "observation",
                observed,
                "The certificate states that competence was observed in practice."
                if observed
                else f"Your policy for {title} needs observed practice, and this certificate "
                "does not state that competence was observed.",
            )
        )
    return checks


def _untrusted_note(token: str | None) -> str:
    """For an unknown issuer: who the certificate claims to come from (unverified, said so)."""
    if not token:
        return ""
    issuer = _payload(token).get("issuer")
    claimed = issuer.get("name") if isinstance(issuer, Mapping) else None
    if isinstance(claimed, str) and claimed.strip():
        return (
            f" It says it comes from \u201c{claimed.strip()[:200]}\u201d, which is not on any "
            "trust list your organisation has chosen to trust."
        )
    return " Its issuer is not on any trust list your organisation has chosen to trust."


def _reason_text(result: VerificationResult, token: str | None) -> str:
    if result.reason_code == "unknown_key":
        return result.reason + _untrusted_note(token)
    return result.reason


def _full_token_for_qr(
    session: Session, result: VerificationResult, trusts: Sequence[TrustList], now: datetime
) -> tuple[VerificationResult, str] | None:
    """A QR code holds a trimmed copy (no alignments, no e-mail check). When it names a
    credential issued on this instance, use the full signed credential held here instead."""
    if not result.valid or not result.credential_id:
        return None
    issued = session.scalar(
        select(IssuedCredential).where(IssuedCredential.credential_id == result.credential_id)
    )
    if issued is None:
        return None
    full = verify_token(issued.token, trusts, now, result.source)
    return full, issued.token


# --------------------------------------------------------------------------- upload


def upload(
    session: Session,
    ctx: IssuanceContext,
    org: Organisation,
    actor: User,
    *,
    worker_id: int,
    data: bytes | None,
    file_name: str | None,
    qr_text: str | None,
    other_email: str | None,
    now: datetime,
) -> TransferReview:
    """Verify and check an upload for a worker; store it for a decision. Raises
    TransferRefused when the upload cannot be read (nothing is stored then)."""
    worker = _worker(session, org, worker_id, now.date())
    other = (other_email or "").strip().lower() or None
    if other == worker.email.lower():
        other = None
    if other is not None and ("@" not in other or len(other) > 254 or " " in other):
        raise TransferRefused(
            "The other e-mail address is not an e-mail address. Nothing was saved."
        )
    pasted = (qr_text or "").strip()
    if data and pasted:
        raise TransferRefused(
            "Give either a file or the QR code's text, not both. Nothing was saved."
        )
    trusts = org_trusts(session, ctx, org, now)
    if not trusts.lists:
        raise TransferRefused(
            "Your organisation does not trust any issuer yet (or its trust lists can no longer "
            "be used), so nothing can be checked. Add a trust list first."
            + (" " + " ".join(trusts.problems) if trusts.problems else "")
        )
    read = _read_upload(data, pasted, trusts.lists, now)
    digest_source = data or pasted.encode()
    review = TransferReview(
        org_id=org.id,
        worker_id=worker.id,
        uploaded_by_id=actor.id,
        uploaded_at=now,
        input_kind=read.kind.value,
        file_name=_safe_file_name(file_name) if data else None,
        file_sha256=hashlib.sha256(digest_source).hexdigest(),
        other_email=other,
        status_lists=read.status_lists,
    )
    session.add(review)
    for position, (result, text, kind) in enumerate(
        zip(read.results, read.texts, read.item_kinds, strict=True), start=1
    ):
        review.items.append(
            _new_item(session, ctx, org, worker, other, result, text, kind, position, trusts, now)
        )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="transfer.verified",
        entity_type="transfer_review",
        entity_id=review.id,
        org_id=org.id,
        subject_user_id=worker.id,
        after={
            "input_kind": review.input_kind,
            "file_sha256": review.file_sha256,
            "items": [
                {
                    "credential_id": item.credential_id,
                    "issuer": item.issuer_name,
                    "valid": item.valid,
                    "reason_code": item.reason_code,
                    "acceptable": item.acceptable,
                }
                for item in review.items
            ],
        },
        now=now,
    )
    return review


def _new_item(
    session: Session,
    ctx: IssuanceContext,
    org: Organisation,
    worker: User,
    other_email: str | None,
    result: VerificationResult,
    text: str,
    kind: str,
    position: int,
    trusts: LoadedTrust,
    now: datetime,
) -> TransferItem:
    checks: list[dict[str, Any]] = []
    if kind == "qr" and result.valid:
        full = _full_token_for_qr(session, result, trusts.lists, now)
        if full is not None:
            result, text, kind = full[0], full[1], "jwt"
            checks.append(
                _check(
                    "qr_full",
                    True,
                    "The QR code was matched to the full signed certificate held on this "
                    "CareCred instance.",
                )
            )
    item = TransferItem(
        position=position,
        kind=kind,
        credential_text=text,
        status=ItemStatus.REFUSED.value,
        acceptable=False,
    )
    _apply_result(item, result, text if kind == "jwt" else None)
    if result.valid and kind == "qr":
        checks.append(
            _check(
                "qr_summary",
                False,
                "A QR code holds only a summary of the certificate, without its training "
                "categories or the sealed e-mail check, so it cannot be accepted on its own. "
                "Ask the worker for the PDF certificate, the credential file or her passport.",
            )
        )
        item.status = ItemStatus.PENDING.value
    elif result.valid:
        assessment = _assess(session, ctx, org, worker, other_email, result, text, now)
        checks.extend(assessment.checks)
        item.requirement_id = assessment.requirement.id if assessment.requirement else None
        item.acceptable = assessment.acceptable
        item.completed_at = assessment.completed_at
        own = any(c["check"] == "not_ours" for c in assessment.checks)
        # Our own certificate already counts: there is nothing to decide.
        item.status = ItemStatus.REFUSED.value if own else ItemStatus.PENDING.value
    item.checks = checks
    return item


def _apply_result(item: TransferItem, result: VerificationResult, token: str | None) -> None:
    item.valid = result.valid
    item.reason_code = result.reason_code
    item.reason = _reason_text(result, token)
    item.verification = result.to_json()
    item.credential_id = (result.credential_id or "")[:255] or None
    item.issuer_id = (result.issuer_id or "")[:500] or None
    item.issuer_name = (result.issuer_name or "")[:500] or None
    item.learner_name = (result.learner_name or "")[:500] or None
    item.achievement_name = (result.achievement_name or "")[:500] or None
    item.completed_at = _completed_at(result)
    item.valid_until = result.valid_until


# --------------------------------------------------------------------------- decide


@dataclass(frozen=True)
class Decision:
    item: TransferItem
    done: bool  # False: refused at decision time (the reason is `message`)
    message: str
    completion: Completion | None = None


def review_of(session: Session, org: Organisation, review_id: int) -> TransferReview:
    review = session.get(TransferReview, review_id)
    if review is None or review.org_id != org.id:
        raise NotFound("Your organisation has no such upload.")
    return review


def reviews(session: Session, org: Organisation, limit: int = 100) -> list[TransferReview]:
    return list(
        session.scalars(
            select(TransferReview)
            .where(TransferReview.org_id == org.id)
            .order_by(TransferReview.uploaded_at.desc(), TransferReview.id.desc())
            .limit(limit)
        )
    )


def _reverify(
    session: Session,
    item: TransferItem,
    review: TransferReview,
    trusts: Sequence[TrustList],
    now: datetime,
) -> VerificationResult:
    passport = Passport(
        holder_name=item.learner_name or review.worker.name,
        issued_at=review.uploaded_at,
        credentials=(item.credential_text,),
        status_lists=tuple(review.status_lists or ()),
    )
    return verify_passport(passport, trusts, now)[0]


def decide(
    session: Session,
    ctx: IssuanceContext,
    org: Organisation,
    actor: User,
    *,
    review_id: int,
    item_id: int,
    accept: bool,
    reason: str | None,
    now: datetime,
) -> Decision:
    """Accept or reject one credential of an upload, with a reason.

    Accepting verifies and checks everything again now; if anything fails (revoked since the
    upload, already accepted, ...), nothing is accepted: the item's stored verdict is updated,
    the refusal is audited, and `done` is False.
    """
    review = review_of(session, org, review_id)
    item = next((i for i in review.items if i.id == item_id), None)
    if item is None:
        raise NotFound("That upload has no such certificate.")
    if item.status in (ItemStatus.ACCEPTED.value, ItemStatus.REJECTED.value):
        raise Conflict(
            f"This certificate was already {item.status} on {day_text(item.decided_at)}; "
            "a decision is not changed."
        )
    text = _clean_reason(reason)
    worker = review.worker
    if not accept:
        item.status = ItemStatus.REJECTED.value
        item.decided_by_id, item.decided_at, item.decision_reason = actor.id, now, text
        rejected = Decision(item, True, "Rejected. The reason is recorded.")
        after: dict[str, Any] = {"credential_id": item.credential_id, "issuer": item.issuer_name}
        return _decided(session, actor, rejected, "transfer.rejected", after, text, now)

    if item.status != ItemStatus.PENDING.value or item.kind != "jwt":
        raise Conflict("This certificate did not pass the checks, so it cannot be accepted.")
    trusts = org_trusts(session, ctx, org, now)
    if trusts.lists:
        result = _reverify(session, item, review, trusts.lists, now)
    else:
        result = VerificationResult(
            source="<transfer>",
            valid=False,
            reason_code="unknown_key",
            reason="Your organisation no longer trusts any issuer, so this certificate cannot "
            "be checked.",
        )
    _apply_result(item, result, item.credential_text)
    if not result.valid:
        item.status = ItemStatus.REFUSED.value
        item.acceptable = False
        item.checks = []
        return _refused(session, actor, item, item.reason, now)
    assessment = _assess(
        session,
        ctx,
        org,
        worker,
        review.other_email,
        result,
        item.credential_text,
        now,
        exclude_item_id=item.id,
    )
    item.checks = assessment.checks
    item.acceptable = assessment.acceptable
    item.requirement_id = assessment.requirement.id if assessment.requirement else None
    item.completed_at = assessment.completed_at
    if not assessment.acceptable or assessment.requirement is None:
        failed = next((c["message"] for c in assessment.checks if not c["ok"]), "")
        return _refused(session, actor, item, failed, now)

    requirement = assessment.requirement
    module = session.scalar(
        select(CatalogueModule).where(
            CatalogueModule.code == requirement.module_code, CatalogueModule.is_current.is_(True)
        )
    )
    if module is None:  # pragma: no cover - matching only returns loaded modules
        raise NotFound("The module this requirement names is not in the catalogue.")
    completed = assessment.completed_at or now
    _, cc_version = _cc_standards(_payload(item.credential_text))
    completion = Completion(
        user_id=worker.id,
        org_id=org.id,
        module_id=module.id,
        source=CompletionSource.TRANSFER.value,
        attempt_id=None,
        completed_at=completed,
        valid_until=policy_valid_until(completed, _refresh_months(requirement, module)),
        delivered_by=DeliveredBy.EXTERNAL.value,
        delivery_mode=None,
        accredited=None,
        provider_name=(item.issuer_name or "")[:200] or None,
        care_certificate_version=cc_version if module.care_certificate else None,
        recorded_by_id=actor.id,
        notes=(
            f"{RECOGNISED_PRIOR_LEARNING}: {item.achievement_name} from {item.issuer_name} "
            f"(credential {item.credential_id}), verified and accepted by {actor.name}: {text}"
        ),
    )
    accepted = AcceptedCredential(
        org_id=org.id,
        user_id=worker.id,
        item_id=item.id,
        credential_id=item.credential_id or "",
        issuer_id=item.issuer_id or "",
        issuer_name=item.issuer_name or "",
        achievement_name=item.achievement_name or "",
        token=item.credential_text,
        verification=result.to_json(),
        accepted_at=now,
        accepted_by_id=actor.id,
        reason=text,
    )
    try:
        with session.begin_nested():
            session.add(completion)
            session.flush()
            accepted.completion_id = completion.id
            session.add(accepted)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"This certificate has just been accepted for {worker.name} by someone else."
        ) from exc
    item.status = ItemStatus.ACCEPTED.value
    item.decided_by_id, item.decided_at, item.decision_reason = actor.id, now, text
    item.completion_id = completion.id
    message = (
        f"Accepted: {module.title} now counts for {worker.name} as "
        f"{RECOGNISED_PRIOR_LEARNING.lower()}."
    )
    after = {
        "credential_id": item.credential_id,
        "issuer": item.issuer_name,
        "issuer_id": item.issuer_id,
        "module": module.code,
        "version": module.version,
        "requirement_id": requirement.id,
        "completed_at": completion.completed_at,
        "valid_until": completion.valid_until,
        "review_id": review.id,
        "item_id": item.id,
        "verification": item.reason_code,
    }
    decision = Decision(item, True, message, completion)
    return _decided(session, actor, decision, "transfer.accepted", after, text, now)


def _refused(
    session: Session, actor: User, item: TransferItem, message: str, now: datetime
) -> Decision:
    refusal = (
        f"Not accepted, because the checks no longer pass: {message} Nothing was "
        "added to the worker's training."
    )
    after = {
        "credential_id": item.credential_id,
        "valid": item.valid,
        "reason_code": item.reason_code,
    }
    refused = Decision(item, False, refusal)
    return _decided(session, actor, refused, "transfer.refused", after, message, now)


def _decided(
    session: Session,
    actor: User,
    decision: Decision,
    action: str,
    after: Mapping[str, Any],
    reason: str,
    now: datetime,
) -> Decision:
    """Audit a decision on one certificate of a worker's upload (accepted, rejected or
    refused at decision time) and return it. The event is about the completion an acceptance
    made, else about the upload's item; its organisation and worker are the upload's."""
    session.flush()
    review, accepted = decision.item.review, decision.completion
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="transfer_item" if accepted is None else "completion",
        entity_id=decision.item.id if accepted is None else accepted.id,
        org_id=review.org_id,
        subject_user_id=review.worker_id,
        after=after,
        reason=reason,
        now=now,
    )
    return decision


# --------------------------------------------------------------------------- matrix drill-down


@dataclass(frozen=True)
class AcceptedDetail:
    """What the matrix shows behind a TRANSFER completion."""

    label: str  # "Recognised prior learning"
    completion_id: int
    credential_id: str
    issuer_id: str
    issuer_name: str
    achievement_name: str
    accepted_at: datetime
    accepted_by: str | None
    reason: str
    verification: dict[str, Any]
    token: str  # the original signed credential, kept as evidence
    review_id: int | None


def accepted_detail(session: Session, completion_id: int) -> AcceptedDetail | None:
    """The accepted credential behind a completion, or None if it is not a transfer."""
    row = session.scalar(
        select(AcceptedCredential).where(AcceptedCredential.completion_id == completion_id)
    )
    if row is None:
        return None
    item = session.get(TransferItem, row.item_id)
    return AcceptedDetail(
        label=RECOGNISED_PRIOR_LEARNING,
        completion_id=completion_id,
        credential_id=row.credential_id,
        issuer_id=row.issuer_id,
        issuer_name=row.issuer_name,
        achievement_name=row.achievement_name,
        accepted_at=row.accepted_at,
        accepted_by=row.accepted_by.name if row.accepted_by is not None else None,
        reason=row.reason,
        verification=dict(row.verification),
        token=row.token,
        review_id=item.review_id if item is not None else None,
    )
