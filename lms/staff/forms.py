from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp


class UploadForm(FlaskForm):
    file = FileField(
        "CSV file of staff",
        validators=[FileRequired("Choose a CSV file to upload.")],
    )


class ConfirmForm(FlaskForm):
    sha256 = HiddenField(
        validators=[DataRequired(), Regexp(r"^[0-9a-f]{64}$"), Length(min=64, max=64)]
    )


class InviteForm(FlaskForm):
    """Only the CSRF token: sends a new set-password link."""


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(_l("Choose a password.")),
            # Length and the other rules: lms.accounts.check_password_policy, in the service.
            Length(max=1024, message=_l("Use at most %(max)d characters.")),
        ],
    )
    confirm = PasswordField(
        _l("Type the password again"),
        validators=[
            DataRequired(_l("Type the password again.")),
            EqualTo("password", message=_l("The two passwords are not the same.")),
        ],
    )
