"""Shared by `make load` and `make faults`: a fresh PostgreSQL database, gunicorn, counts.

Only 127.0.0.1 is used. Databases are dropped and created through the always-present `test`
database, like .ci/run does.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
PASSWORD = "load test learner passphrase"  # noqa: S105  (throwaway load-test accounts)
EMAIL = "load-{n:04d}@example.com"
ORG = "loadcare"
QUIZ_MODULE = "DIG-01"  # read its lessons, take its quiz
DONE_MODULE = "HSA-01"  # completed during set-up, so every user has a certificate to download


def pg_url(database: str) -> str:
    host = os.environ.get("PGHOST", HOST)
    port = os.environ.get("PGPORT", "5432")
    user = os.environ.get("PGUSER", "postgres")
    return f"postgresql+psycopg://{user}@{host}:{port}/{database}"


def fresh_database(database: str) -> str:
    """Drop and create `database`; return its SQLAlchemy URL."""
    import psycopg

    if not database.replace("_", "").isalnum():
        raise SystemExit(f"unsafe database name {database!r}")
    admin = pg_url("test").replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
    return pg_url(database)


def prepare(url: str, users: int, schema: str = "create_all") -> dict[str, Any]:
    """Schema, catalogue, one organisation, `users` enrolled learners with one certificate each.

    schema "migrations" runs `flask db upgrade`; "create_all" builds the schema from the
    models (the default while the models are ahead of the migrations). Returns the quiz's
    answer key ({question id: [option ids]}) that the simulated users answer with.
    """
    env = {**os.environ, "LMS_DATABASE_URL": url}
    if schema == "migrations":
        subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], env=env, check=True)
    os.environ["LMS_DATABASE_URL"] = url
    from courses.loader import load_catalogue, read_catalogue
    from lms import create_app, learning
    from lms.accounts import ensure_membership, get_or_create_org
    from lms.extensions import db
    from lms.issuance import IssuanceContext
    from lms.models import OrgKind, Role, User

    app = create_app()
    with app.app_context():
        if schema != "migrations":
            db.create_all()
        now = datetime.now(UTC)
        load_catalogue(db.session, read_catalogue(), now)
        org = get_or_create_org(db.session, ORG, "Load Test Care", OrgKind.CARE_PROVIDER, now)
        hashed = app.extensions["password_hasher"].hash(PASSWORD)
        ctx = IssuanceContext.from_config(app.config)
        rng = random.Random(7)  # noqa: S311
        for n in range(users):
            user = User(
                email=EMAIL.format(n=n),
                name=f"Load Learner {n}",
                password_hash=hashed,
                active=True,
                created_at=now,
            )
            db.session.add(user)
            db.session.flush()
            ensure_membership(db.session, user, org, Role.LEARNER)
            for code in (QUIZ_MODULE, DONE_MODULE):
                learning.enrol(
                    db.session, user.id, org.id, code, now, due_on=now + timedelta(days=28)
                )
            module = learning.current_module(db.session, DONE_MODULE)
            enrolment = learning.enrolment_for(db.session, user.id, DONE_MODULE)
            for lesson in module.lessons:
                learning.mark_lesson_read(db.session, user.id, lesson, now)
            attempt = learning.open_attempt(db.session, user.id, enrolment, module, rng, now)
            answers = {
                f"q{q.id}": list(q.correct) for q in learning.attempt_questions(module, attempt)
            }
            learning.submit_attempt(db.session, ctx, user.id, attempt.id, answers, now)
            if n % 50 == 49:
                db.session.commit()
        db.session.commit()
        quiz = learning.current_module(db.session, QUIZ_MODULE)
        key = {str(q.id): list(q.correct) for q in quiz.questions}
        lessons = len(quiz.lessons)
        db.engine.dispose()
    return {"answers": key, "lessons": lessons}


def start_gunicorn(
    url: str, port: int, workers: int, extra: dict[str, str] | None = None, log: Path | None = None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LMS_DATABASE_URL": url,
        "LMS_PROXY_FIX_X_FOR": "1",  # each simulated user has its own address, as behind a proxy
        "GUNICORN_BIND": f"{HOST}:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_ACCESS_LOG": "",
        "GUNICORN_LOG_LEVEL": "warning",
        **(extra or {}),
    }
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--chdir",
            str(ROOT),
            "wsgi:app",
        ],
        env=env,
        start_new_session=True,
        stdout=out,
        stderr=out,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}; see {log}")
        try:
            status, _ = get(port, "/healthz", timeout=2)
            if status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.3)
    stop(proc)
    raise SystemExit(f"gunicorn did not become healthy on {HOST}:{port}")


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def get(port: int, path: str, timeout: float = 10) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def db_counts(url: str) -> dict[str, int]:
    """What the database holds for the load-test learners after a run."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:

        def q(sql: str) -> int:
            return int(conn.execute(text(sql), {"code": QUIZ_MODULE}).scalar() or 0)

        counts = {
            "submitted_attempts": q(
                "SELECT count(*) FROM quiz_attempts a JOIN catalogue_modules m "
                "ON m.id = a.module_id WHERE a.status = 'submitted' AND m.code = :code"
            ),
            "completions": q(
                "SELECT count(*) FROM completions c JOIN catalogue_modules m "
                "ON m.id = c.module_id WHERE m.code = :code"
            ),
            "credentials": q("SELECT count(*) FROM issued_credentials"),
            "duplicate_completion_credentials": q(
                "SELECT count(*) FROM (SELECT completion_id FROM issued_credentials "
                "GROUP BY completion_id HAVING count(*) > 1) d"
            ),
            "duplicate_status_slots": q(
                "SELECT count(*) FROM (SELECT org_id, status_list_number, status_index "
                "FROM issued_credentials GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
            ),
            "completions_per_attempt_over_one": q(
                "SELECT count(*) FROM (SELECT attempt_id FROM completions WHERE attempt_id "
                "IS NOT NULL GROUP BY attempt_id HAVING count(*) > 1) d"
            ),
        }
    engine.dispose()
    return counts


def audit_intact(url: str) -> bool:
    os.environ["LMS_DATABASE_URL"] = url
    from lms import audit, create_app
    from lms.extensions import db

    app = create_app()
    with app.app_context():
        ok = audit.verify_chain(db.session).ok
        db.engine.dispose()
    return ok


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def machine() -> str:
    sys.path.insert(0, str(ROOT / "bench"))
    import run as bench_run  # bench/run.py

    return bench_run.machine()
