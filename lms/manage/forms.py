from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length


class StatusChangeForm(FlaskForm):
    action = SelectField(
        "Action",
        choices=[
            SelectChoice("suspend", "Suspend (for now; can be reinstated)"),
            SelectChoice("revoke", "Revoke (for good)"),
            SelectChoice("reinstate", "Reinstate (lift a suspension)"),
        ],
    )
    reason = TextAreaField(
        "Reason (recorded, and shown to the worker)",
        validators=[Length(max=500, message="Keep the reason under 500 characters.")],
    )

    def validate_reason(self, field: TextAreaField) -> None:
        if self.action.data in {"suspend", "revoke"}:
            DataRequired("Give a reason: it is recorded and shown to the worker.")(self, field)
