"""The OpenAPI 3.1 document: it validates, describes every API route, and the API keeps to it.

schemathesis generates requests from the document (bounded: at most 30 examples an operation,
no network: it calls the WSGI app directly) and checks that nothing answers 5xx and that every
answer matches the status codes, content types and schemas the document declares.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.globals import app_ctx
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.config import SchemathesisConfig

from courses.loader import load_catalogue, read_catalogue
from lms.api import tokens
from lms.api.views import openapi_document
from lms.extensions import db

from ..conftest import make_app
from .api_world import PASSWORD, build

API_BLUEPRINTS = ("api.", "vcapi.")
_CONVERTER = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def test_the_document_is_valid_openapi_3_1(client: Any) -> None:
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json
    assert doc["openapi"].startswith("3.1")
    validate(doc)  # raises on any problem
    assert doc == openapi_document()


def test_every_api_route_is_documented(app: Flask) -> None:
    paths = openapi_document()["paths"]
    seen = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(API_BLUEPRINTS):
            continue
        path = _CONVERTER.sub(r"{\1}", rule.rule)
        assert path in paths, f"{rule.rule} ({rule.endpoint}) is not in openapi.yaml"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[path], f"{method} {rule.rule} is not in openapi.yaml"
        seen.add(path)
    assert seen == set(paths), f"documented but not served: {set(paths) - seen}"


def test_the_document_names_every_scope() -> None:
    doc = openapi_document()
    described = doc["components"]["securitySchemes"]["bearer"]["description"]
    for scope in tokens.SCOPES:
        assert scope in described
    used = {
        scope
        for item in doc["paths"].values()
        for op in item.values()
        for requirement in op.get("security", [])
        for scope in requirement.get("bearer", [])
    }
    assert used <= set(tokens.SCOPES)


# --- schemathesis ----------------------------------------------------------------------------


class Api:
    def __init__(self, app: Flask, secret: str, session_cookie: str) -> None:
        self.app = app
        self.secret = secret
        self.session_cookie = session_cookie


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    gen = make_app(Path(tmp_path_factory.mktemp("openapi")))
    app = next(gen)
    from datetime import UTC, datetime

    load_catalogue(db.session, read_catalogue(), datetime.now(UTC))
    db.session.commit()
    world = build(app)
    secret = world.token("oakview", *tokens.SCOPES)
    client = app.test_client()
    r = client.post("/auth/login", data={"email": "learner@example.com", "password": PASSWORD})
    assert r.status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None
    try:
        yield Api(app, secret, cookie.value)
    finally:
        gen.close()


# Loaded from the same file the app serves (the first test checks they are equal), at import
# time, so every operation becomes its own test; the requests go to the module's app.
# A request the schema forbids must be refused: 413 (body over 300 KB) and 415 (not JSON) are
# refusals too, besides schemathesis's default list.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422]
            }
        }
    }
)
schema = schemathesis.openapi.from_dict(openapi_document(), config=CONFIG)


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_to_its_document(case: Any, api: Api) -> None:
    excluded = []
    if "slug" in (case.path_parameters or {}):
        case.path_parameters["slug"] = "oakview"  # a random slug only ever meets the 404
        # A case generated as invalid (e.g. a too-long slug, no Authorization) is made valid
        # by the real slug and the token below, so "invalid data was accepted" would be false.
        excluded.append(schemathesis.checks.negative_data_rejection)
    headers = {"Authorization": f"Bearer {api.secret}"}
    # The schema was loaded before the app existed; checks that send their own probes (e.g.
    # `ignored_auth`, the same request without credentials) use the schema's app.
    case.operation.schema.app = api.app
    if case.operation.path == "/credentials/issue":
        # A schema cannot say "a completion of this learner exists here": a schema-valid request
        # is still refused (400) unless it names one, which random data never does.
        excluded.append(schemathesis.checks.positive_data_acceptance)
    # The learner's session cookie goes with every request (the /me operations use it; the
    # rest ignore it). The test's app context is set aside meanwhile, so each request loads
    # its own user (Flask-Login caches the user in the app context's `g`).
    outer = app_ctx._get_current_object()  # type: ignore[attr-defined]
    outer.pop()
    try:
        case.call_and_validate(
            app=api.app,
            base_url="http://localhost",
            headers=headers,
            cookies={"session": api.session_cookie},
            excluded_checks=excluded,
        )
    finally:
        outer.push()
