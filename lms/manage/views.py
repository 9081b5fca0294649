"""Managers: the organisation's issued certificates, and revoking or suspending them."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select

from .. import audit, quiz_limits, status
from ..authz import managed_organisation, managed_organisations
from ..errors import NotFound
from ..extensions import db
from ..models import IssuedCredential, Membership, User
from ..principal import me
from .forms import StatusChangeForm
from .quiz_reset_form import QuizResetForm

bp = Blueprint("manage", __name__, url_prefix="/manage")


@bp.route("/")
@login_required
def index() -> ResponseReturnValue:
    orgs = managed_organisations(db.session, current_user)
    if len(orgs) == 1:
        return redirect(url_for("manage.organisation", slug=orgs[0].slug))
    return render_template("manage/index.html", orgs=orgs)


@bp.route("/<slug>/")
@login_required
def organisation(slug: str) -> ResponseReturnValue:
    """Everything a manager can do for one organisation, on one page."""
    org = managed_organisation(db.session, current_user, slug)
    return render_template("manage/organisation.html", org=org)


@bp.route("/<slug>/credentials")
@login_required
def credentials(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    creds = db.session.scalars(
        select(IssuedCredential)
        .where(IssuedCredential.org_id == org.id)
        .order_by(IssuedCredential.issued_at.desc())
        .limit(500)
    ).all()
    return render_template("manage/credentials.html", org=org, credentials=creds)


def _credential(org_id: int, short_id: str) -> IssuedCredential:
    cred = db.session.scalar(
        select(IssuedCredential).where(
            IssuedCredential.short_id == short_id, IssuedCredential.org_id == org_id
        )
    )
    if cred is None:
        raise NotFound("Your organisation did not issue that certificate.")
    return cred


@bp.route("/<slug>/credentials/<short_id>", methods=["GET", "POST"])
@login_required
def credential(slug: str, short_id: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    cred = _credential(org.id, short_id)
    form = StatusChangeForm()
    if form.validate_on_submit():
        now = datetime.now(UTC)
        action = form.action.data
        if action == "revoke":
            status.revoke(db.session, cred, form.reason.data or "", now, me())
        elif action == "suspend":
            status.suspend(db.session, cred, form.reason.data or "", now, me())
        else:
            status.reinstate(db.session, cred, now, me())
        db.session.commit()
        flash(
            f"Certificate {cred.short_id}: {cred.status}. Verifiers see this in the next "
            "trust list or passport."
        )
        return redirect(url_for("manage.credential", slug=slug, short_id=short_id))
    return render_template("manage/credential.html", org=org, credential=cred, form=form), (
        400 if form.errors else 200
    )


@bp.route("/<slug>/people/<int:user_id>/audit.csv")
@login_required
def audit_history(slug: str, user_id: int) -> ResponseReturnValue:
    """One worker's audit history in this organisation, as CSV, for an inspection."""
    org = managed_organisation(db.session, current_user, slug)
    member = db.session.scalar(
        select(Membership.id).where(Membership.org_id == org.id, Membership.user_id == user_id)
    )
    worker = db.session.get(User, user_id) if member is not None else None
    if worker is None:
        raise NotFound("That person is not part of your organisation.")
    body = audit.history_csv(audit.history(db.session, org.id, worker.id))
    filename = f"audit-{org.slug}-{worker.id}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- quiz resets (quiz engine) ---------------------------------------------------------------


@bp.route("/<slug>/quiz-resets", methods=["GET", "POST"])
@login_required
def quiz_resets(slug: str) -> ResponseReturnValue:
    """Learners who failed a quiz too many times in a row; a manager can let them try now."""
    org = managed_organisation(db.session, current_user, slug)
    now = datetime.now(UTC)
    form = QuizResetForm()
    if form.validate_on_submit():
        reset = quiz_limits.reset_attempts(
            db.session,
            me(),
            org,
            int(form.user_id.data or 0),
            form.module_code.data or "",
            form.reason.data or "",
            now,
        )
        db.session.commit()
        flash(f"{reset.user.name} can take the {reset.module_code} quiz again now.")
        return redirect(url_for("manage.quiz_resets", slug=slug))
    locked = quiz_limits.locked_learners(db.session, org, now)
    return render_template("manage/quiz_resets.html", org=org, locked=locked, form=form), (
        400 if form.errors else 200
    )
