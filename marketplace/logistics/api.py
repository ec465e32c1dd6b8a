"""JSON API for logistics: transport modes and quotes."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from marketplace.accounts.api import secured
from marketplace.extensions import csrf
from marketplace.logistics import policy, services
from marketplace.logistics.schemas import ModeSchema, RouteQuoteInputSchema, RouteQuoteSchema

blp = Blueprint("logistics-api", __name__, description="Costos de transporte y cotizaciones de la última milla.")
csrf.exempt(blp)  # bearer tokens, no cookies


@blp.route("/logistics/modes")
@secured(blp)
@blp.response(200, ModeSchema(many=True))
def list_modes():
    """Medios de transporte con sus costos"""
    return [{"code": m.code, "name": m.name, "fixed_cop": m.fixed_cop, "per_km_cop": m.per_km_cop,
             "capacity_kg": m.capacity_kg, "kinds": m.kinds.split(","), "active": m.active}
            for m in services.all_modes()]


@blp.route("/logistics/quotes", methods=["POST"])
@secured(blp)
@blp.arguments(RouteQuoteInputSchema)
@blp.response(200, RouteQuoteSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Empresa compradora aún sin verificar.")
@blp.alt_response(404, response="DEFAULT_ERROR", description="Centro de acopio o sitio de entrega no visible para usted.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="No se puede cotizar ese recorrido.")
def quote(values):
    """Cotizar mover una cantidad de un centro de acopio a un sitio de entrega, por tramos

    Un comprador verificado cotiza hacia sus propios sitios de entrega, desde centros de acopio
    de ofertas que puede ver; una cooperativa desde sus propios centros de acopio hacia los
    sitios de los pedidos y solicitudes que atiende; el equipo del programa, cualquier
    recorrido. Cualquier otro recorrido responde 404.
    """
    point, site = policy.quotable(g.api_user, values["collection_point_id"], values["delivery_site_id"])
    result = services.quote_for(point.id, site.id, values["quantity_kg"])
    return {
        "quantity_kg": values["quantity_kg"], "total_cop": result.total_cop, "per_kg_cop": result.per_kg_cop,
        "legs": [{"mode": pl.leg.mode.code, "kind": pl.leg.kind, "from_label": pl.from_label, "to_label": pl.to_label,
                  "km": pl.leg.km, "terrain": pl.leg.terrain, "trips": priced.trips, "total_cop": priced.total_cop}
                 for pl, priced in zip(result.legs, result.priced.legs, strict=True)],
    }
