"""/verify: check a certificate in the browser, offline once visited.

The page verifies with WebCrypto in the browser (static/verify/*.js): nothing about the
certificate is sent to the server. It starts with this instance's trust list, pinned by the
root thumbprint shown on the page, and can hold others. A service worker (static/verify/sw.js,
scope /verify/) keeps the page and the last trust list working with no signal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue

from ..extensions import db, limiter
from ..issuance import IssuanceContext, trust_list

bp = Blueprint("verify", __name__, url_prefix="/verify")

STATIC = Path(__file__).resolve().parent.parent / "static" / "verify"


@bp.route("/")
def page() -> ResponseReturnValue:
    return render_template("verify/page.html")


@bp.route("/trust.json")
@limiter.limit("30 per minute")
def current_trust_list() -> ResponseReturnValue:
    """This instance's trust list, freshly signed, with its root thumbprint."""
    ctx = IssuanceContext.from_config(current_app.config)
    text, anchor = trust_list(db.session, ctx, datetime.now(UTC))
    db.session.commit()  # the root key, on first use
    response = jsonify(anchor=anchor, trust_list=text)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/sw.js")
def service_worker() -> ResponseReturnValue:
    path = STATIC / "sw.js"
    if not path.is_file():
        return Response("offline verification is not installed", status=404, mimetype="text/plain")
    response = Response(path.read_text(encoding="utf-8"), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response
