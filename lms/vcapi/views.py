"""W3C VC API endpoints (views)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("vcapi", __name__)
