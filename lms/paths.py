"""`path_for` in templates: `url_for` for the links every page repeats, built once per process.

A page's header and footer link the same endpoints on every request (the style sheet, the
menu, the manifest); building each with `url_for` costs a few microseconds, paid ~10 times a
page. `path_for(endpoint, **values)` gives the same relative URL as `url_for`, remembered per
(script root, endpoint, values), which is all such a URL depends on here: the app registers no
`url_defaults` callbacks and no subdomain or host routes (`init_paths` refuses to start if one
appears, so the cache cannot hand out a stale URL). Anything else (external URLs, URLs with
an anchor or with values that are not plain strings and numbers) goes to `url_for` itself.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, has_request_context, request, url_for

_PLAIN = (str, int)


def init_paths(app: Flask) -> None:
    cache: dict[tuple[Any, ...], str] = {}

    def path_for(endpoint: str, **values: Any) -> str:
        if not has_request_context() or any(
            k.startswith("_") or not isinstance(v, _PLAIN) for k, v in values.items()
        ):
            return url_for(endpoint, **values)
        key = (request.script_root, endpoint, *sorted(values.items()))
        found = cache.get(key)
        if found is None:
            if len(cache) > 10_000:  # bounded: a template passing free text would grow it
                cache.clear()
            found = cache[key] = url_for(endpoint, **values)
        return found

    # Called after every blueprint is registered (create_app).
    if (
        any(app.url_default_functions.values())
        or app.url_map.host_matching
        or any(rule.subdomain for rule in app.url_map.iter_rules())
    ):
        raise RuntimeError("path_for caches URLs: it cannot be used with url_defaults")
    app.jinja_env.globals["path_for"] = path_for
