"""Employers: requirements, recertification, training matrix, exports (views).

Every route is under /manage/<slug>/ and starts with `managed_organisation` (404 for anyone who
does not manage that organisation). Views validate a form, call one service, commit once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from courses.frameworks import CWP_ROLE_CATEGORIES
from courses.recert import Status

from .. import audit
from ..authz import managed_organisation
from ..compliance import SOURCE_LABELS, STATUS_LABELS, STATUS_SYMBOLS, cell_evidence
from ..compliance import org_compliance as build_matrix
from ..errors import Conflict, NotFound
from ..extensions import db
from ..jobs import exports
from ..models import ExportKind, JobRole, Organisation, OrgKind, RecertMode, Site
from ..principal import me
from ..security import MAX_ID
from . import models, service  # models: the snapshot table, for db.create_all
from .forms import (
    ButtonForm,
    JobRoleForm,
    PaNeedForm,
    RequirementForm,
    SettingsForm,
    SiteForm,
)

bp = Blueprint("employer", __name__, url_prefix="/manage")

PA_ROLE_NAME = "Personal assistant"


def _now() -> datetime:
    return datetime.now(UTC)


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


def _module_choices() -> list[SelectChoice]:
    return [
        SelectChoice(m.code, f"{m.title} ({m.code})") for m in service.current_modules(db.session)
    ]


def _is_individual(org: Organisation) -> bool:
    return org.kind == OrgKind.INDIVIDUAL_EMPLOYER.value


# --- the matrix --------------------------------------------------------------------------------


@bp.route("/<slug>/matrix")
@login_required
def matrix(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    site_id, role_id = _int_arg("site"), _int_arg("role")
    status = request.args.get("status", "")
    if status not in {s.value for s in Status}:
        status = ""
    now = _now()
    m = build_matrix(
        db.session, org.id, now, site_id=site_id, job_role_id=role_id, status=status or None
    )
    # Filtered to one site (a CQC location): that site's own figures over time.
    scope = f"site:{site_id}" if site_id is not None else "org"
    history = service.snapshot_history(db.session, org.id, now.date(), days=365, scope=scope)
    return render_template(
        "employer/matrix.html",
        org=org,
        m=m,
        site_id=site_id,
        role_id=role_id,
        status=status,
        statuses=list(Status),
        labels=STATUS_LABELS,
        symbols=STATUS_SYMBOLS,
        history=history,
        chart=_chart(history),
        button=ButtonForm(),
        individual=_is_individual(org),
    )


def _chart(history: list[models.ComplianceSnapshot]) -> list[dict[str, object]]:
    """Bars of an inline SVG (attributes only: the CSP forbids inline style)."""
    points = [s for s in history if s.percent is not None][-52:]
    if not points:
        return []
    width = max(4, 600 // len(points))
    return [
        {
            "x": 30 + i * width,
            "y": 10 + (100 - int(s.percent or 0)) * 1.6,
            "w": max(2, width - 2),
            "h": int(s.percent or 0) * 1.6,
            "label": f"{s.day.strftime('%d/%m/%Y')}: {s.percent}%",
        }
        for i, s in enumerate(points)
    ]


@bp.route("/<slug>/matrix/<int:user_id>/<module_code>")
@login_required
def cell(slug: str, user_id: int, module_code: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    ev = cell_evidence(db.session, org.id, user_id, module_code[:16], _now())
    return render_template(
        "employer/cell.html",
        org=org,
        ev=ev,
        labels=STATUS_LABELS,
        symbols=STATUS_SYMBOLS,
        sources=SOURCE_LABELS,
        recert_labels=service.RECERT_LABELS,
    )


@bp.route("/<slug>/matrix/snapshot", methods=["POST"])
@login_required
def snapshot(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    if not ButtonForm().validate_on_submit():
        raise Conflict("The form had expired. Please try again.")
    service.take_snapshot(db.session, org.id, _now())
    db.session.commit()
    flash("Today's compliance figure is recorded for the chart.")
    return redirect(url_for("employer.matrix", slug=slug))


@bp.route("/<slug>/matrix/enrol", methods=["POST"])
@login_required
def enrol(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    if not ButtonForm().validate_on_submit():
        raise Conflict("The form had expired. Please try again.")
    result = service.ensure_enrolments(db.session, org.id, _now(), me())
    db.session.commit()
    flash(
        f"{len(result.created)} new enrolments for training that is missing or due for "
        f"renewal; {len(result.reopened)} existing ones given a new due date."
    )
    return redirect(url_for("employer.matrix", slug=slug))


@bp.route("/<slug>/ascwds.csv")
@login_required
def ascwds(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    rows = service.ascwds_rows(db.session, org.id, _now())
    return Response(
        service.ascwds_csv(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="ascwds-training-{org.slug}.csv"'},
    )


@bp.route("/<slug>/evidence-pack")
@login_required
def evidence_pack_page(slug: str) -> ResponseReturnValue:
    """The organisation's recent evidence packs, each with its state, and the button."""
    org = managed_organisation(db.session, current_user, slug)
    now = _now()
    recent = exports.for_organisation(db.session, org.id)
    shown = [(e, *exports.shown_status(e, now)) for e in recent]
    sites = db.session.scalars(select(Site).where(Site.org_id == org.id).order_by(Site.name)).all()
    return render_template(
        "employer/evidence_pack.html",
        org=org,
        packs=shown,
        busy=exports.any_busy(recent, now),
        button=ButtonForm(),
        sites=sites,
    )


