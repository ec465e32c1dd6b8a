"""Request-level behaviour shared by every page: language, security headers, templates."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Flask, g, has_request_context, request, session
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.routing import IntegerConverter

from marketplace.core import formatting
from marketplace.core.errors import DomainError
from marketplace.core.text import forbidden_character

LANGUAGES = ("es", "en")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def select_locale() -> str:
    """The language for this request: the user's choice, else the browser's saved choice,
    else Spanish. API clients may ask with Accept-Language."""
    if not has_request_context():
        return "es"
    override = request.args.get("lang")
    if override in LANGUAGES:
        return override
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if request.path.startswith("/api/"):
        return request.accept_languages.best_match(LANGUAGES, default="es")
    return "es"


# Request headers whose values the app keeps (the others it only compares or ignores).
STORED_HEADERS = ("Idempotency-Key",)
# Signed by their sender and answered by their own handlers, which must not refuse them.
UNCHECKED_PREFIXES = ("/webhooks/",)


def _json_problem(value, path: str) -> str | None:
    """The dotted path ("lines.0.unit") of the first key or string holding a forbidden character."""
    if isinstance(value, str):
        return path if forbidden_character(value) else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and forbidden_character(key):
            return where
        found = _json_problem(item, where)
        if found is not None:
            return found
    return None


def text_problem() -> tuple[str, str] | None:
    """(location, input name) of the first text in the request that holds a character no
    text may hold (``core.text.FORBIDDEN``): path, query, form fields and file names, JSON
    body (keys too) and the headers the app stores."""
    if forbidden_character(request.path):
        return "path", "path"
    for location, values in (("query", request.args), ("form", request.form)):
        for key, value in values.items(multi=True):
            if forbidden_character(key) or forbidden_character(value):
                return location, key
    for key, upload in request.files.items(multi=True):
        if forbidden_character(key) or forbidden_character(upload.filename or ""):
            return "files", key
    for name in STORED_HEADERS:
        if forbidden_character(request.headers.get(name, "")):
            return "headers", name
    if request.is_json:
        found = _json_problem(request.get_json(silent=True), "")
        if found is not None:
            return "json", found
    return None


def refuse_forbidden_text() -> None:
    """Refuse, before any view runs, a request whose text holds control characters or lone
    surrogates: no view has to think of them, and nothing reaches the database (PostgreSQL
    fails on NUL, every driver on lone surrogates)."""
    if request.path.startswith(UNCHECKED_PREFIXES):
        return
    problem = text_problem()
    if problem is None:
        return
    location, name = problem
    message = _l("El texto enviado tiene caracteres que no se pueden guardar (caracteres de control o "
                 "código inválido). Quítelos e intente de nuevo.")
    raise DomainError(message, name, errors={location: {name: [str(message)]}})


def known_args(*names: str) -> dict[str, str]:
    """The query-string values of ``names`` only (first value, when not empty), to pass on to
    ``url_for`` or a redirect. Passing ``request.args`` through whole would hand ``url_for``
    whatever a visitor typed: ``_anchor``, ``_external``, ``_scheme``, ``_method`` or
    ``endpoint`` change the link's scheme or host, or fail with a 500."""
    values = {}
    for name in names:
        if name.startswith("_") or name == "endpoint":
            continue
        value = request.args.get(name, "")
        if value:
            values[name] = value
    return values


def link_args(*drop: str) -> dict[str, str]:
    """The page's query string as plain values for links that keep it (``url_for(endpoint,
    **dict(args, page=2))``), without the names ``url_for`` reads itself (``_anchor``,
    ``_external``, ``_scheme``, ``_method``, ``endpoint``) and without ``drop``."""
    return {name: value for name, value in request.args.items()
            if not name.startswith("_") and name != "endpoint" and name not in drop}


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` ids never exceed a 32-bit primary key, so an absurd id in a URL is
    a plain 404 instead of an overflow inside the database driver."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def init_app(app: Flask) -> None:
    from marketplace.extensions import login_manager

    app.url_map.converters["int"] = BoundedIntConverter

    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Inicie sesión para continuar.")
    login_manager.login_message_category = "info"
    login_manager.needs_refresh_message = _l("Por seguridad, confirme su contraseña.")
    login_manager.session_protection = "basic"

    # Static files are fingerprinted (?v=<content hash>) so phones can cache them for a
    # year and still get a new version right after a deploy.
    fingerprints: dict[str, str] = {}

    @app.url_defaults
    def _fingerprint_static(endpoint, values):
        if endpoint != "static" or "filename" not in values or "v" in values:
            return
        filename = values["filename"]
        if filename not in fingerprints or app.debug:
            path = Path(app.static_folder) / filename
            try:
                fingerprints[filename] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
            except OSError:
                fingerprints[filename] = ""
        if fingerprints[filename]:
            values["v"] = fingerprints[filename]

    app.before_request(refuse_forbidden_text)

    for name, func in formatting.FILTERS.items():
        app.add_template_filter(func, name)
    from marketplace.core import audit_text

    # An audit event as a sentence with its changes in words (the trail, the staff home page).
    app.add_template_global(audit_text.describe, "describe_event")
    app.add_template_global(audit_text.kind_label, "audit_kind_label")
    # Links that keep a page's filters name the ones they keep (see known_args).
    app.add_template_global(known_args, "known_args")

    @app.context_processor
    def template_globals():
        return {"current_locale": str(get_locale() or "es"), "languages": LANGUAGES}

    @app.after_request
    def security_headers(response):
        headers = response.headers
        if request.endpoint == "static":
            headers.setdefault("X-Content-Type-Options", "nosniff")
            return response
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Permissions-Policy", "geolocation=(self), camera=(self), microphone=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config["SESSION_COOKIE_SECURE"]:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if getattr(g, "private_page", False) or (current_user and current_user.is_authenticated):
            headers["Cache-Control"] = "no-store"
            headers.add("Vary", "Cookie")
        if response.mimetype == "text/html":
            response.headers["Content-Language"] = str(get_locale() or "es")
        return response
