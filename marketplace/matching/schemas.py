"""Marshmallow schemas of the demands and matching API."""

from __future__ import annotations

from flask import g
from marshmallow import Schema, fields, post_dump, validate

from marketplace.catalog.services import CERTIFICATIONS
from marketplace.catalog.units import UNITS
from marketplace.core.schemas import (
    DecimalString,
    PageArgsSchema,
    PageMetaSchema,
    UTCDateTime,
    decimal_out,
)
from marketplace.matching.services import ATTRIBUTES, DEMAND_UNITS, MAX_JOINT, MAX_PREFERENCES

ID = validate.Range(min=1, max=2_000_000_000)
ATTRIBUTE_CHOICES = list(ATTRIBUTES) + [f"cert:{code}" for code in CERTIFICATIONS]


class PreferenceInputSchema(Schema):
    attribute = fields.String(required=True, validate=validate.OneOf(ATTRIBUTE_CHOICES),
                              metadata={"description": "pdet, women_led, youth_led o cert:<código>."})
    min_share_percent = DecimalString("Participación mínima de los kg entregados, de 0 a 100.", load_default=None,
                                      allow_none=True)
    weight_cop_per_kg = DecimalString("Cuánto más pagaría por kg con esta característica (preferencia blanda).",
                                      load_default=None, allow_none=True)


class DemandInputSchema(Schema):
    product_id = fields.Integer(required=True, validate=ID)
    min_grade_id = fields.Integer(load_default=None, allow_none=True, validate=ID)
    quantity = DecimalString("Cantidad en la unidad elegida.", required=True)
    unit = fields.String(load_default="kg", validate=validate.OneOf(list(DEMAND_UNITS)))
    delivery_site_id = fields.Integer(required=True, validate=ID)
    window_start = fields.Date(required=True)
    window_end = fields.Date(required=True)
    target_price_per_kg = DecimalString("Precio objetivo por kg, sin transporte.", load_default=None,
                                        allow_none=True)
    max_price_per_kg = DecimalString("Precio máximo por kg puesto en el sitio (producto + logística).",
                                     load_default=None, allow_none=True)
    min_lot_kg = DecimalString("Lote mínimo por cooperativa, en kg.", load_default=None, allow_none=True)
    preferences = fields.List(fields.Nested(PreferenceInputSchema), load_default=list,
                              validate=validate.Length(max=MAX_PREFERENCES))
    source_departments = fields.List(fields.String(validate=validate.Regexp(r"^\d{2}$")), load_default=list,
                                     validate=validate.Length(max=40),
                                     metadata={"description": "Códigos DANE de departamento; vacío: todo el país."})
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class PreferenceSchema(Schema):
    attribute = fields.String(required=True)
    min_share = fields.String(required=True, allow_none=True,
                              metadata={"description": "Fracción de 0 a 1 (0.4 = 40 %)."})
    weight = fields.String(required=True, allow_none=True, metadata={"description": "COP por kg."})


class DemandSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    buyer_id = fields.Integer(required=True)
    status = fields.String(required=True, attribute="status.value")
    product_id = fields.Integer(required=True)
    product = fields.String(required=True, attribute="product.name")
    min_grade_id = fields.Integer(required=True, allow_none=True)
    quantity = decimal_out("Cantidad como se pidió.", required=True)
    unit = fields.String(required=True)
    quantity_kg = decimal_out("Kg pedidos.", required=True)
    delivery_site_id = fields.Integer(required=True)
    delivery_municipality_code = fields.String(required=True, attribute="delivery_site.municipality_code")
    window_start = fields.Date(required=True)
    window_end = fields.Date(required=True)
    target_price_per_kg = decimal_out("COP por kg.", required=True, allow_none=True)
    max_price_per_kg = decimal_out("COP por kg puesto en destino; null para cooperativas (solo el comprador "
                                   "y el equipo ven el máximo).", required=True, allow_none=True)
    min_lot_kg = decimal_out("Kg.", required=True, allow_none=True)
    preferences = fields.List(fields.Nested(PreferenceSchema), required=True)
    source_departments = fields.List(fields.String(), required=True)
    note = fields.String(required=True, allow_none=True)
    order_id = fields.Integer(required=True, allow_none=True)
    created_at = UTCDateTime(required=True)

    @post_dump
    def hide_maximum(self, data, **kwargs):
        """Only the buyer and staff see the maximum landed price; a cooperative that saw it would
        price up to it."""
        user = g.get("api_user")
        org = getattr(user, "organisation", None)
        if user is None or not (user.is_staff or (org is not None and org.id == data.get("buyer_id"))):
            data["max_price_per_kg"] = None
        return data


class DemandQuerySchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(["open", "ordered", "cancelled", "expired"]))


class DemandPageSchema(PageMetaSchema):
    items = fields.List(fields.Nested(DemandSchema), required=True)


class OfferInputSchema(Schema):
    listing_id = fields.Integer(required=True, validate=ID)
    quantity = DecimalString("Cantidad en la unidad elegida.", required=True)
    unit = fields.String(load_default="kg", validate=validate.OneOf(list(UNITS)))
    price_per_kg = DecimalString("Su precio por kg (COP).", required=True)
    ready_date = fields.Date(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class OfferSchema(Schema):
    id = fields.Integer(required=True)
    demand_id = fields.Integer(required=True)
    cooperative_id = fields.Integer(required=True)
    cooperative = fields.String(required=True, attribute="cooperative.name")
    listing_id = fields.Integer(required=True)
    quantity = decimal_out("Cantidad como se cotizó.", required=True)
    unit = fields.String(required=True)
    quantity_kg = decimal_out("Kg.", required=True)
    price_per_kg = decimal_out("COP por kg.", required=True)
    ready_date = fields.Date(required=True)
    note = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, attribute="status.value")


