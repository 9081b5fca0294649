"""My certificates: the learner's issued credentials, as PDF and as the signed VC-JWT."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from .. import learning
from ..extensions import db
from ..pdf import certificate_context, render_certificate

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
    body = render_certificate(
        certificate_context(cred, current_app.config["INSTANCE_NAME"]), cred.token
    )
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
