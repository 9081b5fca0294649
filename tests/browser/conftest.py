"""A live server and a headless Chromium for tests that must see pages as a phone does.

Needs Debian's `chromium` and the `playwright` package (it drives the system browser; it never
downloads one). Where either is missing the tests are skipped with the reason; `.ci/run`
installs both, so CI always runs them.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from courses.loader import load_catalogue, read_catalogue
from lms import create_app
from lms.extensions import db
from tests.conftest import PG_URL, base_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"

try:
    from playwright.sync_api import Browser, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]

needs_browser = pytest.mark.skipif(
    CHROMIUM is None or sync_playwright is None,
    reason="needs Debian's chromium and the playwright package (installed by .ci/run)",
)
needs_sqlite = pytest.mark.skipif(
    bool(PG_URL),
    reason="the live-server tests use their own SQLite file; they run in the SQLite pass",
)


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: Flask


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    config: dict[str, Any] = {
        **base_config(tmp_path),
        "TESTING": False,
        "WTF_CSRF_ENABLED": True,
        "RATELIMIT_ENABLED": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'live.sqlite3'}",
    }
    app = create_app(config)
    with app.app_context():
        db.create_all()
        load_catalogue(db.session, read_catalogue(), datetime.now(UTC))
        db.session.commit()
        result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code == 0, result.output
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()
