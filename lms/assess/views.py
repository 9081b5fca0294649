"""Mentors and assessors: observed practice, evidence, sign-off (views).

Who may open what:
- /assess/<slug>/...: mentors, managers and admins of that organisation (404 for anyone else).
- an observation's mentor pages: the organisation's mentors, managers and admins, never the
  worker observed; only the assessor who started a draft can change it. Witness testimony and
  evidence files: only that assessor or a manager/admin, and only while it is a draft (the
  services refuse anyone else with 403 and a submitted observation with 409).
- countersign: only the worker the observation is about.
- sign-off: only a manager or admin of the organisation who is neither assessor nor worker.
- evidence files: the worker and the organisation's mentors, managers and admins.

Offline: /assess/sw.js (scope /assess/) keeps the mentor's pages; static/assess/observe.js
queues a filled observation on the phone and posts it to /assess/sync when back online.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from .. import evidence as evidence_service
from .. import observations as svc
from ..completing import final_status, manager_signoff_needed
from ..errors import NotFound
from ..extensions import csrf, db
from ..issuance import IssuanceContext
from ..models import Organisation
from ..principal import me
from .forms import EvidenceForm, SignForm, WitnessForm, observation_form
from .models import METHOD_LABELS, Observation, ObservationStatus

bp = Blueprint("assess", __name__, url_prefix="/assess")

STATIC = Path(__file__).resolve().parent.parent / "static" / "assess"
# Shown to the worker too (countersign page), so translated.
STATUS_LABELS = {
    ObservationStatus.DRAFT.value: lazy_gettext("Draft"),
    ObservationStatus.NOT_YET.value: lazy_gettext("Not yet competent"),
    ObservationStatus.SUBMITTED.value: lazy_gettext(
        "Competent: waiting for the worker to countersign"
    ),
    ObservationStatus.COUNTERSIGNED.value: lazy_gettext("Countersigned"),
    ObservationStatus.SIGNED_OFF.value: lazy_gettext("Signed off"),
}


def now() -> datetime:
    return datetime.now(UTC)


def ctx() -> IssuanceContext:
    return IssuanceContext.from_config(current_app.config)


def evidence_dir() -> Path:
    return Path(current_app.config["EVIDENCE_DIR"])


@bp.app_template_global()
def observations_to_countersign(code: str) -> list[Observation]:
    """For the learner's module page: their observations waiting for their signature."""
    if not current_user.is_authenticated:
        return []
    return [
        o
        for o in svc.for_learner(db.session, current_user.id, code)
        if o.status == ObservationStatus.SUBMITTED.value
    ]


@bp.app_context_processor
def labels() -> dict[str, Any]:
    return {"observation_status_labels": STATUS_LABELS, "method_labels": METHOD_LABELS}


# --- the mentor's list ---------------------------------------------------------------------


@bp.route("/")
@login_required
def index() -> ResponseReturnValue:
    orgs = svc.assessing_organisations(db.session, me())
    if not orgs:
        raise NotFound("You are not a mentor or assessor in any organisation.")
    if len(orgs) == 1:
        return redirect(url_for("assess.workers", slug=orgs[0].slug))
    return render_template("assess/index.html", orgs=orgs)


@bp.route("/<slug>/")
@login_required
def workers(slug: str) -> ResponseReturnValue:
    org = svc.assessing_organisation(db.session, me(), slug)
    rows = svc.to_observe(db.session, org.id, me())
    is_manager = bool(current_user.roles_in(org.id) & svc.MANAGER_ROLES)
    waiting = svc.awaiting_signoff(db.session, org.id) if is_manager else []
    return render_template(
        "assess/workers.html", org=org, rows=rows, is_manager=is_manager, waiting=waiting
    )


# --- recording an observation --------------------------------------------------------------


def _input(form: Any) -> svc.ObservationInput:
    return svc.ObservationInput(
        method=form.method.data or None,
        observed_on=form.observed_on.data,
        setting=form.setting.data,
        notes=form.notes.data,
        assessor_role=form.assessor_role.data,
        competence_statement=form.competence_statement.data,
        results={
            cid: (form.criterion(cid).data, form.note(cid).data)
            for cid in form.criterion_ids
            if form.criterion(cid).data
        },
    )


