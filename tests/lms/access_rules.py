"""Who may reach every route, by role: the table tests/lms/test_security_matrix.py checks.

Every rule of the app's URL map (keyed by its path, e.g. "/manage/<slug>/matrix") must have an
entry here, or the matrix test fails naming the endpoint: a new route cannot ship without a
decision about who may use it.

Roles: anonymous; the demo organisation's (Oakview) learner, mentor, manager and admin; and
"other", the manager of a second organisation (Riverside). URL parameters are filled with
Oakview's records (its slug, its learner Amira's ids, its observations ...), so "other" shows
what a stranger to the organisation gets.

Outcomes, by class of response:

* OK: the request is served (GET: 2xx; POST: anything but a refusal, e.g. 200, 302 to a page,
  or a 400 because the empty form did not validate: authorisation passed).
* REDIRECT: 3xx to somewhere other than the login page.
* LOGIN: sent to log in (302 to /auth/login) or, for JSON, 401.
* DENIED: 403 or 404 (404 is how an organisation hides what exists in it).
* BAD: a GET answered 400 (a link with a bad token, say), to anyone alike.

Where the records a URL needs do not exist in the demo data (`needs`), the roles expected OK
cannot be checked (their request would 404 like anyone's); the refusals still are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

OK, REDIRECT, LOGIN, DENIED, BAD = "ok", "redirect", "login", "denied", "bad request"
ROLES = ("anonymous", "learner", "mentor", "manager", "admin", "other")
Expect = str | frozenset[str]


def who(
    anonymous: Expect, learner: Expect, mentor: Expect, manager: Expect, admin: Expect,
    other: Expect,
) -> dict[str, Expect]:  # fmt: skip
    return dict(zip(ROLES, (anonymous, learner, mentor, manager, admin, other), strict=True))


EITHER = frozenset({OK, REDIRECT})
PUBLIC = who(OK, OK, OK, OK, OK, OK)
SIGNED_IN = who(LOGIN, OK, OK, OK, OK, OK)
# The organisation's managers and admins; everyone else is refused or sent to log in.
MANAGERS = who(LOGIN, DENIED, DENIED, OK, OK, DENIED)
# Records that belong to the learner herself (her attempt, her certificate).
LEARNER_OWN = who(LOGIN, OK, DENIED, DENIED, DENIED, DENIED)
# The organisation's mentors/assessors and its managers.
ASSESSORS = who(LOGIN, DENIED, OK, OK, OK, DENIED)
# A token or session API that answers 401 rather than redirecting.
API_SESSION = who(LOGIN, OK, OK, OK, OK, OK)


@dataclass(frozen=True)
class Access:
    get: Mapping[str, Expect] | None = None
    post: Mapping[str, Expect] | None = None
    # URL parameter -> key of the fixture's values (default: the parameter's own name).
    params: Mapping[str, str] = field(default_factory=dict)
    # Extra request setup: "json" posts an empty JSON object instead of an empty form.
    body: str = "form"
    # Value keys that must name a real record for the OK expectations to be checkable.
    needs: tuple[str, ...] = ()
    note: str = ""


_ = None  # no such method on this route
ANYONE_ALIKE_BAD = who(BAD, BAD, BAD, BAD, BAD, BAD)
TOKEN_ONLY = who(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN)  # 401 without an API token
# Pages for the signed in user about herself (what is assigned to her, her own certificates).
OWN = who(LOGIN, OK, DENIED, DENIED, DENIED, DENIED)
MANAGERS_EITHER = who(LOGIN, DENIED, DENIED, EITHER, EITHER, DENIED)

RULES: dict[str, Access] = {
    # --- public -------------------------------------------------------------------------------
    "/.well-known/jwks.json": Access(get=PUBLIC),
    "/healthz": Access(get=PUBLIC),
    "/issuers/<slug>": Access(get=PUBLIC),
    "/issuers/<slug>/did.json": Access(get=PUBLIC),
    "/status/<slug>/<purpose>/<int:number>": Access(get=PUBLIC, params={"number": "list_number"}),
    "/manifest.webmanifest": Access(get=PUBLIC),
    "/static/<path:filename>": Access(get=PUBLIC),
    "/sw.js": Access(get=PUBLIC),
    "/verify/": Access(get=PUBLIC),
    "/verify/sw.js": Access(get=PUBLIC),
    "/verify/trust.json": Access(get=PUBLIC),
    "/assess/sw.js": Access(get=PUBLIC),
    "/language/<code>": Access(get=who(*(REDIRECT,) * 6), params={"code": "language"}),
    # --- signing in ---------------------------------------------------------------------------
    "/auth/login": Access(
        get=who(OK, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
        post=who(OK, REDIRECT, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
    ),
    "/auth/logout": Access(post=who(*(LOGIN,) * 6), note="back to the login page"),
    # An invitation link; a made-up token is refused alike for everyone.
    "/auth/set-password/<token>": Access(get=ANYONE_ALIKE_BAD, post=PUBLIC),
    # --- the JSON API and the VC API (tests/lms/test_api.py has the token cases) --------------
    "/api/v1/openapi.json": Access(get=PUBLIC),
    "/api/v1/me/assignments": Access(get=SIGNED_IN),
    "/api/v1/me/credentials": Access(get=SIGNED_IN),
    "/api/v1/orgs/<slug>/learners": Access(get=TOKEN_ONLY, note="a session is not a token"),
    "/api/v1/orgs/<slug>/learners/<int:user_id>/credentials": Access(get=TOKEN_ONLY),
    "/api/v1/orgs/<slug>/matrix": Access(get=TOKEN_ONLY),
    "/api/v1/verify": Access(post=PUBLIC, body="json"),
    "/credentials/verify": Access(post=PUBLIC, body="json"),
    "/credentials/issue": Access(post=TOKEN_ONLY, body="json"),
    # --- learning -----------------------------------------------------------------------------
    "/": Access(get=SIGNED_IN),
    "/learn/<code>": Access(get=OWN, note="only modules assigned to the user"),
    "/learn/<code>/lessons/<int:position>": Access(get=OWN),
    "/learn/<code>/lessons/<int:position>/done": Access(post=OWN),
    "/learn/<code>/offline.json": Access(get=OWN),
    "/learn/<code>/quiz": Access(get=OWN),
    "/learn/<code>/quiz/<int:attempt_id>": Access(post=OWN),
    "/learn/<code>/quiz/<int:attempt_id>/result": Access(get=OWN),
    "/learn/offline.json": Access(get=SIGNED_IN),
    "/learn/sync-token": Access(get=SIGNED_IN),
    "/care-certificate/": Access(get=SIGNED_IN),
    # --- my certificates ----------------------------------------------------------------------
    "/certificates/": Access(get=SIGNED_IN),
    "/certificates/<short_id>.jwt": Access(get=OWN),
    "/certificates/<short_id>.pdf": Access(get=OWN),
    "/certificates/<short_id>/qr": Access(get=OWN),
    "/certificates/<short_id>/qr.png": Access(get=OWN),
    "/certificates/export": Access(
        post=who(LOGIN, OK, DENIED, DENIED, DENIED, DENIED),
        note="makes a zip of her certificates (inline); 404 for someone who holds none",
    ),
    "/certificates/exports/<int:export_id>/<name>": Access(
        get=OWN,
        params={"export_id": "zip_id", "name": "zip_file"},
        note="the learner's own zip: hers alone, not even her managers'",
    ),
    "/certificates/passport.json": Access(
        get=who(LOGIN, OK, DENIED, DENIED, DENIED, DENIED),
        note="her own certificates; 404 for someone who holds none yet (the demo's staff)",
    ),
    # --- assessors ----------------------------------------------------------------------------
    "/assess/": Access(get=who(LOGIN, DENIED, REDIRECT, REDIRECT, REDIRECT, REDIRECT),
                       note="each assessor is sent to her own organisation's list"),
    "/assess/<slug>/": Access(get=ASSESSORS),
    "/assess/<slug>/observe/<int:learner_id>/<code>": Access(
        get=ASSESSORS, post=ASSESSORS, params={"code": "observed_code"}
    ),
    "/assess/observations/<int:observation_id>": Access(
        get=ASSESSORS, post=ASSESSORS, needs=("observation_id",)
    ),
    "/assess/observations/<int:observation_id>/evidence": Access(
        post=ASSESSORS, needs=("observation_id",)
    ),
    "/assess/observations/<int:observation_id>/witness": Access(
        post=ASSESSORS, needs=("observation_id",)
    ),
    "/assess/observations/<int:observation_id>/signoff": Access(
        get=MANAGERS, post=MANAGERS, needs=("observation_id",),
        note="signing off is for managers: the assessor and learner get 403",
    ),
    "/assess/evidence/<int:evidence_id>": Access(
        get=who(LOGIN, OK, OK, OK, OK, DENIED), needs=("evidence_id",)
    ),
    "/assess/mine/<int:observation_id>": Access(
        get=OWN, post=OWN, needs=("observation_id",), note="the learner countersigns"
    ),
    "/assess/sync": Access(post=SIGNED_IN, body="json", note="checks each record it is sent"),
    "/assess/sync-token": Access(get=SIGNED_IN),
    # --- managers -----------------------------------------------------------------------------
    "/manage/": Access(
        get=who(LOGIN, OK, OK, REDIRECT, REDIRECT, REDIRECT),
        note="lists the organisations the user manages (none for a learner)",
    ),
    "/manage/<slug>/": Access(get=MANAGERS, note="the organisation's page of manager tasks"),
    "/manage/<slug>/credentials": Access(get=MANAGERS),
    "/manage/<slug>/credentials/<short_id>": Access(get=MANAGERS, post=MANAGERS),
    "/manage/<slug>/people/<int:user_id>/audit.csv": Access(get=MANAGERS),
    "/manage/<slug>/quiz-resets": Access(get=MANAGERS, post=MANAGERS),
    "/manage/<slug>/api-tokens": Access(get=MANAGERS, post=MANAGERS),
    "/manage/<slug>/api-tokens/<int:token_id>/revoke": Access(post=MANAGERS),
    "/manage/<slug>/care-certificate/": Access(get=MANAGERS),
    "/manage/<slug>/care-certificate/<int:user_id>": Access(get=MANAGERS),
    "/manage/<slug>/care-certificate/<int:user_id>/award": Access(post=MANAGERS),
    "/manage/<slug>/care-certificate/<int:user_id>/standards/<int:number>/sign-off": Access(
        post=MANAGERS
    ),
    "/manage/<slug>/care-certificate/<int:user_id>/standards/<int:number>/withdraw": Access(
        post=MANAGERS
    ),
    "/manage/<slug>/external/": Access(get=MANAGERS),
    "/manage/<slug>/external/new": Access(get=MANAGERS, post=MANAGERS),
    "/manage/<slug>/external/<int:record_id>": Access(
        get=MANAGERS, post=MANAGERS, needs=("record_id",)
    ),
    "/manage/<slug>/external/<int:record_id>/evidence": Access(
        get=MANAGERS, needs=("record_evidence",), note="only records with an uploaded file"
    ),
    "/manage/<slug>/ascwds.csv": Access(get=MANAGERS),
    "/manage/<slug>/evidence-pack": Access(
        get=MANAGERS, post=MANAGERS, note="the POST makes a pack (inline) and redirects (303)"
    ),
    "/manage/<slug>/evidence-pack/<int:export_id>/<name>": Access(
        get=MANAGERS,
        params={"export_id": "pack_id", "name": "pack_file"},
        note="a finished pack of Oakview's (seeded by the test)",
    ),
    "/manage/<slug>/job-roles": Access(get=MANAGERS, post=MANAGERS),
    "/manage/<slug>/job-roles/<int:role_id>": Access(get=MANAGERS, post=MANAGERS),
    "/manage/<slug>/job-roles/<int:role_id>/requirements/<int:req_id>": Access(
        get=MANAGERS, post=MANAGERS
    ),
    "/manage/<slug>/job-roles/<int:role_id>/requirements/<int:req_id>/remove": Access(
        post=who(LOGIN, DENIED, DENIED, OK, frozenset({OK, DENIED}), DENIED),
        note="the manager's request removes it, so the admin's finds nothing (404)",
    ),
    "/manage/<slug>/matrix": Access(get=MANAGERS),
    "/manage/<slug>/matrix/<int:user_id>/<module_code>": Access(get=MANAGERS),
    "/manage/<slug>/matrix/enrol": Access(post=MANAGERS),
    "/manage/<slug>/matrix/snapshot": Access(post=MANAGERS),
    "/manage/<slug>/pa-needs": Access(get=MANAGERS, post=MANAGERS),
    "/manage/<slug>/sites": Access(get=MANAGERS, post=MANAGERS),
    "/manage/<slug>/sites/<int:site_id>": Access(get=MANAGERS, post=MANAGERS),
    "/manage/<slug>/training-settings": Access(get=MANAGERS, post=MANAGERS),
    "/manage/<slug>/staff": Access(get=MANAGERS),
    "/manage/<slug>/staff/template.csv": Access(get=MANAGERS),
    "/manage/<slug>/staff/import": Access(get=MANAGERS, post=MANAGERS),
    "/manage/<slug>/staff/import/<token>": Access(
        get=MANAGERS, post=MANAGERS, params={"token": "import_token"}, needs=("import_token",)
    ),
    "/manage/<slug>/staff/<int:user_id>/invite": Access(post=MANAGERS),
    "/manage/<slug>/transfers": Access(get=MANAGERS),
    "/manage/<slug>/transfers/new": Access(get=MANAGERS, post=MANAGERS),
    "/manage/<slug>/transfers/<int:review_id>": Access(get=MANAGERS, needs=("review_id",)),
    "/manage/<slug>/transfers/<int:review_id>/items/<int:item_id>": Access(
        post=MANAGERS, needs=("review_id", "item_id")
    ),
    "/manage/<slug>/trust-lists": Access(get=MANAGERS, post=MANAGERS),
    "/manage/<slug>/trust-lists/instance": Access(post=MANAGERS),
    "/manage/<slug>/trust-lists/<int:trust_id>/remove": Access(
        post=who(LOGIN, DENIED, DENIED, OK, frozenset({OK, DENIED}), DENIED),
        needs=("trust_id",),
        note="the manager's request removes it, so the admin's finds nothing (404)",
    ),
}  # fmt: skip