class OfferListSchema(Schema):
    items = fields.List(fields.Nested(OfferSchema), required=True)


class AllocationSchema(Schema):
    listing_id = fields.Integer(required=True)
    offer_id = fields.Integer(required=True, allow_none=True)
    cooperative_id = fields.Integer(required=True)
    cooperative = fields.String(required=True)
    municipality_code = fields.String(required=True)
    municipality = fields.String(required=True)
    pdet_subregion = fields.String(required=True, allow_none=True)
    women_led = fields.Boolean(required=True)
    youth_led = fields.Boolean(required=True)
    certifications = fields.List(fields.String(), required=True)
    kg = fields.String(required=True)
    price_per_kg = fields.String(required=True)
    goods_cop = fields.String(required=True, metadata={"description": "Producto de esta línea del pedido."})
    logistics_cop = fields.String(required=True, metadata={
        "description": "Su parte, por kg, de la logística estimada de su cooperativa (la suma es la de la "
                       "cooperativa)."})
    landed_per_kg = fields.String(required=True, metadata={
        "description": "(Producto + su parte de la logística) / kg; nunca supera el máximo de la solicitud."})


class ProposalPartSchema(Schema):
    """One cooperative's share of the order the proposal becomes: the order's own quote."""

    cooperative_id = fields.Integer(required=True)
    cooperative = fields.String(required=True)
    kg = fields.String(required=True)
    goods_cop = fields.String(required=True, metadata={"description": "Producto."})
    logistics_cop = fields.String(required=True, metadata={
        "description": "Logística estimada: la misma del pedido (viajes por centro de acopio)."})
    logistics_mode = fields.String(required=True, allow_none=True)
    road_km = fields.String(required=True, allow_none=True)
    fee_cop = fields.String(required=True, metadata={"description": "Tarifa de la plataforma."})
    total_cop = fields.String(required=True, metadata={"description": "Producto + logística + tarifa."})
    landed_per_kg = fields.String(required=True, metadata={"description": "(Producto + logística) / kg."})


class ProposalSchema(Schema):
    id = fields.Integer(required=True)
    demand_id = fields.Integer(required=True)
    created_at = UTCDateTime(required=True)
    status = fields.String(required=True, metadata={"description": "optimal, feasible o infeasible."})
    quantity_kg = decimal_out("Kg pedidos.", required=True, attribute="demand.quantity_kg")
    met_kg = decimal_out("Kg que se pueden cubrir.", required=True)
    goods_cop = decimal_out("Producto.", required=True)
    logistics_cop = decimal_out("Logística estimada.", required=True)
    landed_cop = decimal_out("Producto + logística.", required=True)
    fee_percent = decimal_out("Tarifa de la plataforma, en %.", required=True, allow_none=True)
    fee_cop = decimal_out("Tarifa de la plataforma.", required=True, allow_none=True)
    total_cop = decimal_out("Lo que se cobra al aceptar: producto + logística + tarifa (vacío en propuestas "
                            "anteriores a este cálculo, que ya no se pueden aceptar).", required=True, allow_none=True)
    parts = fields.List(fields.Nested(ProposalPartSchema), required=True, allow_none=True,
                        metadata={"description": "Por cooperativa, como las partes del pedido."})
    greedy_met_kg = decimal_out("Kg que cubriría la elección por precio más bajo.", required=True)
    greedy_landed_cop = decimal_out("Costo puesto en destino de la elección por precio más bajo.", required=True)
    reasons = fields.List(fields.String(), required=True,
                          metadata={"description": "Por qué no se cubre todo (vacío si se cubre)."})
    shares = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    allocations = fields.List(fields.Nested(AllocationSchema), required=True)
    greedy = fields.List(fields.Nested(AllocationSchema), required=True)
    greedy_parts = fields.List(fields.Nested(ProposalPartSchema), required=True, allow_none=True)
    superseded = fields.Boolean(required=True)
    accepted_at = UTCDateTime(required=True, allow_none=True)


class ProposalListSchema(Schema):
    items = fields.List(fields.Nested(ProposalSchema), required=True)


class OptimiseInputSchema(Schema):
    demand_ids = fields.List(fields.Integer(validate=ID), required=True,
                             validate=validate.Length(min=1, max=MAX_JOINT))


class AcceptInputSchema(Schema):
    payment_method = fields.String(required=True, validate=validate.OneOf(["card", "invoice"]))


class AcceptanceSchema(Schema):
    order_id = fields.Integer(required=True)
    order_number = fields.String(required=True)
    total_cop = decimal_out("Total del pedido: el de la propuesta, al peso.", required=True)
    message = fields.String(required=True)
    proposal = fields.Nested(ProposalSchema, required=True)


class ProposalChangedSchema(Schema):
    """A 409 answer to accepting: nothing was ordered. When something changed since the
    proposal, ``proposal_id`` and ``proposal`` are the new one to review and accept."""

    code = fields.Integer(required=True)
    status = fields.String(required=True)
    message = fields.String(required=True)
    proposal_id = fields.Integer(metadata={"description": "La nueva propuesta (solo si algo cambió)."})
    proposal = fields.Nested(ProposalSchema)
