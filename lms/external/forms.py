"""The manager's form for training done elsewhere (plain English; CSRF on every form)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from .service import DELIVERY_MODES, LIMITS


class ExternalForm(FlaskForm):
    user_id = SelectField("Worker", coerce=int, validators=[InputRequired("Choose a worker.")])
    module_code = SelectField(
        "Training (from the catalogue)", validators=[DataRequired("Choose the training.")]
    )
    variant = SelectField("Which one (only where the training has variants)", default="")
    provider_name = StringField(
        "Provider (who delivered it)",
        validators=[Length(max=LIMITS["provider_name"])],
    )
    completed_on = DateField(
        "Date completed",
        validators=[InputRequired("Enter the date the training was completed.")],
    )
    delivery_mode = RadioField(
        "How it was delivered",
        choices=[SelectChoice(k, v) for k, v in DELIVERY_MODES.items()],
        validators=[InputRequired("Choose how it was delivered.")],
    )
    accredited = RadioField(
        "Was it accredited (for example by an awarding body)?",
        choices=[
            SelectChoice("yes", "Yes"),
            SelectChoice("no", "No"),
            SelectChoice("unknown", "Don't know"),
        ],
        validators=[InputRequired("Say whether it was accredited, or choose don't know.")],
    )
    evidence_ref = StringField(
        "Evidence seen (for example: elfh certificate, copy in staff file)",
        validators=[Length(max=LIMITS["evidence_ref"])],
    )
    certificate_number = StringField(
        "Certificate number (optional)", validators=[Length(max=LIMITS["certificate_number"])]
    )
    evidence_file = FileField("Upload a copy: photo (JPEG or PNG) or PDF, optional")
    notes = TextAreaField("Notes (optional)", validators=[Length(max=LIMITS["notes"])])


class WithdrawForm(FlaskForm):
    reason = TextAreaField(
        "Why is this record wrong? (recorded)",
        validators=[
            DataRequired("Give a reason for withdrawing the record: it is recorded."),
            Length(max=LIMITS["reason"]),
        ],
    )
