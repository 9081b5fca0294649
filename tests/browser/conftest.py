"""A live server and a headless Chromium for tests that must see pages as a phone does.

Needs Debian's `chromium` and the `playwright` package (it drives the system browser; it never
downloads one). Where either is missing the tests are skipped with the reason; `.ci/run`
installs both, so CI always runs them.

What the browser suites share lives here:
- `live_config`, `demo_app` and `serving`: an app configured as in production (CSRF and a real
  SQLite file), loaded with the catalogue and the demo, served on any free port of 127.0.0.1;
  the `live_server` and `demo_server` fixtures are the three together (rate limits on and off).
  A suite that needs other settings or other data builds its own fixture from the same three.
- `LIVE_BROWSER`: the marks of such a suite (chromium and playwright, SQLite, slow).
- `new_phone` and the `phone` fixture: a 360 x 640 touch phone whose pages must log no script
  error.
- `log_in`, `check_axe` and `queue_script`: signing in through the form, axe-core, and reading
  or writing an offline queue in IndexedDB.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
    from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None
else:
    from playwright.sync_api import sync_playwright

NO_BROWSER = "needs Debian's chromium and the playwright package (installed by .ci/run)"
needs_browser = pytest.mark.skipif(CHROMIUM is None or sync_playwright is None, reason=NO_BROWSER)
needs_sqlite = pytest.mark.skipif(
    bool(PG_URL),
    reason="the live-server tests use their own SQLite file; they run in the SQLite pass",
)
# The pytestmark of a module of live-server browser tests.
LIVE_BROWSER = [needs_browser, needs_sqlite, pytest.mark.slow]


if sync_playwright is None:  # pragma: no cover - depends on the machine

    class _NeedsPlaywright(pytest.Module):
        """A test module of this folder, skipped with the reason: it imports playwright."""

        def collect(self) -> Any:
            pytest.skip(NO_BROWSER, allow_module_level=True)

    def pytest_pycollect_makemodule(module_path: Path, parent: Any) -> pytest.Module | None:
        if module_path.name.startswith("test_"):
            return _NeedsPlaywright.from_parent(parent, path=module_path)
        return None


PHONE: ViewportSize = {"width": 360, "height": 640}
# The demo logins (README.md).
LEARNER = ("learner@example.com", "oakview-learner-demo-password")
MENTOR = ("mentor@example.com", "oakview-mentor-demo-password")
MANAGER = ("manager@example.com", "oakview-manager-demo-password")


# ---- the live server ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: Flask


def live_config(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """The test config as a live server runs it: not TESTING, CSRF on, its own SQLite file."""
    return {
        **base_config(tmp_path),
        "TESTING": False,
        "WTF_CSRF_ENABLED": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'live.sqlite3'}",
        **overrides,
    }


def demo_app(tmp_path: Path, **overrides: Any) -> Flask:
    """A live-server app with the course catalogue loaded and `flask demo` run."""
    app = create_app(live_config(tmp_path, **overrides))
    with app.app_context():
        db.create_all()
        load_catalogue(db.session, read_catalogue(), datetime.now(UTC))
        db.session.commit()
        result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code == 0, result.output
    return app


@contextmanager
def serving(app: Flask) -> Iterator[LiveServer]:
    """Serve `app` from a thread on any free port of 127.0.0.1 until the block ends; then stop
    the server and close the app's database connections."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{httpd.server_port}", app)
    finally:
        httpd.shutdown()
        thread.join(timeout=5)
        httpd.server_close()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The demo on a live server, with rate limits on as in production."""
    with serving(demo_app(tmp_path, RATELIMIT_ENABLED=True)) as live:
        yield live


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The demo on a live server, with rate limits off (for suites that log in many times)."""
    with serving(demo_app(tmp_path)) as live:
        yield live


# ---- the browser -------------------------------------------------------------------------------


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


def new_phone(
    browser: Browser, errors: list[str], *, console: bool = True, **options: Any
) -> BrowserContext:
    """A 360 x 640 touch phone. Script errors of its pages go to `errors` (and, if `console`,
    the errors they log on the console too)."""
    settings: dict[str, Any] = {
        "viewport": PHONE,
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    }
    context = browser.new_context(**{**settings, **options})
    context.on("weberror", lambda e: errors.append(str(e.error)))
    if console:
        context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return context


def phone_with_no_errors(
    browser: Browser, allowed: Callable[[str], bool] = lambda _: False
) -> Iterator[BrowserContext]:
    """`new_phone`, closed at the end; then no script or console error may have been logged,
    bar those `allowed`."""
    errors: list[str] = []
    context = new_phone(browser, errors)
    yield context
    context.close()
    assert not [e for e in errors if not allowed(e)], errors


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    """A phone whose pages must log no script error."""
    yield from phone_with_no_errors(browser)


# ---- pages ---------------------------------------------------------------------------------


def log_in(
    page: Page, base: str, who: tuple[str, str], heading: str | None = "My learning"
) -> None:
    """Log in through the form as `who` (e-mail, password); wait for the page it leads to: the
    one with `heading`, or (None) any page but the log-in page."""
    page.goto(f"{base}/auth/login")
    page.get_by_label("E-mail address").fill(who[0])
    page.get_by_label("Password").fill(who[1])
    page.get_by_role("button", name="Log in").click()
    if heading is None:
        page.wait_for_url(lambda url: "/auth/login" not in url)
    else:
        expect(page.get_by_role("heading", name=heading)).to_be_visible()


def check_axe(page: Page, name: str) -> None:
    """No axe-core violation (WCAG and best practice) on the page now showing."""
    from axe_playwright_python.sync_playwright import Axe  # dev dependency: imported where used

    results = Axe().run(page)
    assert results.violations_count == 0, f"{name}:\n{results.generate_report()}"


def queue_script(database: str, action: str) -> str:
    """A script for `page.evaluate` on the offline queue (object store `queue`) of the IndexedDB
    `database`: "getAll" resolves to every item in it, "count" to how many it holds, and "put"
    takes an item and puts it (back) in."""
    if action == "put":
        return f"""(item) => new Promise((resolve, reject) => {{
  const open = indexedDB.open('{database}');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {{
    const tx = open.result.transaction('queue', 'readwrite');
    tx.objectStore('queue').put(item);
    tx.oncomplete = () => {{ open.result.close(); resolve(true); }};
    tx.onerror = () => reject(tx.error);
  }};
}})"""
    assert action in ("getAll", "count"), action
    return f"""() => new Promise((resolve, reject) => {{
  const open = indexedDB.open('{database}');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {{
    const request = open.result.transaction('queue').objectStore('queue').{action}();
    request.onsuccess = () => {{ open.result.close(); resolve(request.result); }};
    request.onerror = () => reject(request.error);
  }};
}})"""
