from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectMultipleField, StringField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from .tokens import NAME_MAX, SCOPES


class CreateTokenForm(FlaskForm):
    name = StringField(
        "What is it for? (for example: Rota system)",
        validators=[
            DataRequired("Give the token a name, so you know later what uses it."),
            Length(max=NAME_MAX, message=f"Keep the name under {NAME_MAX} characters."),
        ],
    )
    scopes = SelectMultipleField(
        "What may it read or do?",
        choices=[SelectChoice(scope, f"{scope}: {what}") for scope, what in SCOPES.items()],
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
        validators=[DataRequired("Choose at least one thing the token may do.")],
    )
    expires_days = IntegerField(
        "Expires after this many days (leave empty for no expiry)",
        validators=[
            Optional(),
            NumberRange(1, 3650, "Give a number of days from 1 to 3650, or leave it empty."),
        ],
    )


class RevokeTokenForm(FlaskForm):
    pass
