"""External training recorded by managers (views)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("external", __name__, url_prefix="/manage")
