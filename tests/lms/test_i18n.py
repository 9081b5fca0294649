"""The interface is translatable; Hindi is shipped for the learner pages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Auth

from .helpers import LEARNER

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "lms" / "translations" / "hi" / "LC_MESSAGES" / "messages.po"


def test_learner_can_choose_hindi(client: FlaskClient, auth: Auth, demo: dict[str, str]) -> None:
    auth.login(LEARNER, demo[LEARNER])
    assert "My learning" in client.get("/").text
    client.get("/language/hi?next=/")
    page = client.get("/")
    assert '<html lang="hi">' in page.text
    assert "मेरी पढ़ाई" in page.text  # "My learning"
    # course content stays English and is marked as such for screen readers
    assert 'lang="en">Health and safety awareness<' in page.text
    client.get("/language/en?next=/")
    assert "My learning" in client.get("/").text


def _locale_of(email: str) -> str | None:
    from sqlalchemy import select

    from lms.extensions import db
    from lms.models import User

    db.session.expire_all()
    return db.session.scalar(select(User.locale).where(User.email == email))


def test_the_chosen_language_follows_the_learner_to_a_new_phone(
    app: Flask, client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    def fresh(do):  # type: ignore[no-untyped-def]
        # Each device's request in its own app context, as in a server (the fixture's context
        # would otherwise keep the first device's user in `g` for the next).
        with app.app_context():
            return do()

    auth.login(LEARNER, demo[LEARNER])
    client.get("/language/hi?next=/")
    assert _locale_of(LEARNER) == "hi"  # kept on the account, not only in this session
    other_phone = app.test_client()
    fresh(lambda: Auth(other_phone).login(LEARNER, demo[LEARNER]))
    assert '<html lang="hi">' in fresh(lambda: other_phone.get("/")).text
    # A language chosen on this device before logging in wins, and is kept.
    third = app.test_client()
    fresh(lambda: third.get("/language/en?next=/auth/login"))
    fresh(lambda: Auth(third).login(LEARNER, demo[LEARNER]))
    assert '<html lang="en">' in fresh(lambda: third.get("/")).text
    assert _locale_of(LEARNER) == "en"


def test_choosing_a_language_logged_out_changes_no_account(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    client.get("/language/hi?next=/auth/login")
    assert _locale_of(LEARNER) is None
    assert client.get("/language/xx?next=/").status_code == 302  # unknown: ignored
    auth.login(LEARNER, demo[LEARNER])
    assert _locale_of(LEARNER) == "hi"  # chosen just before logging in


def test_browser_language_is_used(client: FlaskClient) -> None:
    page = client.get("/auth/login", headers={"Accept-Language": "hi-IN,hi;q=0.9,en;q=0.5"})
    assert "लॉग इन करें" in page.text
    assert "Log in" in client.get("/auth/login", headers={"Accept-Language": "fr"}).text


def test_unknown_language_and_offsite_next_are_ignored(client: FlaskClient) -> None:
    response = client.get("/language/xx?next=https://evil.example/")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_every_interface_string_has_a_hindi_translation(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    with PO.open("rb") as fh:
        catalogue = read_po(fh, locale="hi")
    translated = {m.id for m in catalogue if m.id and m.string and "fuzzy" not in m.flags}
    missing = sorted(str(m) for m in wanted - translated)
    assert not missing, f"untranslated (run pybabel update, then translate): {missing}"
