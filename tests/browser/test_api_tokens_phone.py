"""The managers' API tokens page on a 360 px phone in Chromium: layout and axe-core.

A manager creates a token (its secret is shown once), sees it listed and revokes it. Own live
server on this suite's ports (5800-5899).
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from werkzeug.serving import BaseWSGIServer, make_server

from courses.loader import load_catalogue, read_catalogue
from lms import create_app
from lms.extensions import db
from tests.conftest import base_config

from .conftest import LiveServer, needs_browser, needs_sqlite
from .test_carecert_phone import check_axe, log_in
from .test_phone import PHONE, check_phone_layout

pytestmark = [needs_browser, needs_sqlite, pytest.mark.slow]

MANAGER = ("manager@example.com", "oakview-manager-demo-password")
PORTS = range(5800, 5900)


def _serve(app: Any) -> BaseWSGIServer:
    for port in PORTS:
        try:
            return make_server("127.0.0.1", port, app, threaded=True)
        except OSError as err:
            if err.errno != errno.EADDRINUSE:
                raise
    raise RuntimeError("ports 5800-5899 are all in use")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    config: dict[str, Any] = {
        **base_config(tmp_path),
        "TESTING": False,
        "WTF_CSRF_ENABLED": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'live.sqlite3'}",
    }
    app = create_app(config)
    with app.app_context():
        db.create_all()
        load_catalogue(db.session, read_catalogue(), datetime.now(UTC))
        db.session.commit()
        result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code == 0, result.output
    httpd = _serve(app)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{httpd.server_port}", app)
    finally:
        httpd.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.engine.dispose()


def test_api_tokens_page_on_a_phone(server: LiveServer, browser: Browser) -> None:
    page = browser.new_page(viewport=PHONE)
    base = server.url
    log_in(page, base, MANAGER)
    page.goto(f"{base}/manage/oakview/api-tokens")
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    check_phone_layout(page, "api-tokens")
    check_axe(page, "api-tokens")

    page.get_by_label("What is it for?").fill("Rota system")
    page.get_by_label("learners:read").check()
    page.get_by_label("matrix:read").check()
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", name="Token created: copy it now")).to_be_visible()
    secret = page.get_by_label("Token for Rota system").input_value()
    assert len(secret) == 43
    check_phone_layout(page, "api-tokens-created")
    check_axe(page, "api-tokens-created")

    page.goto(f"{base}/manage/oakview/api-tokens")
    assert secret not in page.content()
    page.get_by_role("button", name="Revoke Rota system").click()
    expect(page.get_by_text("is revoked: it stops working now")).to_be_visible()
    check_phone_layout(page, "api-tokens-revoked")
    check_axe(page, "api-tokens-revoked")
    page.close()
