"""The Care Certificate: tracker, phased sign-off, award (views)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("carecert", __name__, url_prefix="/care-certificate")
