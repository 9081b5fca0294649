"""Bulk staff import: the pure parser, the checks against the organisation, the pages."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from lms import audit
from lms.accounts import ensure_membership, get_or_create_org, get_or_create_user
from lms.extensions import db
from lms.models import AuditEvent, Employment, JobRole, Membership, Role, Site, User
from lms.staff import importer
from lms.staff.importer import Level, OrgContext, check_rows, parse_csv
from lms.staff.models import ImportBatch
from tests.conftest import PASSWORD, Auth, csrf_token, make_app
from tests.lms.smtp_server import Sink, smtp_config, smtp_server

TODAY = date(2026, 12, 1)
HEADER = "name,email,job_role,site,start_date\n"
GOOD = (
    HEADER + "Amira Okafor,amira@example.com,Care worker,Main house,03/02/2025\n"
    "Ben Carter,ben@example.com,Senior care worker,Garden lodge,2024-11-20\n"
)


def parse(text: str | bytes) -> importer.ParsedFile:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_csv(data, TODAY)


def messages(parsed: importer.ParsedFile, level: Level = Level.ERROR) -> list[str]:
    return [f"{i.where}: {i.message}" for i in parsed.issues if i.level is level]


# --- the pure parser -------------------------------------------------------------------------


def test_a_good_file_parses_with_both_date_formats() -> None:
    parsed = parse(GOOD)
    assert messages(parsed) == []
    assert [(r.number, r.name, r.email, r.start_date) for r in parsed.rows] == [
        (2, "Amira Okafor", "amira@example.com", date(2025, 2, 3)),
        (3, "Ben Carter", "ben@example.com", date(2024, 11, 20)),
    ]


def test_excel_bom_semicolons_and_loose_headers_are_read() -> None:
    text = (
        "\ufeff Name ;E-mail; Job Role ;SITE;Start Date;Worker ID\r\n"
        "Zoë Ångström;ZOE@Example.COM ;care worker;main house;1/2/2025;W-17\r\n"
    )
    parsed = parse(text)
    assert messages(parsed) == []
    row = parsed.rows[0]
    assert (row.name, row.email, row.job_role, row.start_date, row.worker_id) == (
        "Zoë Ångström",
        "zoe@example.com",
        "care worker",
        date(2025, 2, 1),
        "W-17",
    )


def test_quoted_cells_with_commas_and_newlines_keep_spreadsheet_row_numbers() -> None:
    text = HEADER + '"Okafor, Amira",a@example.com,Care worker,Main house,03/02/2025\n'
    text += '"Ben\nCarter",b@example.com,Care worker,Main house,03/02/2025\n'
    text += ",,,,\n"  # an empty row Excel leaves behind
    text += "Cara Diaz,c@example.com,Care worker,Main house,bad\n"
    parsed = parse(text)
    assert [r.name for r in parsed.rows] == ["Okafor, Amira", "Ben\nCarter", "Cara Diaz"]
    assert messages(parsed) == [
        "Row 5, start_date: 'bad' is not a date. Use DD/MM/YYYY (like 25/03/2025) or YYYY-MM-DD."
    ]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("", "Enter the start date"),
        ("31/02/2025", "is not a real date"),
        ("25/03/25", "write the year in full"),
        ("2025/03/25", "is not a date"),
        ("next monday", "is not a date"),
        ("01/01/1949", "before 1950"),
        ("03/12/2027", "more than a year from now"),
    ],
)
def test_bad_dates_are_named(cell: str, expected: str) -> None:
    parsed = parse(HEADER + f"Amira,a@example.com,Care worker,Main house,{cell}\n")
    [problem] = messages(parsed)
    assert problem.startswith("Row 2, start_date:") and expected in problem


def test_start_date_edges_one_year_ahead_and_1950() -> None:
    ok_late = (TODAY + timedelta(days=366)).strftime("%d/%m/%Y")
    parsed = parse(
        HEADER
        + f"A,a@example.com,Care worker,Main house,{ok_late}\n"
        + "B,b@example.com,Care worker,Main house,01/01/1950\n"
    )
    assert messages(parsed) == []


def test_row_problems_name_row_and_column() -> None:
    text = (
        HEADER + ",a@example.com,Care worker,Main house,03/02/2025\n"
        "Ben,not-an-email,Care worker,Main house,03/02/2025\n"
        "Cara,A@EXAMPLE.com,Care worker,Main house,03/02/2025\n"
        "Dan,,,Main house,03/02/2025\n"
        "Eve,e@example.com,Care worker,Main house,03/02/2025,surplus\n"
    )
    assert messages(parse(text)) == [
        "Row 2, name: Enter the person's name.",
        "Row 3, email: 'not-an-email' is not a valid e-mail address.",
        "Row 4, email: The same e-mail address as row 2.",
        "Row 5, job_role: Enter a job role.",
        "Row 5, email: Enter an e-mail address.",
        "Row 6: This row has 6 cells but the first row names 5 columns. Check for a stray comma.",
    ]


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_formula_looking_cells_are_refused(start: str) -> None:
    text = HEADER + f'"{start}HYPERLINK(""http://x"")",a@example.com,Care worker,Main,03/02/2025\n'
    [problem] = messages(parse(text))
    assert problem.startswith("Row 2, name: Starts with")
    assert "formula" in problem


def test_formula_in_any_text_column_is_refused() -> None:
    text = HEADER + "Amira,a@example.com,=1+1,@SUM(A1),03/02/2025\n"
    problems = messages(parse(text))
    assert [p.split(":")[0] for p in problems] == ["Row 2, job_role", "Row 2, site"]


def test_worker_ids_are_checked() -> None:
    text = (
        "name,email,job_role,site,start_date,worker_id\n"
        "A,a@example.com,Care worker,Main,03/02/2025,W1\n"
        "B,b@example.com,Care worker,Main,03/02/2025,w1\n"
        "C,c@example.com,Care worker,Main,03/02/2025,W 1;DROP\n"
        "D,d@example.com,Care worker,Main,03/02/2025," + "x" * 51 + "\n"
    )
    assert messages(parse(text)) == [
        "Row 3, worker_id: The same worker id as row 2.",
        "Row 4, worker_id: Use only letters, numbers, spaces and . _ / - in a worker id.",
        "Row 5, worker_id: Too long: at most 50 characters.",
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "The file is empty."),
        (b"   \r\n\r\n", "The file is empty."),
        (b"PK\x03\x04\x14\x00\x06\x00rest-of-an-xlsx", "spreadsheet file (Excel)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old-xls", "spreadsheet file (Excel)"),
        (b"%PDF-1.7\n...", "This is a PDF"),
        (b"name,email\x00,job_role\n", "binary content"),
        (
            "name,email,job_role,site,start_date\nZoë,z@x.org,a,b,01/01/2025\n".encode("latin-1"),
            "not saved as UTF-8",
        ),
        (b"name,email\x07,job_role,site,start_date\n", "control characters"),
        (b"name,email,site\nA,a@example.com,Main\n", "Missing: job_role, start_date"),
        (HEADER.encode(), "a header row but no staff"),
        (b'name,email,job_role,site,start_date\n"A,a@example.com,x,y,01/01/2025\n', "quote marks"),
        (
            b'name,email,job_role,site,start_date\n"A"x,a@example.com,x,y,01/01/2025\n',
            "quote marks",
        ),
    ],
)
def test_files_that_cannot_be_used_get_one_clear_message(data: bytes, expected: str) -> None:
    parsed = parse(data)
    problems = messages(parsed)
    assert problems and problems[0].startswith("File: ")
    assert expected in problems[0], problems
    assert not parsed.can_import


def test_duplicate_and_unknown_columns() -> None:
    parsed = parse("name,email,Email,job_role,start_date,phone\nA,a@x.org,b@x.org,R,01/01/2025,1\n")
    assert "File: The column 'Email' appears twice." in messages(parsed)
    assert messages(parsed, Level.WARNING) == [
        "File: The column 'phone' is not used and was ignored."
    ]


def test_size_and_row_limits() -> None:
    big = b"name,email,job_role,site,start_date\n" + b"x" * importer.MAX_BYTES
    assert messages(parse(big))[0].startswith("File: The file is bigger than 1,000 KB")
    row = "A{0},a{0}@example.com,Care worker,Main,01/01/2025\n"
    at_limit = HEADER + "".join(row.format(i) for i in range(importer.MAX_ROWS))
    assert messages(parse(at_limit)) == []
    over = at_limit + row.format("x")
    assert messages(parse(over)) == [
        "File: The file has more than 2,000 staff. Split it into smaller files."
    ]


def test_the_parser_never_raises_on_garbage() -> None:
    """Seeded fuzzing: random bytes and random mutations of a good file (hypothesis-free)."""
    rng = random.Random(20261201)
    base = GOOD.encode()
    alphabet = b',;\t"\n\r=+-@ /0123456789abcxyz\xc3\xa9\xff\x00'
    for _ in range(600):
        if rng.random() < 0.3:
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))
        else:
            data = bytearray(base)
            for _ in range(rng.randint(1, 8)):
                pos = rng.randrange(len(data) + 1)
                data[pos:pos] = bytes([rng.choice(alphabet)])
            data = bytes(data)
        parsed = parse_csv(data, TODAY)
        for issue in parsed.issues:
            assert issue.message and isinstance(issue.message, str)
        assert parsed.can_import is (not parsed.errors and bool(parsed.to_add))


# --- checks against the organisation (pure) --------------------------------------------------


def context(**overrides: Any) -> OrgContext:
    values: dict[str, Any] = {
        "job_roles": {
            "care worker": (1, "Care worker"),
            "senior care worker": (2, "Senior care worker"),
        },
        "sites": {"main house": (10, "Main house"), "garden lodge": (11, "Garden lodge")},
        "staff": {},
        "worker_refs": frozenset(),
        "accounts": frozenset(),
    }
    values.update(overrides)
    return OrgContext(**values)


def test_known_roles_and_sites_match_case_and_space_insensitively() -> None:
    parsed = check_rows(
        parse(HEADER + "A,a@x.org,  CARE   worker ,main HOUSE,01/01/2025\n"), context()
    )
    assert messages(parsed) == []
    assert (parsed.rows[0].job_role_id, parsed.rows[0].site_id) == (1, 10)


def test_unknown_role_and_site_list_the_known_ones() -> None:
    parsed = check_rows(parse(HEADER + "A,a@x.org,Carer,Annex,01/01/2025\n"), context())
    assert messages(parsed) == [
        "Row 2, job_role: 'Carer' is not one of your job roles. "
        "Known: Care worker, Senior care worker.",
        "Row 2, site: 'Annex' is not one of your sites. Known: Garden lodge, Main house.",
    ]


def test_site_required_only_when_the_organisation_has_sites() -> None:
    text = HEADER + "A,a@x.org,Care worker,,01/01/2025\n"
    assert messages(check_rows(parse(text), context())) == [
        "Row 2, site: Enter the site this person works at. Known: Garden lodge, Main house."
    ]
    assert messages(check_rows(parse(text), context(sites={}))) == []
    no_site_column = "name,email,job_role,start_date\nA,a@x.org,Care worker,01/01/2025\n"
    assert messages(check_rows(parse(no_site_column), context(sites={}))) == []
    assert messages(check_rows(parse(no_site_column), context())) == [
        "File: Add a site column: your organisation has sites, so each person needs one. "
        "Known: Garden lodge, Main house."
    ]


def test_no_job_roles_yet_is_explained() -> None:
    parsed = check_rows(parse(GOOD), context(job_roles={}))
    assert messages(parsed)[0] == (
        "File: Your organisation has no job roles yet. Add them first, then import staff."
    )


def test_people_already_on_the_staff_list_are_skipped_with_a_warning() -> None:
    parsed = check_rows(
        parse(GOOD),
        context(staff={"amira@example.com": None, "ben@example.com": date(2026, 3, 31)}),
    )
    assert messages(parsed) == []
    assert messages(parsed, Level.WARNING) == [
        "Row 2, email: Already on your staff list: skipped "
        "(change their details on the staff page).",
        "Row 3, email: Worked here before and left on 31/03/2026: skipped.",
    ]
    assert parsed.to_add == [] and not parsed.can_import


def test_worker_id_already_used_in_the_organisation() -> None:
    text = (
        "name,email,job_role,site,start_date,worker_id\n"
        "A,a@x.org,Care worker,Main house,01/01/2025,W9\n"
    )
    parsed = check_rows(parse(text), context(worker_refs=frozenset({"w9"})))
    assert messages(parsed) == [
        "Row 2, worker_id: Worker id 'W9' is already used by someone on your staff list."
    ]


# --- the pages -------------------------------------------------------------------------------


@pytest.fixture
def sink() -> Iterator[Sink]:
    with smtp_server() as server:
        yield server


class FreshUserClient(FlaskClient):
    """A test client whose requests never see another client's logged-in user.

    The tests hold the app context open, and requests share it (and `g`, where Flask-Login
    caches the current user); several clients in one test need the cache cleared.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        g.pop("_login_user", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def mail_app(tmp_path: Path, sink: Sink) -> Iterator[Flask]:
    for app in make_app(tmp_path, **smtp_config(sink)):
        app.test_client_class = FreshUserClient
        yield app


@pytest.fixture
def org_setup(mail_app: Flask) -> dict[str, Any]:
    now = datetime.now(UTC)
    hasher = mail_app.extensions["password_hasher"]
    org = get_or_create_org(db.session, "oakview", "Oakview Care", "care_provider", now)
    other = get_or_create_org(db.session, "elmhurst", "Elmhurst Home", "care_provider", now)
    people = {}
    for key, email, org_, role in (
        ("manager", "manager@example.com", org, Role.MANAGER),
        ("admin", "admin@example.com", org, Role.ADMIN),
        ("learner", "learner@example.com", org, Role.LEARNER),
        ("outsider", "outsider@example.com", other, Role.MANAGER),
    ):
        user = get_or_create_user(db.session, hasher, email, key.title(), PASSWORD, now)
        ensure_membership(db.session, user, org_, role)
        people[key] = user
    roles = [
        JobRole(org_id=org.id, name=n, cwp_category="Care worker")
        for n in ("Care worker", "Senior care worker")
    ]
    sites = [Site(org_id=org.id, name=n) for n in ("Main house", "Garden lodge")]
    db.session.add_all([*roles, *sites])
    db.session.commit()
    return {"org": org, "other": other, **people}


@pytest.fixture
def manager(mail_app: Flask, org_setup: dict[str, Any]) -> FlaskClient:
    client = mail_app.test_client()
    Auth(client).login("manager@example.com", PASSWORD)
    return client


def upload(client: FlaskClient, text: str | bytes, filename: str = "staff.csv") -> Any:
    import io

    data = text.encode() if isinstance(text, str) else text
    return client.post(
        "/manage/oakview/staff/import",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def batch_token(response: Any) -> str:
    match = re.search(r"/manage/oakview/staff/import/([\w-]+)$", response.headers["Location"])
    assert match, response.headers.get("Location")
    return match.group(1)


def confirm(client: FlaskClient, token: str) -> Any:
    batch = db.session.scalar(select(ImportBatch).where(ImportBatch.token == token))
    assert batch is not None
    return client.post(f"/manage/oakview/staff/import/{token}", data={"sha256": batch.sha256})


def employments() -> int:
    return db.session.scalar(select(func.count()).select_from(Employment)) or 0


def test_preview_then_confirm_imports_everyone_and_invites_new_people(
    manager: FlaskClient, sink: Sink, mail_app: Flask
) -> None:
    response = upload(manager, GOOD)
    assert response.status_code == 302
    token = batch_token(response)
    assert employments() == 0  # the preview saves nobody

    page = manager.get(f"/manage/oakview/staff/import/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Import 2 staff" in html and "Added, with a new account" in html

    response = confirm(manager, token)
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/manage/oakview/staff"
    )
    amira = db.session.scalar(select(User).where(User.email == "amira@example.com"))
    assert amira is not None and amira.active is False
    assert amira.password_hash.startswith(importer.INVITED_HASH_PREFIX)
    employment = db.session.scalar(select(Employment).where(Employment.user_id == amira.id))
    assert employment is not None
    assert employment.start_date == date(2025, 2, 3)
    assert employment.job_role is not None and employment.job_role.name == "Care worker"
    assert employment.site is not None and employment.site.name == "Main house"
    assert re.fullmatch(r"CC-[0-9A-F]{8}", employment.worker_ref)
    assert (
        db.session.scalar(select(Membership.role).where(Membership.user_id == amira.id))
        == Role.LEARNER.value
    )

    actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert actions == ["staff.imported", "staff.imported", "staff.import_completed"]
    [event] = audit.history(db.session, employment.org_id, amira.id)
    assert event.after is not None and event.after["job_role"] == "Care worker"
    assert audit.verify_chain(db.session).ok

    listing = manager.get("/manage/oakview/staff").get_data(as_text=True)
    assert "Amira Okafor" in listing and "Garden lodge" in listing and "03/02/2025" in listing
    assert "Invited: no password yet" in listing

    # The set-password e-mail went through the real SMTP server, linked on BASE_URL.
    [mail] = sink.to("amira@example.com")
    assert mail.subject == "Oakview Care: set your CareCred password"
    link = re.search(r"https://lms\.example\.test(/auth/set-password/\S+)", mail.text())
    assert link, mail.text()
    assert "Set your password" in mail.html()

    learner = mail_app.test_client()
    form_page = learner.get(link.group(1))
    assert "Hello Amira Okafor" in form_page.get_data(as_text=True)
    assert form_page.headers["Cache-Control"] == "no-store"
    short = learner.post(link.group(1), data={"password": "short", "confirm": "short"})
    assert short.status_code == 400 and "at least 12 characters" in short.get_data(as_text=True)
    done = learner.post(
        link.group(1), data={"password": "three random words", "confirm": "three random words"}
    )
    assert done.status_code == 302
    assert learner.get("/").status_code == 200
    amira = db.session.scalar(select(User).where(User.email == "amira@example.com"))
    assert amira is not None and amira.active is True

    # The link works once.
    again = mail_app.test_client().get(link.group(1))
    assert again.status_code == 400 and "already used" in again.get_data(as_text=True)
    # And the new password logs in.
    fresh = mail_app.test_client()
    assert Auth(fresh).login("amira@example.com", "three random words").status_code == 302


def test_the_language_column_sets_the_invitation_language(
    manager: FlaskClient, sink: Sink, mail_app: Flask
) -> None:
    data = (
        "name,email,job_role,site,start_date,Preferred language\n"
        "Amira Okafor,amira@example.com,Care worker,Main house,03/02/2025,Hindi\n"
        "Ben Carter,ben@example.com,Senior care worker,Garden lodge,2024-11-20,\n"
    )
    assert confirm(manager, batch_token(upload(manager, data))).status_code == 302
    amira = db.session.scalar(select(User).where(User.email == "amira@example.com"))
    ben = db.session.scalar(select(User).where(User.email == "ben@example.com"))
    assert amira is not None and ben is not None
    assert (amira.locale, ben.locale) == ("hi", None)
    [hindi] = sink.to("amira@example.com")
    assert hindi.subject == "Oakview Care: अपना CareCred पासवर्ड बनाइए"
    assert "नमस्ते Amira Okafor," in hindi.text()
    [english] = sink.to("ben@example.com")
    assert english.subject == "Oakview Care: set your CareCred password"
    # The set-password page opens in her language on any device, and she can still change it.
    link = re.search(r"https://lms\.example\.test(/auth/set-password/\S+)", hindi.text())
    assert link, hindi.text()
    page = mail_app.test_client().get(link.group(1))
    assert '<html lang="hi">' in page.get_data(as_text=True)


def test_an_unknown_language_is_named() -> None:
    parsed = parse(
        "name,email,job_role,start_date,language\n"
        "Amira Okafor,amira@example.com,Care worker,03/02/2025,Klingon\n"
        "Ben Carter,ben@example.com,Care worker,03/02/2025,EN\n"
    )
    assert messages(parsed) == [
        "Row 2, language: 'Klingon' is not a language we can write to them in. "
        "Use English or Hindi, or leave it blank (English)."
    ]
    assert [r.locale for r in parsed.rows] == [None, "en"]


def test_any_row_error_means_nothing_is_imported(manager: FlaskClient, sink: Sink) -> None:
    text = GOOD + "Cara Diaz,cara@example.com,Cook,Main house,03/02/2025\n"
    token = batch_token(upload(manager, text))
    html = manager.get(f"/manage/oakview/staff/import/{token}").get_data(as_text=True)
    assert "1 problem to fix" in html
    assert "Row 4, job_role: &#39;Cook&#39; is not one of your job roles." in html
    assert "Import 2 staff" not in html  # no confirm button
    response = confirm(manager, token)  # forcing it anyway
    assert response.status_code == 400
    assert "Nothing was imported" in response.get_data(as_text=True)
    assert employments() == 0
    assert db.session.scalar(select(func.count()).select_from(User)) == 4
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    assert sink.received == []


def test_a_clash_after_the_preview_refuses_the_whole_file(
    manager: FlaskClient, org_setup: dict[str, Any], mail_app: Flask
) -> None:
    text = (
        "name,email,job_role,site,start_date,worker_id\n"
        "Amira Okafor,amira@example.com,Care worker,Main house,03/02/2025,W1\n"
        "Ben Carter,ben@example.com,Care worker,Main house,03/02/2025,W2\n"
    )
    token = batch_token(upload(manager, text))
    # After the preview, someone else puts a worker on the staff list with Ben's worker id.
    org = org_setup["org"]
    cara = get_or_create_user(
        db.session,
        mail_app.extensions["password_hasher"],
        "cara@example.com",
        "Cara",
        PASSWORD,
        datetime.now(UTC),
    )
    db.session.add(Employment(org_id=org.id, user_id=cara.id, worker_ref="w2"))
    db.session.commit()
    response = confirm(manager, token)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Nothing was imported" in html
    assert "Worker id &#39;W2&#39; is already used" in html
    assert employments() == 1  # only Cara's: Amira was not imported either
    assert db.session.scalar(select(User).where(User.email == "amira@example.com")) is None
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0
    batch = db.session.scalar(select(ImportBatch).where(ImportBatch.token == token))
    assert batch is not None and batch.status == "pending"


def test_confirm_twice_imports_once(manager: FlaskClient) -> None:
    token = batch_token(upload(manager, GOOD))
    assert confirm(manager, token).status_code == 302
    second = confirm(manager, token)
    assert second.status_code == 302
    assert "already imported" in manager.get("/manage/oakview/staff").get_data(as_text=True)
    assert employments() == 2


def test_a_tampered_or_expired_batch_is_refused(manager: FlaskClient) -> None:
    token = batch_token(upload(manager, GOOD))
    tampered = manager.post(f"/manage/oakview/staff/import/{token}", data={"sha256": "0" * 64})
    assert tampered.status_code == 409 and employments() == 0
    batch = db.session.scalar(select(ImportBatch).where(ImportBatch.token == token))
    assert batch is not None
    batch.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    db.session.commit()
    assert confirm(manager, token).status_code == 409
    assert employments() == 0
    assert manager.get("/manage/oakview/staff/import/not-a-token").status_code == 404


def test_unusable_files_are_refused_on_the_upload_page(manager: FlaskClient) -> None:
    response = upload(manager, b"PK\x03\x04xlsx", "staff.xlsx")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "spreadsheet file (Excel)" in html and "Nothing was imported" in html
    assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == 0
    no_file = manager.post(
        "/manage/oakview/staff/import", data={}, content_type="multipart/form-data"
    )
    assert no_file.status_code == 400 and "Choose a CSV file" in no_file.get_data(as_text=True)


def test_existing_accounts_join_without_an_invitation(
    manager: FlaskClient, org_setup: dict[str, Any], sink: Sink
) -> None:
    # The outsider manages another organisation and now also works here.
    text = HEADER + "Someone Else,OUTSIDER@example.com,Care worker,Main house,01/06/2026\n"
    token = batch_token(upload(manager, text))
    assert "already has a CareCred account" in manager.get(
        f"/manage/oakview/staff/import/{token}"
    ).get_data(as_text=True)
    assert confirm(manager, token).status_code == 302
    outsider = org_setup["outsider"]
    db.session.refresh(outsider)
    assert outsider.name == "Outsider" and outsider.active  # name and password kept
    assert outsider.roles_in(org_setup["org"].id) == {Role.LEARNER.value}
    assert sink.received == []


def test_failed_invitation_can_be_sent_again(
    manager: FlaskClient, sink: Sink, mail_app: Flask
) -> None:
    sink.fail_with = "451 4.3.0 try again later"
    token = batch_token(upload(manager, GOOD))
    response = confirm(manager, token)
    assert employments() == 2  # the import stands
    listing = manager.get(response.headers["Location"]).get_data(as_text=True)
    assert "2 set-password e-mail(s) could not be sent" in listing
    sink.fail_with = None
    amira = db.session.scalar(select(User).where(User.email == "amira@example.com"))
    assert amira is not None
    assert manager.post(f"/manage/oakview/staff/{amira.id}/invite").status_code == 302
    [mail] = sink.to("amira@example.com")
    link = re.search(r"https://lms\.example\.test(/auth/set-password/\S+)", mail.text())
    assert link
    # A second link makes the first one stop working.
    assert manager.post(f"/manage/oakview/staff/{amira.id}/invite").status_code == 302
    assert mail_app.test_client().get(link.group(1)).status_code == 400


def test_sending_an_invitation_again_is_audited_without_the_marker(
    manager: FlaskClient, sink: Sink, org_setup: dict[str, Any]
) -> None:
    assert confirm(manager, batch_token(upload(manager, GOOD))).status_code == 302
    amira = db.session.scalar(select(User).where(User.email == "amira@example.com"))
    assert amira is not None
    first_marker = amira.password_hash
    assert manager.post(f"/manage/oakview/staff/{amira.id}/invite").status_code == 302
    db.session.refresh(amira)
    assert amira.password_hash != first_marker  # older links stop working...
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "account.invitation_renewed")
    ).all()
    assert len(events) == 1  # ...and the change is on the audit trail
    (event,) = events
    assert event.actor_id == org_setup["manager"].id
    assert event.org_id == org_setup["org"].id and event.subject_user_id == amira.id
    assert (event.entity_type, event.entity_id) == ("user", str(amira.id))
    recorded = json.dumps([event.before, event.after, event.reason])
    for marker in (first_marker, amira.password_hash):  # never the marker (or part of it)
        assert marker not in recorded and marker[-20:] not in recorded
    assert audit.verify_chain(db.session).ok


