"""Employers: requirements, recertification, training matrix, exports (views)."""

from __future__ import annotations

from flask import Blueprint

from . import models  # noqa: F401  (the snapshot table, for db.create_all)

bp = Blueprint("employer", __name__, url_prefix="/manage")
