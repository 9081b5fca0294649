"""My certificates: the learner's issued credentials, as PDF and as the signed VC-JWT, and all
of them as one zip file made by a job (lms/jobs/exports.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import learning, status
from ..errors import NotFound
from ..extensions import db
from ..issuance import IssuanceContext
from ..jobs import exports
from ..models import ExportKind
from ..pdf import certificate_context, render_certificate
from ..pdf import qr_image as stored_qr_png
from ..principal import me

bp = Blueprint("wallet", __name__, url_prefix="/certificates")


@bp.route("/")
@login_required
def index() -> ResponseReturnValue:
    creds = learning.my_credentials(db.session, current_user.id)
    now = datetime.now(UTC)
    latest = exports.for_worker(db.session, current_user.id, limit=1)
    zip_status, reason = exports.shown_status(latest[0], now) if latest else (None, None)
    return render_template(
        "wallet/index.html",
        credentials=creds,
        zip=latest[0] if latest else None,
        zip_status=zip_status,
        # The job's own reasons are translated; a service's message is shown as it is.
        zip_reason=_(reason) if reason in exports.REASONS else reason,
        busy=exports.any_busy(latest, now),
    )


@bp.route("/export", methods=["POST"])
@login_required
def export() -> ResponseReturnValue:
    """Ask for all my certificates as one zip: made by a job, then shown on My certificates."""
    if not learning.my_credentials(db.session, current_user.id):
        raise NotFound(_("You have no certificates yet, so there is nothing to download."))
    page = url_for("wallet.index", _anchor="all-certificates")
    try:
        made = exports.request(
            db.session,
            kind=ExportKind.CERTIFICATES.value,
            user=me(),
            org_id=None,
            now=datetime.now(UTC),
        )
    except exports.ExportBusy:
        db.session.rollback()
        flash(_("Your zip file is already being made. Wait for it to be ready."))
        return redirect(page, 303)
    export_id, kind = made.id, made.kind
    db.session.commit()  # before the job: inline, it writes in its own session
    exports.submit(export_id, kind)
    return redirect(page, 303)


@bp.route("/exports/<int:export_id>/<name>")
@login_required
def export_file(export_id: int, name: str) -> ResponseReturnValue:
    """My zip file; nobody else's (404), whoever they are."""
    try:
        _export, path = exports.file_of(
            db.session, export_id, name, kind=ExportKind.CERTIFICATES.value, user_id=current_user.id
        )
    except NotFound as err:
        raise NotFound(_(err.message)) from err
    return exports.attachment(path)


@bp.route("/<short_id>.pdf")
@login_required
def pdf(short_id: str) -> ResponseReturnValue:
    cred = learning.credential_of(db.session, current_user.id, short_id)
    body = render_certificate(certificate_context(cred, current_app.config["INSTANCE_NAME"]), cred)
    db.session.commit()  # keep the QR PNG encoded on first use
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="certificate-{cred.short_id}.pdf"'},
    )


@bp.route("/<short_id>.jwt")
@login_required
def jwt(short_id: str) -> ResponseReturnValue:
    cred = learning.credential_of(db.session, current_user.id, short_id)
    return Response(
        cred.token + "\n",
        mimetype="application/vc+jwt",
        headers={"Content-Disposition": f'attachment; filename="credential-{cred.short_id}.jwt"'},
    )


@bp.route("/<short_id>/qr")
@login_required
def qr(short_id: str) -> ResponseReturnValue:
    cred = learning.credential_of(db.session, current_user.id, short_id)
    return render_template("wallet/qr.html", credential=cred)


@bp.route("/<short_id>/qr.png")
@login_required
def qr_image(short_id: str) -> ResponseReturnValue:
    cred = learning.credential_of(db.session, current_user.id, short_id)
    png = stored_qr_png(cred)
    if png is None:
        return Response("This certificate has no QR code.", status=404, mimetype="text/plain")
    db.session.commit()  # keep the encoded PNG
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@bp.route("/passport.json")
@login_required
def passport() -> ResponseReturnValue:
    """All my credentials and their issuers' current status lists, in one file."""
    if not learning.my_credentials(db.session, current_user.id):
        raise NotFound(_("You have no certificates yet, so there is no passport to download."))
    ctx = IssuanceContext.from_config(current_app.config)
    text = status.passport(db.session, ctx, me(), datetime.now(UTC))
    db.session.commit()  # an issuer key created on first use
    return Response(
        text,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="passport.json"'},
    )
