"""JSON API for the authenticated user, and Bearer-token authentication for every API call."""

from __future__ import annotations

from functools import wraps

from flask import g, request
from flask_smorest import Blueprint, abort

from marketplace.accounts import services
from marketplace.accounts.schemas import MeSchema
from marketplace.extensions import csrf, db

blp = Blueprint("me", __name__, description="La cuenta dueña del token.")
csrf.exempt(blp)

BEARER = {"bearerAuth": []}


def token_required(view):
    """Authenticate with a personal API token in ``Authorization: Bearer ...``.

    Session cookies are not accepted by the API, so it needs no CSRF protection.
    """

    @wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        user = services.user_for_token(value.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            db.session.rollback()
            abort(401, message="Falta un token válido en el encabezado Authorization: Bearer.",
                  headers={"WWW-Authenticate": 'Bearer realm="api"'})
        if db.session.dirty:
            db.session.commit()
        g.api_user = user
        # Personal data: no browser or proxy may keep a copy (core/web.py sets no-store).
        g.private_page = True
        return view(*args, **kwargs)

    return wrapped


def secured(blueprint: Blueprint):
    """Decorator that requires a token and documents it in the OpenAPI spec."""

    def decorator(view):
        view = token_required(view)
        view = blueprint.doc(security=[BEARER])(view)
        return blueprint.alt_response(401, response="DEFAULT_ERROR", description="Token ausente o inválido.")(view)

    return decorator


@blp.route("/me")
@secured(blp)
@blp.response(200, MeSchema)
def me():
    """La cuenta dueña del token, con su organización y rol"""
    user = g.api_user
    return {
        "id": user.id,
        "full_name": user.full_name,
        "phone": user.phone,
        "email": user.email,
        "locale": user.locale,
        "role": user.role.value if user.role else None,
        "organisation": user.organisation,
    }


def register_security(app) -> None:
    from marketplace.extensions import api

    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "Token personal (mr_...)."}
    )
