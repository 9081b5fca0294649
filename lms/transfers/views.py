"""Accepting transferred training (views): trust lists, uploads, decisions. Managers only.

Every route is under /manage/<slug>/ and goes through `managed_organisation` (404 for anyone
who does not manage that organisation). Views validate the form, call one service, commit
once and render; the services are in lms/transfers/service.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from ..authz import managed_organisation
from ..extensions import db
from ..issuance import IssuanceContext
from ..models import Organisation
from ..principal import me
from . import models as _models  # noqa: F401  (registers the tables for db.create_all)
from . import service
from .forms import ActionForm, DecisionForm, TrustListForm, UploadForm
from .models import ItemStatus, TransferReview

bp = Blueprint("transfers", __name__, url_prefix="/manage")


def _now() -> datetime:
    return datetime.now(UTC)


def _ctx() -> IssuanceContext:
    return IssuanceContext.from_config(current_app.config)


def _read(storage: object) -> tuple[bytes | None, str | None]:
    """Bytes and name of an uploaded file (at most one byte over the limit is read)."""
    if storage is None or not getattr(storage, "filename", ""):
        return None, None
    stream = storage.stream  # type: ignore[attr-defined]
    return stream.read(service.MAX_UPLOAD_BYTES + 1), storage.filename  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- trust lists


def _trust_page(
    org: Organisation, form: TrustListForm, error: str | None = None, status: int = 200
) -> ResponseReturnValue:
    return (
        render_template(
            "transfers/trust_lists.html",
            org=org,
            form=form,
            action_form=ActionForm(),
            lists=service.trust_lists(db.session, org),
            error=error,
        ),
        status,
    )


@bp.route("/<slug>/trust-lists", methods=["GET", "POST"])
@login_required
def trust_lists(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    form = TrustListForm()
    if form.validate_on_submit():
        data, _ = _read(form.file.data)
        try:
            row, action = service.add_trust_list(
                db.session, org, me(), data or b"", form.anchor.data or "", _now()
            )
        except service.TransferRefused as exc:
            db.session.rollback()
            return _trust_page(org, form, exc.message, 400)
        db.session.commit()
        flash(f"Trust list {action}: {row.name}, issued {service.day_text(row.issued_at)}.")
        return redirect(url_for("transfers.trust_lists", slug=slug))
    return _trust_page(org, form, status=400 if form.errors else 200)


@bp.route("/<slug>/trust-lists/instance", methods=["POST"])
@login_required
def trust_instance(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    form = ActionForm()
    if not form.validate_on_submit():
        return _trust_page(org, TrustListForm(formdata=None), "The form expired.", 400)
    row = service.trust_instance(db.session, _ctx(), org, me(), _now())
    db.session.commit()
    flash(f"Your organisation now trusts every issuer on {row.name}.")
    return redirect(url_for("transfers.trust_lists", slug=slug))


@bp.route("/<slug>/trust-lists/<int:trust_id>/remove", methods=["POST"])
@login_required
def remove_trust_list(slug: str, trust_id: int) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    form = ActionForm()
    if not form.validate_on_submit():
        return _trust_page(org, TrustListForm(formdata=None), "The form expired.", 400)
    name = service.remove_trust_list(db.session, org, me(), trust_id, _now())
    db.session.commit()
    flash(f"Removed: {name}. Certificates it vouched for are no longer trusted.")
    return redirect(url_for("transfers.trust_lists", slug=slug))


# --------------------------------------------------------------------------- uploads


@bp.route("/<slug>/transfers")
@login_required
def index(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    return render_template(
        "transfers/index.html",
        org=org,
        reviews=service.reviews(db.session, org),
        has_trust=bool(service.trust_lists(db.session, org)),
    )


def _upload_form(org: Organisation) -> UploadForm:
    form = UploadForm()
    people = service.staff(db.session, org, _now().date())
    form.worker.choices = [(0, "Choose a worker")] + [
        (u.id, f"{u.name} ({u.email})") for u in people
    ]
    return form


@bp.route("/<slug>/transfers/new", methods=["GET", "POST"])
@login_required
def new(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    form = _upload_form(org)
    error: str | None = None
    if form.validate_on_submit():
        data, name = _read(form.file.data)
        try:
            review = service.upload(
                db.session,
                _ctx(),
                org,
                me(),
                worker_id=form.worker.data,
                data=data,
                file_name=name,
                qr_text=form.qr_text.data,
                other_email=form.other_email.data,
                now=_now(),
            )
        except service.TransferRefused as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            return redirect(url_for("transfers.review", slug=slug, review_id=review.id))
    failed = bool(form.errors) or error is not None
    return (
        render_template(
            "transfers/new.html",
            org=org,
            form=form,
            error=error,
            has_trust=bool(service.trust_lists(db.session, org)),
        ),
        400 if failed else 200,
    )


def _decision_forms(
    review: TransferReview, posted: DecisionForm | None = None
) -> dict[int, DecisionForm]:
    forms: dict[int, DecisionForm] = {}
    for item in review.items:
        if item.status != ItemStatus.PENDING.value:
            continue
        if posted is not None and posted.item_id.data == str(item.id):
            form = posted
        else:
            form = DecisionForm(formdata=None, prefix=f"i{item.id}")
            form.item_id.data = str(item.id)
        if not item.acceptable:
            form.decision.choices = [("reject", "Reject")]
            form.decision.data = "reject"
        forms[item.id] = form
    return forms


@bp.route("/<slug>/transfers/<int:review_id>")
@login_required
def review(slug: str, review_id: int) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    found = service.review_of(db.session, org, review_id)
    return render_template(
        "transfers/review.html",
        org=org,
        review=found,
        forms=_decision_forms(found),
        iso_day=service.iso_day,
    )


@bp.route("/<slug>/transfers/<int:review_id>/items/<int:item_id>", methods=["POST"])
@login_required
def decide(slug: str, review_id: int, item_id: int) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    found = service.review_of(db.session, org, review_id)
    form = DecisionForm(prefix=f"i{item_id}")
    form.item_id.data = str(item_id)
    if form.validate_on_submit():
        outcome = service.decide(
            db.session,
            _ctx(),
            org,
            me(),
            review_id=found.id,
            item_id=item_id,
            accept=form.decision.data == "accept",
            reason=form.reason.data,
            now=_now(),
        )
        db.session.commit()
        flash(outcome.message)
        return redirect(
            url_for("transfers.review", slug=slug, review_id=review_id, _anchor=f"item-{item_id}")
        )
    return (
        render_template(
            "transfers/review.html",
            org=org,
            review=found,
            forms=_decision_forms(found, form),
            iso_day=service.iso_day,
        ),
        400,
    )
