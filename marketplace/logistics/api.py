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
@blp.alt_response(404, response="DEFAULT_ERROR", description="Centro de acopio o sitio de entrega no visible para usted, o municipio inexistente.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Datos inválidos (p. ej. ningún destino o los dos) o recorrido imposible de cotizar.")
def quote(values):
    """Cotizar mover una cantidad de un centro de acopio a un sitio de entrega o a un municipio, por tramos

    El destino es un sitio de entrega (`delivery_site_id`) o la cabecera de un municipio
    (`municipality_code`, código DIVIPOLA), uno de los dos. Un comprador verificado cotiza
    desde centros de acopio de ofertas que puede ver (activas, vigentes y con kilos) hacia sus
    propios sitios de entrega; una cooperativa desde sus propios centros de acopio hacia los
    sitios de los pedidos y solicitudes que atiende; el equipo del programa, cualquier
    recorrido. Los municipios son públicos: quien puede cotizar desde un centro de acopio puede
    cotizar desde él hacia cualquier municipio. Cualquier otro recorrido responde 404. Los
    tramos hasta la carretera llevan la descripción que escribió la cooperativa solo para ella
    y el equipo del programa; los demás leen el tipo de camino.
    """
    user = g.api_user
    if values["municipality_code"] is not None:
        point, municipality = policy.quotable_to_municipality(user, values["collection_point_id"],
                                                              values["municipality_code"])
        result = services.quote_to_municipality(point.id, municipality.code, values["quantity_kg"],
                                                describe_first_mile=policy.can_read_first_mile(user, point))
    else:
        point, site = policy.quotable(user, values["collection_point_id"], values["delivery_site_id"])
        result = services.quote_for(point.id, site.id, values["quantity_kg"],
                                    describe_first_mile=policy.can_read_first_mile(user, point))
    return {
        "quantity_kg": values["quantity_kg"], "total_cop": result.total_cop, "per_kg_cop": result.per_kg_cop,
        "legs": [{"mode": pl.leg.mode.code, "kind": pl.leg.kind, "from_label": pl.from_label, "to_label": pl.to_label,
                  "km": pl.leg.km, "terrain": pl.leg.terrain, "trips": priced.trips, "total_cop": priced.total_cop}
                 for pl, priced in zip(result.legs, result.priced.legs, strict=True)],
    }
