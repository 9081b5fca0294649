"""Bulk staff import from a CSV file: parse, preview with row-level problems, import all or none.

Three steps, each testable on its own:

1. `parse_csv(data, today)` is pure (bytes in, `ParsedFile` out, never raises): it checks the
   file as a file (size, binary content, encoding, quoting, header) and each row on its own
   (missing name, bad e-mail, bad date, formula-looking cells, duplicates within the file).
2. `check_rows(parsed, context)` is pure too: it checks rows against the organisation
   (unknown job role or site, e-mail already on the staff list, worker id already used).
3. `preview` / `import_batch` load the context from the database, and `import_batch` writes
   everything in the caller's transaction: a user (new accounts cannot log in until they set
   a password through the e-mailed link), a learner membership, an employment and an audit
   event per worker, plus one summary event. Any error anywhere means nothing is written.

Decisions:

- **Someone already on the staff list is skipped, with a warning, never updated.** A file
  must not silently move people between roles or sites; changes to existing staff are made
  one by one. The same goes for someone who worked here before and left (their record is kept).
- **Cells that start with =, +, - or @ are refused** (formula injection: they would run as
  formulas when the staff list is exported and opened in a spreadsheet). Refusing keeps the
  data clean; the message says which cell to fix.
- Rows are numbered as a spreadsheet shows them: the header is row 1.
- Dates are UK-style DD/MM/YYYY (D/M/YYYY too) or ISO YYYY-MM-DD. A start date more than a
  year ahead, or before 1950, is refused as a likely typo.
- Only UTF-8 (with or without the byte-order mark Excel writes) is read; other encodings get a
  message saying how to save as "CSV UTF-8". Commas, semicolons and tabs are accepted as
  separators (Excel in some locales writes semicolons).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import audit
from ..accounts import normalise_email
from ..errors import Conflict, NotFound, ServiceError
from ..models import Employment, JobRole, Membership, Organisation, Role, Site, User
from .models import ImportBatch, ImportStatus

MAX_BYTES = 1_000_000
MAX_ROWS = 2000
BATCH_LIFETIME = timedelta(hours=2)
EARLIEST_START = date(1950, 1, 1)
LATEST_START_AHEAD = timedelta(days=366)
# Marks an account created by an import: no password can match it (not an argon2 hash), and
# the set-password link only works while it is there.
INVITED_HASH_PREFIX = "!invited:"

REQUIRED_COLUMNS = ("name", "email", "job_role", "start_date")
OPTIONAL_COLUMNS = ("site", "worker_id", "language")
COLUMN_LABELS = {
    "name": "name",
    "email": "email",
    "job_role": "job_role",
    "site": "site",
    "start_date": "start_date",
    "worker_id": "worker_id",
    "language": "language",
}
# Header spellings people use, after lower-casing and turning spaces/dashes into "_".
HEADER_ALIASES = {
    "name": "name",
    "full_name": "name",
    "email": "email",
    "e_mail": "email",
    "email_address": "email",
    "e_mail_address": "email",
    "job_role": "job_role",
    "role": "job_role",
    "job_title": "job_role",
    "site": "site",
    "location": "site",
    "start_date": "start_date",
    "started": "start_date",
    "worker_id": "worker_id",
    "uniqueworkerid": "worker_id",
    "unique_worker_id": "worker_id",
    "language": "language",
    "preferred_language": "language",
    "lang": "language",
}
# The languages we write e-mails in (lms.i18n.LANGUAGES), as people may spell them.
LANGUAGE_NAMES = {
    "en": "en",
    "english": "en",
    "hi": "hi",
    "hindi": "hi",
    "हिन्दी": "hi",
    "हिंदी": "hi",
}
MAX_LENGTHS = {
    "name": 120,
    "email": 254,
    "job_role": 120,
    "site": 120,
    "worker_id": 50,
    "language": 40,
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
WORKER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/-]*$")


class Level(StrEnum):
    ERROR = "error"  # blocks the whole import
    WARNING = "warning"  # the row is skipped or something is noted; the import can go ahead


@dataclass(frozen=True)
class Issue:
    message: str
    row: int | None = None  # spreadsheet row number (header = 1); None for the whole file
    column: str | None = None
    level: Level = Level.ERROR

    @property
    def where(self) -> str:
        if self.row is None:
            return "File"
        return f"Row {self.row}" + (f", {self.column}" if self.column else "")


@dataclass
class Row:
    number: int
    name: str
    email: str
    job_role: str
    site: str
    start_date: date | None
    worker_id: str
    start_date_text: str = ""
    language: str = ""  # as written in the file
    locale: str | None = None  # what it means (LANGUAGE_NAMES); None: not given
    # Filled by check_rows:
    job_role_id: int | None = None
    site_id: int | None = None
    action: str = "add"  # "add" or "skip"
    existing_account: bool = False
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)


@dataclass
class ParsedFile:
    rows: list[Row] = field(default_factory=list)
    file_issues: list[Issue] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    @property
    def issues(self) -> list[Issue]:
        out = list(self.file_issues)
        for row in self.rows:
            out.extend(row.errors)
            out.extend(row.warnings)
        return out

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level is Level.ERROR]

    @property
    def to_add(self) -> list[Row]:
        return [r for r in self.rows if r.action == "add" and not r.errors]

    @property
    def can_import(self) -> bool:
        return not self.errors and bool(self.to_add)


def _clean(value: str) -> str:
    value = unicodedata.normalize("NFC", value).replace("\u00a0", " ")
    return value.strip()


def normalise_label(value: str) -> str:
    """Case-, space- and accent-insensitive key for job role and site names."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def _header_key(value: str) -> str:
    key = _clean(value).lower()
    key = re.sub(r"[\s\-]+", "_", key)
    return HEADER_ALIASES.get(key, key)


