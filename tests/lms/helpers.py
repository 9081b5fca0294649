from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select

from courses.models import CatalogueModule, Question
from lms.extensions import db

LEARNER = "learner@example.com"
QUESTION_RE = re.compile(r'name="q(\d+)"')


def read_all_lessons(client: FlaskClient, code: str) -> None:
    module = db.session.scalar(
        select(CatalogueModule).where(CatalogueModule.code == code, CatalogueModule.is_current)
    )
    assert module is not None
    for lesson in module.lessons:
        page = client.get(f"/learn/{code}/lessons/{lesson.position}")
        assert page.status_code == 200
        assert client.post(f"/learn/{code}/lessons/{lesson.position}/done").status_code == 302


def open_quiz(client: FlaskClient, code: str) -> tuple[int, list[int], str]:
    page = client.get(f"/learn/{code}/quiz")
    assert page.status_code == 200, page.text
    html = page.text
    attempt_id = int(re.search(rf"/learn/{code}/quiz/(\d+)", html).group(1))  # type: ignore[union-attr]
    qids = sorted({int(x) for x in QUESTION_RE.findall(html)})
    return attempt_id, qids, html


def answers_for(qids: list[int], right: bool = True) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for qid in qids:
        q = db.session.get_one(Question, qid)
        if right:
            out[f"q{qid}"] = list(q.correct)
        else:
            wrong = [o["id"] for o in q.options if o["id"] not in q.correct]
            out[f"q{qid}"] = wrong[:1]
    return out
