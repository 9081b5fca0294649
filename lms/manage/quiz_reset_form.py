"""The manager's form to let a locked-out learner try a quiz again (see lms/quiz_limits.py)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp


class QuizResetForm(FlaskForm):
    user_id = HiddenField(validators=[DataRequired(), Regexp(r"^\d{1,9}$")])
    module_code = HiddenField(validators=[DataRequired(), Length(max=16)])
    reason = TextAreaField(
        "Reason (recorded in the audit trail)",
        validators=[
            DataRequired("Give a reason: it is recorded in the audit trail."),
            Length(max=500, message="Keep the reason under 500 characters."),
        ],
    )
