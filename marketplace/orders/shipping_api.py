"""JSON API for shipments: those a user may see, creating one (cooperatives), dispatching
it and recording what its legs really cost (the carrier or the cooperative)."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from marketplace.accounts.api import secured
from marketplace.core.schemas import DecimalString, UTCDateTime, decimal_out
from marketplace.extensions import csrf, db
from marketplace.orders import shipment_view, shipping

blp = Blueprint("shipping-api", __name__, description="Envíos de pedidos y su costo real.")
csrf.exempt(blp)  # bearer tokens, no cookies
ID = validate.Range(min=1, max=2_000_000_000)


class ShipmentLegSchema(Schema):
    id = fields.Integer(required=True)
    position = fields.Integer(required=True)
    kind = fields.String(required=True)
    mode_code = fields.String(required=True)
    from_label = fields.String(required=True)
    to_label = fields.String(required=True)
    km = decimal_out("Km.", required=True)
    trips = fields.Integer(required=True)
    estimated_cop = decimal_out("COP estimados (vacío para el transportador en un tramo que paga la cooperativa).",
                                required=True, allow_none=True)
    actual_cop = decimal_out("COP reales (vacío hasta registrarlos, o si no le corresponde verlos).", required=True,
                             allow_none=True)
    paid_by = fields.String(required=True, metadata={"description": "cooperative o platform."})


class ShipmentStopSchema(Schema):
    part_id = fields.Integer(required=True)
    order_number = fields.String(required=True)
    cooperative_id = fields.Integer(required=True)
    cooperative = fields.String(required=True)
    place = fields.String(required=True, metadata={"description": "Centro de acopio donde se recoge."})
    municipality_code = fields.String(required=True, metadata={"description": "Código DIVIPOLA del acopio."})
    municipality = fields.String(required=True)
    kg = decimal_out("Kg.", required=True)
    last_mile_cop = decimal_out("Costo de mover esta parte (real si se registró, si no el estimado); vacío para el "
                                "transportador.", required=True, allow_none=True)
    last_mile_per_kg = decimal_out("Ese costo por kg; vacío para el transportador.", required=True, allow_none=True)
    last_mile_share = decimal_out("Parte del precio puesto en destino (0 a 1); vacío para el transportador.",
                                  required=True, allow_none=True)
    last_mile_actual = fields.Boolean(required=True, allow_none=True,
                                      metadata={"description": "Si el costo es el real; vacío para el transportador."})


class ShipmentSchema(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    status = fields.String(required=True)
    carrier_id = fields.Integer(required=True, allow_none=True)
    carrier_name = fields.String(required=True, allow_none=True)
    planned_pickup = fields.Date(required=True)
    planned_delivery = fields.Date(required=True)
    actual_pickup = fields.Date(required=True, allow_none=True)
    actual_delivery = fields.Date(required=True, allow_none=True)
    estimated_cop = decimal_out("COP estimados del envío; para el transportador, los de sus tramos; vacío para una "
                                "cooperativa en una ruta compartida.", required=True, allow_none=True)
    actual_cop = decimal_out("COP reales (vacío hasta registrarlos todos, o si no le corresponde verlos).",
                             required=True, allow_none=True)
    shared = fields.Boolean(required=True, metadata={"description": "Si lleva pedidos de varias cooperativas."})
    other_stops = fields.Integer(required=True, metadata={
        "description": "Paradas de otras cooperativas que usted no ve (ruta compartida)."})
    legs = fields.List(fields.Nested(ShipmentLegSchema), required=True, metadata={
        "description": "Vacío para una cooperativa en una ruta compartida."})
    stops = fields.List(fields.Nested(ShipmentStopSchema), required=True, metadata={
        "description": "Las paradas que usted puede ver: una cooperativa, solo las suyas."})


class ShipmentInputSchema(Schema):
    part_ids = fields.List(fields.Integer(validate=ID), required=True, validate=validate.Length(min=1, max=100))
    planned_pickup = fields.Date(required=True)
    planned_delivery = fields.Date(required=True)
    carrier_id = fields.Integer(load_default=None, allow_none=True, validate=ID)
    carrier_name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))


class ShipmentLegCostSchema(Schema):
    leg_id = fields.Integer(required=True, validate=ID)
    actual_cop = DecimalString("COP reales del tramo.", required=True)


class ShipmentCostsInputSchema(Schema):
    legs = fields.List(fields.Nested(ShipmentLegCostSchema), required=True, validate=validate.Length(min=1, max=20))
    actual_pickup = fields.Date(load_default=None, allow_none=True)
    actual_delivery = fields.Date(load_default=None, allow_none=True)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500), metadata={
        "description": "Motivo: obligatorio para una corrección del equipo después de la entrega."})


class PayoutAdjustmentSchema(Schema):
    id = fields.Integer(required=True)
    cooperative_id = fields.Integer(required=True)
    part_id = fields.Integer(required=True, metadata={"description": "La parte pagada cuyo costo se corrigió."})
    shipment_id = fields.Integer(required=True, allow_none=True)
    amount = decimal_out("COP con signo: positivo se le debe a la cooperativa, negativo se descuenta.",
                         required=True)
    reason = fields.String(required=True)
    created_at = UTCDateTime(required=True)
    applied_part_id = fields.Integer(required=True, allow_none=True,
                                     metadata={"description": "La parte cuyo pago lo aplicó (vacío: pendiente)."})
    applied_at = UTCDateTime(required=True, allow_none=True)


@blp.route("/shipments")
@secured(blp)
@blp.response(200, ShipmentSchema(many=True))
def list_shipments():
    """Los envíos que usted puede ver (los suyos; el equipo, todos)"""
    return shipment_view.views_for(g.api_user, shipping.shipments_for(g.api_user))


@blp.route("/shipments/<int:shipment_id>")
@secured(blp)
@blp.response(200, ShipmentSchema)
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no es suyo.")
def get_shipment(shipment_id):
    """Un envío"""
    return shipment_view.view_for(g.api_user, shipping.visible_shipment(g.api_user, shipment_id))


@blp.route("/shipments", methods=["POST"])
@secured(blp)
@blp.arguments(ShipmentInputSchema)
@blp.response(201, ShipmentSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Solo cooperativas y el equipo crean envíos.")
@blp.alt_response(404, response="DEFAULT_ERROR", description="Un pedido no existe o no es suyo.")
@blp.alt_response(409, response="DEFAULT_ERROR", description="Un pedido no está listo o ya va en otro envío.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Datos del envío no válidos.")
def create_shipment(values):
    """Crear un envío con pedidos aceptados o listos hacia un mismo sitio de entrega"""
    shipment = shipping.create_shipment(g.api_user, shipping.ShipmentData(
        values["part_ids"], values["planned_pickup"], values["planned_delivery"], values["carrier_id"],
        values["carrier_name"]))
    db.session.commit()
    return shipment_view.view_for(g.api_user, shipment)


@blp.route("/shipments/<int:shipment_id>/costs", methods=["POST"])
@secured(blp)
@blp.arguments(ShipmentCostsInputSchema)
@blp.response(200, ShipmentSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Un tramo lo paga la cooperativa: el transportador no "
                                                              "registra su costo.")
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no le corresponde.")
@blp.alt_response(409, response="DEFAULT_ERROR", description="Los pedidos ya se entregaron (o se pagaron): solo el "
                                                              "equipo corrige, con motivo.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Costos no válidos, o falta el motivo.")
def record_costs(values, shipment_id):
    """Registrar el costo real de los tramos (se reparte entre los pedidos por peso)

    Cerrado cuando los pedidos se entregan; después solo el equipo corrige, con motivo. Si un
    pedido ya se pagó a la cooperativa, la diferencia queda como ajuste en su próximo pago."""
    shipment = shipping.visible_shipment(g.api_user, shipment_id)
    shipping.record_actual_costs(g.api_user, shipment, {leg["leg_id"]: leg["actual_cop"] for leg in values["legs"]},
                                 values["actual_pickup"], values["actual_delivery"], values["reason"])
    db.session.commit()
    return shipment_view.view_for(g.api_user, shipment)


@blp.route("/payout-adjustments")
@secured(blp)
@blp.response(200, PayoutAdjustmentSchema(many=True))
def list_payout_adjustments():
    """Ajustes a pagos de cooperativas (los de su cooperativa; el equipo, todos)"""
    return shipping.adjustments_for(g.api_user)


@blp.route("/shipments/<int:shipment_id>/dispatch", methods=["POST"])
@secured(blp)
@blp.response(200, ShipmentSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="No le corresponde.")
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no es suyo.")
@blp.alt_response(409, response="DEFAULT_ERROR", description="Ya salió, o un pedido no está listo.")
def dispatch(shipment_id):
    """El envío sale: sus pedidos quedan en camino"""
    shipment = shipping.visible_shipment(g.api_user, shipment_id)
    shipping.dispatch(g.api_user, shipment)
    db.session.commit()
    return shipment_view.view_for(g.api_user, shipment)
