"""The matrix page: filters, drill-down, labels readable without colour, who may see it."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select

from lms.extensions import db
from lms.models import Employment, JobRole, Organisation, Role, Site, User
from tests.conftest import Auth

from .employer_helpers import NOW, complete, employ, job_role, org, require, site, user

MANAGER = "manager@example.com"
LEARNER = "learner@example.com"
MENTOR = "mentor@example.com"


def _login(auth: Auth, demo: dict[str, str], email: str) -> None:
    assert auth.login(email, demo[email]).status_code == 302


def test_matrix_shows_every_status_with_words_and_symbols(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    _login(auth, demo, MANAGER)
    page = client.get("/manage/oakview/matrix")
    assert page.status_code == 200
    html = page.text
    assert html.count("<tr>") >= 31  # 30 staff + header (+ footer)
    for word in ("Up to date", "Expiring soon", "Expired", "Missing"):
        assert word in html  # readable without colour: a word in every cell...
    cells = re.findall(r'<td class="cell cell-(\w+)">', html)
    assert {"active", "expiring", "expired", "missing"} <= set(cells)
    # ...and a symbol, hidden from screen readers (they get the word)
    assert '<span aria-hidden="true">✓</span> Up to date' in html
    assert '<span aria-hidden="true">✗</span> Expired' in html
    assert "% compliant" in html and "Compliance by site" in html
    assert "Oakview House" in html and "Beech Court" in html
    assert "<svg" in html and "<rect" in html  # the chart over time, from the demo history
    assert "style=" not in html  # the CSP forbids inline style
    assert 'href="/manage/oakview/evidence-pack">CQC evidence pack</a>' in html  # in the menu


def test_filters_by_site_role_and_status(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    _login(auth, demo, MANAGER)
    oak = db.session.scalar(select(Organisation).where(Organisation.slug == "oakview"))
    assert oak is not None
    beech = db.session.scalar(select(Site).where(Site.org_id == oak.id, Site.name == "Beech Court"))
    kitchen = db.session.scalar(
        select(JobRole).where(JobRole.org_id == oak.id, JobRole.name == "Kitchen assistant")
    )
    assert beech is not None and kitchen is not None
    html = client.get(f"/manage/oakview/matrix?site={beech.id}").text
    assert "Nkechi Eze" in html and "Adebayo Ogunleye" not in html
    html = client.get(f"/manage/oakview/matrix?role={kitchen.id}").text
    rows = re.findall(r'<th scope="row" class="worker">([^<]+)<', html)
    assert sorted(rows) == ["Hannah O&#39;Connor", "Ursula Nowak"]
    assert "FOOD-01" in html and "MED-01" not in html
    html = client.get("/manage/oakview/matrix?status=expired").text
    rows = re.findall(r'<th scope="row" class="worker">', html)
    assert 0 < len(rows) < 30
    assert 'value="expired" selected' in html
    # nonsense filters are ignored, not errors
    assert client.get("/manage/oakview/matrix?site=abc&status=bogus").status_code == 200


def test_drill_down_shows_the_evidence(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    _login(auth, demo, MANAGER)
    learner = db.session.scalar(select(User).where(User.email == LEARNER))
    assert learner is not None
    # The demo learner completed HSA-01 through the course and quiz: a certificate exists.
    page = client.get(f"/manage/oakview/matrix/{learner.id}/HSA-01")
    assert page.status_code == 200
    assert "Course and quiz" in page.text and "Quiz passed with" in page.text
    assert "/manage/oakview/credentials/" in page.text  # link to the certificate
    # A cell from the matrix page links to its drill-down, which answers.
    html = client.get("/manage/oakview/matrix").text
    links = re.findall(r'href="(/manage/oakview/matrix/\d+/[A-Z0-9-]+)"', html)
    assert len(links) > 100
    for link in links[:: max(1, len(links) // 15)]:
        assert client.get(link).status_code == 200
    # a module not required for that person, or nonsense, is a 404
    assert client.get(f"/manage/oakview/matrix/{learner.id}/RM-01").status_code == 404
    assert client.get("/manage/oakview/matrix/999999/HSA-01").status_code == 404


def test_learner_and_mentor_cannot_see_the_matrix(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    for email in (LEARNER, MENTOR):
        _login(auth, demo, email)
        assert client.get("/manage/oakview/matrix").status_code == 404
        assert client.get("/manage/oakview/ascwds.csv").status_code == 404
        assert client.post("/manage/oakview/evidence-pack").status_code == 404
        auth.logout()
    anonymous = client.get("/manage/oakview/matrix")
    assert anonymous.status_code == 302 and "/auth/login" in anonymous.headers["Location"]


def test_other_organisation_manager_gets_404(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    other = org("elsewhere")
    boss = user("boss@example.com", "Boss Elsewhere", other, Role.MANAGER)
    from flask import current_app

    boss.password_hash = current_app.extensions["password_hasher"].hash("elsewhere-password-123")
    db.session.commit()
    assert auth.login("boss@example.com", "elsewhere-password-123").status_code == 302
    oak_worker = db.session.scalar(select(Employment).limit(1))
    assert oak_worker is not None
    for path in (
        "/manage/oakview/matrix",
        f"/manage/oakview/matrix/{oak_worker.user_id}/FIRE-01",
        "/manage/oakview/ascwds.csv",
        "/manage/oakview/job-roles",
        "/manage/oakview/training-settings",
        "/manage/oakview/sites",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post("/manage/oakview/evidence-pack").status_code == 404
    assert client.get("/manage/elsewhere/matrix").status_code == 200  # their own is fine


def test_matrix_of_a_fresh_organisation(client: FlaskClient, auth: Auth, app, catalogue) -> None:
    from flask import current_app

    o = org("fresh")
    boss = user("fresh@example.com", "Fresh Boss", o, Role.MANAGER)
    boss.password_hash = current_app.extensions["password_hasher"].hash("fresh-password-1234")
    db.session.commit()
    auth.login("fresh@example.com", "fresh-password-1234")
    page = client.get("/manage/fresh/matrix")
    assert page.status_code == 200 and "Nothing is required yet" in page.text
    s = site(o, "Only House")
    role = job_role(o, "Carer")
    require(role, "FIRE-01")
    w = user("w@example.com", "Wendy Worker", o, Role.LEARNER)
    employ(o, w, role, s, "F1")
    complete(o, w, "FIRE-01", NOW)
    db.session.commit()
    page = client.get("/manage/fresh/matrix")
    assert "Wendy Worker" in page.text and "No figures recorded yet" in page.text
    assert client.post("/manage/fresh/matrix/snapshot").status_code == 302
    assert "<rect" in client.get("/manage/fresh/matrix").text


def test_the_chart_follows_the_site_filter(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    """Each site is a CQC location: filtered to one, the chart shows that site's own figures."""
    from lms.employer.models import ComplianceSnapshot

    _login(auth, demo, MANAGER)
    oak = db.session.scalar(select(Organisation).where(Organisation.slug == "oakview"))
    assert oak is not None
    beech = db.session.scalar(select(Site).where(Site.org_id == oak.id, Site.name == "Beech Court"))
    assert beech is not None

    def figures(scope: str) -> list[str]:
        rows = db.session.scalars(
            select(ComplianceSnapshot)
            .where(ComplianceSnapshot.org_id == oak.id, ComplianceSnapshot.scope == scope)
            .order_by(ComplianceSnapshot.day.desc())
        )
        return [f"{s.compliant} of {s.total}" for s in rows]

    def shown(html: str) -> list[str]:
        table = html.split("The figures as a table", 1)[1].split("</table>", 1)[0]
        return re.findall(r"<td>(\d+ of \d+)</td>", table)

    site_figures, org_figures = figures(f"site:{beech.id}"), figures("org")
    assert site_figures and site_figures != org_figures
    html = client.get(f"/manage/oakview/matrix?site={beech.id}").text
    assert "Compliance over time: Beech Court" in html
    assert "Percentage compliant for Beech Court" in html
    assert shown(html) == site_figures
    whole = client.get("/manage/oakview/matrix").text
    assert "Percentage compliant for the whole organisation" in whole
    assert shown(whole) == org_figures