def test_a_forged_set_password_link_is_refused(mail_app: Flask, org_setup: dict[str, Any]) -> None:
    client = mail_app.test_client()
    response = client.get("/auth/set-password/eyJ1IjoxfQ.forged.signature")
    assert response.status_code == 400 and "does not work" in response.get_data(as_text=True)
    # A valid-looking link for an account that has a password already.
    from lms.staff.invitations import make_token

    token = make_token(org_setup["learner"], mail_app.config["SECRET_KEY"])
    assert client.get(f"/auth/set-password/{token}").status_code == 400


def test_staff_pages_are_for_this_organisations_managers_only(
    mail_app: Flask, org_setup: dict[str, Any]
) -> None:
    paths = [
        "/manage/oakview/staff",
        "/manage/oakview/staff/import",
        "/manage/oakview/staff/template.csv",
    ]
    anonymous = mail_app.test_client()
    for path in paths:
        assert anonymous.get(path).status_code == 302  # to the login page
    for email, expected in (
        ("outsider@example.com", 404),
        ("learner@example.com", 404),
        ("admin@example.com", 200),
    ):
        client = mail_app.test_client()
        Auth(client).login(email, PASSWORD)
        for path in paths:
            assert client.get(path).status_code == expected, (email, path)
    outsider = mail_app.test_client()
    Auth(outsider).login("outsider@example.com", PASSWORD)
    assert upload(outsider, GOOD).status_code == 404
    learner_id = org_setup["learner"].id
    assert outsider.post(f"/manage/oakview/staff/{learner_id}/invite").status_code == 404
    assert employments() == 0


