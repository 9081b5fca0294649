"""The installable web app: manifest and the service worker that keeps lessons offline.

The service worker lives at /sw.js so its scope is the whole site; its code is in
static/offline/sw.js. What it caches and how the offline quiz queue syncs is described there.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, url_for
from flask.typing import ResponseReturnValue

bp = Blueprint("offline", __name__)

STATIC = Path(__file__).resolve().parent.parent / "static" / "offline"


@bp.route("/sw.js")
def service_worker() -> ResponseReturnValue:
    path = STATIC / "sw.js"
    if not path.is_file():
        return Response("offline support is not installed", status=404, mimetype="text/plain")
    response = Response(path.read_text(encoding="utf-8"), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.route("/manifest.webmanifest")
def manifest() -> ResponseReturnValue:
    icons = [
        {
            "src": url_for("static", filename=f"offline/icon-{size}.png"),
            "sizes": f"{size}x{size}",
            "type": "image/png",
            "purpose": "any maskable",
        }
        for size in (192, 512)
        if (STATIC / f"icon-{size}.png").is_file()
    ]
    response = jsonify(
        name=current_app.config["INSTANCE_NAME"],
        short_name="CareCred",
        start_url="/",
        scope="/",
        display="standalone",
        background_color="#ffffff",
        theme_color="#0b2e59",
        icons=icons,
    )
    response.mimetype = "application/manifest+json"
    return response
