"""Mentors and assessors: observed practice, evidence, sign-off (views)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("assess", __name__, url_prefix="/assess")