@bp.route("/<slug>/evidence-pack", methods=["POST"])
@login_required
def evidence_pack(slug: str) -> ResponseReturnValue:
    """Ask for a new pack: made by a job (inline without Redis), then listed on the page."""
    org = managed_organisation(db.session, current_user, slug)
    if not ButtonForm().validate_on_submit():
        raise Conflict("The form had expired. Please try again.")
    page = url_for("employer.evidence_pack_page", slug=slug)
    site = (request.form.get("site") or "").strip()  # "": the whole organisation
    if site and (not site.isdigit() or len(site) > 10 or int(site) > MAX_ID):
        raise NotFound("There is no such site here.")
    try:
        export = exports.request(
            db.session,
            kind=ExportKind.EVIDENCE_PACK.value,
            user=me(),
            org_id=org.id,
            now=_now(),
            site_id=int(site) if site else None,
        )
    except exports.ExportBusy:
        db.session.rollback()
        flash("An evidence pack is already being made. Wait for it to be ready, below.")
        return redirect(page, 303)
    export_id, kind = export.id, export.kind
    db.session.commit()  # before the job: inline, it writes in its own session
    exports.submit(export_id, kind)
    return redirect(page, 303)


@bp.route("/<slug>/evidence-pack/<int:export_id>/<name>")
@login_required
def evidence_pack_file(slug: str, export_id: int, name: str) -> ResponseReturnValue:
    """One file (PDF or CSV) of a ready pack, to this organisation's managers only."""
    org = managed_organisation(db.session, current_user, slug)
    export, path = exports.file_of(
        db.session, export_id, name, kind=ExportKind.EVIDENCE_PACK.value, org_id=org.id
    )
    audit.record(
        db.session,
        actor=me(),
        action="export.downloaded",
        entity_type="export",
        entity_id=export.id,
        now=_now(),
        org_id=org.id,
        after={"file": path.name},
    )
    db.session.commit()
    return exports.attachment(path)


# --- job roles and requirements ----------------------------------------------------------------


