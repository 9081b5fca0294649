from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..accounts import AccountLocked, authenticate
from ..errors import BadCredentials
from ..extensions import db, limiter
from ..i18n import follow_person
from ..security import new_csrf_token, safe_next
from . import models  # noqa: F401  (the login_throttles table, for create_all)
from .forms import LoginForm

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _safe_next(target: str | None) -> str:
    return safe_next(target, url_for("learn.home"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("learn.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = authenticate(
                db.session,
                current_app.extensions["password_hasher"],
                form.email.data or "",
                form.password.data or "",
                secret=current_app.config["SECRET_KEY"],
            )
        except BadCredentials:
            db.session.commit()  # the failure counts toward a lockout
            form.password.errors = [_("That e-mail and password do not match an active account.")]
            status = 401
        except AccountLocked as err:
            db.session.commit()
            form.password.errors = [err.message]
            status = 429
        else:
            follow_person(user)  # their language, kept on the account
            db.session.commit()  # with a rehashed password, if any
            login_user(user)
            new_csrf_token()
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> ResponseReturnValue:
    logout_user()
    new_csrf_token()
    flash(_("You have logged out."))
    return redirect(url_for("auth.login"))