def test_an_outsider_cannot_confirm_another_organisations_upload(
    manager: FlaskClient, mail_app: Flask
) -> None:
    token = batch_token(upload(manager, GOOD))
    outsider = mail_app.test_client()
    Auth(outsider).login("outsider@example.com", PASSWORD)
    assert outsider.get(f"/manage/oakview/staff/import/{token}").status_code == 404
    assert outsider.get(f"/manage/elmhurst/staff/import/{token}").status_code == 404
    assert employments() == 0


def test_template_csv_imports_cleanly() -> None:
    parsed = check_rows(parse(importer.TEMPLATE_CSV), context())
    assert messages(parsed) == [] and len(parsed.to_add) == 1


def test_upload_and_confirm_need_the_csrf_token(tmp_path: Path, sink: Sink) -> None:
    import io

    for app in make_app(tmp_path, WTF_CSRF_ENABLED=True, **smtp_config(sink)):
        app.test_client_class = FreshUserClient
        now = datetime.now(UTC)
        org = get_or_create_org(db.session, "oakview", "Oakview Care", "care_provider", now)
        user = get_or_create_user(
            db.session, app.extensions["password_hasher"], "manager@example.com", "M", PASSWORD, now
        )
        ensure_membership(db.session, user, org, Role.MANAGER)
        db.session.add_all(
            [
                JobRole(org_id=org.id, name="Care worker", cwp_category="x"),
                JobRole(org_id=org.id, name="Senior care worker", cwp_category="x"),
                Site(org_id=org.id, name="Main house"),
                Site(org_id=org.id, name="Garden lodge"),
            ]
        )
        db.session.commit()
        client = app.test_client()
        login_page = client.get("/auth/login").get_data(as_text=True)
        client.post(
            "/auth/login",
            data={
                "email": "manager@example.com",
                "password": PASSWORD,
                "csrf_token": csrf_token(login_page),
            },
        )
        data = GOOD.encode()
        no_token = client.post(
            "/manage/oakview/staff/import",
            data={"file": (io.BytesIO(data), "staff.csv")},
            content_type="multipart/form-data",
        )
        assert no_token.status_code == 400
        assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == 0
        huge = client.post(
            "/manage/oakview/staff/import",
            data={"file": (io.BytesIO(b"x" * (3 * 1024 * 1024)), "big.csv")},
            content_type="multipart/form-data",
        )  # refused while CSRF protection reads the form, before the view
        forget_refused_upload(huge)
        assert huge.status_code == 413
        assert "A staff file can be at most" in huge.get_data(as_text=True)
        page = client.get("/manage/oakview/staff/import").get_data(as_text=True)
        response = client.post(
            "/manage/oakview/staff/import",
            data={"file": (io.BytesIO(data), "staff.csv"), "csrf_token": csrf_token(page)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 302
        preview_url = response.headers["Location"]
        preview = client.get(preview_url).get_data(as_text=True)
        sha = re.search(r'name="sha256" type="hidden" value="([0-9a-f]{64})"', preview)
        assert sha
        assert client.post(preview_url, data={"sha256": sha.group(1)}).status_code == 400
        assert employments() == 0
        ok = client.post(
            preview_url, data={"sha256": sha.group(1), "csrf_token": csrf_token(preview)}
        )
        assert ok.status_code == 302
        assert employments() == 2


# --- properties (hypothesis) -------------------------------------------------------------------

_cell_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40
).filter(
    lambda s: importer._clean(s) != "" and not importer._clean(s).startswith(("=", "+", "-", "@"))
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_property_any_bytes_give_messages_not_exceptions(data: bytes) -> None:
    parsed = parse_csv(data, TODAY)
    assert all(isinstance(i.message, str) and i.message for i in parsed.issues)
    assert parsed.can_import is (not parsed.errors and bool(parsed.to_add))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(_cell_text, st.dates(min_value=date(1950, 1, 1), max_value=TODAY), st.booleans()),
        min_size=1,
        max_size=15,
    )
)
def test_property_what_a_spreadsheet_writes_is_read_back(
    people: list[tuple[str, date, bool]],
) -> None:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Name", "E-mail", "Job role", "Site", "Start date"])
    for n, (name, started, iso) in enumerate(people):
        when = started.isoformat() if iso else started.strftime("%d/%m/%Y")
        writer.writerow([name, f"Person{n}@Example.com", "Care worker", "Main house", when])
    parsed = check_rows(parse(buffer.getvalue()), context())
    assert messages(parsed) == []
    assert [(r.name, r.email, r.start_date, r.job_role_id) for r in parsed.to_add] == [
        (importer._clean(name), f"person{n}@example.com", started, 1)
        for n, (name, started, _) in enumerate(people)
    ]


