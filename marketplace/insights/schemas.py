"""Marshmallow schemas of the insights API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.core.schemas import PageArgsSchema, PageMetaSchema, UTCDateTime, decimal_out

MONTH = validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="Escriba el mes como AAAA-MM.")
ID = validate.Range(min=1, max=2_000_000_000)


class PeriodQuerySchema(Schema):
    start = fields.String(load_default=None, validate=MONTH, metadata={"description": "Primer mes (AAAA-MM)."})
    end = fields.String(load_default=None, validate=MONTH, metadata={"description": "Último mes (AAAA-MM)."})
    department = fields.String(load_default=None, validate=validate.Regexp(r"^\d{2}$"))
    subregion = fields.String(load_default=None, validate=validate.Length(min=1, max=80))
    municipality = fields.String(load_default=None, validate=validate.Regexp(r"^\d{5}$"))


class ProductQuerySchema(PeriodQuerySchema):
    product_id = fields.Integer(required=True, validate=ID)


class IndicatorQuerySchema(PeriodQuerySchema):
    product_id = fields.Integer(load_default=None, validate=ID)


class BuyerReportQuerySchema(PeriodQuerySchema):
    buyer_id = fields.Integer(load_default=None, validate=ID,
                              metadata={"description": "Solo el equipo: la empresa a consultar."})


class TrendMonthSchema(Schema):
    month = fields.String(required=True)
    median_price_per_kg = decimal_out("COP/kg.", required=True, allow_none=True)
    q1_price_per_kg = decimal_out("COP/kg.", required=True, allow_none=True)
    q3_price_per_kg = decimal_out("COP/kg.", required=True, allow_none=True)
    kg = decimal_out("Kg vendidos.", required=True)
    cop = decimal_out("Ingresos de las cooperativas.", required=True)
    logistics_cop = decimal_out("Logística.", required=True)
    orders = fields.Integer(required=True, metadata={"description": "Partes de pedido (por cooperativa)."})
    farm_gate_share = decimal_out("Fracción del precio puesto en destino que llega a la cooperativa.",
                                  required=True, allow_none=True)
    last_mile_share = decimal_out("Fracción que se va en logística.", required=True, allow_none=True)


class SipsaMonthSchema(Schema):
    month = fields.String(required=True)
    price_per_kg = decimal_out("COP/kg (media mensual).", required=True)


class SipsaSchema(Schema):
    product = fields.String(required=True)
    market = fields.String(required=True)
    distance_km = fields.Float(required=True)
    months = fields.List(fields.Nested(SipsaMonthSchema), required=True)


class TrendsSchema(Schema):
    product_id = fields.Integer(required=True)
    region = fields.String(required=True)
    months = fields.List(fields.Nested(TrendMonthSchema), required=True)
    sipsa = fields.Nested(SipsaSchema, required=True, allow_none=True)


class IndicatorMonthSchema(Schema):
    month = fields.String(required=True)
    value = fields.String(required=True, allow_none=True)


class IndicatorSchema(Schema):
    code = fields.String(required=True)
    label = fields.String(required=True)
    value = fields.String(required=True, allow_none=True)
    target = fields.String(required=True, allow_none=True)
    progress = fields.String(required=True, allow_none=True)
    monthly = fields.List(fields.Nested(IndicatorMonthSchema), required=True)


class IndicatorsSchema(Schema):
    region = fields.String(required=True)
    year = fields.Integer(required=True)
    items = fields.List(fields.Nested(IndicatorSchema), required=True)


class IndicatorPointSchema(Schema):
    month = fields.String(required=True)
    value = fields.Float(required=True, allow_none=True)
    band = fields.String(required=True, allow_none=True)


class SeriesIndicatorsSchema(Schema):
    label = fields.String(required=True)
    problem = fields.String(required=True, allow_none=True)
    alps = fields.List(fields.Nested(IndicatorPointSchema), required=True)
    ipa = fields.List(fields.Nested(IndicatorPointSchema), required=True)


class FlaggedSchema(Schema):
    line_id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    day = fields.Date(required=True)
    municipality_code = fields.String(required=True)
    municipality = fields.String(required=True, metadata={"description": "Municipio y departamento."})
    cooperative_id = fields.Integer(required=True)
    cooperative = fields.String(required=True, metadata={"description": "Nombre de la cooperativa."})
    buyer_id = fields.Integer(required=True)
    buyer = fields.String(required=True, metadata={"description": "Nombre de la empresa compradora."})
    price_per_kg = decimal_out("COP/kg.", required=True)
    reference_per_kg = decimal_out("Mediana nacional del mes, COP/kg.", required=True)
    flag = fields.String(required=True, metadata={"description": "low o high."})
    reviews = fields.Integer(required=True)


class AnomaliesSchema(Schema):
    platform = fields.Nested(SeriesIndicatorsSchema, required=True)
    reference = fields.Nested(SeriesIndicatorsSchema, required=True, allow_none=True)
    flagged = fields.List(fields.Nested(FlaggedSchema), required=True,
                          metadata={"description": "Las 50 más recientes."})
    flagged_total = fields.Integer(required=True, metadata={"description": "Cuántas hay en el periodo."})


class BuyerRowSchema(Schema):
    municipality_code = fields.String(required=True)
    municipality = fields.String(required=True)
    department = fields.String(required=True)
    pdet_subregion = fields.String(required=True, allow_none=True)
    product = fields.String(required=True)
    kg = decimal_out("Kg.", required=True)
    cop = decimal_out("COP.", required=True)


class BuyerReportSchema(Schema):
    buyer_id = fields.Integer(required=True)
    start = fields.String(required=True)
    end = fields.String(required=True)
    kg = decimal_out("Kg.", required=True)
    cop = decimal_out("COP.", required=True)
    pdet_share = decimal_out("Fracción.", required=True, allow_none=True)
    women_share = decimal_out("Fracción.", required=True, allow_none=True)
    youth_share = decimal_out("Fracción.", required=True, allow_none=True)
    cooperatives = fields.Integer(required=True)
    rows = fields.List(fields.Nested(BuyerRowSchema), required=True)


class AuditQuerySchema(PageArgsSchema):
    who = fields.String(load_default=None, validate=validate.Length(min=1, max=80))
    organisation = fields.String(load_default=None, validate=validate.Length(min=1, max=120))
    object_type = fields.String(load_default=None, validate=validate.Length(min=1, max=60))
    object_id = fields.String(load_default=None, validate=validate.Length(min=1, max=60))
    action = fields.String(load_default=None, validate=validate.Length(min=1, max=60))
    start = fields.Date(load_default=None)
    end = fields.Date(load_default=None)


class AuditEventSchema(Schema):
    id = fields.Integer(required=True)
    occurred_at = UTCDateTime(required=True)
    actor_id = fields.Integer(required=True, allow_none=True)
    actor_name = fields.String(required=True, allow_none=True,
                               metadata={"description": "Quién hizo el cambio; null si fue el sistema."})
    organisation_id = fields.Integer(required=True, allow_none=True)
    organisation_name = fields.String(required=True, allow_none=True)
    action = fields.String(required=True)
    object_type = fields.String(required=True)
    object_id = fields.String(required=True)
    before = fields.Dict(required=True, allow_none=True)
    after = fields.Dict(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True)
    summary = fields.String(required=True, metadata={
        "description": "El cambio en una frase, en el idioma de quien consulta, con nombres en vez de números."})


class AuditPageSchema(PageMetaSchema):
    items = fields.List(fields.Nested(AuditEventSchema), required=True)