def _record(obs: Observation, form: Any) -> ResponseReturnValue:
    """Save the form into the observation (and submit it, if that was the button pressed),
    commit, and say what happened on the observation's page."""
    obs, found = svc.record(
        db.session,
        ctx(),
        obs,
        me(),
        _input(form),
        request.form.get("action") == "submit",
        now(),
    )
    db.session.commit()
    if found:
        flash("Your draft is saved, but it cannot be submitted yet: " + " ".join(found))
    elif obs.status == ObservationStatus.DRAFT.value:
        flash("Draft saved.")
    elif obs.status == ObservationStatus.NOT_YET.value:
        flash(
            "Recorded as not yet competent. Agree an action plan with the worker and observe "
            "again later."
        )
    else:
        flash("Observation submitted. The worker now countersigns it on their module page.")
    return redirect(url_for("assess.observation", observation_id=obs.id))


@bp.route("/<slug>/observe/<int:learner_id>/<code>", methods=["GET", "POST"])
@login_required
def observe(slug: str, learner_id: int, code: str) -> ResponseReturnValue:
    """A new observation (this page is kept on the phone for use with no signal)."""
    org = svc.assessing_organisation(db.session, me(), slug)
    learner = svc.check_assessor(db.session, me(), org.id, learner_id)
    module = svc.module_for(db.session, org.id, learner.id, code)
    form = observation_form(module.observation)
    if request.method == "POST" and form.validate_on_submit():
        obs = svc.start(db.session, me(), org.id, learner.id, code, now())
        return _record(obs, form)
    status = 400 if request.method == "POST" else 200
    return (
        render_template(
            "assess/observe.html",
            org=org,
            learner=learner,
            module=module,
            spec=module.observation,
            form=form,
            obs=None,
        ),
        status,
    )


@bp.route("/observations/<int:observation_id>", methods=["GET", "POST"])
@login_required
def observation(observation_id: int) -> ResponseReturnValue:
    obs = svc.get_for_assessor(db.session, me(), observation_id)
    module = obs.module
    spec = module.observation or {}
    editable = obs.status == ObservationStatus.DRAFT.value and obs.assessor_id == current_user.id
    if editable:
        form = observation_form(spec)
        if request.method == "POST" and form.validate_on_submit():
            return _record(obs, form)
        if request.method == "GET":
            form = observation_form(spec, obj=obs)
            for c in obs.criteria:
                form.criterion(c.criterion_id).data = c.result
                form.note(c.criterion_id).data = c.note
    elif request.method == "POST":
        flash("This observation was already submitted, so it cannot be changed.")
        return redirect(url_for("assess.observation", observation_id=obs.id))
    else:
        form = None
    return render_template(
        "assess/observation.html",
        obs=obs,
        module=module,
        spec=spec,
        form=form,
        org=obs_org(obs),
        witness_form=WitnessForm(),
        evidence_form=EvidenceForm(),
        problems=svc.problems(obs, now().date()) if editable else [],
        final_status=final_status(module).value,
        needs_signoff=manager_signoff_needed(module),
    ), (400 if request.method == "POST" else 200)


def obs_org(obs: Observation) -> Organisation:
    return db.session.get_one(Organisation, obs.org_id)


@bp.route("/observations/<int:observation_id>/witness", methods=["POST"])
@login_required
def witness(observation_id: int) -> ResponseReturnValue:
    obs = svc.get_for_assessor(db.session, me(), observation_id)
    form = WitnessForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(f"Testimony not added: {error}")
        return redirect(url_for("assess.observation", observation_id=obs.id) + "#witness")
    svc.add_witness(
        db.session,
        obs,
        me(),
        form.witness_name.data or "",
        form.witness_role.data or "",
        form.testimony.data or "",
        now(),
    )
    db.session.commit()
    flash("Witness testimony added.")
    return redirect(url_for("assess.observation", observation_id=obs.id))


@bp.route("/observations/<int:observation_id>/evidence", methods=["POST"])
@csrf.exempt  # checked below, after the larger upload limit of this route is set
@login_required
def upload(observation_id: int) -> ResponseReturnValue:
    request.max_content_length = evidence_service.MAX_BYTES + 256 * 1024
    back = url_for("assess.observation", observation_id=observation_id) + "#evidence"
    too_big = (
        f"Evidence not added: that file is larger than "
        f"{evidence_service.MAX_BYTES // 1024 // 1024} MB. Everything else is kept."
    )
    if (request.content_length or 0) > request.max_content_length:
        svc.get_for_assessor(db.session, me(), observation_id)  # 404 before anything
        flash(too_big)  # refused before the body is read
        return redirect(back)
    try:
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect()
        obs = svc.get_for_assessor(db.session, me(), observation_id)
        form = EvidenceForm()
        valid = form.validate_on_submit()
    except RequestEntityTooLarge:  # no Content-Length (chunked): stopped while reading
        flash(too_big)
        return redirect(back)
    if not valid:
        flash("Evidence not added: choose a photo or a PDF first.")
        return redirect(back)
    try:
        data = form.file.data.read(evidence_service.MAX_BYTES + 1)
    finally:
        form.file.data.close()
    try:
        evidence_service.store(
            db.session, obs, me(), form.file.data.filename, data, evidence_dir(), now()
        )
    except evidence_service.EvidenceRefused as err:
        db.session.rollback()
        flash(f"Evidence not added: {err.message} Everything else is kept.")
        return redirect(back)
    db.session.commit()
    flash("Evidence added.")
    return redirect(back)


