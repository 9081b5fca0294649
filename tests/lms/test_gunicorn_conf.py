"""gunicorn.conf.py: settings from the environment, and an access log without query strings."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def test_defaults_are_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GUNICORN_BIND", "GUNICORN_WORKERS", "GUNICORN_ACCESS_LOG"):
        monkeypatch.delenv(name, raising=False)
    conf = runpy.run_path(str(CONF))
    assert conf["bind"] == "127.0.0.1:8000"  # only the proxy on this host reaches it
    assert conf["workers"] >= 3 and conf["worker_class"] == "sync"
    assert conf["preload_app"] is False and conf["timeout"] == 30
    # %(U)s is the path alone; %(r)s (request line with query string) and %(q)s must not appear
    assert "%(U)s" in conf["access_log_format"]
    for secret_bearing in ("%(r)s", "%(q)s", "{cookie}i", "{authorization}i"):
        assert secret_bearing not in conf["access_log_format"].lower()


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUNICORN_BIND", "10.0.0.11:8000")
    monkeypatch.setenv("GUNICORN_WORKERS", "5")
    monkeypatch.setenv("GUNICORN_ACCESS_LOG", "")
    conf = runpy.run_path(str(CONF))
    assert conf["bind"] == "10.0.0.11:8000" and conf["workers"] == 5
    assert conf["accesslog"] is None


def test_a_worker_starts_without_loading_the_pdf_engine() -> None:
    """WeasyPrint (~0.4 s of imports) is loaded by the first PDF, not by every gunicorn worker
    as it starts: `import wsgi` builds the whole app without it."""
    import subprocess
    import sys

    code = "import sys, wsgi; print('weasyprint' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=CONF.parent
    )
    assert out.stdout.strip() == "False", out.stderr
