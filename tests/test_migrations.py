"""The migrations build the schema the models describe, from an empty database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def flask(*args: str, db_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LMS_DATABASE_URL": db_url}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_upgrade_from_empty_then_no_drift(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    upgrade = flask("db", "upgrade", db_url=url)
    assert upgrade.returncode == 0, upgrade.stderr
    check = flask("db", "check", db_url=url)
    assert check.returncode == 0, check.stdout + check.stderr
    load = flask("courses", "load", db_url=url)
    assert load.returncode == 0, load.stdout + load.stderr
