"""Employers: requirements, recertification, training matrix, exports (views)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("employer", __name__, url_prefix="/manage")
