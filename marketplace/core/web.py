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

    for name, func in formatting.FILTERS.items():
        app.add_template_filter(func, name)

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
