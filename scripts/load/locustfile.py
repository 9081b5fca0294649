"""Simulated care workers for `make load`: log in, read lessons, take the quiz, get certificates.

Run by scripts/load/run.py (headless). Reads LOAD_ANSWERS (the set-up's answer key and lesson
count). Each user logs in once as its own learner, from its own address (X-Forwarded-For; the
app runs with LMS_PROXY_FIX_X_FOR=1 as behind a proxy), reads every lesson of the module, then
mixes reading lessons, taking the quiz with right answers, and downloading a certificate PDF,
with a few seconds' thought between steps. Any non-2xx/3xx answer counts as an error.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re

from locust import HttpUser, between, task

SETUP = json.loads(open(os.environ["LOAD_ANSWERS"], encoding="utf-8").read())  # noqa: SIM115
ANSWERS: dict[str, list[str]] = SETUP["answers"]
LESSONS: int = SETUP["lessons"]
MODULE = SETUP["module"]
EMAIL = SETUP["email"]
PASSWORD = SETUP["password"]
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
ACTION = re.compile(rf'action="/learn/{MODULE}/quiz/(\d+)"')
QUESTION = re.compile(r'name="q(\d+)(?:-[^"]*)?"')
CERT = re.compile(r"/certificates/([a-z2-7]{12})\.pdf")
_numbers = itertools.count()


def _token(html: str) -> str:
    match = CSRF.search(html)
    return match.group(1) if match else ""


class Learner(HttpUser):
    wait_time = between(2, 6)

    def on_start(self) -> None:
        n = next(_numbers)
        self.client.headers["X-Forwarded-For"] = f"10.{n // 250 % 250}.{n % 250}.{1 + n % 200}"
        self.client.headers["User-Agent"] = f"carecred-load/{n}"
        page = self.client.get("/auth/login", name="login page")
        self.client.post(
            "/auth/login",
            data={
                "email": EMAIL.format(n=n),
                "password": PASSWORD,
                "csrf_token": _token(page.text),
            },
            name="login",
        )
        for position in range(1, LESSONS + 1):
            self.read_lesson(position)

    def read_lesson(self, position: int) -> None:
        page = self.client.get(f"/learn/{MODULE}/lessons/{position}", name="lesson")
        self.client.post(
            f"/learn/{MODULE}/lessons/{position}/done",
            data={"csrf_token": _token(page.text)},
            name="lesson done",
        )

    @task(5)
    def lesson(self) -> None:
        self.read_lesson(random.randint(1, LESSONS))  # noqa: S311

    @task(2)
    def quiz(self) -> None:
        page = self.client.get(f"/learn/{MODULE}/quiz", name="quiz")
        action = ACTION.search(page.text)
        if action is None:
            return  # the failure (if any) is already counted on the page request
        form: dict[str, list[str] | str] = {"csrf_token": _token(page.text)}
        for qid in dict.fromkeys(QUESTION.findall(page.text)):
            form[f"q{qid}"] = ANSWERS[qid]
        self.client.post(f"/learn/{MODULE}/quiz/{action.group(1)}", data=form, name="quiz submit")

    @task(1)
    def certificate(self) -> None:
        wallet = self.client.get("/certificates/", name="certificates")
        ids = CERT.findall(wallet.text)
        if ids:
            self.client.get(f"/certificates/{random.choice(ids)}.pdf", name="certificate pdf")  # noqa: S311
