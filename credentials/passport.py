"""Passports: one file a care worker hands to a new employer, holding all their certificates.

Format (UTF-8 JSON, at most 5 MB; the file is usually named ``passport.json``)::

    {
      "type": "CareCredPassport",
      "version": 1,
      "issuedAt": "YYYY-MM-DDTHH:MM:SSZ",          when the passport was put together
      "holder": {"name": "<the worker's name>"},
      "credentials": ["<VC-JWT>", ...],            1 to 500 signed credentials
      "statusLists": ["<VC-JWT>", ...]             0 to 100 signed status lists (optional)
    }

The passport itself is **not signed**: it is an envelope. Each credential is verified on its
own exactly as a ``.jwt`` file would be (:func:`credentials.verify.verify_token`), so a
tampered credential fails while the others stay valid, and the holder's name is only a label
(a warning is shown when a credential was issued to a different name).

``statusLists`` staples the issuers' current Bitstring Status Lists (see
:mod:`credentials.status`) so that revocation can be checked offline. Each one is verified
against the verifier's trust list (:func:`credentials.status.load_status_list`); one that does
not verify is ignored, with a warning (so a forged "nothing is revoked" list cannot hide a
revocation: the trust list's own stapled list is then used). When both the trust list and the
passport carry a list for the same URL, the one with the newer ``validFrom`` is used.

Results are one per credential, with ``source`` set to ``<file>#<n>`` (1-based).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from credentials._util import format_datetime, parse_datetime, require_aware, strict_json_loads
from credentials.errors import UnreadableInput
from credentials.status import StatusList, StatusListError, load_status_list
from credentials.trust import TrustList
from credentials.vcjwt import MAX_TOKEN_CHARS, parse_compact
from credentials.verify import (
    DEFAULT_MAX_STATUS_AGE,
    TrustArg,
    VerificationResult,
    _trusts,
    verify_token,
)

__all__ = [
    "MAX_PASSPORT_BYTES",
    "MAX_PASSPORT_CREDENTIALS",
    "MAX_PASSPORT_STATUS_LISTS",
    "PASSPORT_TYPE",
    "Passport",
    "build_passport",
    "read_passport",
    "verify_passport",
]

PASSPORT_TYPE = "CareCredPassport"
PASSPORT_VERSION = 1
#: Largest passport file accepted (5 MB).
MAX_PASSPORT_BYTES = 5 * 1024 * 1024
#: Most credentials in one passport.
MAX_PASSPORT_CREDENTIALS = 500
#: Most status lists stapled to one passport.
MAX_PASSPORT_STATUS_LISTS = 100
_MAX_NAME = 500
_IGNORED_LIST = (
    "A status list in this passport could not be verified, so it was ignored ({reason})."
)


@dataclass(frozen=True)
class Passport:
    """A passport as read from its file (nothing in it is verified yet)."""

    holder_name: str
    issued_at: datetime
    credentials: tuple[str, ...]
    status_lists: tuple[str, ...] = ()


def _bad(message: str) -> UnreadableInput:
    return UnreadableInput(f"The passport cannot be read: {message}", "passport_malformed")


def _tokens(values: Sequence[str], what: str, limit: int) -> tuple[str, ...]:
    if isinstance(values, str):
        raise TypeError(f"{what} must be a sequence of tokens, not one string")
    tokens = tuple(values)
    if len(tokens) > limit:
        raise ValueError(f"a passport holds at most {limit} {what}")
    for token in tokens:
        parse_compact(token)  # shape only: raises UnreadableInput
    return tokens


def build_passport(
    holder_name: str,
    tokens: Sequence[str],
    status_list_tokens: Sequence[str],
    now: datetime,
) -> str:
    """The text of a passport file (see the module docstring). Nothing is signed here.

    Raises ``ValueError``/``TypeError`` for a bad name, no credentials or too many, and
    :class:`UnreadableInput` if a token is not a compact JWS.
    """
    if not isinstance(holder_name, str) or not holder_name.strip():
        raise ValueError("holder_name must be a non-empty string")
    if len(holder_name) > _MAX_NAME:
        raise ValueError("holder_name is too long")
    require_aware(now, "now")
    credentials = _tokens(tokens, "credentials", MAX_PASSPORT_CREDENTIALS)
    if not credentials:
        raise ValueError("a passport needs at least one credential")
    lists = _tokens(status_list_tokens, "status lists", MAX_PASSPORT_STATUS_LISTS)
    document = {
        "type": PASSPORT_TYPE,
        "version": PASSPORT_VERSION,
        "issuedAt": format_datetime(now),
        "holder": {"name": holder_name.strip()},
        "credentials": list(credentials),
        "statusLists": list(lists),
    }
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if len(text.encode("utf-8")) > MAX_PASSPORT_BYTES:
        raise ValueError("passport is too large")
    return text


def _token_list(raw: object, what: str, limit: int, *, required: bool) -> tuple[str, ...]:
    if raw is None and not required:
        return ()
    if not isinstance(raw, list):
        raise _bad(f"'{what}' is not a list.")
    if len(raw) > limit:
        raise _bad(f"it holds more than {limit} {what}.")
    if required and not raw:
        raise _bad(f"it holds no {what}.")
    out: list[str] = []
    for item in raw:
        if not isinstance(item, str) or not item or len(item) > MAX_TOKEN_CHARS:
            raise _bad(f"one of its {what} is not a token.")
        out.append(item.strip())
    return tuple(out)


def read_passport(text: str | bytes) -> Passport:
    """Parse a passport file (bounded: at most 5 MB and 500 credentials); nothing is verified.

    Raises :class:`UnreadableInput` (``too_large`` or ``passport_malformed``).
    """
    if isinstance(text, str):
        data = text.encode("utf-8", errors="replace")
    elif isinstance(text, bytes | bytearray):
        data = bytes(text)
    else:
        raise TypeError("text must be str or bytes")
    if len(data) > MAX_PASSPORT_BYTES:
        raise UnreadableInput(
            f"The passport is too large (the limit is {MAX_PASSPORT_BYTES // (1024 * 1024)} MB).",
            "too_large",
        )
    try:
        document = strict_json_loads(data.removeprefix(b"\xef\xbb\xbf"))
    except ValueError as exc:
        raise _bad("it is not JSON.") from exc
    version = document.get("version") if isinstance(document, dict) else None
    if (
        not isinstance(document, dict)
        or document.get("type") != PASSPORT_TYPE
        or not isinstance(version, int)
        or isinstance(version, bool)
        or version != PASSPORT_VERSION
    ):
        raise _bad(f"it is not a version {PASSPORT_VERSION} {PASSPORT_TYPE}.")
    holder = document.get("holder")
    name = holder.get("name") if isinstance(holder, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME:
        raise _bad("it has no holder name.")
    try:
        issued_at = parse_datetime(document.get("issuedAt"))
    except ValueError as exc:
        raise _bad("its issuedAt is not a date-time.") from exc
    return Passport(
        holder_name=name.strip(),
        issued_at=issued_at,
        credentials=_token_list(
            document.get("credentials"),
            "credentials",
            MAX_PASSPORT_CREDENTIALS,
            required=True,
        ),
        status_lists=_token_list(
            document.get("statusLists"),
            "status lists",
            MAX_PASSPORT_STATUS_LISTS,
            required=False,
        ),
    )


def _merged_lists(
    passport: Passport,
    trust: TrustList,
    now: datetime,
    base: Mapping[str, StatusList],
) -> tuple[dict[str, StatusList], tuple[str, ...]]:
    """The status lists to use with ``trust``, and warnings about stapled lists ignored."""
    merged = dict(base)
    notes: list[str] = []
    for token in passport.status_lists:
        try:
            status_list = load_status_list(token, trust, now)
        except StatusListError as exc:
            if exc.code != "status_list_unknown_key":  # a list for another trust list is fine
                notes.append(_IGNORED_LIST.format(reason=exc.code.replace("_", " ")))
            continue
        current = merged.get(status_list.url)
        if current is None or status_list.valid_from > current.valid_from:
            merged[status_list.url] = status_list
    return merged, tuple(dict.fromkeys(notes))


def _same_name(a: str, b: str) -> bool:
    def norm(s: str) -> str:
        return " ".join(unicodedata.normalize("NFKC", s).casefold().split())

    return norm(a) == norm(b)


def verify_passport(
    passport: Passport,
    trust: TrustArg,
    now: datetime,
    *,
    source: str = "<passport>",
    status_lists: Mapping[str, StatusList] | None = None,
    max_status_age: timedelta = DEFAULT_MAX_STATUS_AGE,
) -> list[VerificationResult]:
    """Verify every credential in a passport, using its stapled status lists.

    ``status_lists``, if given, replaces the trust list's own stapled lists as the base that
    the passport's lists are merged into (newer ``validFrom`` wins). One result per credential,
    in order, with ``source`` ``f"{source}#{n}"``.
    """
    require_aware(now, "now")
    if not isinstance(passport, Passport):
        raise TypeError("passport must be a Passport (see read_passport)")
    trusts = _trusts(trust)
    per_trust = [
        _merged_lists(passport, t, now, t.status_lists if status_lists is None else status_lists)
        for t in trusts
    ]
    results: list[VerificationResult] = []
    for n, token in enumerate(passport.credentials, start=1):
        where = f"{source}#{n}"
        candidates = [
            (
                verify_token(
                    token,
                    t,
                    now,
                    where,
                    status_lists=lists,
                    max_status_age=max_status_age,
                ),
                notes,
            )
            for t, (lists, notes) in zip(trusts, per_trust, strict=True)
        ]
        result, notes = _choose(candidates)
        extra = list(notes)
        if result.learner_name and not _same_name(result.learner_name, passport.holder_name):
            extra.append(
                f"This certificate was issued to {result.learner_name}, but the passport is in "
                f"the name of {passport.holder_name}."
            )
        if extra:
            result = replace(result, warnings=result.warnings + tuple(extra))
        results.append(result)
    return results


def _choose(
    candidates: Sequence[tuple[VerificationResult, tuple[str, ...]]],
) -> tuple[VerificationResult, tuple[str, ...]]:
    for result, notes in candidates:
        if result.valid:
            return result, notes
    for result, notes in candidates:
        if result.credential_id is not None:
            return result, notes
    for result, notes in candidates:
        if result.reason_code != "unknown_key":
            return result, notes
    return candidates[0]
