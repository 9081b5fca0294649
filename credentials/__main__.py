"""Command-line verifier: ``python -m credentials verify`` (also installed as ``carecred-verify``).

Usage::

    python -m credentials verify PATH [PATH ...] --trust trust.json --anchor THUMBPRINT
                                      [--json] [--now 2027-01-31T09:00:00Z]

``PATH`` is a certificate PDF (with an embedded ``credential.jwt``) or a text file holding the
token. ``--anchor`` is the RFC 7638 thumbprint of the trust list's root key, obtained out of
band (it is what makes the trust list trustworthy). ``--now`` checks "as at" another moment;
a value without a timezone is taken as UTC. ``carecred-verify PATH ...`` works too: the
``verify`` sub-command is implied when the first argument is not a sub-command.

Exit status: 0 if every certificate is valid; 1 if any is not valid; 2 if an input cannot be
read, the trust list cannot be used, or the command line is wrong (the reason goes to stderr).

With ``--json`` the only thing on stdout is a JSON array with one object per certificate, as
produced by :meth:`credentials.verify.VerificationResult.to_json`. An input that cannot be read
appears as an object with ``"valid": false`` and ``"reason_code": "unreadable"``.

Runs without Flask, a database or a network connection.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from credentials.errors import TrustListError, UnreadableInput
from credentials.trust import MAX_TRUST_LIST_BYTES, TrustList, load_trust_list
from credentials.verify import VerificationResult, human_date, verify_path

__all__ = ["main"]

EXIT_VALID = 0
EXIT_NOT_VALID = 1
EXIT_UNUSABLE = 2
_SUBCOMMANDS = ("verify",)


def _parse_now(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or date-time: {text!r}") from exc
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carecred-verify",
        description="Check CareCred training certificates offline against a signed trust list.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    verify = sub.add_parser(
        "verify",
        help="verify certificate files (PDF or .jwt)",
        description="Verify certificate files (PDF with credential.jwt attached, or .jwt/.txt).",
    )
    verify.add_argument("paths", nargs="+", metavar="PATH", help="certificate PDF or .jwt file")
    verify.add_argument("--trust", required=True, metavar="FILE", help="trust list (trust.json)")
    verify.add_argument(
        "--anchor",
        required=True,
        metavar="THUMBPRINT",
        help="RFC 7638 thumbprint of the trust list's root key",
    )
    verify.add_argument("--json", action="store_true", help="print a JSON array only")
    verify.add_argument(
        "--now",
        type=_parse_now,
        default=None,
        metavar="ISO8601",
        help="check as at this time instead of now (UTC if no timezone is given)",
    )
    return parser


def _load_trust(path: str, anchor: str, now: datetime) -> TrustList:
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_TRUST_LIST_BYTES + 1)
    except FileNotFoundError as exc:
        raise TrustListError("The trust list file does not exist.", "trust_list_missing") from exc
    except OSError as exc:
        raise TrustListError("The trust list file cannot be opened.", "trust_list_missing") from exc
    return load_trust_list(data, anchor, now)


def _print_human(result: VerificationResult, out: TextIO) -> None:
    if result.valid:
        out.write(f"{result.source}: VALID\n")
    else:
        out.write(f"{result.source}: NOT VALID \N{EM DASH} {result.reason}\n")
    if result.reason_code not in ("valid", "expired", "not_yet_valid"):
        return
    rows: list[tuple[str, str]] = []
    issuer = result.issuer_name or ""
    if result.issuer_id:
        issuer = f"{issuer} ({result.issuer_id})" if issuer else result.issuer_id
    rows.append(("Issued by", issuer))
    if result.learner_name:
        rows.append(("Issued to", result.learner_name))
    achievement = result.achievement_name or ""
    if result.achievement_version:
        achievement += f" (version {result.achievement_version})"
    rows.append(("For", achievement))
    if result.alignments:
        rows.append(("Aligned to", "; ".join(result.alignments)))
    if result.activity_end is not None:
        rows.append(("Completed", human_date(result.activity_end)))
    elif result.valid_from is not None:
        rows.append(("Issued", human_date(result.valid_from)))
    if result.valid_until is not None:
        rows.append(("Valid until", human_date(result.valid_until)))
    else:
        rows.append(("Valid until", "does not expire"))
    if result.credential_id:
        rows.append(("Reference", result.credential_id))
    for label, value in rows:
        out.write(f"  {label + ':':<13}{value}\n")


def _unreadable(source: str, error: UnreadableInput) -> VerificationResult:
    return VerificationResult(
        source=source, valid=False, reason_code="unreadable", reason=str(error)
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 valid, 1 not valid, 2 unusable input)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] not in _SUBCOMMANDS and args_list[0] not in ("-h", "--help"):
        args_list.insert(0, "verify")
    parser = _parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return exc.code if isinstance(exc.code, int) else EXIT_UNUSABLE

    now: datetime = args.now if args.now is not None else datetime.now(UTC)
    # pypdf logs recoverable damage at WARNING; the verdict already says what matters.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    out, err = sys.stdout, sys.stderr
    try:
        trust = _load_trust(args.trust, args.anchor, now)
    except TrustListError as exc:
        err.write(f"carecred-verify: cannot use the trust list {args.trust}: {exc}\n")
        return EXIT_UNUSABLE

    results: list[VerificationResult] = []
    unreadable = False
    for path in args.paths:
        try:
            found = verify_path(path, trust, now)
        except UnreadableInput as exc:
            unreadable = True
            err.write(f"{path}: CANNOT READ \N{EM DASH} {exc}\n")
            results.append(_unreadable(path, exc))
            continue
        results.extend(found)
        if not args.json:
            for result in found:
                _print_human(result, out)

    if args.json:
        json.dump([r.to_json() for r in results], out, indent=2, ensure_ascii=False)
        out.write("\n")
    out.flush()
    if unreadable:
        return EXIT_UNUSABLE
    return EXIT_VALID if all(r.valid for r in results) else EXIT_NOT_VALID


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
