"""Domain errors and the HTML/JSON error pages.

Services raise ``DomainError`` with a message already in the user's language (a lazy
string) and, where it belongs to one input, the field's name, so views can show it
beside that field.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES


class DomainError(Exception):
    """A rule of the domain refused the request; nothing was changed.

    422: the request was well formed but the rules of the business refuse it.
    """

    status_code = 422

    def __init__(self, message, field: str | None = None, *, status_code: int | None = None,
                 errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        # For the API's answer: messages by location and input name, as webargs gives them.
        self.errors = errors
        if status_code is not None:
            self.status_code = status_code


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


_TITLES = {
    400: _l("La solicitud no es válida"),
    401: _l("Debe iniciar sesión"),
    403: _l("No tiene permiso para ver esto"),
    404: _l("No encontramos esa página"),
    405: _l("Método no permitido"),
    409: _l("Conflicto con el estado actual"),
    413: _l("El archivo o formulario es demasiado grande"),
    422: _l("Los datos enviados no son válidos"),
    429: _l("Demasiados intentos. Espere un momento e intente de nuevo."),
    500: _l("Algo salió mal de nuestro lado"),
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_payload(code: int, message: str, errors: dict | None = None) -> dict:
    payload = {"code": code, "status": HTTP_STATUS_CODES.get(code, "Error"), "message": message}
    if errors:
        payload["errors"] = errors
    return payload


def register_error_handlers(app: Flask) -> None:
    def render(code: int, message: str | None = None, headers=None, errors: dict | None = None):
        title = _TITLES.get(code, _TITLES[400] if code < 500 else _TITLES[500])
        text = str(message) if message else str(title)
        if wants_json():
            response = jsonify(error_payload(code, text, errors))
        else:
            response = app.response_class(
                render_template("errors/error.html", code=code, title=title, message=message),
                mimetype="text/html",
            )
        response.status_code = code
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render(400, _l("El formulario caducó o no es válido. Vuelva a la página e intente de nuevo."))

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        # A refused request changes nothing, whatever the service had flushed.
        from marketplace.extensions import db

        db.session.rollback()
        return render(error.status_code, error.message, errors=error.errors)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = error.code or 500
        headers = {}
        if code == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(sorted(error.valid_methods))
        data = getattr(error, "data", None) or {}
        headers.update(data.get("headers") or {})
        if wants_json():
            # Same body as flask-smorest's documented error schema; webargs puts
            # validation problems in data["messages"].
            title = _TITLES.get(code, error.name)
            payload = error_payload(code, str(data.get("message") or _limit_message(error) or title),
                                    data.get("errors") or data.get("messages"))
            response = jsonify(payload)
            response.status_code = code
            for key, value in headers.items():
                response.headers[key] = value
            return response
        return render(code, _limit_message(error), headers)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        return render(500)


def _limit_message(error) -> str | None:
    """A rate limit's own message (``error_message=``), when it has one; never the bare limit."""
    limit = getattr(error, "limit", None)
    return str(error.description) if getattr(limit, "error_message", None) else None