def test_a_concurrent_import_of_the_same_worker_is_a_clear_conflict(
    manager: FlaskClient,
    org_setup: dict[str, Any],
    mail_app: Flask,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another import commits the same worker id between our checks and our insert."""
    text = (
        "name,email,job_role,site,start_date,worker_id\n"
        "Amira Okafor,amira@example.com,Care worker,Main house,03/02/2025,W1\n"
        "Ben Carter,ben@example.com,Care worker,Main house,03/02/2025,W2\n"
    )
    token = batch_token(upload(manager, text))
    cara = get_or_create_user(
        db.session,
        mail_app.extensions["password_hasher"],
        "cara@example.com",
        "Cara",
        PASSWORD,
        datetime.now(UTC),
    )
    db.session.add(Employment(org_id=org_setup["org"].id, user_id=cara.id, worker_ref="W2"))
    db.session.commit()
    real = importer.load_context

    def stale(session: Any, org_id: int, emails: Any) -> OrgContext:
        seen = real(session, org_id, emails)
        return OrgContext(seen.job_roles, seen.sites, seen.staff, frozenset(), seen.accounts)

    monkeypatch.setattr(importer, "load_context", stale)  # the checks miss the other import
    response = confirm(manager, token)
    assert response.status_code == 409
    assert "nothing was imported" in response.get_data(as_text=True)
    assert employments() == 1
    assert db.session.scalar(select(User).where(User.email == "amira@example.com")) is None
    batch = db.session.scalar(select(ImportBatch).where(ImportBatch.token == token))
    assert batch is not None and batch.status == "pending"


def test_invitations_as_a_job(
    manager: FlaskClient, mail_app: Flask, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a job queue, the import page queues the e-mails; the job sends them, once each."""
    from lms import jobs

    monkeypatch.setitem(
        jobs.REGISTRY,
        "staff.invite",
        jobs.JobSpec("lms.staff.invitations:invite_job", 900, "Set-password e-mails"),
    )
    queued: list[dict[str, Any]] = []
    monkeypatch.setattr(jobs, "redis_url", lambda app=None: "redis://127.0.0.1:1/0")
    monkeypatch.setattr(jobs, "enqueue", lambda name, **kw: queued.append({"name": name, **kw}))
    token = batch_token(upload(manager, GOOD))
    listing = manager.get(confirm(manager, token).headers["Location"]).get_data(as_text=True)
    assert "The set-password e-mails are being sent." in listing
    assert sink.received == []
    [job] = queued
    assert job["name"] == "staff.invite" and len(job["user_ids"]) == 2

    # What a worker runs: the registered function, in its own session.
    result = jobs.execute("staff.invite", {"org_id": job["org_id"], "user_ids": job["user_ids"]})
    assert result == {"sent": 2, "failed": []}
    assert len(sink.to("amira@example.com")) == 1 and len(sink.to("ben@example.com")) == 1
    # Someone who set a password meanwhile is not e-mailed again by a retry.
    amira = db.session.scalar(select(User).where(User.email == "amira@example.com"))
    assert amira is not None
    amira.password_hash = "set-elsewhere"
    db.session.commit()
    sink.clear()
    assert jobs.execute("staff.invite", {"org_id": job["org_id"], "user_ids": job["user_ids"]}) == {
        "sent": 1,
        "failed": [],
    }
    assert [r.envelope_to for r in sink.received] == [["ben@example.com"]]


def forget_refused_upload(response: Any) -> None:
    """The test client spools a big request body to a temporary file and, when the app
    refuses it unread (413), never closes it: close it here."""
    response.request.environ["wsgi.input"].close()


def test_an_upload_over_the_server_limit_gets_a_plain_message(manager: FlaskClient) -> None:
    huge = b"name,email,job_role,site,start_date\n" + b"x" * (3 * 1024 * 1024)
    response = upload(manager, huge)
    forget_refused_upload(response)
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "A staff file can be at most 1,000 KB" in html and "Nothing was imported" in html
    assert db.session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_people_already_on_the_staff_list_are_skipped_and_the_rest_imported(
    manager: FlaskClient, org_setup: dict[str, Any], sink: Sink
) -> None:
    learner = org_setup["learner"]
    db.session.add(
        Employment(
            org_id=org_setup["org"].id,
            user_id=learner.id,
            worker_ref="L1",
            start_date=date(2024, 1, 8),
        )
    )
    db.session.commit()
    text = GOOD + "Someone,LEARNER@example.com,Senior care worker,Garden lodge,01/01/2026\n"
    token = batch_token(upload(manager, text))
    html = manager.get(f"/manage/oakview/staff/import/{token}").get_data(as_text=True)
    assert "Already on your staff list: skipped" in html
    assert "2 will be added, 1 skipped." in html
    listing = manager.get(confirm(manager, token).headers["Location"]).get_data(as_text=True)
    assert "Imported 2 staff; 1 already on your staff list were skipped." in listing
    employment = db.session.scalar(select(Employment).where(Employment.user_id == learner.id))
    assert employment is not None
    assert (employment.worker_ref, employment.job_role_id) == ("L1", None)  # not changed
    assert sink.to("learner@example.com") == []