def parse_date(text: str, today: date) -> tuple[date | None, str | None]:
    """(date, None) or (None, a plain message)."""
    text = text.strip()
    if not text:
        return None, "Enter the start date, like 25/03/2025."
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{2,4})", text)
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if match:
        day, month, year_text = match.groups()
        if len(year_text) != 4:
            return None, f"'{text}': write the year in full, like 25/03/2025."
        parts = (int(year_text), int(month), int(day))
    elif iso:
        parts = (int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
    else:
        return None, f"'{text}' is not a date. Use DD/MM/YYYY (like 25/03/2025) or YYYY-MM-DD."
    try:
        value = date(*parts)
    except ValueError:
        return None, f"'{text}' is not a real date. Use DD/MM/YYYY, like 25/03/2025."
    if value < EARLIEST_START:
        return None, f"'{text}' is before 1950. Check the year."
    if value > today + LATEST_START_AHEAD:
        return None, f"'{text}' is more than a year from now. Check the year."
    return value, None


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _decode(data: bytes) -> tuple[str | None, str | None]:
    if not data.strip():
        return None, "The file is empty."
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        return None, (
            "This is a spreadsheet file (Excel), not a CSV file. In Excel choose File > "
            "Save As > 'CSV UTF-8 (Comma delimited)', then upload that file."
        )
    if data.startswith(b"%PDF"):
        return None, "This is a PDF, not a CSV file."
    if b"\x00" in data:
        return None, "This is not a text file (it has binary content). Upload a CSV file."
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, (
            "The file is not saved as UTF-8 text. In Excel choose File > Save As > "
            "'CSV UTF-8 (Comma delimited)' and upload it again."
        )
    control = [c for c in text if unicodedata.category(c) == "Cc" and c not in "\r\n\t"]
    if control:
        return None, "This is not a text file (it has control characters). Upload a CSV file."
    return text, None


def _check_cell(row: Row, column: str, value: str) -> None:
    label = COLUMN_LABELS[column]
    if value.startswith(FORMULA_STARTS):
        row.errors.append(
            Issue(
                f"Starts with '{value[:1]}', which a spreadsheet would run as a formula. "
                "Remove that character.",
                row.number,
                label,
            )
        )
    limit = MAX_LENGTHS.get(column)
    if limit is not None and len(value) > limit:
        row.errors.append(Issue(f"Too long: at most {limit} characters.", row.number, label))


def parse_csv(data: bytes, today: date) -> ParsedFile:
    """Read a staff CSV into rows and problems. Pure; never raises on any input."""
    parsed = ParsedFile()
    if len(data) > MAX_BYTES:
        parsed.file_issues.append(
            Issue(
                f"The file is bigger than {MAX_BYTES // 1000:,} KB, the limit (about "
                f"{MAX_ROWS:,} staff). Split it into smaller files."
            )
        )
        return parsed
    text, problem = _decode(data)
    if text is None:
        parsed.file_issues.append(Issue(problem or "The file could not be read."))
        return parsed

    first_line = text.splitlines()[0] if text.splitlines() else ""
    reader = csv.reader(
        io.StringIO(text, newline=""),
        dialect="excel",
        delimiter=_sniff_delimiter(first_line),
        strict=True,
    )
    records: list[list[str]] = []
    try:
        for record in reader:
            records.append(record)
            if len(records) > MAX_ROWS + 1:
                parsed.file_issues.append(
                    Issue(
                        f"The file has more than {MAX_ROWS:,} staff. Split it into smaller files."
                    )
                )
                return parsed
    except csv.Error:
        parsed.file_issues.append(
            Issue(
                f'Row {len(records) + 1} could not be read: its quote marks (") do not match. '
                "Check that row in a spreadsheet and save the file as CSV again."
            )
        )
        return parsed

    header_index = next((i for i, r in enumerate(records) if any(c.strip() for c in r)), None)
    if header_index is None:
        parsed.file_issues.append(Issue("The file is empty."))
        return parsed
    header = [_header_key(c) for c in records[header_index]]
    columns: dict[str, int] = {}
    for position, key in enumerate(header):
        if not key:
            continue
        if key in columns:
            parsed.file_issues.append(
                Issue(f"The column '{records[header_index][position].strip()}' appears twice.")
            )
        elif key in REQUIRED_COLUMNS or key in OPTIONAL_COLUMNS:
            columns[key] = position
        else:
            parsed.file_issues.append(
                Issue(
                    f"The column '{_clean(records[header_index][position])[:40]}' is not used "
                    "and was ignored.",
                    level=Level.WARNING,
                )
            )
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        parsed.file_issues.append(
            Issue(
                "The first row must name the columns. Missing: " + ", ".join(missing) + ". "
                "Expected: name, email, job_role, site, start_date, and optionally worker_id."
            )
        )
        return parsed
    parsed.columns = [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in columns]

    width = len(header)
    seen_emails: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for index in range(header_index + 1, len(records)):
        record = records[index]
        number = index + 1
        if not any(c.strip() for c in record):
            continue  # blank line
        cells = {
            key: _clean(record[pos]) if pos < len(record) else "" for key, pos in columns.items()
        }
        row = Row(
            number=number,
            name=cells["name"],
            email=cells["email"],
            job_role=cells["job_role"],
            site=cells.get("site", ""),
            start_date=None,
            worker_id=cells.get("worker_id", ""),
            start_date_text=cells["start_date"],
            language=cells.get("language", ""),
        )
        parsed.rows.append(row)
        extra = [c for c in record[width:] if c.strip()]
        if extra:
            row.errors.append(
                Issue(
                    f"This row has {len(record)} cells but the first row names {width} columns. "
                    "Check for a stray comma.",
                    number,
                )
            )
        for column in ("name", "email", "job_role", "site", "worker_id", "language"):
            _check_cell(row, column, getattr(row, column))
        if row.language:
            row.locale = LANGUAGE_NAMES.get(row.language.casefold())
            if row.locale is None:
                row.errors.append(
                    Issue(
                        f"'{row.language[:40]}' is not a language we can write to them in. "
                        "Use English or Hindi, or leave it blank (English).",
                        number,
                        "language",
                    )
                )

        if not row.name:
            row.errors.append(Issue("Enter the person's name.", number, "name"))
        if not row.job_role:
            row.errors.append(Issue("Enter a job role.", number, "job_role"))

        if not row.email:
            row.errors.append(Issue("Enter an e-mail address.", number, "email"))
        else:
            try:
                checked = validate_email(row.email, check_deliverability=False)
            except EmailNotValidError:
                row.errors.append(
                    Issue(f"'{row.email[:60]}' is not a valid e-mail address.", number, "email")
                )
            else:
                row.email = normalise_email(checked.normalized)
                first = seen_emails.get(row.email)
                if first is not None:
                    row.errors.append(
                        Issue(f"The same e-mail address as row {first}.", number, "email")
                    )
                else:
                    seen_emails[row.email] = number

        if row.worker_id:
            if not WORKER_ID_RE.match(row.worker_id):
                row.errors.append(
                    Issue(
                        "Use only letters, numbers, spaces and . _ / - in a worker id.",
                        number,
                        "worker_id",
                    )
                )
            first = seen_ids.get(row.worker_id.casefold())
            if first is not None:
                row.errors.append(Issue(f"The same worker id as row {first}.", number, "worker_id"))
            else:
                seen_ids[row.worker_id.casefold()] = number

        row.start_date, date_problem = parse_date(row.start_date_text, today)
        if date_problem:
            row.errors.append(Issue(date_problem, number, "start_date"))

    if not parsed.rows:
        parsed.file_issues.append(Issue("The file has a header row but no staff in it."))
    return parsed


@dataclass(frozen=True)
class OrgContext:
    """What rows are checked against: the organisation as it is now."""

    job_roles: Mapping[str, tuple[int, str]]  # normalised name -> (id, name as written)
    sites: Mapping[str, tuple[int, str]]
    staff: Mapping[str, date | None]  # e-mail of everyone with an employment -> end date
    worker_refs: frozenset[str]  # casefolded worker ids already used in the organisation
    accounts: frozenset[str]  # e-mails (of those in the file) that already have an account


def _known(names: Iterable[str]) -> str:
    listed = sorted(names, key=str.casefold)
    if not listed:
        return ""
    shown = ", ".join(listed[:15]) + (" …" if len(listed) > 15 else "")
    return f" Known: {shown}."


def check_rows(parsed: ParsedFile, context: OrgContext) -> ParsedFile:
    """Check each row against the organisation. Pure; updates the rows in place."""
    if not context.job_roles and parsed.rows:
        parsed.file_issues.append(
            Issue("Your organisation has no job roles yet. Add them first, then import staff.")
        )
    site_column = "site" in parsed.columns
    if context.sites and not site_column and parsed.rows:
        parsed.file_issues.append(
            Issue(
                "Add a site column: your organisation has sites, so each person needs one."
                + _known(n for _, n in context.sites.values())
            )
        )
    for row in parsed.rows:
        if row.job_role:
            found = context.job_roles.get(normalise_label(row.job_role))
            if found is None:
                row.errors.append(
                    Issue(
                        f"'{row.job_role[:60]}' is not one of your job roles."
                        + _known(n for _, n in context.job_roles.values()),
                        row.number,
                        "job_role",
                    )
                )
            else:
                row.job_role_id = found[0]
        if row.site:
            found_site = context.sites.get(normalise_label(row.site))
            if found_site is None:
                row.errors.append(
                    Issue(
                        f"'{row.site[:60]}' is not one of your sites."
                        + (
                            _known(n for _, n in context.sites.values())
                            if context.sites
                            else " Your organisation has no sites: leave it blank."
                        ),
                        row.number,
                        "site",
                    )
                )
            else:
                row.site_id = found_site[0]
        elif context.sites and site_column:
            row.errors.append(
                Issue(
                    "Enter the site this person works at."
                    + _known(n for _, n in context.sites.values()),
                    row.number,
                    "site",
                )
            )
        if row.email and row.email in context.staff:
            row.action = "skip"
            left = context.staff[row.email]
            row.warnings.append(
                Issue(
                    "Already on your staff list: skipped (change their details on the staff page)."
                    if left is None
                    else f"Worked here before and left on {left.strftime('%d/%m/%Y')}: skipped.",
                    row.number,
                    "email",
                    Level.WARNING,
                )
            )
        elif row.worker_id and row.worker_id.casefold() in context.worker_refs:
            row.errors.append(
                Issue(
                    f"Worker id '{row.worker_id}' is already used by someone on your staff list.",
                    row.number,
                    "worker_id",
                )
            )
        row.existing_account = row.email in context.accounts
    return parsed


def load_context(session: Session, org_id: int, emails: Sequence[str]) -> OrgContext:
    roles = session.execute(select(JobRole.id, JobRole.name).where(JobRole.org_id == org_id))
    sites = session.execute(select(Site.id, Site.name).where(Site.org_id == org_id))
    staff = session.execute(
        select(User.email, Employment.end_date)
        .join(Employment, Employment.user_id == User.id)
        .where(Employment.org_id == org_id)
    )
    refs = session.scalars(select(Employment.worker_ref).where(Employment.org_id == org_id))
    accounts: set[str] = set()
    unique = sorted(set(emails))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        accounts.update(session.scalars(select(User.email).where(User.email.in_(chunk))))
    return OrgContext(
        job_roles={normalise_label(name): (rid, name) for rid, name in roles},
        sites={normalise_label(name): (sid, name) for sid, name in sites},
        staff={email: end for email, end in staff},
        worker_refs=frozenset(r.casefold() for r in refs),
        accounts=frozenset(accounts),
    )


def validate(session: Session, org: Organisation, data: bytes, now: datetime) -> ParsedFile:
    parsed = parse_csv(data, now.date())
    if parsed.file_issues and not parsed.rows:
        return parsed
    context = load_context(session, org.id, [r.email for r in parsed.rows if r.email])
    return check_rows(parsed, context)


# --- the stored upload between preview and confirmation --------------------------------------


def store_upload(
    session: Session, org: Organisation, user: User, filename: str, data: bytes, now: datetime
) -> ImportBatch:
    """Keep the uploaded bytes for the confirmation step (caller commits)."""
    if len(data) > MAX_BYTES:
        raise ServiceError(
            f"The file is too big. The limit is {MAX_BYTES // 1000:,} KB, about {MAX_ROWS:,} staff."
        )
    # Old unconfirmed uploads are of no use to anyone: drop this organisation's expired ones.
    session.execute(
        delete(ImportBatch).where(
            ImportBatch.org_id == org.id,
            ImportBatch.status == ImportStatus.PENDING.value,
            ImportBatch.expires_at < now,
        )
    )
    batch = ImportBatch(
        token=secrets.token_urlsafe(32),
        org_id=org.id,
        created_by_id=user.id,
        filename=(filename or "staff.csv")[:200],
        content=data,
        sha256=hashlib.sha256(data).hexdigest(),
        status=ImportStatus.PENDING.value,
        created_at=now,
        expires_at=now + BATCH_LIFETIME,
    )
    session.add(batch)
    session.flush()
    return batch


def get_batch(session: Session, org: Organisation, token: str, now: datetime) -> ImportBatch:
    batch = session.scalar(
        select(ImportBatch).where(ImportBatch.token == token, ImportBatch.org_id == org.id)
    )
    if batch is None:
        raise NotFound("That upload was not found. Upload the file again.")
    if batch.status == ImportStatus.PENDING.value and batch.expires_at < now:
        raise Conflict("That upload is more than 2 hours old. Upload the file again.")
    return batch


@dataclass(frozen=True)
class ImportResult:
    added: list[tuple[User, Employment]]
    new_accounts: list[User]
    skipped: int


class ImportRefused(ServiceError):
    """The file has problems; nothing was imported. `parsed` holds them for the preview."""

    code, status = "import_refused", 400

    def __init__(self, parsed: ParsedFile) -> None:
        super().__init__(
            f"Nothing was imported: the file has {len(parsed.errors)} problem(s) to fix."
        )
        self.parsed = parsed


def _new_worker_ref(used: set[str]) -> str:
    while True:
        ref = "CC-" + secrets.token_hex(4).upper()
        if ref.casefold() not in used:
            used.add(ref.casefold())
            return ref


def _flush_or_conflict(session: Session) -> None:
    """A unique e-mail, worker id or employment taken by an import running at the same time."""
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            "Someone changed the staff list while this file was being imported, so nothing "
            "was imported. Upload the file again to see what is new."
        ) from None


