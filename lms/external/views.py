"""External training recorded by managers (views), under /manage/<slug>/external/."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from ..authz import managed_organisation
from ..extensions import db
from ..models import Organisation
from ..principal import me
from . import service
from .forms import ExternalForm, WithdrawForm
from .models import ExternalRecord

bp = Blueprint("external", __name__, url_prefix="/manage")


def _now() -> datetime:
    return datetime.now(UTC)


def evidence_folder() -> Path:
    return Path(current_app.config["EVIDENCE_DIR"]) / "external"


@bp.route("/<slug>/external/")
@login_required
def index(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    return render_template("external/index.html", org=org, records=service.records(db.session, org))


def _form(org: Organisation) -> tuple[ExternalForm, dict[str, list[str]]]:
    form = ExternalForm()
    form.user_id.choices = [SelectChoice(0, "Choose a worker")] + [
        SelectChoice(u.id, u.name) for u in service.workers(db.session, org)
    ]
    modules = service.recordable_modules(db.session)
    form.module_code.choices = [SelectChoice("", "Choose the training")] + [
        SelectChoice(m.code, f"{m.title} ({m.code})") for m in modules
    ]
    variants = {
        m.code: list((m.external or {}).get("variants") or [])
        for m in modules
        if (m.external or {}).get("variants")
    }
    names = sorted({v for vs in variants.values() for v in vs})
    form.variant.choices = [SelectChoice("", "Not applicable")] + [
        SelectChoice(v, v) for v in names
    ]
    return form, variants


@bp.route("/<slug>/external/new", methods=["GET", "POST"])
@login_required
def new(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    form, variants = _form(org)
    if request.method == "GET":
        form.user_id.data = request.args.get("user_id", 0, type=int)
        form.module_code.data = request.args.get("module", "")
    if form.validate_on_submit():
        upload = None
        file = form.evidence_file.data
        if file is not None and getattr(file, "filename", ""):
            upload = service.Upload(file.filename, file.read())
        data = service.ExternalInput(
            user_id=form.user_id.data or 0,
            module_code=form.module_code.data or "",
            provider_name=form.provider_name.data or "",
            completed_on=form.completed_on.data,
            delivery_mode=form.delivery_mode.data or "",
            accredited=form.accredited.data or "",
            variant=form.variant.data,
            evidence_ref=form.evidence_ref.data,
            certificate_number=form.certificate_number.data,
            notes=form.notes.data,
            upload=upload,
        )
        try:
            record = service.record_external(db.session, org, me(), data, _now(), evidence_folder())
        except service.ExternalRefused as err:
            db.session.rollback()
            field = getattr(form, err.field, None)
            if field is not None:
                field.errors = [*field.errors, err.message]
            else:  # pragma: no cover - every refusal names a form field
                form.form_errors.append(err.message)
        else:
            db.session.commit()
            flash(
                f"Recorded: {record.completion.module.title} for {record.user.name}. It counts "
                "toward their requirements; no certificate of ours is issued for it."
            )
            return redirect(url_for("external.show", slug=slug, record_id=record.id))
    status = 400 if request.method == "POST" else 200
    return render_template("external/new.html", org=org, form=form, variants=variants), status


@bp.route("/<slug>/external/<int:record_id>", methods=["GET", "POST"])
@login_required
def show(slug: str, record_id: int) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    record = service.record_in(db.session, org, record_id)
    form = WithdrawForm()
    if form.validate_on_submit():
        service.withdraw_external(db.session, org, me(), record.id, form.reason.data or "", _now())
        db.session.commit()
        flash("The record was withdrawn. It no longer counts toward requirements.")
        return redirect(url_for("external.show", slug=slug, record_id=record.id))
    return render_template("external/show.html", org=org, record=record, form=form), (
        400 if form.errors else 200
    )


@bp.route("/<slug>/external/<int:record_id>/evidence")
@login_required
def evidence(slug: str, record_id: int) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    record = service.record_in(db.session, org, record_id)
    path = service.evidence_path(record, evidence_folder())
    response = send_file(
        io.BytesIO(path.read_bytes()),  # at most a few MB; no file handle left open
        mimetype=record.evidence_content_type,
        as_attachment=True,
        download_name=record.evidence_original_name or "evidence",
        conditional=False,
        etag=False,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.app_template_global()
def external_record(completion: object) -> ExternalRecord | None:
    """For "My learning": the manager's record behind an external completion, if it is one."""
    if getattr(completion, "source", None) != "external":
        return None
    return service.record_for_completion(db.session, completion.id)  # type: ignore[attr-defined]
