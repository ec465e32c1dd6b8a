"""Marshmallow schemas of the orders API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.catalog.units import UNITS
from marketplace.core.schemas import (
    DecimalString,
    PageArgsSchema,
    PageMetaSchema,
    UTCDateTime,
    decimal_out,
)

ID = validate.Range(min=1, max=2_000_000_000)



class LineInputSchema(Schema):
    listing_id = fields.Integer(required=True, validate=ID)
    quantity = DecimalString("Cantidad en la unidad elegida.", required=True)
    unit = fields.String(load_default="kg", validate=validate.OneOf(list(UNITS)),
                         metadata={"description": "kg, arroba, carga, tonelada o la unidad de la oferta."})


class OrderInputSchema(Schema):
    lines = fields.List(fields.Nested(LineInputSchema), required=True, validate=validate.Length(min=1, max=50))
    delivery_site_id = fields.Integer(required=True, validate=ID)
    window_start = fields.Date(required=True)
    window_end = fields.Date(required=True)
    payment_method = fields.String(required=True, validate=validate.OneOf(["card", "invoice"]))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class QuoteInputSchema(OrderInputSchema):
    """The same fields as an order; the payment method is optional."""

    payment_method = fields.String(load_default="invoice", validate=validate.OneOf(["card", "invoice"]))


class IdempotencyHeaderSchema(Schema):
    idempotency_key = fields.String(
        data_key="Idempotency-Key", load_default=None, validate=validate.Length(min=1, max=100),
        metadata={"description": "La misma clave con el mismo pedido devuelve el mismo pedido."})


class LineSchema(Schema):
    id = fields.Integer(required=True)
    listing_id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    product = fields.String(required=True, attribute="product.name")
    grade = fields.String(required=True, attribute="grade.name")
    municipality_code = fields.String(required=True)
    quantity_kg = decimal_out("Kg pedidos.", required=True)
    unit = fields.String(required=True)
    price_per_kg = decimal_out("COP por kg al momento del pedido.", required=True)
    received_kg = decimal_out("Kg recibidos (vacío hasta la entrega).", required=True, allow_none=True)
    quality = fields.String(required=True, attribute="quality.value")
    rejection_reason = fields.String(required=True, allow_none=True)


class LedgerSchema(Schema):
    gross = decimal_out("Valor de lo entregado (o pedido, antes de la entrega).", required=True)
    platform_fee = decimal_out("Comisión de la plataforma a la cooperativa.", required=True)
    logistics_borne = decimal_out("Transporte pagado por la cooperativa.", required=True)
    net = decimal_out("Neto a pagar a la cooperativa.", required=True)
    buyer_goods = decimal_out("Producto que paga el comprador.", required=True)
    buyer_logistics = decimal_out("Logística estimada que paga el comprador.", required=True)
    buyer_fee = decimal_out("Tarifa de la plataforma al comprador.", required=True)


class EventSchema(Schema):
    from_status = fields.String(required=True, allow_none=True)
    to_status = fields.String(required=True)
    occurred_at = UTCDateTime(required=True)
    actor_id = fields.Integer(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True)


class PartSchema(Schema):
    id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    cooperative_id = fields.Integer(required=True)
    cooperative = fields.String(required=True, attribute="cooperative.name")
    status = fields.String(required=True, attribute="status.value")
    respond_by = UTCDateTime(required=True)
    goods_amount = decimal_out("Producto al momento del pedido.", required=True)
    logistics_estimate = decimal_out("Logística estimada.", required=True)
    fee_amount = decimal_out("Tarifa al comprador.", required=True)
    landed_per_kg = decimal_out("Costo puesto en destino por kg (producto + logística).", required=True)
    payout_status = fields.String(required=True, attribute="payout_status.value")
    payout_due_date = fields.Date(required=True, allow_none=True)
    ledger = fields.Nested(LedgerSchema, required=True)
    lines = fields.List(fields.Nested(LineSchema), required=True)
    events = fields.List(fields.Nested(EventSchema), required=True)


class OrderSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    buyer_id = fields.Integer(required=True)
    delivery_site_id = fields.Integer(required=True)
    placed_at = UTCDateTime(required=True)
    window_start = fields.Date(required=True)
    window_end = fields.Date(required=True)
    payment_method = fields.String(required=True, attribute="payment_method.value")
    payment_status = fields.String(required=True, attribute="payment_status.value")
    goods_total = decimal_out("Producto.", required=True)
    logistics_total = decimal_out("Logística estimada.", required=True)
    fee_total = decimal_out("Tarifa de la plataforma.", required=True)
    total = decimal_out("Total cobrado al hacer el pedido.", required=True)
    amount_due = decimal_out("Lo que se debe hoy (tras rechazos, faltantes y disputas).", required=True)
    refunded_total = decimal_out("Reembolsado.", required=True)
    invoice_number = fields.String(required=True, allow_none=True)
    invoice_due_date = fields.Date(required=True, allow_none=True)
    parts = fields.List(fields.Nested(PartSchema), required=True)


class OrderPageSchema(PageMetaSchema):
    items = fields.List(fields.Nested(OrderSchema), required=True)


class PartPageSchema(PageMetaSchema):
    items = fields.List(fields.Nested(PartSchema), required=True)


class QuotePartSchema(Schema):
    cooperative_id = fields.Integer(required=True)
    cooperative = fields.String(required=True)
    kg = decimal_out("Kg.", required=True)
    goods = decimal_out("Producto.", required=True)
    logistics = decimal_out("Logística estimada.", required=True)
    fee = decimal_out("Tarifa.", required=True)
    landed_per_kg = decimal_out("Costo puesto en destino por kg.", required=True)


class QuoteSchema(Schema):
    goods = decimal_out("Producto.", required=True)
    logistics = decimal_out("Logística.", required=True)
    fee = decimal_out("Tarifa.", required=True)
    total = decimal_out("Total.", required=True)
    parts = fields.List(fields.Nested(QuotePartSchema), required=True)


class PartQuerySchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(
        ["placed", "accepted", "declined", "expired", "ready", "in_transit", "delivered", "settled", "cancelled"]))


class OrderQuerySchema(PageArgsSchema):
    pass


class TransitionSchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(["accept", "decline", "ready", "ship", "cancel",
                                                                    "settle"]))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    logistics_borne = DecimalString("Transporte pagado por la cooperativa (al salir en camino).",
                                    load_default=None, allow_none=True)
    reference = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=80))


class ReceiptSchema(Schema):
    line_id = fields.Integer(required=True, validate=ID)
    received_kg = DecimalString("Kg recibidos.", required=True)
    accepted = fields.Boolean(load_default=True)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class DeliverySchema(Schema):
    lines = fields.List(fields.Nested(ReceiptSchema), required=True, validate=validate.Length(min=1, max=50))