@bp.route("/<slug>/job-roles", methods=["GET", "POST"])
@login_required
def job_roles(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    if _is_individual(org):
        return redirect(url_for("employer.pa_needs", slug=slug))
    form = JobRoleForm()
    if form.validate_on_submit():
        try:
            role = service.save_job_role(
                db.session,
                org,
                me(),
                _now(),
                name=form.name.data or "",
                cwp_category=form.cwp_category.data or "",
            )
        except (service.InvalidSetting, Conflict) as err:
            db.session.rollback()
            form.name.errors = [*form.name.errors, err.message]
        else:
            db.session.commit()
            flash(f"Job role {role.name!r} added. Now choose what it must hold.")
            return redirect(url_for("employer.job_role", slug=slug, role_id=role.id))
    roles = db.session.scalars(
        select(JobRole).where(JobRole.org_id == org.id).order_by(JobRole.name)
    ).all()
    return render_template(
        "employer/job_roles.html", org=org, roles=roles, form=form, cwp=CWP_ROLE_CATEGORIES
    ), (400 if form.errors else 200)


def _requirement_input(form: RequirementForm) -> service.RequirementInput:
    fixed = form.recert_mode.data == RecertMode.FIXED_DATE.value
    return service.RequirementInput(
        module_code=form.module_code.data or "",
        refresh=form.refresh.data or "default",
        refresh_months=form.refresh_months.data,
        recert_mode=form.recert_mode.data or RecertMode.COMPLETION_DATE.value,
        window_days=form.window_days.data if form.window_days.data is not None else 90,
        fixed_month=(form.fixed_month.data or None) if fixed else None,
        fixed_day=form.fixed_day.data if fixed else None,
        min_active_months=form.min_active_months.data if fixed else None,
    )


@bp.route("/<slug>/job-roles/<int:role_id>", methods=["GET", "POST"])
@login_required
def job_role(slug: str, role_id: int) -> ResponseReturnValue:
    """One job role: its name and category, what it requires, and adding a requirement."""
    org = managed_organisation(db.session, current_user, slug)
    role = service.job_role_of(db.session, org.id, role_id)
    role_form = JobRoleForm(prefix="role", obj=role)
    req_form = RequirementForm(prefix="req")
    req_form.module_code.choices = _module_choices()
    if request.method == "POST":
        if "role-name" in request.form and role_form.validate_on_submit():
            try:
                service.save_job_role(
                    db.session,
                    org,
                    me(),
                    _now(),
                    name=role_form.name.data or "",
                    cwp_category=role_form.cwp_category.data or "",
                    role_id=role.id,
                )
            except (service.InvalidSetting, Conflict) as err:
                db.session.rollback()
                role_form.name.errors = [*role_form.name.errors, err.message]
            else:
                db.session.commit()
                flash("Job role saved.")
                return redirect(url_for("employer.job_role", slug=slug, role_id=role.id))
        elif "req-module_code" in request.form and req_form.validate_on_submit():
            try:
                service.save_requirement(
                    db.session, org, me(), _now(), role, _requirement_input(req_form)
                )
            except (service.InvalidSetting, Conflict) as err:
                db.session.rollback()
                req_form.module_code.errors = [*req_form.module_code.errors, err.message]
            else:
                db.session.commit()
                flash("Requirement added.")
                return redirect(url_for("employer.job_role", slug=slug, role_id=role.id))
    errors = role_form.errors or req_form.errors
    return render_template(
        "employer/job_role.html",
        org=org,
        role=role,
        role_form=role_form,
        req_form=req_form,
        button=ButtonForm(),
        recert_labels=service.RECERT_LABELS,
        modules={m.code: m for m in service.current_modules(db.session)},
    ), (400 if errors else 200)


@bp.route("/<slug>/job-roles/<int:role_id>/requirements/<int:req_id>", methods=["GET", "POST"])
@login_required
def requirement(slug: str, role_id: int, req_id: int) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    role = service.job_role_of(db.session, org.id, role_id)
    req = service.requirement_of(db.session, org.id, req_id)
    if req.job_role_id != role.id:
        raise NotFound("There is no such requirement for this job role.")
    form = RequirementForm()
    form.module_code.choices = _module_choices()
    if request.method == "GET":
        form.module_code.data = req.module_code
        form.refresh.data = (
            "default"
            if req.refresh_months is None
            else "never"
            if req.refresh_months == 0
            else "custom"
        )
        form.refresh_months.data = req.refresh_months or None
        form.recert_mode.data = req.recert_mode
        form.window_days.data = req.window_days
        form.fixed_day.data = req.fixed_day
        form.fixed_month.data = req.fixed_month or 0
        form.min_active_months.data = req.min_active_months
    elif form.validate_on_submit():
        try:
            service.save_requirement(
                db.session,
                org,
                me(),
                _now(),
                role,
                _requirement_input(form),
                requirement_id=req.id,
            )
        except (service.InvalidSetting, Conflict) as err:
            db.session.rollback()
            form.module_code.errors = [*form.module_code.errors, err.message]
        else:
            db.session.commit()
            flash("Requirement saved.")
            return redirect(url_for("employer.job_role", slug=slug, role_id=role.id))
    return render_template("employer/requirement.html", org=org, role=role, req=req, form=form), (
        400 if form.errors else 200
    )


@bp.route("/<slug>/job-roles/<int:role_id>/requirements/<int:req_id>/remove", methods=["POST"])
@login_required
def remove_requirement(slug: str, role_id: int, req_id: int) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    role = service.job_role_of(db.session, org.id, role_id)
    req = service.requirement_of(db.session, org.id, req_id)
    if req.job_role_id != role.id:
        raise NotFound("There is no such requirement for this job role.")
    if not ButtonForm().validate_on_submit():
        raise Conflict("The form had expired. Please try again.")
    service.remove_requirement(db.session, org, me(), _now(), req.id)
    db.session.commit()
    flash("Requirement removed. Past training records are kept.")
    return redirect(url_for("employer.job_role", slug=slug, role_id=role.id))


# --- individual employers (personal assistants) ------------------------------------------------


@bp.route("/<slug>/pa-needs", methods=["GET", "POST"])
@login_required
def pa_needs(slug: str) -> ResponseReturnValue:
    """The simpler screen for an individual employer: what my PA needs, and how often."""
    org = managed_organisation(db.session, current_user, slug)
    role = db.session.scalar(
        select(JobRole).where(JobRole.org_id == org.id, JobRole.name == PA_ROLE_NAME)
    )
    form = PaNeedForm()
    form.module_code.choices = _module_choices()
    if form.validate_on_submit():
        now = _now()
        try:
            if role is None:
                role = service.save_job_role(
                    db.session, org, me(), now, name=PA_ROLE_NAME, cwp_category="PA"
                )
            service.save_requirement(
                db.session,
                org,
                me(),
                now,
                role,
                service.RequirementInput(
                    module_code=form.module_code.data or "",
                    refresh=form.refresh.data or "default",
                    refresh_months=form.refresh_months.data,
                    recert_mode=RecertMode.COMPLETION_DATE.value,
                    window_days=60,
                ),
            )
        except (service.InvalidSetting, Conflict) as err:
            db.session.rollback()
            role = db.session.scalar(
                select(JobRole).where(JobRole.org_id == org.id, JobRole.name == PA_ROLE_NAME)
            )
            form.module_code.errors = [*form.module_code.errors, err.message]
        else:
            db.session.commit()
            flash("Added to what your PA needs.")
            return redirect(url_for("employer.pa_needs", slug=slug))
    return render_template(
        "employer/pa_needs.html",
        org=org,
        role=role,
        form=form,
        button=ButtonForm(),
        modules={m.code: m for m in service.current_modules(db.session)},
    ), (400 if form.errors else 200)


# --- settings and sites ------------------------------------------------------------------------


@bp.route("/<slug>/training-settings", methods=["GET", "POST"])
@login_required
def settings(slug: str) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    form = SettingsForm(obj=org)
    if form.validate_on_submit():
        now = _now()
        try:
            service.set_expiring_days(db.session, org, me(), now, form.expiring_days.data)
            if (form.ascwds_workplace_id.data or None) != org.ascwds_workplace_id:
                service.set_workplace_id(db.session, org, me(), now, form.ascwds_workplace_id.data)
        except service.InvalidSetting as err:
            db.session.rollback()
            form.ascwds_workplace_id.errors = [*form.ascwds_workplace_id.errors, err.message]
        else:
            db.session.commit()
            flash("Settings saved.")
            return redirect(url_for("employer.settings", slug=slug))
    return render_template("employer/settings.html", org=org, form=form), (
        400 if form.errors else 200
    )


@bp.route("/<slug>/sites", methods=["GET", "POST"])
@bp.route("/<slug>/sites/<int:site_id>", methods=["GET", "POST"])
@login_required
def sites(slug: str, site_id: int | None = None) -> ResponseReturnValue:
    org = managed_organisation(db.session, current_user, slug)
    editing = None
    if site_id is not None:
        editing = db.session.get(Site, site_id)
        if editing is None or editing.org_id != org.id:
            raise NotFound("There is no such site here.")
    form = SiteForm(obj=editing)
    if form.validate_on_submit():
        try:
            service.save_site(
                db.session,
                org,
                me(),
                _now(),
                name=form.name.data or "",
                cqc_location_id=form.cqc_location_id.data,
                ascwds_workplace_id=form.ascwds_workplace_id.data,
                site_id=site_id,
            )
        except (service.InvalidSetting, Conflict) as err:
            db.session.rollback()
            form.name.errors = [*form.name.errors, err.message]
        else:
            db.session.commit()
            flash("Site saved.")
            return redirect(url_for("employer.sites", slug=slug))
    all_sites = db.session.scalars(
        select(Site).where(Site.org_id == org.id).order_by(Site.name)
    ).all()
    return render_template(
        "employer/sites.html", org=org, sites=all_sites, form=form, editing=editing
    ), (400 if form.errors else 200)
