"""The Flask application: factory, wiring, nothing else.

`create_app` reads configuration (defaults, then `LMS_*` environment variables, then the test
mapping), binds the extensions and registers blueprints, error handlers and CLI commands.
It never touches the database: schema changes run as `flask db upgrade`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext

from . import config as cfg
from .extensions import csrf, db, limiter, login_manager, migrate

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(cfg.defaults(app.instance_path))
    app.config.update(cfg.from_environment(cfg.environment()))
    if test_config is not None:
        app.config.update(test_config)
    cfg.check_production(app.config)
    cfg.engine_options(app.config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    register_extensions(app)
    register_blueprints(app)
    register_security(app)
    register_error_handlers(app)
    register_commands(app)
    configure_logging(app)
    return app


def register_extensions(app: Flask) -> None:
    from .accounts import make_hasher
    from .principal import Principal
    from .principal import load as load_principal

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please log in to see that page.")
    login_manager.session_protection = "strong"
    from .i18n import init_i18n
    from .pagecache import init_pagecache

    init_i18n(app)
    init_pagecache(app)
    app.extensions["password_hasher"] = make_hasher(
        app.config["ARGON2_TIME_COST"], app.config["ARGON2_MEMORY_COST"]
    )

    # Every request reads who is logged in with one plain query (lms/principal.py).
    @login_manager.user_loader
    def load_user(user_id: str) -> Principal | None:
        if not user_id.isdigit():
            return None
        return load_principal(db.session, int(user_id))


# Every blueprint, in registration order: (module, attribute).
BLUEPRINTS = (
    "auth",
    "learn",
    "wallet",
    "public",
    "manage",
    "offline",
    "verify",
    "assess",
    "carecert",
    "external",
    "employer",
    "staff",
    "transfers",
    "api",
    "vcapi",
)


def register_blueprints(app: Flask) -> None:
    from importlib import import_module

    from .security import DatabaseId

    app.url_map.converters["int"] = DatabaseId  # before any route is added

    for name in BLUEPRINTS:
        app.register_blueprint(import_module(f".{name}.views", __name__).bp)

    from .paths import init_paths

    init_paths(app)  # after the blueprints: it checks their URL rules


def register_security(app: Flask) -> None:
    from .security import init_security

    init_security(app)


def register_error_handlers(app: Flask) -> None:
    from .errors import register_error_handlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from .cli import register_cli

    register_cli(app)


def configure_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        # WeasyPrint logs each step of every PDF at INFO: seven lines a certificate.
        logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
