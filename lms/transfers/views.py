"""Accepting transferred training (views)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("transfers", __name__, url_prefix="/manage")
