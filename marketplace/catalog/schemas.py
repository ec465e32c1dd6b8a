"""Marshmallow schemas for the catalogue and listings API. Exact decimals travel as strings."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.catalog.services import CERTIFICATIONS, SORTS
from marketplace.catalog.units import UNITS, trade_units
from marketplace.core.schemas import DecimalString, PageArgsSchema, PageMetaSchema, decimal_out


class GradeSchema(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    name_en = fields.String(required=True)
    rank = fields.Integer(required=True, metadata={"description": "Mayor es mejor."})


class ProductSchema(Schema):
    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    name_en = fields.String(required=True)
    category = fields.String(required=True)
    usual_units = fields.List(fields.String(), required=True)
    units = fields.Function(lambda product: trade_units(product.usual_units), required=True,
                            metadata={"description": "Unidades en que se publica y se pide: las usuales primero, "
                                                     "luego kg, arroba, carga y tonelada."})
    grades = fields.List(fields.Nested(GradeSchema), required=True)


class UnitSchema(Schema):
    code = fields.String(required=True)
    label_es = fields.String(required=True)
    label_en = fields.String(required=True)
    kg = decimal_out("Kg por unidad; null cuando cada oferta dice su peso.", required=True, allow_none=True)


class PhotoSchema(Schema):
    url = fields.String(required=True)
    thumbnail_url = fields.String(required=True)
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)


class ListingSchema(Schema):
    id = fields.Integer(required=True)
    cooperative_id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    product = fields.String(required=True, attribute="product.name")
    grade_id = fields.Integer(required=True)
    grade = fields.String(required=True, attribute="grade.name")
    status = fields.String(required=True)
    unit = fields.String(required=True)
    unit_kg = decimal_out("Kg por unidad.", required=True)
    quantity_kg = decimal_out("Cantidad total del lote en kg.", required=True)
    available_kg = decimal_out("Kg aún disponibles.", required=True)
    min_order_kg = decimal_out("Pedido mínimo en kg (vacío: cualquier cantidad).", required=True, allow_none=True)
    price_per_unit = decimal_out("COP por unidad (vacío para un transportador).", required=True, allow_none=True)
    price_per_kg = decimal_out("COP por kg (vacío para un transportador).", required=True, allow_none=True)
    harvest_date = fields.Date(required=True)
    available_from = fields.Date(required=True)
    available_until = fields.Date(required=True)
    collection_point_id = fields.Integer(required=True)
    municipality_code = fields.String(required=True)
    department_code = fields.String(required=True)
    pdet_subregion = fields.String(required=True, allow_none=True)
    latitude = decimal_out("Latitud del punto de recogida.", required=True)
    longitude = decimal_out("Longitud del punto de recogida.", required=True)
    certifications = fields.List(fields.String(), required=True)
    description = fields.String(required=True, allow_none=True)
    photos = fields.List(fields.Nested(PhotoSchema), required=True, attribute="photo_links")


class ListingPageSchema(PageMetaSchema):
    items = fields.List(fields.Nested(ListingSchema), required=True)


class NewPointSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    latitude = fields.Decimal(load_default=None, allow_none=True, as_string=True,
                              metadata={"type": "string", "format": "decimal", "pattern": r"^-?\d{1,2}(\.\d{1,6})?$"})
    longitude = fields.Decimal(load_default=None, allow_none=True, as_string=True,
                               metadata={"type": "string", "format": "decimal", "pattern": r"^-?\d{1,3}(\.\d{1,6})?$"})




class ListingInputSchema(Schema):
    product_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2_000_000_000))
    grade_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2_000_000_000))
    quantity = DecimalString("En la unidad elegida.", required=True)
    unit = fields.String(required=True, validate=validate.OneOf(list(UNITS)))
    unit_kg = DecimalString("Obligatorio para bulto, canastilla, racimo, caja y bolsa.", load_default=None,
                            allow_none=True)
    price_per_unit = DecimalString("COP por unidad.", required=True)
    min_order = DecimalString("Pedido mínimo, en la unidad elegida (vacío: cualquier cantidad).",
                              load_default=None, allow_none=True)
    harvest_date = fields.Date(required=True)
    available_from = fields.Date(required=True)
    available_until = fields.Date(required=True)
    collection_point_id = fields.Integer(load_default=None, allow_none=True,
                                         validate=validate.Range(min=1, max=2_000_000_000))
    new_collection_point = fields.Nested(NewPointSchema, load_default=None, allow_none=True)
    certifications = fields.List(fields.String(validate=validate.OneOf(list(CERTIFICATIONS))),
                                 load_default=list, validate=validate.Length(max=len(CERTIFICATIONS)))
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))
    confirm_price = fields.Boolean(load_default=False,
                                   metadata={"description": "Publicar aunque el precio esté lejos de la referencia."})


class ListingChangeSchema(ListingInputSchema):
    """The same fields as a new listing, all optional: only those sent change."""


class ListingStatusSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["active", "paused", "withdrawn"]))


class ListingQuerySchema(PageArgsSchema):
    product_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2_000_000_000))
    grade_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2_000_000_000))
    department = fields.String(load_default=None, validate=validate.Regexp(r"^\d{2}$"))
    municipality = fields.String(load_default=None, validate=validate.Regexp(r"^\d{5}$"))
    subregion = fields.String(load_default=None, validate=validate.Length(min=1, max=80))
    certification = fields.String(load_default=None, validate=validate.OneOf(list(CERTIFICATIONS)))
    min_kg = DecimalString("Kg disponibles como mínimo.", load_default=None)
    min_price_kg = DecimalString("Precio mínimo por kg (COP).", load_default=None)
    max_price_kg = DecimalString("Precio máximo por kg (COP).", load_default=None)
    available_on = fields.Date(load_default=None)
    sort = fields.String(load_default="freshness", validate=validate.OneOf(list(SORTS)))
    delivery_site_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2_000_000_000),
                                      metadata={"description": "Uno de sus sitios de entrega, para ordenar por distancia."})
