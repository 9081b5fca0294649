"""Learner pages: My learning, a module, its lessons and its quiz."""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from courses.errors import InvalidAnswers
from courses.models import CatalogueModule, Question
from courses.quiz import OrderIncomplete

from .. import learning, quiz_limits
from ..errors import NotFound
from ..extensions import db
from ..issuance import IssuanceContext
from ..models import QuizAttempt
from ..pagecache import render_shared

bp = Blueprint("learn", __name__)
log = logging.getLogger(__name__)

_rng = random.SystemRandom()


def now() -> datetime:
    return datetime.now(UTC)


def issuance_context() -> IssuanceContext:
    return IssuanceContext.from_config(current_app.config)


def catalogue_cache() -> learning.CatalogueCache:
    """This app's copies of catalogue module versions (one per process and app)."""
    cache = current_app.extensions.get("lms.catalogue_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("lms.catalogue_cache", learning.CatalogueCache())
    return cache  # type: ignore[no-any-return]


UK = ZoneInfo("Europe/London")
# Refusals of a submission that are logged and audited (the answers are not saved).
REFUSALS = (InvalidAnswers, learning.AttemptExpired, learning.AlreadySubmitted, NotFound)


def when(moment: datetime) -> str:
    """A moment in UK time, in the learner's language."""
    return format_datetime(moment, "d MMMM y, HH:mm", tzinfo=UK, locale=str(get_locale()))


def quiz_items(attempt: QuizAttempt, questions: Sequence[Question]) -> list[learning.QuizItem]:
    return learning.quiz_items(attempt, questions, current_app.config["SECRET_KEY"])


def _refused(attempt_id: int, err: Exception) -> None:
    """Keep a record of a refused submission: the refused work is rolled back first. An
    attempt that is not the learner's own is only logged (there is nothing of theirs to
    attach an audit event to)."""
    db.session.rollback()
    if isinstance(err, NotFound):
        log.warning(
            "quiz submission refused: user %s, attempt %s, reason not_found",
            current_user.id,
            attempt_id,
        )
    elif learning.record_refusal(db.session, current_user.id, attempt_id, err, now()):
        db.session.commit()


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
    # One query (is it assigned, which version is current); the version's lessons come from
    # this process's copy of the catalogue. The page shows no progress, so none is read.
    # The page is the same for everyone with the same roles and language (lms/pagecache.py).
    mod = learning.assigned_module(db.session, catalogue_cache(), current_user.id, code)
    key = (mod.id, mod.code, mod.version, position)
    return render_shared("learn/lesson.html", key, module=mod, lesson=mod.lesson_at(position))


@bp.route("/learn/<code>/lessons/<int:position>/done", methods=["POST"])
@login_required
def lesson_done(code: str, position: int) -> ResponseReturnValue:
    learning.enrolment_for(db.session, current_user.id, code)
    mod = learning.current_module(db.session, code)
    current = learning.lesson_at(mod, position)
    learning.mark_lesson_read(db.session, current_user.id, current, now())
    db.session.commit()
    if request.is_json:  # replayed from an offline queue
        return "", 204
    if position < len(mod.lessons):
        return redirect(url_for("learn.lesson", code=code, position=position + 1))
    flash(_("You have read every lesson. You can take the quiz now."))
    return redirect(url_for("learn.module", code=code))


@bp.route("/learn/<code>/quiz")
@login_required
def quiz(code: str) -> ResponseReturnValue:
    enrolment = learning.enrolment_for(db.session, current_user.id, code)
    mod = learning.current_module(db.session, code)
    try:
        attempt = learning.open_attempt(db.session, current_user.id, enrolment, mod, _rng, now())
    except learning.QuizLocked as locked:
        db.session.rollback()
        return render_template(
            "learn/quiz.html", module=mod, locked=locked, opens_at=when(locked.opens_at)
        ), 409
    db.session.commit()
    return _quiz_page(mod, attempt)


def _quiz_page(
    mod: CatalogueModule,
    attempt: QuizAttempt,
    chosen: Mapping[str, Sequence[str]] | None = None,
    problem: OrderIncomplete | None = None,
) -> ResponseReturnValue:
    items = quiz_items(attempt, learning.attempt_questions(mod, attempt))
    page = render_template(
        "learn/quiz.html",
        module=mod,
        attempt=attempt,
        items=items,
        chosen=chosen or {},
        problem=problem,
    )
    return page, (400 if problem else 200)


@bp.route("/learn/<code>/quiz/<int:attempt_id>", methods=["POST"])
@login_required
def submit_quiz(code: str, attempt_id: int) -> ResponseReturnValue:
    if request.is_json:
        return _submit_json(attempt_id)
    # The phone's script adds the key of the copy it queued when it posts the form itself (its
    # queue was too slow to answer): that copy, sent later, is then the same submission.
    key = request.form.get("submission_key", "")
    form = {
        name: request.form.getlist(name)
        for name in request.form
        if name not in ("csrf_token", "submission_key")
    }
    try:
        result = learning.submit_attempt(
            db.session,
            issuance_context(),
            current_user.id,
            attempt_id,
            form,
            now(),
            key if 8 <= len(key) <= MAX_KEY else None,
        )
    except OrderIncomplete as slip:
        # The learner left an ordering question part-done: show the page again with every
        # answer they gave, and say which question to finish. Nothing was recorded.
        db.session.rollback()
        attempt = learning.get_attempt(db.session, current_user.id, attempt_id)
        return _quiz_page(attempt.module, attempt, form, slip)
    except REFUSALS as err:
        _refused(attempt_id, err)
        raise
    db.session.commit()
    return redirect(url_for("learn.quiz_result", code=code, attempt_id=result.attempt.id))


MAX_KEY = 64


def _submit_json(attempt_id: int) -> ResponseReturnValue:
    """A quiz sent by the phone's offline queue: {"answers": {"q12": ["b"]}, "submission_key"}.

    The key makes retries safe: the same key gets the recorded result again ("replayed");
    a different submission for an attempt already recorded gets 409 and the recorded result:
    the server's record wins, and the phone tells the learner.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("answers"), dict):
        return jsonify(error="bad_request", message="Send answers as a JSON object."), 400
    key = body.get("submission_key")
    if not isinstance(key, str) or not 8 <= len(key) <= MAX_KEY:
        return jsonify(error="bad_request", message="submission_key must be 8-64 characters."), 400
    form: dict[str, list[str]] = {}
    for name, values in body["answers"].items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            return jsonify(error="bad_request", message="Each answer is a list of option ids."), 400
        form[str(name)] = values
    try:
        result = learning.submit_attempt(
            db.session, issuance_context(), current_user.id, attempt_id, form, now(), key
        )
    except REFUSALS as err:
        _refused(attempt_id, err)
        raise
    db.session.commit()
    return jsonify(_result_json(result))


def _result_json(result: learning.SubmitResult) -> dict[str, object]:
    return {
        "attempt_id": result.attempt.id,
        "status": "replayed" if result.replayed else "recorded",
        "passed": result.marking.passed,
        "score_percent": result.marking.score_percent,
        "correct": result.marking.correct_count,
        "total": result.marking.total,
        "certificate": result.credential.short_id if result.credential else None,
        "result_url": url_for(
            "learn.quiz_result", code=result.attempt.module.code, attempt_id=result.attempt.id
        ),
    }


@bp.route("/learn/<code>/offline.json")
@login_required
def offline_bundle(code: str) -> ResponseReturnValue:
    """Everything a phone needs to study this module offline: lessons, and the questions of an
    attempt drawn now (never the answers). Submitting still needs every lesson read."""
    enrolment = learning.enrolment_for(db.session, current_user.id, code)
    mod = learning.current_module(db.session, code)
    try:
        attempt: QuizAttempt | None = learning.open_attempt(
            db.session, current_user.id, enrolment, mod, _rng, now(), require_lessons=False
        )
    except learning.QuizLocked:
        db.session.rollback()  # no quiz to take until it opens again: lessons only
        attempt = None
    db.session.commit()
    done = learning.done_lesson_ids(db.session, current_user.id, mod)
    return jsonify(
        code=mod.code,
        version=mod.version,
        title=mod.title,
        pass_mark=mod.pass_mark,
        lessons=[
            {
                "position": lesson.position,
                "title": lesson.title,
                "html": lesson.body_html,
                "read": lesson.id in done,
                "url": url_for("learn.lesson", code=mod.code, position=lesson.position),
            }
            for lesson in mod.lessons
        ],
        quiz=None if attempt is None else _bundle_quiz(mod, attempt),
    )


def _bundle_quiz(mod: CatalogueModule, attempt: QuizAttempt) -> dict[str, object]:
    """The attempt's questions as the page shows them (ordering steps shuffled), never the
    answers, with the words the phone needs to show an ordering question."""
    return {
        "attempt_id": attempt.id,
        "submit_url": url_for("learn.submit_quiz", code=mod.code, attempt_id=attempt.id),
        "questions": [
            {
                "id": item.question.id,
                "type": item.question.type,
                "prompt": item.question.prompt,
                "options": [{"id": o["id"], "text": o["text"]} for o in item.options],
            }
            for item in quiz_items(attempt, learning.attempt_questions(mod, attempt))
        ],
        "words": {
            "ordering": _("1 is the first step"),
            "position": _("position"),
            "order_problem": _("Give each step a different position, or leave them all blank."),
        },
    }


@bp.route("/learn/offline.json")
@login_required
def offline_index() -> ResponseReturnValue:
    """The learner's assigned modules, for the phone to cache."""
    return jsonify(
        modules=[
            {
                "code": a.module.code,
                "title": a.module.title,
                "bundle_url": url_for("learn.offline_bundle", code=a.module.code),
                "module_url": url_for("learn.module", code=a.module.code),
                "state": a.state(now()),
            }
            for a in learning.my_learning(db.session, current_user.id)
            if a.module.delivery != "external"  # nothing of ours to study offline
        ]
    )


@bp.route("/learn/sync-token")
@login_required
def sync_token() -> ResponseReturnValue:
    """A fresh CSRF token for replaying the offline queue (the cached page's may have expired)."""
    from flask_wtf.csrf import generate_csrf

    response = jsonify(csrf_token=generate_csrf())
    response.headers["Cache-Control"] = "no-store"
    return response


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
        credential = learning.credential_for(db.session, completion)
    opens_at = None
    if not marking.passed:
        lock = quiz_limits.lock_for(db.session, current_user.id, attempt.org_id, mod, now())
        opens_at = when(lock.opens_at) if lock.opens_at else None
    return render_template(
        "learn/result.html",
        module=mod,
        attempt=attempt,
        marking=marking,
        feedback=learning.outcome_feedback(mod, marking),
        credential=credential,
        opens_at=opens_at,
    )
