"""The manager's hub page links to every area, and every link works for that manager."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.conftest import Auth

MANAGER = "manager@example.com"
LEARNER = "learner@example.com"
MENTOR = "mentor@example.com"
HREF = re.compile(r'href="(/manage/oakview/[^"#?]*)"')


def test_one_organisation_goes_straight_to_its_hub(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(MANAGER, demo[MANAGER])
    response = client.get("/manage/")
    assert response.status_code == 302 and response.location.endswith("/manage/oakview/")


def test_every_link_on_the_hub_opens(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(MANAGER, demo[MANAGER])
    hub = client.get("/manage/oakview/")
    assert hub.status_code == 200
    links = sorted(set(HREF.findall(hub.text)) - {"/manage/oakview/"})
    assert len(links) >= 12, links
    for link in links:
        assert client.get(link).status_code == 200, link


def test_the_hub_is_for_managers_only(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    assert client.get("/manage/oakview/").status_code == 302
    for email in (LEARNER, MENTOR):
        auth.login(email, demo[email])
        assert client.get("/manage/oakview/").status_code == 404
        auth.logout()


def test_mentors_see_observations_in_the_menu(
    client: FlaskClient, auth: Auth, demo: dict[str, str]
) -> None:
    auth.login(MENTOR, demo[MENTOR])
    page = client.get("/").text
    assert 'href="/assess/"' in page and 'href="/manage/"' not in page
    auth.logout()
    auth.login(LEARNER, demo[LEARNER])
    page = client.get("/").text
    assert 'href="/assess/"' not in page and 'href="/care-certificate/"' in page
