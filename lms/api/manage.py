"""Managers: the organisation's API tokens (/manage/<slug>/api-tokens). Plain HTML with CSRF.

A new token's secret is shown on the page that answers the form, once; it is never stored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from ..authz import managed_organisation
from ..extensions import db
from ..principal import me
from . import tokens
from .forms import CreateTokenForm, RevokeTokenForm

bp = Blueprint("api_tokens", __name__, url_prefix="/manage")


@bp.route("/<slug>/api-tokens", methods=["GET", "POST"])
@login_required
def index(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    form = CreateTokenForm()
    secret = created = None
    if form.validate_on_submit():
        now = datetime.now(UTC)
        days = form.expires_days.data
        created, secret = tokens.create_token(
            db.session,
            org,
            form.name.data or "",
            form.scopes.data or [],
            now,
            actor=me(),
            expires_at=now + timedelta(days=days) if days else None,
        )
        db.session.commit()
        form = CreateTokenForm(formdata=None)
    now = datetime.now(UTC)
    return render_template(
        "api/tokens.html",
        org=org,
        form=form,
        revoke_form=RevokeTokenForm(),
        rows=tokens.org_tokens(db.session, org.id),
        created=created,
        secret=secret,
        now=now,
        scopes=tokens.SCOPES,
    ), (400 if form.errors else 200)


@bp.route("/<slug>/api-tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(slug: str, token_id: int) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    row = tokens.token_of(db.session, org.id, token_id)
    form = RevokeTokenForm()
    if not form.validate_on_submit():  # pragma: no cover - CSRF errors are raised before this
        flash("The form could not be read. Nothing was changed.")
        return redirect(url_for("api_tokens.index", slug=slug))
    changed = tokens.revoke_token(db.session, row, datetime.now(UTC), actor=me())
    db.session.commit()
    flash(
        f"Token {row.prefix}… ({row.name}) is revoked: it stops working now."
        if changed
        else f"Token {row.prefix}… was already revoked."
    )
    return redirect(url_for("api_tokens.index", slug=slug))
