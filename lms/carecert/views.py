"""The Care Certificate: tracker, phased sign-off, award (views).

Routes carry their full paths (the blueprint has no prefix): the learner's tracker lives at
/care-certificate/, the manager's pages under /manage/<slug>/care-certificate/.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from courses.carecert import framework

from ..authz import managed_organisation
from ..extensions import db
from ..issuance import IssuanceContext
from ..models import Organisation
from ..principal import me
from . import service
from .forms import AwardForm, SignOffForm, WithdrawSignOffForm

bp = Blueprint("carecert", __name__)


def _now() -> datetime:
    return datetime.now(UTC)


@bp.route("/care-certificate/")
@login_required
def mine() -> ResponseReturnValue:
    now = _now()
    trackers = [
        service.tracker(db.session, org, me(), now)
        for org in service.learner_orgs(db.session, me())
    ]
    return render_template("carecert/mine.html", trackers=trackers)


@bp.route("/manage/<slug>/care-certificate/")
@login_required
def progress(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    rows = service.org_progress(db.session, org, _now())
    return render_template("carecert/progress.html", org=org, rows=rows)


def _worker_page(
    org: Organisation, user_id: int, status: int = 200, **forms: Any
) -> ResponseReturnValue:
    learner = service.learner_in(db.session, org, user_id)
    t = service.tracker(db.session, org, learner, _now())
    sign_forms = {
        s.number: forms.get(f"sign{s.number}") or SignOffForm(prefix=f"s{s.number}", formdata=None)
        for s in t.standards
        if s.status == "ready"
    }
    withdraw_forms = {
        s.number: forms.get(f"withdraw{s.number}")
        or WithdrawSignOffForm(prefix=f"w{s.number}", formdata=None)
        for s in t.standards
        if s.signoff is not None
    }
    award_form = forms.get("award") or AwardForm(prefix="award", formdata=None)
    return render_template(
        "carecert/worker.html",
        org=org,
        tracker=t,
        sign_forms=sign_forms,
        withdraw_forms=withdraw_forms,
        award_form=award_form,
    ), status


@bp.route("/manage/<slug>/care-certificate/<int:user_id>")
@login_required
def worker(slug: str, user_id: int) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    return _worker_page(org, user_id)


@bp.route(
    "/manage/<slug>/care-certificate/<int:user_id>/standards/<int:number>/sign-off",
    methods=["POST"],
)
@login_required
def sign_off(slug: str, user_id: int, number: int) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    form = SignOffForm(prefix=f"s{number}")
    valid = form.validate_on_submit()
    unchecked = valid and 1 <= number <= 16 and not form.checked_not_covered.data
    if unchecked and framework().standard(number).not_covered:
        form.checked_not_covered.errors = [
            "Tick the box to confirm you have checked the parts the catalogue does not cover."
        ]
        valid = False
    if not valid:
        return _worker_page(org, user_id, 400, **{f"sign{number}": form})
    service.sign_off_standard(
        db.session,
        org,
        user_id,
        number,
        me(),
        _now(),
        note=form.note.data,
        checked_not_covered=bool(form.checked_not_covered.data),
    )
    db.session.commit()
    flash(f"Standard {number} signed off.")
    return redirect(url_for("carecert.worker", slug=slug, user_id=user_id) + f"#std{number}")


@bp.route(
    "/manage/<slug>/care-certificate/<int:user_id>/standards/<int:number>/withdraw",
    methods=["POST"],
)
@login_required
def withdraw(slug: str, user_id: int, number: int) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    form = WithdrawSignOffForm(prefix=f"w{number}")
    if not form.validate_on_submit():
        return _worker_page(org, user_id, 400, **{f"withdraw{number}": form})
    service.withdraw_signoff(db.session, org, user_id, number, me(), form.reason.data or "", _now())
    db.session.commit()
    flash(f"The sign-off of standard {number} was withdrawn. It can be signed off again.")
    return redirect(url_for("carecert.worker", slug=slug, user_id=user_id) + f"#std{number}")


@bp.route("/manage/<slug>/care-certificate/<int:user_id>/award", methods=["POST"])
@login_required
def award(slug: str, user_id: int) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    form = AwardForm(prefix="award")
    if not form.validate_on_submit():
        return _worker_page(org, user_id, 400, award=form)
    _, credential = service.award(
        db.session,
        IssuanceContext.from_config(current_app.config),
        org,
        user_id,
        me(),
        _now(),
    )
    db.session.commit()
    flash(f"Care Certificate awarded. Certificate {credential.short_id} was issued.")
    return redirect(url_for("carecert.worker", slug=slug, user_id=user_id))
