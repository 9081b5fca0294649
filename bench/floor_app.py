"""A floor for lesson_rps: the least a logged-in page can do, under the same gunicorn settings.

Flask with a signed session cookie, one indexed look-up of the user in SQLite (the stdlib
driver, no ORM), and a Jinja template of the lesson page's size (~5.5 KB) showing their name.
No CSRF token, rate limiter, translations, security headers, login manager or ORM: what the
real app adds on top of this is what each of those costs. Run by `bench_http.py --floor`.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from flask import Flask, abort, g, session

app = Flask(__name__)
app.secret_key = "bench-floor-only"  # noqa: S105  (a throwaway bench app)
DB = os.environ.get("FLOOR_DB", "/tmp/carecred-floor.sqlite3")  # noqa: S108
_local = threading.local()

PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{{ title }}</title>"
    "<link rel='stylesheet' href='/static/app.css'></head><body><header>{{ name }}</header>"
    "<main><h1>{{ title }}</h1>{{ body | safe }}</main></body></html>"
)
BODY = "<p>" + ("A lesson paragraph of plain words for the floor page. " * 95) + "</p>"
TEMPLATE = app.jinja_env.from_string(PAGE)  # compiled once, as Flask's loader caches templates


def _db() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = sqlite3.connect(DB, check_same_thread=False)
        conn.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT OR IGNORE INTO users VALUES (1, 'Bench Learner')")
        conn.commit()
    return conn


@app.route("/")
def login() -> str:
    session["uid"] = 1
    return "ok"


@app.route("/lesson")
def lesson() -> str:
    uid = session.get("uid")
    row = _db().execute("SELECT id, name FROM users WHERE id = ?", (uid,)).fetchone()
    if row is None:
        abort(403)
    g.user = row
    return TEMPLATE.render(title="Lesson 1", name=row[1], body=BODY)
