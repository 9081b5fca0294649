"""My certificates: the learner's issued credentials, as PDF and as the signed VC-JWT."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import learning, status
from ..errors import NotFound
from ..extensions import db
from ..issuance import IssuanceContext
from ..pdf import certificate_context, render_certificate
from ..pdf import qr_image as stored_qr_png

bp = Blueprint("wallet", __name__, url_prefix="/certificates")


@bp.route("/")
@login_required
def index() -> ResponseReturnValue:
    creds = learning.my_credentials(db.session, current_user.id)
    return render_template("wallet/index.html", credentials=creds)


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
    text = status.passport(db.session, ctx, current_user, datetime.now(UTC))
    db.session.commit()  # an issuer key created on first use
    return Response(
        text,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="passport.json"'},
    )
