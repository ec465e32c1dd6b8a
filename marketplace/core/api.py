"""JSON API: reference geography, and the readable API documentation page."""

from __future__ import annotations

import copy

from flask import abort, current_app, render_template
from flask_smorest import Blueprint

from marketplace.core import geography
from marketplace.core.schemas import (
    MunicipalityPageSchema,
    MunicipalityQuerySchema,
    MunicipalitySchema,
)
from marketplace.extensions import csrf, db

blp = Blueprint(
    "geography", __name__, description="Municipios de Colombia (DIVIPOLA) con su subregión PDET."
)
csrf.exempt(blp)


@blp.route("/municipalities")
@blp.arguments(MunicipalityQuerySchema, location="query", as_kwargs=True)
@blp.response(200, MunicipalityPageSchema)
def list_municipalities(page, page_size, q=None, department=None, pdet=False, subregion=None):
    """Buscar municipios

    Busca por nombre o código sin importar tildes ni mayúsculas ("tumaco", "san vicente").
    Público: no requiere token.
    """
    stmt = geography.search_statement(q, department_code=department, pdet_only=pdet, subregion=subregion)
    total = geography.count(stmt)
    items = db.session.scalars(stmt.offset((page - 1) * page_size).limit(page_size)).all()
    return {
        "items": items,
        "page": page,
        "page_size": page_size,
        "total": total,
        "pages": (total + page_size - 1) // page_size,
    }


@blp.route("/municipalities/<string:code>")
@blp.response(200, MunicipalitySchema)
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe un municipio con ese código.")
def get_municipality(code):
    """Un municipio por su código DIVIPOLA"""
    municipality = geography.get_municipality(code) if len(code) == 5 else None
    if municipality is None:
        abort(404)
    return municipality


def register_docs(app) -> None:
    """A readable API reference rendered on the server (no CDN, no inline script)."""

    @app.get("/api/docs")
    def api_docs():
        from marketplace.extensions import api

        # A deep copy: to_dict() hands out apispec's own path dicts.
        spec = copy.deepcopy(api.spec.to_dict())
        for item in spec.get("paths", {}).values():
            # Parameters declared on the path (such as {code}) apply to each of its operations.
            shared = item.pop("parameters", [])
            for method, operation in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    operation["parameters"] = shared + operation.get("parameters", [])
        return render_template("core/api_docs.html", spec=spec, title=current_app.config["API_TITLE"])