def import_batch(
    session: Session,
    org: Organisation,
    batch: ImportBatch,
    actor: User,
    sha256: str,
    now: datetime,
) -> ImportResult:
    """Import every row of the batch, or nothing (raises; the caller rolls back).

    The rows are validated again against the database as it is now, so a change made since
    the preview (a role deleted, the same person added by someone else) is caught.
    """
    if batch.status != ImportStatus.PENDING.value:
        raise Conflict("This file was already imported. Nothing was imported twice.")
    if sha256 != batch.sha256 or hashlib.sha256(batch.content).hexdigest() != batch.sha256:
        raise Conflict("The file changed since the preview. Upload it again.")
    parsed = validate(session, org, batch.content, now)
    if not parsed.can_import:
        raise ImportRefused(parsed)
    # Claim the batch: of two confirmations racing, only one gets here.
    claimed = session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch.id, ImportBatch.status == ImportStatus.PENDING.value)
        .values(status=ImportStatus.IMPORTED.value, imported_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("This file was already imported. Nothing was imported twice.")

    used_refs = set(
        session.scalars(
            select(func.lower(Employment.worker_ref)).where(Employment.org_id == org.id)
        )
    )
    rows = parsed.to_add
    existing: dict[str, User] = {}
    for start in range(0, len(rows), 500):
        emails = [r.email for r in rows[start : start + 500]]
        existing.update(
            (u.email, u) for u in session.scalars(select(User).where(User.email.in_(emails)))
        )
    # Set-based writes (a flush per kind of row, not per row): 2,000 staff import in seconds.
    new_accounts = [
        User(
            email=row.email,
            name=row.name,
            password_hash=INVITED_HASH_PREFIX + secrets.token_urlsafe(32),
            active=False,
            created_at=now,
            locale=row.locale,  # their invitation and reminders are written in it
        )
        for row in rows
        if row.email not in existing
    ]
    session.add_all(new_accounts)
    _flush_or_conflict(session)
    users = {**existing, **{u.email: u for u in new_accounts}}
    learners = set(
        session.scalars(
            select(Membership.user_id).where(
                Membership.org_id == org.id, Membership.role == Role.LEARNER.value
            )
        )
    )
    session.add_all(
        Membership(user_id=users[row.email].id, org_id=org.id, role=Role.LEARNER.value)
        for row in rows
        if users[row.email].id not in learners
    )
    employments = []
    for row in rows:
        ref = row.worker_id or _new_worker_ref(used_refs)
        used_refs.add(ref.casefold())
        employments.append(
            Employment(
                org_id=org.id,
                user_id=users[row.email].id,
                job_role_id=row.job_role_id,
                site_id=row.site_id,
                worker_ref=ref,
                start_date=row.start_date,
            )
        )
    session.add_all(employments)
    _flush_or_conflict(session)
    added: list[tuple[User, Employment]] = []
    for row, employment in zip(rows, employments, strict=True):
        user = users[row.email]
        audit.record(
            session,
            actor=actor,
            action="staff.imported",
            entity_type="employment",
            entity_id=employment.id,
            now=now,
            org_id=org.id,
            subject_user_id=user.id,
            after={
                "name": user.name,
                "job_role_id": row.job_role_id,
                "job_role": row.job_role,
                "site_id": row.site_id,
                "site": row.site or None,
                "start_date": row.start_date,
                "worker_ref": employment.worker_ref,
                "new_account": row.email not in existing,
                "import_batch": batch.id,
            },
        )
        added.append((user, employment))
    skipped = sum(1 for r in parsed.rows if r.action == "skip")
    batch.imported_count = len(added)
    batch.content = b""  # the people are in the database now; the sha256 stays as the record
    audit.record(
        session,
        actor=actor,
        action="staff.import_completed",
        entity_type="staff_import_batch",
        entity_id=batch.id,
        now=now,
        org_id=org.id,
        after={
            "filename": batch.filename,
            "sha256": batch.sha256,
            "rows": len(parsed.rows),
            "added": len(added),
            "new_accounts": len(new_accounts),
            "skipped": skipped,
        },
    )
    session.flush()
    return ImportResult(added=added, new_accounts=new_accounts, skipped=skipped)


TEMPLATE_CSV = (
    "name,email,job_role,site,start_date,worker_id\r\n"
    "Amira Okafor,amira.okafor@example.com,Care worker,Main house,03/02/2025,\r\n"
)
