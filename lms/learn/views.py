"""Learner pages: My learning, a module, its lessons and its quiz."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import learning
from ..extensions import db
from ..issuance import IssuanceContext

bp = Blueprint("learn", __name__)

_rng = random.SystemRandom()


def now() -> datetime:
    return datetime.now(UTC)


def issuance_context() -> IssuanceContext:
    c = current_app.config
    return IssuanceContext(c["KEY_ENCRYPTION_KEY"], c["BASE_URL"], c["INSTANCE_NAME"])


@bp.route("/")
@login_required
def home() -> ResponseReturnValue:
    assignments = learning.my_learning(db.session, current_user.id)
    return render_template("learn/home.html", assignments=assignments, now=now())


@bp.route("/learn/<code>")
@login_required
def module(code: str) -> ResponseReturnValue:
    learning.enrolment_for(db.session, current_user.id, code)
    mod = learning.current_module(db.session, code)
    done = learning.done_lesson_ids(db.session, current_user.id, mod)
    completion = learning.latest_completion(db.session, current_user.id, code)
    return render_template(
        "learn/module.html", module=mod, done=done, completion=completion, now=now()
    )


@bp.route("/learn/<code>/lessons/<int:position>")
@login_required
def lesson(code: str, position: int) -> ResponseReturnValue:
    learning.enrolment_for(db.session, current_user.id, code)
    mod = learning.current_module(db.session, code)
    current = learning.lesson_at(mod, position)
    done = learning.done_lesson_ids(db.session, current_user.id, mod)
    return render_template("learn/lesson.html", module=mod, lesson=current, done=done)


@bp.route("/learn/<code>/lessons/<int:position>/done", methods=["POST"])
@login_required
def lesson_done(code: str, position: int) -> ResponseReturnValue:
    learning.enrolment_for(db.session, current_user.id, code)
    mod = learning.current_module(db.session, code)
    current = learning.lesson_at(mod, position)
    learning.mark_lesson_read(db.session, current_user.id, current, now())
    db.session.commit()
    if position < len(mod.lessons):
        return redirect(url_for("learn.lesson", code=code, position=position + 1))
    flash(_("You have read every lesson. You can take the quiz now."))
    return redirect(url_for("learn.module", code=code))


@bp.route("/learn/<code>/quiz")
@login_required
def quiz(code: str) -> ResponseReturnValue:
    enrolment = learning.enrolment_for(db.session, current_user.id, code)
    mod = learning.current_module(db.session, code)
    attempt = learning.open_attempt(db.session, current_user.id, enrolment, mod, _rng, now())
    db.session.commit()
    questions = learning.attempt_questions(mod, attempt)
    return render_template("learn/quiz.html", module=mod, attempt=attempt, questions=questions)


@bp.route("/learn/<code>/quiz/<int:attempt_id>", methods=["POST"])
@login_required
def submit_quiz(code: str, attempt_id: int) -> ResponseReturnValue:
    form = {key: request.form.getlist(key) for key in request.form if key != "csrf_token"}
    result = learning.submit_attempt(
        db.session, issuance_context(), current_user.id, attempt_id, form, now()
    )
    db.session.commit()
    return redirect(url_for("learn.quiz_result", code=code, attempt_id=result.attempt.id))


@bp.route("/learn/<code>/quiz/<int:attempt_id>/result")
@login_required
def quiz_result(code: str, attempt_id: int) -> ResponseReturnValue:
    attempt = learning.get_attempt(db.session, current_user.id, attempt_id)
    if attempt.submitted_at is None:
        return redirect(url_for("learn.quiz", code=code))
    mod = attempt.module
    questions = learning.attempt_questions(mod, attempt)
    marking = learning.marking_of(attempt, questions, mod.pass_mark)
    completion = learning.latest_completion(db.session, current_user.id, mod.code)
    credential = None
    if completion is not None and completion.attempt_id == attempt.id:
        credential = next(
            (
                c
                for c in learning.my_credentials(db.session, current_user.id)
                if c.completion_id == completion.id
            ),
            None,
        )
    return render_template(
        "learn/result.html",
        module=mod,
        attempt=attempt,
        marking=marking,
        questions=questions,
        credential=credential,
    )
