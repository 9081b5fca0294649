"""Staff records: the staff list, bulk import from CSV, set-password invitations (views).

Routes (all under /manage are for the organisation's managers and admins; 404 for anyone else):

- GET  /manage/<slug>/staff                          the current staff list
- GET  /manage/<slug>/staff/template.csv             an example file to fill in
- GET/POST /manage/<slug>/staff/import               upload a CSV
- GET/POST /manage/<slug>/staff/import/<token>       preview with row problems; POST imports
- POST /manage/<slug>/staff/<user_id>/invite         send a new set-password link
- GET/POST /auth/set-password/<token>                anyone holding a valid link (no login)
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from ..accounts import PasswordRejected
from ..authz import managed_organisation
from ..errors import NotFound
from ..extensions import db, limiter
from ..i18n import follow_person, speak_to
from ..mail import mailer_for
from ..models import Employment, JobRole, Organisation, Site, User
from ..principal import me
from ..security import new_csrf_token
from . import importer, invitations
from . import models as _models  # noqa: F401  (registers the tables with the metadata)
from .forms import ConfirmForm, InviteForm, SetPasswordForm, UploadForm

bp = Blueprint("staff", __name__)


def _now() -> datetime:
    return datetime.now(UTC)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(err: RequestEntityTooLarge) -> ResponseReturnValue:
    """An upload over the server's limit never reaches the view: say so plainly."""
    return (
        render_template(
            "errors/error.html",
            status=413,
            title="File too big",
            message=(
                f"That file is too big. A staff file can be at most "
                f"{importer.MAX_BYTES // 1000:,} KB (about {importer.MAX_ROWS:,} staff): split "
                "it into smaller files. Nothing was imported."
            ),
        ),
        413,
    )


def _invite(users: list[User], org: Organisation) -> invitations.InviteReport | None:
    """Send the set-password e-mails: on the job queue when there is one (None: queued)."""
    from .. import jobs

    if "staff.invite" in jobs.REGISTRY and jobs.redis_url():
        jobs.enqueue("staff.invite", org_id=org.id, user_ids=[u.id for u in users])
        return None
    return invitations.send_invitations(
        mailer_for(current_app),
        users,
        org,
        current_app.config["SECRET_KEY"],
        current_app.config["BASE_URL"],
    )


def _flash_invites(report: invitations.InviteReport | None) -> None:
    if report is None:
        flash("The set-password e-mails are being sent.")
        return
    if report.sent:
        flash(f"Set-password e-mails sent: {report.sent}.")
    if report.failed:
        flash(
            f"{len(report.failed)} set-password e-mail(s) could not be sent "
            f"({report.failed[0][1]}). Use 'Send a new link' on the staff list to try again."
        )


