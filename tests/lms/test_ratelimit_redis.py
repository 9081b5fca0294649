"""Rate limits counted in Redis are shared by every app process (LMS_TEST_REDIS_URL)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import make_app

REDIS_URL = os.environ.get("LMS_TEST_REDIS_URL", "")
ROOT = Path(__file__).resolve().parents[2]


def _redis_up() -> bool:
    """Set but unreachable is a failure (in the tests themselves), not a skip."""
    return bool(REDIS_URL)


pytestmark = pytest.mark.skipif(
    not _redis_up(), reason="needs a Redis server: set LMS_TEST_REDIS_URL (e.g. db 9)"
)

# Fresh counts every run. (Flask-Limiter keeps the first prefix it is given for the process.)
PREFIX = f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def redis_app(tmp_path: Path) -> Iterator[Flask]:
    yield from make_app(
        tmp_path,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=PREFIX,
    )


def test_login_limit_is_shared_by_two_processes(redis_app: Flask, tmp_path: Path) -> None:
    client = redis_app.test_client()
    # Ten tries from one address in this process (each a different e-mail: no lockout involved).
    for n in range(10):
        response = client.post(
            "/auth/login", data={"email": f"u{n}@example.com", "password": "wrong password"}
        )
        assert response.status_code == 401
    # The eleventh comes through another process: a separate app with its own memory.
    script = textwrap.dedent(
        f"""
        from tests.conftest import base_config
        from pathlib import Path
        from lms import create_app
        app = create_app({{**base_config(Path({str(tmp_path)!r})), "RATELIMIT_ENABLED": True,
                          "RATELIMIT_STORAGE_URI": {REDIS_URL!r},
                          "RATELIMIT_KEY_PREFIX": {PREFIX!r}}})
        data = {{"email": "x@example.com", "password": "p"}}
        print(app.test_client().post("/auth/login", data=data).status_code)
        """
    )
    other = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip().splitlines()[-1] == "429"
    # And the limit holds here too.
    again = client.post("/auth/login", data={"email": "y@example.com", "password": "p"})
    assert again.status_code == 429
