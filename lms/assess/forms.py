"""Forms of the mentor, learner and manager observation pages (plain English, not translated
except the learner's countersign form, whose labels are in the template)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from .models import METHOD_LABELS, CriterionResult

RESULT_CHOICES = [
    SelectChoice(CriterionResult.MET.value, "Met"),
    SelectChoice(CriterionResult.NOT_YET.value, "Not yet met"),
    SelectChoice(CriterionResult.NA.value, "Not applicable"),
]


class ObservationForm(FlaskForm):
    """The fixed fields; `observation_form` adds one result and one note per criterion."""

    client_key = HiddenField(
        validators=[Optional(), Regexp(r"^[A-Za-z0-9-]{8,64}$", message="Bad client key.")]
    )
    method = RadioField("How you assessed", choices=[], validators=[Optional()])
    observed_on = DateField("Date observed", validators=[Optional()])
    setting = StringField(
        "Setting (where, without naming the person you support)",
        validators=[Optional(), Length(max=200, message="Keep the setting under 200 characters.")],
    )
    notes = TextAreaField(
        "Notes",
        validators=[Optional(), Length(max=4000, message="Keep the notes under 4000 characters.")],
    )
    assessor_role = StringField(
        "Your role",
        validators=[Optional(), Length(max=120, message="Keep your role under 120 characters.")],
    )
    competence_statement = TextAreaField(
        "Your statement of occupational competence",
        validators=[
            Optional(),
            Length(max=4000, message="Keep the statement under 4000 characters."),
        ],
    )
    criterion_ids: list[str] = []

    def criterion(self, cid: str) -> Any:
        return self[f"c_{cid}"]

    def note(self, cid: str) -> Any:
        return self[f"n_{cid}"]


def observation_form(spec: dict[str, Any], **kwargs: Any) -> ObservationForm:
    """A form for this module's observation spec (its methods and criteria)."""
    attrs: dict[str, Any] = {}
    for c in spec.get("criteria", []):
        attrs[f"c_{c['id']}"] = RadioField(
            c["text"], choices=RESULT_CHOICES, validators=[Optional()]
        )
        attrs[f"n_{c['id']}"] = StringField(
            f"Note on {c['id']}",
            validators=[
                Optional(),
                Length(max=1000, message="Keep each note under 1000 characters."),
            ],
        )
    cls = type("ModuleObservationForm", (ObservationForm,), attrs)
    form: ObservationForm = cls(**kwargs)
    form.criterion_ids = [c["id"] for c in spec.get("criteria", [])]
    form.method.choices = [
        SelectChoice(m, METHOD_LABELS.get(m, m)) for m in spec.get("methods", [])
    ]
    return form


class WitnessForm(FlaskForm):
    witness_name = StringField(
        "Witness's name",
        validators=[DataRequired("Give the witness's name."), Length(max=120)],
    )
    witness_role = StringField(
        "Witness's role",
        validators=[DataRequired("Give the witness's role."), Length(max=120)],
    )
    testimony = TextAreaField(
        "What the witness saw",
        validators=[DataRequired("Write what the witness saw."), Length(max=4000)],
    )


class EvidenceForm(FlaskForm):
    file = FileField("Photo of a document, or a PDF", validators=[FileRequired("Choose a file.")])


class SignForm(FlaskForm):
    """Countersign (the learner) and sign-off (a manager): a confirmation and a comment."""

    confirm = BooleanField(validators=[DataRequired()])
    comment = TextAreaField(validators=[Optional(), Length(max=4000)])
