"""gunicorn settings for production: `make serve-prod` or `gunicorn -c gunicorn.conf.py wsgi:app`.

Everything can be overridden by environment variables (GUNICORN_*), so one file serves every
app server; see docs/deploy.md.

- workers: sync workers, (2 x CPUs) + 1 by default. The app is CPU-bound on signing and PDF
  rendering and holds no state in memory between requests (sessions are signed cookies, rate
  limits and jobs live in Redis), so plain processes scale out simply.
- bind: 127.0.0.1:8000 by default: the reverse proxy in front terminates TLS and is the only
  thing that should reach it. Set LMS_PROXY_FIX_X_FOR=1 and LMS_PROXY_FIX_X_PROTO=1 for it.
- timeout 30 s: a request longer than that is a bug or an outage; slow work goes to the job
  queue. graceful_timeout lets in-flight requests finish on a reload or deploy.
- preload_app off: each worker builds its own app and database pool after the fork, so no
  connection is ever shared between processes, and `kill -HUP` reloads new code. (On a
  memory-tight server, preloading saves little here: most memory is per-worker anyway.)
- max_requests with jitter: workers are recycled now and then, so a slow leak (e.g. in a PDF
  library) never grows without bound, and they never all restart at once.
- access log: the request line is logged WITHOUT its query string (it may carry a token or an
  e-mail address) and without cookies or Authorization; the status, size and time are kept.
"""

from __future__ import annotations

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 20)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
backlog = _int("GUNICORN_BACKLOG", 2048)
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 500)
preload_app = False
# Headers and request lines beyond these limits are refused (400) before the app sees them.
limit_request_line = 8190
limit_request_fields = 100

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")  # "-" = stdout; "" = off
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# %(U)s is the path without the query string; %(r)s (the full request line) is never logged.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
if not accesslog:
    accesslog = None

# The reverse proxy is on the same host or network: trust its X-Forwarded-* only from there.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "carecred"
