"""Marshmallow schemas shared by the JSON API."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from marshmallow import Schema, ValidationError, fields, validate


class UTCDateTime(fields.AwareDateTime):
    """An instant, written RFC 3339 with its offset ("2026-12-07T06:30:39.804571+00:00"),
    as the OpenAPI ``date-time`` format requires. Every schema uses it instead of
    ``fields.DateTime``: a value without a zone is UTC, as every stored time is, and goes
    out in UTC; one read from a request without a zone is taken as UTC too."""

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "iso")
        super().__init__(default_timezone=UTC, **kwargs)

    def _serialize(self, value: datetime | None, attr, obj, **kwargs):
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.isoformat()


class PageArgsSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000),
                          metadata={"description": "Página, desde 1."})
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100),
                               metadata={"description": "Resultados por página (máximo 100)."})


class PageMetaSchema(Schema):
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)


class MunicipalitySchema(Schema):
    code = fields.String(required=True, metadata={"description": "Código DIVIPOLA de 5 dígitos.", "example": "52835"})
    name = fields.String(required=True)
    department_code = fields.String(required=True)
    department_name = fields.String(required=True)
    kind = fields.String(required=True)
    # Exact decimals travel as strings so no client rounds them through a float.
    latitude = fields.Decimal(required=True, as_string=True,
                              metadata={"type": "string", "format": "decimal", "example": "1.807399"})
    longitude = fields.Decimal(required=True, as_string=True,
                               metadata={"type": "string", "format": "decimal", "example": "-78.764073"})
    is_pdet = fields.Boolean(required=True)
    pdet_subregion = fields.String(allow_none=True, required=True)
    label = fields.String(required=True, metadata={"description": "«Municipio, Departamento» para mostrar."})


class MunicipalityQuerySchema(PageArgsSchema):
    q = fields.String(load_default=None, validate=validate.Length(max=80),
                      metadata={"description": "Texto a buscar; sin importar tildes ni mayúsculas."})
    department = fields.String(load_default=None, validate=validate.Regexp(r"^\d{2}$"),
                               metadata={"description": "Código DIVIPOLA del departamento (2 dígitos)."})
    pdet = fields.Boolean(load_default=False, metadata={"description": "Solo municipios PDET."})
    subregion = fields.String(load_default=None, validate=validate.Length(min=1, max=80),
                              metadata={"description": "Subregión PDET exacta."})


class MunicipalityPageSchema(PageMetaSchema):
    items = fields.List(fields.Nested(MunicipalitySchema), required=True)


class CodePathSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{5}$"))


def decimal_out(description: str, **kwargs) -> fields.Decimal:
    """An exact decimal in an answer, as a string ("12.50"), documented as such."""
    return fields.Decimal(as_string=True, metadata={"type": "string", "format": "decimal",
                                                    "description": description}, **kwargs)


class DecimalString(fields.Decimal):
    """An exact decimal sent and received as a string ("12.5"), never as a float.

    The OpenAPI type is a string with a pattern, and input that does not match it (a JSON
    number, "1e3", "-5", "NaN") is refused before conversion.
    """

    PATTERN = r"^\d{1,12}(\.\d{1,6})?$"

    def __init__(self, description: str = "", **kwargs):
        metadata = {"type": "string", "format": "decimal", "pattern": self.PATTERN, "example": "12.5",
                    "description": description, **kwargs.pop("metadata", {})}
        super().__init__(as_string=True, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not re.fullmatch(self.PATTERN, value):
            raise ValidationError('Escriba un número decimal como texto, por ejemplo "12.5".')
        return super()._deserialize(value, attr, data, **kwargs)


class IdempotencyKeyHeaderSchema(Schema):
    """An optional ``Idempotency-Key`` header: the same key from the same user acts once
    (core/idempotency.py); a repeat answers with what the first request made."""

    idempotency_key = fields.String(
        data_key="Idempotency-Key", load_default=None, validate=validate.Regexp(r"^[A-Za-z0-9-]{16,64}$"),
        metadata={"description": "16 a 64 letras, cifras o guiones (p. ej. un UUID). La misma clave "
                                 "devuelve la misma oferta, sin publicarla dos veces."})
