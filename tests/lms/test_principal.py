"""Who is logged in (lms/principal.py): read afresh with one query on every request."""

from __future__ import annotations

from flask import Flask, g, session
from flask.testing import FlaskClient
from flask_login import current_user
from sqlalchemy import insert, select, update

from lms.extensions import db
from lms.models import Membership, Organisation, Role, User
from lms.principal import Principal, me
from tests.conftest import Auth

from .helpers import LEARNER


def _learner() -> User:
    return db.session.scalars(select(User).where(User.email == LEARNER)).one()


def test_a_request_sees_a_principal_and_me_gives_the_account_row(
    app: Flask, demo: dict[str, str]
) -> None:
    user_id = _learner().id
    with app.test_request_context("/"):
        # the session of a logged-in request, as Flask-Login keeps it
        session["_user_id"] = str(user_id)
        session["_id"] = app.login_manager._session_identifier_generator()  # type: ignore[attr-defined]
        person = current_user._get_current_object()
        assert isinstance(person, Principal)
        assert person.id == user_id and person.is_authenticated and person.is_active
        assert person.roles_in(_learner().memberships[0].org_id) == {"learner"}
        account = me()
        assert isinstance(account, User) and account.id == user_id
        assert me() is account  # once per request
        assert g._login_user is person


def test_a_role_given_counts_from_the_next_request(
    app: Flask, client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    assert "Manage" not in client.get("/").text
    org = db.session.scalars(select(Organisation).where(Organisation.slug == "oakview")).one()
    db.session.execute(
        insert(Membership).values(user_id=_learner().id, org_id=org.id, role=Role.MANAGER.value)
    )
    db.session.commit()
    db.session.expunge_all()
    assert ">Manage</a>" in client.get("/").text
    assert client.get("/manage/oakview/").status_code == 200


def test_a_deactivated_account_is_logged_out_at_its_next_request(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    assert client.get("/").status_code == 200
    # In plain SQL, as another server or a command would: no ORM object of this process knows.
    db.session.execute(update(User).where(User.email == LEARNER).values(active=False))
    db.session.commit()
    db.session.expunge_all()
    page = client.get("/learn/DIG-01/lessons/1")
    assert page.status_code == 302
    assert "/auth/login" in page.headers["Location"]


def test_changing_language_while_logged_in_is_kept_on_the_account(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(LEARNER, demo[LEARNER])
    assert client.get("/language/hi").status_code == 302
    db.session.expire_all()
    assert _learner().locale == "hi"


def test_pages_are_rendered_for_the_principal_of_each_request(
    app: Flask, client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    from flask import template_rendered

    seen: list[object] = []

    def record(sender: Flask, template: object, context: dict[str, object], **_: object) -> None:
        seen.append(context.get("current_user"))

    auth.login(LEARNER, demo[LEARNER])
    with template_rendered.connected_to(record, app):
        assert client.get("/").status_code == 200
    assert seen and all(isinstance(person, Principal) for person in seen)
