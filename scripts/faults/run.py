"""`make faults`: three scripted faults against gunicorn + PostgreSQL (+ Redis for the jobs).

1. Database outage under load. Logged-in users keep reading lessons while PostgreSQL goes away
   for FAULTS_DOWN_SECONDS (10). Expected: while it is down every request answers quickly with
   503 (no hang, nothing half-saved); when it is back the same gunicorn processes answer 200
   again, with no restart (pool_pre_ping replaces the dead connections).
   FAULTS_PG_MODE=restart (default) stops and starts the whole cluster with pg_ctlcluster;
   FAULTS_PG_MODE=isolate only closes this run's database to connections and terminates its
   sessions, which is the same outage for the app and harmless to anything else using the
   server (use it on a shared machine).
2. An RQ worker killed (SIGKILL, worker and work horse) in the middle of a batch issuance job.
   Expected: after its heartbeat lapses, the next worker's maintenance re-queues the job (one
   retry used); the retry issues only what is missing; every completion ends with exactly one
   credential and no status-list slot is used twice.
3. A quiz submission whose reply the client gave up waiting for, sent again. Expected: one
   submitted attempt, one completion, one credential; the form retry is told the first answers
   were kept (409); an offline-queue retry with the same submission key gets "replayed".

Writes bench/faults-results.json, prints a summary, exits 0 when all three behave. Only
127.0.0.1 is used: port FAULTS_PORT (5781), Redis FAULTS_REDIS_URL (redis://127.0.0.1:6379/8),
database FAULTS_DATABASE (lms_faults).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "load"))
import common

RESULTS = common.ROOT / "bench" / "faults-results.json"
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
ACTION = re.compile(r'action="/learn/[A-Z0-9-]+/quiz/(\d+)"')
QUESTION = re.compile(r'name="q(\d+)(?:-[^"]*)?"')


class Client:
    """One logged-in learner over keep-alive HTTP, with its own forwarded address."""

    def __init__(self, port: int, n: int, timeout: float = 15) -> None:
        self.port, self.n, self.timeout = port, n, timeout
        self.cookies: dict[str, str] = {}
        self.csrf = ""  # the last form's token, for JSON posts (X-CSRFToken)
        self.ip = f"10.9.{n // 250}.{1 + n % 250}"

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | str | None = None,
        timeout: float | None = None,
        json_body: bool = False,
    ) -> tuple[int, str]:
        conn = http.client.HTTPConnection(common.HOST, self.port, timeout=timeout or self.timeout)
        headers = {"X-Forwarded-For": self.ip, "User-Agent": f"faults/{self.n}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            if json_body:
                data = json.dumps(body)
                headers["Content-Type"] = "application/json"
                headers["X-CSRFToken"] = self.csrf
            else:
                data = urllib.parse.urlencode(body, doseq=True)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for cookie in response.headers.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                value = rest.split(";", 1)[0]
                if value:
                    self.cookies[name] = value
                else:
                    self.cookies.pop(name, None)
            return response.status, text
        finally:
            conn.close()

    def login(self) -> None:
        _, page = self.request("GET", "/auth/login")
        status, _ = self.request(
            "POST",
            "/auth/login",
            {
                "email": common.EMAIL.format(n=self.n),
                "password": common.PASSWORD,
                "csrf_token": _token(page),
            },
        )
        if status != 302:
            raise SystemExit(f"login failed for user {self.n}: {status}")

    def read_all_lessons(self, lessons: int) -> None:
        for position in range(1, lessons + 1):
            path = f"/learn/{common.QUIZ_MODULE}/lessons/{position}"
            _, page = self.request("GET", path)
            self.request("POST", f"{path}/done", {"csrf_token": _token(page)})


def _token(html: str) -> str:
    match = CSRF.search(html)
    return match.group(1) if match else ""


# --- 1. database outage ----------------------------------------------------------------------


def _cluster() -> str:
    versions = sorted(os.listdir("/etc/postgresql"))
    return versions[-1]


def outage(mode: str, database: str, seconds: float) -> None:
    import psycopg

    admin = common.pg_url("test").replace("postgresql+psycopg", "postgresql")
    if mode == "restart":
        subprocess.run(
            [
                "pg_ctlcluster",
                "--skip-systemctl-redirect",
                _cluster(),
                "main",
                "stop",
                "-m",
                "fast",
            ],
            check=True,
        )
        time.sleep(seconds)
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", _cluster(), "main", "start"],
            check=True,
        )
        return
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )
    time.sleep(seconds)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')


def database_fault(url: str, database: str, setup: dict[str, Any], port: int) -> dict[str, Any]:
    mode = os.environ.get("FAULTS_PG_MODE", "restart")
    down = float(os.environ.get("FAULTS_DOWN_SECONDS", "10"))
    users = 12
    server = common.start_gunicorn(url, port, 2)
    pids_before = _worker_pids(server.pid)
    clients = [Client(port, n) for n in range(users)]
    for c in clients:
        c.login()
    samples: list[tuple[float, str, int, float]] = []
    lock = threading.Lock()
    stop_at = [float("inf")]
    t0 = time.monotonic()

    def hammer(c: Client) -> None:
        while time.monotonic() < stop_at[0]:
            path = f"/learn/{common.QUIZ_MODULE}/lessons/1"
            start = time.monotonic()
            try:
                status, _ = c.request("GET", path)
            except OSError:
                status = 0  # connection refused/reset or client timeout: a hang or a crash
            with lock:
                samples.append((start - t0, "lesson", status, time.monotonic() - start))
            time.sleep(0.2)

    threads = [threading.Thread(target=hammer, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    time.sleep(8)
    down_from = time.monotonic() - t0
    outage(mode, database, down)
    up_at = time.monotonic() - t0
    time.sleep(15)
    stop_at[0] = time.monotonic()
    for t in threads:
        t.join()
    pids_after = _worker_pids(server.pid)
    common.stop(server)

    def window(a: float, b: float) -> list[tuple[float, str, int, float]]:
        return [s for s in samples if a <= s[0] < b]

    before = window(0, down_from)
    during = window(down_from + 0.5, up_at)  # requests started while it was down
    after = [s for s in samples if s[0] >= up_at]
    first_ok = next((s[0] for s in after if s[2] == 200), None)
    settled = [s for s in after if first_ok is not None and s[0] >= first_ok + 2]

    def statuses(rows: list[tuple[float, str, int, float]]) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in rows:
            out[str(row[2])] = out.get(str(row[2]), 0) + 1
        return out

    result = {
        "mode": mode,
        "down_seconds": down,
        "users": users,
        "before": statuses(before),
        "while_down": statuses(during),
        "while_down_max_latency_s": round(max((s[3] for s in during), default=0), 2),
        "after": statuses(after),
        "recovered_after_s": round(first_ok - up_at, 2) if first_ok is not None else None,
        "after_settled": statuses(settled),
        "gunicorn_restarted": False,
        "same_worker_processes": pids_before == pids_after,
    }
    result["passed"] = (
        set(result["before"]) == {"200"}
        and bool(during)
        and set(result["while_down"]) <= {"503", "200"}
        and result["while_down"].get("503", 0) > 0
        and result["while_down_max_latency_s"] < 10
        and first_ok is not None
        and set(result["after_settled"]) == {"200"}
    )
    return result


def _worker_pids(master: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(master)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return sorted(int(p) for p in out.split())


# --- 2. a worker killed mid-batch ------------------------------------------------------------


def worker_fault(url: str, redis_url: str, batch: int) -> dict[str, Any]:
    os.environ["LMS_DATABASE_URL"] = url
    os.environ["LMS_REDIS_URL"] = redis_url
    from redis import Redis
    from sqlalchemy import create_engine, text

    from lms import create_app, jobs
    from lms.extensions import db
    from lms.learning import current_module
    from lms.models import Completion, CompletionSource, Organisation, User

    queue_name = f"faults-{os.getpid()}"
    os.environ["LMS_JOBS_QUEUE"] = queue_name
    app = create_app({"JOBS_QUEUE": queue_name})
    with app.app_context():
        org = db.session.query(Organisation).filter_by(slug=common.ORG).one()
        users = db.session.query(User.id).order_by(User.id).limit(batch).all()
        module = current_module(db.session, "DIG-01")
        rows = [
            Completion(
                user_id=uid,
                org_id=org.id,
                module_id=module.id,
                source=CompletionSource.COURSE.value,
                completed_at=datetime.now(UTC),
            )
            for (uid,) in (users * (batch // len(users) + 1))[:batch]
        ]
        db.session.add_all(rows)
        db.session.commit()
        ids = [r.id for r in rows]
        jobs.queue(app).empty()
        handle = jobs.enqueue("issuance.batch", completion_ids=ids)
        db.engine.dispose()
    engine = create_engine(url)
    id_list = ",".join(str(i) for i in ids)

    def issued() -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM issued_credentials "
                        f"WHERE completion_id IN ({id_list})"
                    )
                ).scalar()
                or 0
            )

    env = {**os.environ, "LMS_DATABASE_URL": url, "LMS_REDIS_URL": redis_url}
    env["LMS_JOBS_QUEUE"] = queue_name
    cmd = [str(common.BIN / "flask"), "--app", "wsgi", "jobs", "worker"]
    first = subprocess.Popen(
        [*cmd, "--name", f"{queue_name}-a"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    at_kill = 0
    while time.monotonic() < deadline:
        at_kill = issued()
        if at_kill >= max(20, batch // 5):
            break
        time.sleep(0.2)
    # SIGKILL the worker and its work horse (RQ puts the horse in a session of its own, so
    # killing the worker's process group alone would leave the horse running): no clean-up.
    horses = _worker_pids(first.pid)
    os.killpg(first.pid, signal.SIGKILL)
    for pid in horses:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    first.wait()
    time.sleep(1)
    after_kill = issued()
    conn = Redis.from_url(redis_url)
    from rq.job import Job

    job = Job.fetch(handle.id, connection=conn)
    state_after_kill = job.get_status(refresh=True).value
    # The dead worker cannot report anything: RQ notices when the job's heartbeat lapses
    # (job_monitoring_interval + 60 s); the next worker's maintenance then re-queues it.
    time.sleep(95)
    second = subprocess.run(
        [*cmd, "--name", f"{queue_name}-b", "--burst"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    job = Job.fetch(handle.id, connection=conn)
    final = issued()
    with engine.connect() as c:
        dup_completion = int(
            c.execute(
                text(
                    "SELECT count(*) FROM (SELECT completion_id FROM issued_credentials "
                    "GROUP BY completion_id HAVING count(*) > 1) d"
                )
            ).scalar()
            or 0
        )
        dup_slot = int(
            c.execute(
                text(
                    "SELECT count(*) FROM (SELECT org_id, status_list_number, status_index "
                    "FROM issued_credentials GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
                )
            ).scalar()
            or 0
        )
    engine.dispose()
    result = {
        "batch": batch,
        "issued_when_killed": at_kill,
        "work_horses_killed": len(horses),
        "issued_just_after_kill": after_kill,
        "job_state_after_kill": state_after_kill,
        "job_state_final": job.get_status(refresh=True).value,
        "job_result": job.return_value(),
        "retries_left": job.retries_left,
        "issued_final": final,
        "duplicate_credentials_per_completion": dup_completion,
        "duplicate_status_slots": dup_slot,
        "second_worker_exit": second.returncode,
    }
    result["passed"] = (
        0 < after_kill < batch
        and result["job_state_final"] == "finished"
        and final == batch
        and dup_completion == 0
        and dup_slot == 0
        and job.retries_left == jobs.RETRIES - 1
    )
    jobs_queue_cleanup(conn, queue_name)
    return result


def jobs_queue_cleanup(conn: Any, queue_name: str) -> None:
    for key in conn.scan_iter(f"rq:*{queue_name}*"):
        conn.delete(key)


# --- 3. a duplicate submission after a client timeout ----------------------------------------


def _open_quiz(c: Client, setup: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    c.login()
    c.read_all_lessons(setup["lessons"])
    _, page = c.request("GET", f"/learn/{common.QUIZ_MODULE}/quiz")
    attempt = int(ACTION.search(page).group(1))  # type: ignore[union-attr]
    c.csrf = _token(page)
    answers = {f"q{qid}": setup["answers"][qid] for qid in dict.fromkeys(QUESTION.findall(page))}
    return f"/learn/{common.QUIZ_MODULE}/quiz/{attempt}", answers


def _send_twice(c: Client, path: str, body: dict[str, Any], json_body: bool) -> dict[str, Any]:
    """Send, give up after 20 ms (the reply is lost), wait, send the same again."""
    try:
        first: int | str = c.request("POST", path, body, timeout=0.02, json_body=json_body)[0]
    except (TimeoutError, OSError):
        first = "client timed out"
    time.sleep(3)  # the server finishes the first request meanwhile
    status, text = c.request("POST", path, body, json_body=json_body)
    return {"first": first, "retry_status": status, "retry_body": text}


def _recorded(url: str, attempt: int) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:

        def q(sql: str) -> int:
            return int(conn.execute(text(sql), {"a": attempt}).scalar() or 0)

        out = {
            "submitted_attempts": q(
                "SELECT count(*) FROM quiz_attempts WHERE id = :a AND status = 'submitted'"
            ),
            "completions": q("SELECT count(*) FROM completions WHERE attempt_id = :a"),
            "credentials": q(
                "SELECT count(*) FROM issued_credentials i JOIN completions c "
                "ON c.id = i.completion_id WHERE c.attempt_id = :a"
            ),
        }
    engine.dispose()
    return out


def duplicate_fault(url: str, setup: dict[str, Any], port: int) -> dict[str, Any]:
    server = common.start_gunicorn(url, port, 2)
    try:
        web = Client(port, 38)
        path, answers = _open_quiz(web, setup)
        form = _send_twice(web, path, {**answers, "csrf_token": web.csrf}, json_body=False)
        form_attempt = int(path.rsplit("/", 1)[1])
        phone = Client(port, 39)
        path2, answers2 = _open_quiz(phone, setup)
        body = {"answers": answers2, "submission_key": "faults-duplicate-key-0001"}
        offline = _send_twice(phone, path2, body, json_body=True)
        phone_attempt = int(path2.rsplit("/", 1)[1])
    finally:
        common.stop(server)
    form_db, phone_db = _recorded(url, form_attempt), _recorded(url, phone_attempt)
    once = {"submitted_attempts": 1, "completions": 1, "credentials": 1}
    replay = json.loads(offline["retry_body"]) if offline["retry_status"] == 200 else {}
    result = {
        "form": {
            "first_submission": form["first"],
            "retry_status": form["retry_status"],
            "retry_says_first_answers_kept": "Your first answers were kept" in form["retry_body"],
            "database": form_db,
        },
        "offline_queue": {
            "first_submission": offline["first"],
            "retry_status": offline["retry_status"],
            "retry_answer": replay.get("status"),
            "database": phone_db,
        },
    }
    result["passed"] = (
        form_db == once
        and phone_db == once
        and form["retry_status"] == 409
        and result["form"]["retry_says_first_answers_kept"]
        and replay.get("status") == "replayed"
    )
    return result


def main() -> int:
    database = os.environ.get("FAULTS_DATABASE", "lms_faults")
    port = int(os.environ.get("FAULTS_PORT", "5781"))
    redis_url = os.environ.get("FAULTS_REDIS_URL", "redis://127.0.0.1:6379/8")
    batch = int(os.environ.get("FAULTS_BATCH", "400"))
    started = datetime.now(UTC)
    print(f"== faults: database {database}, port {port}, redis {redis_url}")
    url = common.fresh_database(database)
    setup = common.prepare(url, 40)
    results: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": common.machine(),
    }
    print("-- 1. database outage under load")
    results["database_outage"] = database_fault(url, database, setup, port)
    print(json.dumps(results["database_outage"], indent=2))
    print("-- 2. RQ worker killed mid-batch (waits ~95 s for its heartbeat to lapse)")
    results["worker_killed"] = worker_fault(url, redis_url, batch)
    print(json.dumps(results["worker_killed"], indent=2, default=str))
    print("-- 3. duplicate quiz submission after a client timeout")
    results["duplicate_submission"] = duplicate_fault(url, setup, port)
    print(json.dumps(results["duplicate_submission"], indent=2))
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["load_average_at_end"] = os.getloadavg()
    results["passed"] = all(
        results[k]["passed"] for k in ("database_outage", "worker_killed", "duplicate_submission")
    )
    common.write_json(RESULTS, results)
    for k in ("database_outage", "worker_killed", "duplicate_submission"):
        print(f"  {'PASS' if results[k]['passed'] else 'FAIL'}  {k}")
    print(f"wrote {RESULTS.relative_to(common.ROOT)}")
    return 0 if results["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
