"""Marshmallow schemas of the logistics API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.core.schemas import DecimalString

ID = validate.Range(min=1, max=2_000_000_000)


def _money(description: str, **kwargs):
    return fields.Decimal(as_string=True, metadata={"type": "string", "format": "decimal",
                                                    "description": description}, **kwargs)


class RouteQuoteInputSchema(Schema):
    collection_point_id = fields.Integer(required=True, validate=ID)
    delivery_site_id = fields.Integer(required=True, validate=ID)
    quantity_kg = DecimalString("Kg a mover.", required=True)


class QuoteLegSchema(Schema):
    mode = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "road, trail o river."})
    from_label = fields.String(required=True)
    to_label = fields.String(required=True)
    km = _money("Km del tramo.", required=True)
    terrain = fields.String(required=True)
    trips = fields.Integer(required=True)
    total_cop = _money("COP del tramo.", required=True)


class RouteQuoteSchema(Schema):
    quantity_kg = _money("Kg.", required=True)
    total_cop = _money("COP en total.", required=True)
    per_kg_cop = _money("COP por kg.", required=True)
    legs = fields.List(fields.Nested(QuoteLegSchema), required=True)


class ModeSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    fixed_cop = _money("COP fijos por viaje.", required=True)
    per_km_cop = _money("COP por km en terreno plano.", required=True)
    capacity_kg = _money("Kg por viaje.", required=True)
    kinds = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True)
