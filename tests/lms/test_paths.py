"""`path_for`: the links every page repeats, built once per process, the same as url_for."""

from __future__ import annotations

import pytest
from flask import Flask, url_for

from lms.paths import init_paths


@pytest.mark.parametrize(
    ("endpoint", "values"),
    [
        ("learn.home", {}),
        ("static", {"filename": "app.css"}),
        ("learn.lesson", {"code": "DIG-01", "position": 2}),
        ("offline.manifest", {}),
    ],
)
def test_the_same_url_as_url_for_under_any_script_root(
    app: Flask, endpoint: str, values: dict[str, object]
) -> None:
    path_for = app.jinja_env.globals["path_for"]
    for root in ("", "/care", "", "/other"):  # remembered per script root, never mixed up
        with app.test_request_context("/", environ_overrides={"SCRIPT_NAME": root}):
            assert path_for(endpoint, **values) == url_for(endpoint, **values)
            assert path_for(endpoint, **values).startswith(f"{root}/")


def test_values_that_are_not_plain_go_to_url_for_itself(app: Flask) -> None:
    path_for = app.jinja_env.globals["path_for"]
    with app.test_request_context("/"):
        assert path_for("learn.home", _external=True) == url_for("learn.home", _external=True)
        assert path_for("learn.home", _anchor="x").endswith("/#x")


def test_an_app_with_url_defaults_is_refused() -> None:
    """A url_defaults callback may change a URL per request: a cache would then be wrong."""
    other = Flask(__name__)
    other.url_defaults(lambda endpoint, values: values.setdefault("lang", "en"))
    with pytest.raises(RuntimeError, match="url_defaults"):
        init_paths(other)
