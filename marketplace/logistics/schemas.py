"""Marshmallow schemas of the logistics API."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from marketplace.core.schemas import DecimalString, decimal_out

ID = validate.Range(min=1, max=2_000_000_000)


class RouteQuoteInputSchema(Schema):
    collection_point_id = fields.Integer(required=True, validate=ID)
    delivery_site_id = fields.Integer(load_default=None, validate=ID, metadata={
        "description": "Sitio de entrega de destino. Envíe este o municipality_code, no los dos."})
    municipality_code = fields.String(load_default=None, validate=validate.Regexp(
        r"^\d{5}$", error="Escriba el código DIVIPOLA del municipio: 5 cifras, por ejemplo 11001."), metadata={
        "description": "Código DIVIPOLA del municipio de destino (su cabecera). Envíe este o delivery_site_id, "
                       "no los dos.", "example": "11001"})
    quantity_kg = DecimalString("Kg a mover.", required=True)

    @validates_schema
    def one_destination(self, data, **kwargs):
        if (data.get("delivery_site_id") is None) == (data.get("municipality_code") is None):
            raise ValidationError("Indique el destino: delivery_site_id (un sitio de entrega) o municipality_code "
                                  "(un municipio), uno de los dos.", "delivery_site_id")


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
