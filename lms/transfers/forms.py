"""Forms of the transfer pages (manager pages: plain English, not translated)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError


class TrustListForm(FlaskForm):
    file = FileField(
        "Trust list file (trust.json)", validators=[FileRequired("Choose the trust list file.")]
    )
    anchor = StringField(
        "Root thumbprint (check it with the issuer by phone, letter or on their website)",
        validators=[
            DataRequired("Enter the root thumbprint the issuer gave you."),
            Length(max=100, message="The root thumbprint is 43 characters."),
        ],
    )


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class UploadForm(FlaskForm):
    worker = SelectField("Worker", coerce=int, validate_choice=False)
    file = FileField("Passport, PDF certificate, credential file (.jwt) or photo of the QR code")
    qr_text = TextAreaField(
        "Or paste the QR code's text (it starts with CC1:)",
        validators=[Optional(), Length(max=4000, message="QR text is at most 4,000 characters.")],
    )
    other_email = StringField(
        "Another e-mail address the worker used with the issuer (optional)",
        validators=[Optional(), Length(max=254, message="That e-mail address is too long.")],
    )

    def validate_worker(self, field: SelectField) -> None:
        if not field.data or field.data not in {value for value, _ in field.choices or []}:
            raise ValidationError("Choose the worker the certificates belong to.")


class DecisionForm(FlaskForm):
    item_id = HiddenField()
    decision = RadioField(
        "Decision",
        choices=[SelectChoice("accept", "Accept"), SelectChoice("reject", "Reject")],
        validators=[DataRequired("Choose accept or reject.")],
    )
    reason = TextAreaField(
        "Reason (recorded with the decision)",
        validators=[
            DataRequired("Give a reason: it is recorded with the decision."),
            Length(max=1000, message="Keep the reason under 1,000 characters."),
        ],
    )
