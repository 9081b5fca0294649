"""Benchmark: lesson pages per second under gunicorn, next to a bare Flask app under the same.

Run::

    .venv/bin/python bench/bench_http.py [--seconds 10] [--connections 16]

``lesson_rps``
    A logged-in learner's lesson page (`/learn/DIG-01/lessons/1`: session cookie, user and
    enrolment look-ups, the lesson's Markdown rendered from the catalogue, the page template)
    from the real app on SQLite, served by gunicorn with `gunicorn.conf.py` and 2 workers.
    Baseline: bench/hello_app.py (a Flask view returning "Hello, world!") under exactly the same
    gunicorn settings and load. Target: at least 0.40 of the baseline.

The load comes from `wrk` when it is installed (apt-get install wrk), else from a small
threaded Python client (keep-alive connections); the generator is named in the result, since
on a 2-CPU machine it competes with the server for the CPUs. Every response must be 200 for the
figure to count. Only 127.0.0.1 ports 5790-5792 are used; the servers are stopped afterwards.

``--floor`` also measures bench/floor_app.py (a signed session, one SQLite look-up and a page
of the same size, nothing else) under the same settings: how close any logged-in page can get
to the bare figure on this machine. It is printed, not written to results.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
APP_PORT = 5790
HELLO_PORT = 5791
FLOOR_PORT = 5792
LEARNER = "bench-learner@example.com"
PASSWORD = "bench learner password 2026"  # noqa: S105  (a throwaway bench database)
LESSON = "/learn/DIG-01/lessons/1"
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def prepare_database(folder: Path) -> str:
    """A fresh SQLite database with the catalogue, one organisation and one enrolled learner."""
    from courses.loader import load_catalogue, read_catalogue
    from lms import create_app, learning
    from lms.accounts import ensure_membership, get_or_create_org, get_or_create_user
    from lms.extensions import db
    from lms.models import OrgKind, Role

    url = f"sqlite:///{folder / 'bench.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        db.create_all()
        now = datetime.now(UTC)
        load_catalogue(db.session, read_catalogue(), now)
        org = get_or_create_org(db.session, "bench", "Bench Care", OrgKind.CARE_PROVIDER, now)
        user = get_or_create_user(
            db.session, app.extensions["password_hasher"], LEARNER, "Bench Learner", PASSWORD, now
        )
        ensure_membership(db.session, user, org, Role.LEARNER)
        learning.enrol(db.session, user.id, org.id, "DIG-01", now)
        db.session.commit()
        db.engine.dispose()
    return url


def start_gunicorn(
    target: str, port: int, env: dict[str, str], chdir: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **env,
        "GUNICORN_BIND": f"{HOST}:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_ACCESS_LOG": "",
        "GUNICORN_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(  # noqa: S603
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--chdir",
            str(chdir),
            target,
        ],
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/")
            conn.getresponse().read()
            return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"gunicorn did not start on {HOST}:{port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def login(port: int) -> str:
    """Log the learner in through the real form (CSRF and all); return the Cookie header."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    conn.request("GET", "/auth/login")
    page = conn.getresponse()
    html = page.read().decode()
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    match = CSRF.search(html)
    assert match, "no CSRF token on the login page"
    body = urllib.parse.urlencode(
        {"email": LEARNER, "password": PASSWORD, "csrf_token": match.group(1)}
    )
    conn.request(
        "POST",
        "/auth/login",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    answer = conn.getresponse()
    answer.read()
    assert answer.status == 302, f"login failed: {answer.status}"
    # The session cookie (the first Set-Cookie may be Flask-Login clearing remember_token).
    cookies = [c.split(";", 1)[0] for c in answer.headers.get_all("Set-Cookie") or []]
    cookie = "; ".join(c for c in cookies if c.split("=", 1)[1])
    conn.request("GET", LESSON, headers={"Cookie": cookie})
    lesson = conn.getresponse()
    text = lesson.read().decode()
    assert lesson.status == 200 and "<h1" in text, f"lesson page: {lesson.status}"
    # As a browser does, keep the newest cookie: the first page after logging in gives the
    # session its CSRF token (a new one at each log-in).
    renewed = [c.split(";", 1)[0] for c in lesson.headers.get_all("Set-Cookie") or []]
    cookie = "; ".join(c for c in renewed if c.startswith("session=")) or cookie
    conn.request("GET", LESSON, headers={"Cookie": cookie})
    steady = conn.getresponse()
    steady.read()
    assert steady.status == 200 and not steady.headers.get("Set-Cookie"), "session still changing"
    return cookie


def drive_wrk(
    port: int, path: str, cookie: str | None, seconds: int, connections: int
) -> dict[str, Any]:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if cookie:
        args += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(  # noqa: S603
        [*args, f"http://{HOST}:{port}{path}"], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: .*?(\d+) timeout"):
        found = re.search(pattern, out)
        errors += int(found.group(1)) if found else 0

    def pct(label: str) -> float:
        found = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        if not found:
            return float("nan")
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": rps,
        "errors": errors,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "generator": "wrk",
    }


def drive_python(
    port: int, path: str, cookie: str | None, seconds: int, connections: int
) -> dict[str, Any]:
    headers = {"Cookie": cookie} if cookie else {}
    counts = [0] * connections
    errors = [0] * connections
    stop_at = time.monotonic() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        while time.monotonic() < stop_at:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                counts[i] += 1
            else:
                errors[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    return {
        "rps": sum(counts) / elapsed,
        "errors": sum(errors),
        "p50_ms": float("nan"),
        "p99_ms": float("nan"),
        "generator": "python threads",
    }


def floor_record(seconds: int = 10, connections: int = 16, rounds: int = 3) -> dict[str, Any]:
    """`lesson_floor_rps` for the table: what any logged-in page could reach here."""
    got = floor(seconds, connections, rounds)
    return {
        "name": "lesson_floor_rps",
        "value": round(got["floor"], 1),
        "unit": "requests/s",
        "baseline": "bare_flask_hello_rps",
        "baseline_value": round(got["hello"], 1),
        "ratio": got["ratio"],
        "note": "bench/floor_app.py: a signed session, one SQLite look-up and a page of the "
        "lesson's size, nothing else; the room any logged-in page has on this machine",
    }


def floor(seconds: int = 10, connections: int = 16, rounds: int = 3) -> dict[str, float]:
    """bench/floor_app.py next to the bare hello app, interleaved, best of each."""
    drive = drive_wrk if shutil.which("wrk") else drive_python
    with tempfile.TemporaryDirectory(prefix="carecred-floor-") as tmp:
        env = {"FLOOR_DB": str(Path(tmp) / "floor.sqlite3")}
        page = start_gunicorn("floor_app:app", FLOOR_PORT, env, ROOT / "bench")
        hello = start_gunicorn("hello_app:app", HELLO_PORT, {}, ROOT / "bench")
        try:
            conn = http.client.HTTPConnection(HOST, FLOOR_PORT, timeout=10)
            conn.request("GET", "/")
            answer = conn.getresponse()
            answer.read()
            cookie = answer.headers["Set-Cookie"].split(";", 1)[0]
            drive(FLOOR_PORT, "/lesson", cookie, 2, connections)
            best = {"floor": 0.0, "hello": 0.0}
            for _ in range(rounds):
                got = drive(FLOOR_PORT, "/lesson", cookie, seconds, connections)
                base = drive(HELLO_PORT, "/", None, seconds, connections)
                if got["errors"] or base["errors"]:
                    raise RuntimeError(f"non-200 responses: floor {got}, hello {base}")
                best["floor"] = max(best["floor"], got["rps"])
                best["hello"] = max(best["hello"], base["rps"])
        finally:
            stop(page)
            stop(hello)
    return {**best, "ratio": round(best["floor"] / best["hello"], 3)}


def run(seconds: int = 10, connections: int = 16, rounds: int = 3) -> list[dict[str, Any]]:
    drive = drive_wrk if shutil.which("wrk") else drive_python
    with tempfile.TemporaryDirectory(prefix="carecred-bench-") as tmp:
        folder = Path(tmp)
        url = prepare_database(folder)
        (folder / "instance").mkdir()
        app_env = {"LMS_DATABASE_URL": url, "LMS_ENV": "development"}
        app = start_gunicorn("wsgi:app", APP_PORT, app_env, ROOT)
        hello = start_gunicorn("hello_app:app", HELLO_PORT, {}, ROOT / "bench")
        try:
            cookie = login(APP_PORT)
            drive(APP_PORT, LESSON, cookie, 2, connections)  # warm up both
            drive(HELLO_PORT, "/", None, 2, connections)
            best_lesson: dict[str, Any] = {"rps": 0.0}
            best_hello: dict[str, Any] = {"rps": 0.0}
            for _ in range(rounds):  # interleaved, best of each
                lesson = drive(APP_PORT, LESSON, cookie, seconds, connections)
                base = drive(HELLO_PORT, "/", None, seconds, connections)
                if lesson["errors"] or base["errors"]:
                    raise RuntimeError(f"non-200 responses: lesson {lesson}, hello {base}")
                best_lesson = max(best_lesson, lesson, key=lambda r: r["rps"])
                best_hello = max(best_hello, base, key=lambda r: r["rps"])
        finally:
            stop(app)
            stop(hello)
    return [
        {
            "name": "lesson_rps",
            "value": round(best_lesson["rps"], 1),
            "unit": "requests/s",
            "baseline": "bare_flask_hello_rps",
            "baseline_value": round(best_hello["rps"], 1),
            "ratio": round(best_lesson["rps"] / best_hello["rps"], 3),
            "note": f"gunicorn 2 sync workers, {connections} connections, {seconds}s x {rounds}, "
            f"load from {best_lesson['generator']}; lesson p50 {best_lesson['p50_ms']:.1f} ms, "
            f"p99 {best_lesson['p99_ms']:.1f} ms",
        }
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--floor", action="store_true", help="also measure bench/floor_app.py")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.seconds, args.connections, args.rounds), indent=2))
    if args.floor:
        print(json.dumps({"floor": floor(args.seconds, args.connections, args.rounds)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
