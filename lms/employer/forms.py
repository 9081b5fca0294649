"""Forms of the employer screens (plain English: managers' pages are not translated)."""

from __future__ import annotations

import calendar
from typing import Any

from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from courses.frameworks import CWP_ROLE_CATEGORIES

from ..models import RecertMode
from .service import EXPIRING_CHOICES, RECERT_LABELS

REFRESH_CHOICES = [
    SelectChoice("default", "Use the module's own refresh interval"),
    SelectChoice("never", "Does not expire"),
    SelectChoice("custom", "Our own interval (months, below)"),
]


def _custom_needs_months(form: Any, valid: bool, what: str) -> bool:
    """An empty optional field stops its own validators, so this check runs on the form."""
    if form.refresh.data == "custom" and form.refresh_months.data is None:
        if not form.refresh_months.errors:
            form.refresh_months.errors = [f"Give {what} in months, or choose another option."]
        return False
    return valid


MONTH_CHOICES = [SelectChoice(0, "Not a fixed date")] + [
    SelectChoice(i, calendar.month_name[i]) for i in range(1, 13)
]


class JobRoleForm(FlaskForm):
    name = StringField(
        "Job title",
        validators=[
            DataRequired("Give the job role a name."),
            Length(max=120, message="Keep the name under 120 characters."),
        ],
    )
    cwp_category = SelectField(
        "Care Workforce Pathway role category",
        choices=[SelectChoice(k, v) for k, v in CWP_ROLE_CATEGORIES.items()],
        validate_choice=True,
    )


class RequirementForm(FlaskForm):
    module_code = SelectField("Module", choices=[], validate_choice=True)
    refresh = RadioField(
        "How often it must be refreshed", choices=REFRESH_CHOICES, default="default"
    )
    refresh_months = IntegerField(
        "Our own interval, in months",
        validators=[Optional(), NumberRange(1, 120, "Give 1 to 120 months.")],
    )
    recert_mode = SelectField(
        "How the next expiry is worked out",
        choices=[SelectChoice(m.value, RECERT_LABELS[m.value]) for m in RecertMode],
        default=RecertMode.COMPLETION_DATE.value,
    )
    window_days = IntegerField(
        "Re-enrol this many days before it expires",
        default=90,
        validators=[
            InputRequired("Give the number of days (0 to 365)."),
            NumberRange(0, 365, "Give 0 to 365 days."),
        ],
    )
    fixed_day = IntegerField(
        "Fixed date: day", validators=[Optional(), NumberRange(1, 31, "Give a day from 1 to 31.")]
    )
    fixed_month = SelectField("Fixed date: month", choices=MONTH_CHOICES, coerce=int, default=0)
    min_active_months = IntegerField(
        "Fixed date: count for at least this many months",
        validators=[Optional(), NumberRange(0, 24, "Give 0 to 24 months.")],
    )

    def validate(self, extra_validators: Any = None) -> bool:
        return _custom_needs_months(self, super().validate(extra_validators), "our own interval")


class PaNeedForm(FlaskForm):
    module_code = SelectField("Training my PA needs", choices=[], validate_choice=True)
    refresh = RadioField("How often", choices=REFRESH_CHOICES, default="default")
    refresh_months = IntegerField(
        "Every this many months",
        validators=[Optional(), NumberRange(1, 120, "Give 1 to 120 months.")],
    )

    def validate(self, extra_validators: Any = None) -> bool:
        return _custom_needs_months(self, super().validate(extra_validators), "the number")


class SettingsForm(FlaskForm):
    expiring_days = SelectField(
        'Show training as "expiring soon" this many days before it expires',
        choices=[SelectChoice(d, f"{d} days") for d in EXPIRING_CHOICES],
        coerce=int,
        validate_choice=True,
    )
    ascwds_workplace_id = StringField(
        "ASC-WDS workplace id (LOCALESTID in bulk uploads)",
        validators=[Optional(), Length(max=50, message="Keep it under 50 characters.")],
    )


class SiteForm(FlaskForm):
    name = StringField(
        "Site name",
        validators=[
            DataRequired("Give the site a name."),
            Length(max=120, message="Keep the name under 120 characters."),
        ],
    )
    cqc_location_id = StringField(
        "CQC location id", validators=[Optional(), Length(max=20, message="Too long.")]
    )
    ascwds_workplace_id = StringField(
        "ASC-WDS workplace id, if different from the organisation's",
        validators=[Optional(), Length(max=50, message="Keep it under 50 characters.")],
    )


class ButtonForm(FlaskForm):
    """A button that changes something: the form carries only the CSRF token."""