@bp.route("/manage/<slug>/staff")
@login_required
def staff_list(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    rows = db.session.execute(
        select(Employment, User, JobRole.name, Site.name)
        .join(User, User.id == Employment.user_id)
        .outerjoin(JobRole, JobRole.id == Employment.job_role_id)
        .outerjoin(Site, Site.id == Employment.site_id)
        .where(Employment.org_id == org.id, Employment.end_date.is_(None))
        .order_by(User.name, User.id)
    ).all()
    staff = [
        {
            "employment": e,
            "user": u,
            "job_role": role,
            "site": site,
            "invited": invitations.is_invited(u),
        }
        for e, u, role, site in rows
    ]
    return render_template("staff/list.html", org=org, staff=staff, form=InviteForm())


@bp.route("/manage/<slug>/staff/template.csv")
@login_required
def template_csv(slug: str) -> ResponseReturnValue:
    managed_organisation(db.session, current_user, slug)
    return Response(
        "\ufeff" + importer.TEMPLATE_CSV,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="staff-import-example.csv"'},
    )


@bp.route("/manage/<slug>/staff/import", methods=["GET", "POST"])
@login_required
def import_upload(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    form = UploadForm()
    file_issues: list[importer.Issue] = []
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read(importer.MAX_BYTES + 1)
        now = _now()
        parsed = importer.validate(db.session, org, data, now)
        if not parsed.rows:
            file_issues = parsed.file_issues
        else:
            batch = importer.store_upload(
                db.session, org, me(), upload.filename or "staff.csv", data, now
            )
            db.session.commit()
            return redirect(url_for("staff.import_preview", slug=slug, token=batch.token))
    status = 400 if (form.errors or file_issues) else 200
    return (
        render_template(
            "staff/import.html",
            org=org,
            form=form,
            file_issues=file_issues,
            columns=importer.REQUIRED_COLUMNS + importer.OPTIONAL_COLUMNS,
            max_rows=importer.MAX_ROWS,
            max_kb=importer.MAX_BYTES // 1000,
        ),
        status,
    )


@bp.route("/manage/<slug>/staff/import/<token>", methods=["GET", "POST"])
@login_required
def import_preview(slug: str, token: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    now = _now()
    batch = importer.get_batch(db.session, org, token, now)
    form = ConfirmForm()
    status = 200
    if batch.status != importer.ImportStatus.PENDING.value:
        flash("This file was already imported.")
        return redirect(url_for("staff.staff_list", slug=slug))
    if form.validate_on_submit():
        try:
            result = importer.import_batch(
                db.session, org, batch, me(), form.sha256.data or "", now
            )
        except importer.ImportRefused as refused:
            db.session.rollback()
            parsed = refused.parsed
            flash(refused.message)
            status = 400
        else:
            db.session.commit()
            flash(
                f"Imported {len(result.added)} staff"
                + (
                    f"; {result.skipped} already on your staff list were skipped"
                    if result.skipped
                    else ""
                )
                + "."
            )
            if result.new_accounts:
                _flash_invites(_invite(result.new_accounts, org))
            return redirect(url_for("staff.staff_list", slug=slug))
    else:
        if form.errors:
            status = 400
        parsed = importer.validate(db.session, org, batch.content, now)
    form.sha256.data = batch.sha256
    return (
        render_template("staff/preview.html", org=org, batch=batch, parsed=parsed, form=form),
        status,
    )


@bp.route("/manage/<slug>/staff/<int:user_id>/invite", methods=["POST"])
@login_required
def invite(slug: str, user_id: int) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    form = InviteForm()
    if not form.validate_on_submit():
        flash("The form expired. Try again.")
        return redirect(url_for("staff.staff_list", slug=slug))
    user = db.session.scalar(
        select(User)
        .join(Employment, Employment.user_id == User.id)
        .where(User.id == user_id, Employment.org_id == org.id, Employment.end_date.is_(None))
    )
    if user is None:
        raise NotFound("That person is not on your staff list.")
    if not invitations.is_invited(user):
        flash(f"{user.name} already has a password: they can log in.")
        return redirect(url_for("staff.staff_list", slug=slug))
    invitations.renew_marker(db.session, user, me(), _now(), org_id=org.id)
    db.session.commit()
    _flash_invites(_invite([user], org))
    return redirect(url_for("staff.staff_list", slug=slug))


@bp.route(invitations.INVITE_LINK_PATH + "<token>", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def set_password(token: str) -> ResponseReturnValue:
    now = _now()
    user = invitations.user_for_token(db.session, token, current_app.config["SECRET_KEY"], now)
    speak_to(user)  # in the language the manager gave for them, if any
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            invitations.set_password(
                db.session,
                current_app.extensions["password_hasher"],
                user,
                form.password.data or "",
                now,
                secret=current_app.config["SECRET_KEY"],
            )
        except PasswordRejected as rejected:
            db.session.rollback()
            form.password.errors = list(rejected.problems)
        else:
            follow_person(user)  # a language chosen on this page is kept
            db.session.commit()
            login_user(user)
            new_csrf_token()
            flash(_("Your password is set. Welcome to CareCred."))
            return redirect(url_for("learn.home"))
    response = make_response(
        render_template("staff/set_password.html", form=form, user=user),
        400 if form.errors else 200,
    )
    response.headers["Cache-Control"] = "no-store"  # the URL holds a one-time secret
    return response