@bp.route("/evidence/<int:evidence_id>")
@login_required
def evidence_file(evidence_id: int) -> ResponseReturnValue:
    row, path = evidence_service.for_viewer(db.session, me(), evidence_id, evidence_dir())
    response = send_file(
        path,
        mimetype=row.content_type,
        as_attachment=True,
        download_name=row.original_name,
        conditional=False,
        etag=False,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- the worker countersigns ---------------------------------------------------------------


@bp.route("/mine/<int:observation_id>", methods=["GET", "POST"])
@login_required
def countersign(observation_id: int) -> ResponseReturnValue:
    obs = svc.get_for_learner(db.session, me(), observation_id)
    form = SignForm()
    if request.method == "POST":
        if form.validate_on_submit():
            progress = svc.countersign(db.session, ctx(), obs, me(), form.comment.data, now())
            db.session.commit()
            if progress.credential is not None:
                flash(_("Thank you. Your module is complete and your certificate is ready."))
                return redirect(url_for("wallet.index"))
            flash(_("Thank you. You signed your observation."))
            return redirect(url_for("learn.module", code=obs.module_code))
        return render_template("assess/countersign.html", obs=obs, form=form), 400
    return render_template("assess/countersign.html", obs=obs, form=form)


# --- a manager signs off -------------------------------------------------------------------


@bp.route("/observations/<int:observation_id>/signoff", methods=["GET", "POST"])
@login_required
def signoff(observation_id: int) -> ResponseReturnValue:
    obs = svc.get_for_manager(db.session, me(), observation_id)
    form = SignForm()
    if request.method == "POST":
        if form.validate_on_submit():
            progress = svc.sign_off(db.session, ctx(), obs, me(), form.comment.data, now())
            db.session.commit()
            if progress.credential is not None:
                flash("Signed off. The module is complete and the worker's certificate is issued.")
            else:
                flash("Signed off. The certificate follows when the lessons and quiz are done.")
            return redirect(url_for("assess.workers", slug=obs_org(obs).slug))
        return render_template("assess/signoff.html", obs=obs, form=form), 400
    return render_template("assess/signoff.html", obs=obs, form=form)


# --- offline capture -----------------------------------------------------------------------


@bp.route("/sync", methods=["POST"])
@login_required
def sync() -> ResponseReturnValue:
    """An observation captured on the phone: JSON, recorded once per client_key.

    {"client_key", "org", "learner_id", "module", "submit": bool, "method", "observed_on",
     "setting", "notes", "assessor_role", "competence_statement",
     "results": {"OB1": {"result": "met", "note": ""}}}
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="bad_request", message="Send the observation as a JSON object."), 400
    key, slug, code = body.get("client_key"), body.get("org"), body.get("module")
    learner_id = body.get("learner_id")
    if not all(isinstance(v, str) for v in (key, slug, code)) or not isinstance(learner_id, int):
        return (
            jsonify(
                error="bad_request",
                message="client_key, org, module (text) and learner_id (a number) are needed.",
            ),
            400,
        )
    org = svc.assessing_organisation(db.session, me(), slug)
    result = svc.sync(
        db.session,
        ctx(),
        me(),
        org,
        learner_id,
        code,
        key,
        svc.parse_input(body),
        bool(body.get("submit")),
        now(),
    )
    db.session.commit()
    obs = result.observation
    return jsonify(
        observation_id=obs.id,
        status=obs.status,
        replayed=result.replayed,
        problems=list(result.problems),
        url=url_for("assess.observation", observation_id=obs.id),
    )


@bp.route("/sync-token")
@login_required
def sync_token() -> ResponseReturnValue:
    """A fresh CSRF token for sending the phone's queue (the cached page's may have expired)."""
    from flask_wtf.csrf import generate_csrf

    response = jsonify(csrf_token=generate_csrf())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/sw.js")
def service_worker() -> ResponseReturnValue:
    """Served from /assess/ so that its scope is /assess/ (the mentor's pages only)."""
    response = Response((STATIC / "sw.js").read_text(encoding="utf-8"), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response
