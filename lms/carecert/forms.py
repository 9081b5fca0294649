"""Manager forms of the Care Certificate pages (plain English; every one carries CSRF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, TextAreaField
from wtforms.validators import DataRequired, Length

from .service import NOTE_MAX


class SignOffForm(FlaskForm):
    note = TextAreaField(
        "Note (optional: how you checked, e.g. observed over three shifts)",
        validators=[Length(max=NOTE_MAX, message=f"Keep the note under {NOTE_MAX} characters.")],
    )
    checked_not_covered = BooleanField(
        "I have checked the parts of this standard that the catalogue does not cover"
    )


class WithdrawSignOffForm(FlaskForm):
    reason = TextAreaField(
        "Reason for withdrawing (recorded)",
        validators=[
            DataRequired("Give a reason for withdrawing the sign-off: it is recorded."),
            Length(max=NOTE_MAX, message=f"Keep the reason under {NOTE_MAX} characters."),
        ],
    )


class AwardForm(FlaskForm):
    confirm = BooleanField(
        "I am the registered manager (or act for them) and every standard has been met in full",
        validators=[DataRequired("Tick the box to confirm before awarding.")],
    )
