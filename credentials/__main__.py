"""Command-line verifier: ``python -m credentials`` (also installed as ``carecred-verify``).

Usage::

    python -m credentials verify PATH [PATH ...] [--trust trust.json --anchor THUMBPRINT]
                                      [--json] [--now 2027-01-31T09:00:00Z]
                                      [--max-status-age-days 30] [--qr "CC1:..."]
    python -m credentials trust add trust.json --anchor THUMBPRINT
    python -m credentials trust list
    python -m credentials trust remove THUMBPRINT

``PATH`` is a certificate PDF (with an embedded ``credential.jwt``), a text file holding the
token (``.jwt``/``.txt``) or the text of its QR code (``CC1:...``), a photo or scan of the QR
code (``.png``/``.jpg``), or a passport (``.json``) holding several certificates. ``--qr``
checks QR text given on the command line (for example from a phone's scanner app).

``--anchor`` is the RFC 7638 thumbprint of the trust list's root key, obtained out of band (it
is what makes the trust list trustworthy). Without ``--trust``/``--anchor`` every trust list in
the user's trust store is used (see :mod:`credentials.store`; ``trust add`` puts one there),
and a certificate is valid if any of them vouches for it. ``--now`` checks "as at" another
moment; a value without a timezone is taken as UTC. ``--max-status-age-days`` (default 30)
is how old revocation information may be before a warning is shown.
``carecred-verify PATH ...`` works too: the ``verify`` sub-command is implied when the first
argument is not a sub-command.

Exit status: 0 if every certificate is valid; 1 if any is not valid; 2 if an input cannot be
read, no trust list can be used, or the command line is wrong (the reason goes to stderr).
The ``trust`` sub-commands exit 0 on success and 2 otherwise.

With ``--json`` the only thing on stdout is a JSON array with one object per certificate, as
produced by :meth:`credentials.verify.VerificationResult.to_json`. An input that cannot be read
appears as an object with ``"valid": false`` and ``"reason_code": "unreadable"``. A valid
certificate whose signed credential says how competence was assessed (observed practice) gets an
"Assessed:" line, and ``"assessments"`` in its JSON object; a certificate that is not valid shows
nothing of it.

Runs without Flask, a database or a network connection.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from credentials.errors import TrustListError, UnreadableInput
from credentials.store import TrustStore
from credentials.trust import MAX_TRUST_LIST_BYTES, TrustList, load_trust_list
from credentials.verify import VerificationResult, human_date, verify_path

__all__ = ["main"]

EXIT_VALID = 0
EXIT_NOT_VALID = 1
EXIT_UNUSABLE = 2
_SUBCOMMANDS = ("verify", "trust")
_SHOW_DETAILS = frozenset(
    {"valid", "expired", "not_yet_valid", "revoked", "suspended", "pdf_mismatch"}
)
_PROG = "carecred-verify"


def _parse_now(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or date-time: {text!r}") from exc
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _parse_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {text!r}") from exc
    if not 0 <= days <= 36_500:
        raise argparse.ArgumentTypeError("must be between 0 and 36500 days")
    return days


def _add_now(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--now",
        type=_parse_now,
        default=None,
        metavar="ISO8601",
        help="check as at this time instead of now (UTC if no timezone is given)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Check CareCred training certificates offline against a signed trust list.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    verify = sub.add_parser(
        "verify",
        help="verify certificates (PDF, .jwt, QR photo or text, passport)",
        description=(
            "Verify certificates: a PDF with credential.jwt attached, a .jwt/.txt token, a "
            "photo or scan of the QR code (.png/.jpg), a .txt holding the QR text (CC1:...), "
            "or a passport (.json)."
        ),
    )
    verify.add_argument("paths", nargs="*", metavar="PATH", help="certificate files")
    verify.add_argument("--trust", metavar="FILE", help="trust list (trust.json)")
    verify.add_argument(
        "--anchor",
        metavar="THUMBPRINT",
        help="RFC 7638 thumbprint of the trust list's root key",
    )
    verify.add_argument("--json", action="store_true", help="print a JSON array only")
    _add_now(verify)
    verify.add_argument(
        "--max-status-age-days",
        type=_parse_days,
        default=30,
        metavar="N",
        help="warn when revocation information is older than N days (default 30)",
    )
    verify.add_argument(
        "--qr",
        action="append",
        default=[],
        metavar="TEXT",
        help="the text of a certificate's QR code (CC1:...); may be repeated",
    )

    trust = sub.add_parser("trust", help="manage the trust lists kept on this computer")
    trust_sub = trust.add_subparsers(dest="trust_command", required=True, metavar="ACTION")
    add = trust_sub.add_parser("add", help="verify a trust list and keep it")
    add.add_argument("file", metavar="FILE", help="trust list (trust.json)")
    add.add_argument(
        "--anchor",
        required=True,
        metavar="THUMBPRINT",
        help="RFC 7638 thumbprint of the trust list's root key",
    )
    _add_now(add)
    show = trust_sub.add_parser("list", help="show the trust lists kept")
    _add_now(show)
    remove = trust_sub.add_parser("remove", help="forget a trust list")
    remove.add_argument("anchor", metavar="THUMBPRINT", help="its root thumbprint")
    return parser


def _read_trust_file(path: str) -> bytes:
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return fh.read(MAX_TRUST_LIST_BYTES + 1)
    except FileNotFoundError as exc:
        raise TrustListError("The trust list file does not exist.", "trust_list_missing") from exc
    except OSError as exc:
        raise TrustListError("The trust list file cannot be opened.", "trust_list_missing") from exc


def _load_trust(path: str, anchor: str, now: datetime) -> TrustList:
    return load_trust_list(_read_trust_file(path), anchor, now)


def _row(out: TextIO, label: str, value: str) -> None:
    key = label + ":"
    out.write(f"  {key:<13}{value}\n" if len(key) < 13 else f"  {key} {value}\n")


def _status_text(result: VerificationResult) -> str | None:
    if result.reason_code in ("revoked", "suspended"):
        when = f", as of {human_date(result.status_as_of)}" if result.status_as_of else ""
        return f"{result.reason_code}{when}"
    if result.status_checked and result.status_as_of is not None:
        return f"not revoked, as of {human_date(result.status_as_of)}"
    return None


def _print_human(result: VerificationResult, out: TextIO) -> None:
    if result.valid:
        out.write(f"{result.source}: VALID\n")
    else:
        out.write(f"{result.source}: NOT VALID \N{EM DASH} {result.reason}\n")
    if result.reason_code not in _SHOW_DETAILS:
        return
    issuer = result.issuer_name or ""
    if result.issuer_id:
        issuer = f"{issuer} ({result.issuer_id})" if issuer else result.issuer_id
    _row(out, "Issued by", issuer)
    if result.issuer_identifiers:
        identifiers = "; ".join(f"{name} {value}" for name, value in result.issuer_identifiers)
        _row(out, "Issuer identifiers", identifiers)
    if result.learner_name:
        _row(out, "Issued to", result.learner_name)
    achievement = result.achievement_name or ""
    if result.achievement_version:
        achievement += f" (version {result.achievement_version})"
    _row(out, "For", achievement)
    if result.alignments:
        _row(out, "Aligned to", "; ".join(result.alignments))
    if result.activity_end is not None:
        _row(out, "Completed", human_date(result.activity_end))
    elif result.valid_from is not None:
        _row(out, "Issued", human_date(result.valid_from))
    if result.valid_until is not None:
        _row(out, "Valid until", human_date(result.valid_until))
    else:
        _row(out, "Valid until", "does not expire")
    for assessment in result.assessments:  # only ever on a valid result
        _row(out, "Assessed", assessment.summary)
    if result.credential_id:
        _row(out, "Reference", result.credential_id)
    status = _status_text(result)
    if status is not None:
        _row(out, "Status", status)
    for warning in result.warnings:
        _row(out, "Warning", warning)


def _unreadable(source: str, error: UnreadableInput) -> VerificationResult:
    return VerificationResult(
        source=source, valid=False, reason_code="unreadable", reason=str(error)
    )


def _verify(args: argparse.Namespace, now: datetime, out: TextIO, err: TextIO) -> int:
    if not args.paths and not args.qr:
        err.write(f"{_PROG} verify: give at least one PATH or --qr TEXT\n")
        return EXIT_UNUSABLE
    if (args.trust is None) != (args.anchor is None):
        err.write(f"{_PROG} verify: --trust and --anchor must be given together\n")
        return EXIT_UNUSABLE
    trusts: list[TrustList]
    if args.trust is not None:
        try:
            trusts = [_load_trust(args.trust, args.anchor, now)]
        except TrustListError as exc:
            err.write(f"{_PROG}: cannot use the trust list {args.trust}: {exc}\n")
            return EXIT_UNUSABLE
    else:
        store = TrustStore()
        entries = store.entries(now)
        for entry in entries:
            if entry.error is not None:
                err.write(
                    f"{_PROG}: the stored trust list {entry.anchor} cannot be used: {entry.error}\n"
                )
        trusts = [e.trust for e in entries if e.trust is not None]
        if not trusts:
            err.write(
                f"{_PROG}: no trust list to check against: give --trust FILE --anchor "
                f"THUMBPRINT, or keep one with '{_PROG} trust add FILE --anchor THUMBPRINT' "
                f"(store: {store.directory}).\n"
            )
            return EXIT_UNUSABLE

    from credentials.qr import verify_qr

    max_age = timedelta(days=args.max_status_age_days)
    results: list[VerificationResult] = []
    unreadable = False
    for path in args.paths:
        try:
            found = verify_path(path, trusts, now, max_status_age=max_age)
        except UnreadableInput as exc:
            unreadable = True
            err.write(f"{path}: CANNOT READ \N{EM DASH} {exc}\n")
            results.append(_unreadable(path, exc))
            continue
        results.extend(found)
        if not args.json:
            for result in found:
                _print_human(result, out)
    for n, text in enumerate(args.qr, start=1):
        source = "--qr" if len(args.qr) == 1 else f"--qr#{n}"
        result = verify_qr(text, trusts, now, max_status_age=max_age, source=source)
        results.append(result)
        if not args.json:
            _print_human(result, out)

    if args.json:
        json.dump([r.to_json() for r in results], out, indent=2, ensure_ascii=False)
        out.write("\n")
    out.flush()
    if unreadable:
        return EXIT_UNUSABLE
    return EXIT_VALID if all(r.valid for r in results) else EXIT_NOT_VALID


def _print_trust(trust: TrustList, out: TextIO) -> None:
    out.write(f"{trust.name}\n")
    _row(out, "Root", trust.root_thumbprint)
    _row(out, "Issued", human_date(trust.issued_at))
    _row(
        out,
        "Valid until",
        human_date(trust.valid_until) if trust.valid_until else "no end date",
    )
    names = "; ".join(issuer.name for issuer in trust.issuers) or "none"
    _row(out, "Issuers", names)
    if trust.status_lists:
        newest = max(s.valid_from for s in trust.status_lists.values())
        _row(out, "Status lists", f"{len(trust.status_lists)}, as of {human_date(newest)}")


def _trust(args: argparse.Namespace, now: datetime, out: TextIO, err: TextIO) -> int:
    store = TrustStore()
    try:
        if args.trust_command == "add":
            trust = store.add(_read_trust_file(args.file), args.anchor, now)
            out.write(f"Added to {store.directory}:\n")
            _print_trust(trust, out)
            return EXIT_VALID
        if args.trust_command == "remove":
            if store.remove(args.anchor):
                out.write(f"Removed the trust list with root {args.anchor.strip()}.\n")
                return EXIT_VALID
            err.write(f"{_PROG}: no stored trust list has root {args.anchor.strip()}.\n")
            return EXIT_UNUSABLE
    except TrustListError as exc:
        err.write(f"{_PROG}: {exc}\n")
        return EXIT_UNUSABLE
    entries = store.entries(now)
    if not entries:
        out.write(f"No trust lists are kept (store: {store.directory}).\n")
        return EXIT_VALID
    for entry in entries:
        if entry.trust is not None:
            _print_trust(entry.trust, out)
        else:
            out.write(f"(cannot be used: {entry.error})\n")
            _row(out, "Root", entry.anchor)
    return EXIT_VALID


# Options whose values may start with "-": a base64url thumbprint does one time in 64, and
# argparse would take it for an option. "--anchor VALUE" is glued into "--anchor=VALUE".
_VALUE_OPTIONS = ("--anchor",)


def _glue_option_values(args: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(args):
        if args[i] in _VALUE_OPTIONS and i + 1 < len(args):
            out.append(f"{args[i]}={args[i + 1]}")
            i += 2
            continue
        out.append(args[i])
        i += 1
    if out[:2] == ["trust", "remove"] and len(out) == 3 and out[2].startswith("-"):
        out.insert(2, "--")  # the positional thumbprint, not an option
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 valid, 1 not valid, 2 unusable input)."""
    args_list = _glue_option_values(list(sys.argv[1:] if argv is None else argv))
    if args_list and args_list[0] not in _SUBCOMMANDS and args_list[0] not in ("-h", "--help"):
        args_list.insert(0, "verify")
    parser = _parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_UNUSABLE

    given_now: datetime | None = getattr(args, "now", None)
    now = given_now if given_now is not None else datetime.now(UTC)
    # pypdf logs recoverable damage at WARNING; the verdict already says what matters.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    out, err = sys.stdout, sys.stderr
    if args.command == "trust":
        return _trust(args, now, out, err)
    return _verify(args, now, out, err)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
