"""Marshmallow schemas of the logistics API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.core.schemas import DecimalString, decimal_out

ID = validate.Range(min=1, max=2_000_000_000)



class RouteQuoteInputSchema(Schema):
    collection_point_id = fields.Integer(required=True, validate=ID)
    delivery_site_id = fields.Integer(required=True, validate=ID)
    quantity_kg = DecimalString("Kg a mover.", required=True)


class QuoteLegSchema(Schema):
    mode = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "road, trail o river."})
    from_label = fields.String(required=True)
    to_label = fields.String(required=True)
    km = decimal_out("Km del tramo.", required=True)
    terrain = fields.String(required=True)
    trips = fields.Integer(required=True)
    total_cop = decimal_out("COP del tramo.", required=True)


class RouteQuoteSchema(Schema):
    quantity_kg = decimal_out("Kg.", required=True)
    total_cop = decimal_out("COP en total.", required=True)
    per_kg_cop = decimal_out("COP por kg.", required=True)
    legs = fields.List(fields.Nested(QuoteLegSchema), required=True)


class ModeSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    fixed_cop = decimal_out("COP fijos por viaje.", required=True)
    per_km_cop = decimal_out("COP por km en terreno plano.", required=True)
    capacity_kg = decimal_out("Kg por viaje.", required=True)
    kinds = fields.List(fields.String(), required=True)
    active = fields.Boolean(required=True)
