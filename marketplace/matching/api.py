"""JSON API for demands: buyers post them, run the optimiser (one demand or several
together) and accept a proposal; cooperatives list the demands that concern them and answer
with offers. The same services as the HTML pages."""

from __future__ import annotations

from flask import g, jsonify
from flask_babel import gettext as _
from flask_smorest import Blueprint
from sqlalchemy import func, select

from marketplace.accounts.api import secured
from marketplace.core.errors import DomainError, NotFound, error_payload
from marketplace.extensions import csrf, db
from marketplace.matching import services
from marketplace.matching.models import Demand
from marketplace.matching.schemas import (
    AcceptanceSchema,
    AcceptInputSchema,
    DemandInputSchema,
    DemandPageSchema,
    DemandQuerySchema,
    DemandSchema,
    OfferInputSchema,
    OfferListSchema,
    OfferSchema,
    OptimiseInputSchema,
    ProposalChangedSchema,
    ProposalListSchema,
    ProposalSchema,
)
from marketplace.orders import services as orders

blp = Blueprint("matching-api", __name__,
                description="Solicitudes de compra, cotizaciones de las cooperativas y el optimizador de asignación.")
csrf.exempt(blp)  # bearer tokens, no cookies


def _commit_or_rollback(work):
    try:
        result = work()
    except DomainError:
        db.session.rollback()
        raise
    db.session().expire_on_commit = False
    db.session.commit()
    return result


@blp.route("/demands")
@secured(blp)
@blp.arguments(DemandQuerySchema, location="query")
@blp.response(200, DemandPageSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Transportadores no ven solicitudes.")
def list_demands(args):
    """Solicitudes: las de su empresa, las que puede atender su cooperativa, o todas (equipo)"""
    user = g.api_user
    services.expire_demands()
    db.session.commit()
    page, size = args["page"], args["page_size"]
    if user.role in orders.COOP_ROLES:
        found = services.open_demands_for(user.organisation)
        if args.get("status") not in (None, "open"):
            found = []
        items = found[(page - 1) * size: page * size]
        return {"page": page, "page_size": size, "total": len(found), "pages": -(-len(found) // size),
                "items": items}
    stmt = select(Demand).order_by(Demand.id.desc())
    if not user.is_staff:
        if user.role not in orders.BUYER_ROLES:
            raise DomainError(_("Solo empresas compradoras, cooperativas y el equipo ven solicitudes."),
                              status_code=403)
        stmt = stmt.where(Demand.buyer_id == user.organisation.id)
    if args.get("status"):
        stmt = stmt.where(Demand.status == args["status"])
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = db.session.scalars(stmt.limit(size).offset((page - 1) * size)).all()
    return {"page": page, "page_size": size, "total": total, "pages": -(-total // size), "items": items}


@blp.route("/demands", methods=["POST"])
@secured(blp)
@blp.arguments(DemandInputSchema)
@blp.response(201, DemandSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Solo empresas compradoras verificadas.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Una regla del negocio rechazó la solicitud.")
def create_demand(values):
    """Publicar una solicitud de compra"""
    data = services.DemandData(
        product_id=values["product_id"], quantity=values["quantity"], unit=values["unit"],
        delivery_site_id=values["delivery_site_id"], window_start=values["window_start"],
        window_end=values["window_end"], min_grade_id=values.get("min_grade_id"),
        target_price_per_kg=values.get("target_price_per_kg"), max_price_per_kg=values.get("max_price_per_kg"),
        min_lot_kg=values.get("min_lot_kg"),
        preferences=[services.PreferenceData(p["attribute"], p.get("min_share_percent"), p.get("weight_cop_per_kg"))
                     for p in values["preferences"]],
        source_departments=values["source_departments"], note=values.get("note"))
    return _commit_or_rollback(lambda: services.create_demand(g.api_user, data))


@blp.route("/demands/<int:demand_id>")
@secured(blp)
@blp.response(200, DemandSchema)
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no le concierne.")
def get_demand(demand_id):
    """Una solicitud (su comprador, una cooperativa a la que concierne, o el equipo)"""
    return services.visible_demand(g.api_user, demand_id)


@blp.route("/demands/<int:demand_id>/cancel", methods=["POST"])
@secured(blp)
@blp.response(200, DemandSchema)
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no es suya.")
@blp.alt_response(409, response="DEFAULT_ERROR", description="Ya no está abierta.")
def cancel_demand(demand_id):
    """Cancelar una solicitud abierta"""
    demand = services.own_demand(g.api_user, demand_id)
    _commit_or_rollback(lambda: services.cancel_demand(g.api_user, demand))
    return demand


@blp.route("/demands/<int:demand_id>/offers")
@secured(blp)
@blp.response(200, OfferListSchema)
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no le concierne.")
def list_offers(demand_id):
    """Cotizaciones de una solicitud: todas para su comprador, la propia para una cooperativa"""
    demand = services.visible_demand(g.api_user, demand_id)
    return {"items": services.offers_on(demand, g.api_user)}


@blp.route("/demands/<int:demand_id>/offers", methods=["POST"])
@secured(blp)
@blp.arguments(OfferInputSchema)
@blp.response(201, OfferSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Solo cooperativas verificadas.")
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no le concierne.")
@blp.alt_response(409, response="DEFAULT_ERROR", description="La solicitud ya no recibe cotizaciones.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Cantidad, precio o fecha no válidos.")
def make_offer(values, demand_id):
    """Cotizar (o cambiar la cotización) desde una de sus ofertas"""
    demand = services.visible_demand(g.api_user, demand_id)
    data = services.OfferData(listing_id=values["listing_id"], quantity=values["quantity"], unit=values["unit"],
                              price_per_kg=values["price_per_kg"], ready_date=values["ready_date"],
                              note=values.get("note"))
    return _commit_or_rollback(lambda: services.make_offer(g.api_user, demand, data))


@blp.route("/offers/<int:offer_id>/withdraw", methods=["POST"])
@secured(blp)
@blp.response(200, OfferSchema)
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no es suya.")
@blp.alt_response(409, response="DEFAULT_ERROR", description="Ya no está abierta.")
def withdraw_offer(offer_id):
    """Retirar una cotización abierta"""
    offer = services.own_offer(g.api_user, offer_id)
    _commit_or_rollback(lambda: services.withdraw_offer(g.api_user, offer))
    return offer


@blp.route("/demands/<int:demand_id>/proposals", methods=["POST"])
@secured(blp)
@blp.response(201, ProposalSchema)
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no es suya.")
@blp.alt_response(409, response="DEFAULT_ERROR", description="La solicitud ya no está abierta.")
def propose(demand_id):
    """Calcular la asignación de menor costo puesto en destino para una solicitud"""
    demand = services.own_demand(g.api_user, demand_id)
    return _commit_or_rollback(lambda: services.propose(g.api_user, [demand])[0])


@blp.route("/demands/<int:demand_id>/proposals/latest")
@secured(blp)
@blp.response(200, ProposalSchema)
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe, no es suya o aún no tiene propuesta.")
def latest_proposal(demand_id):
    """La propuesta más reciente de una solicitud"""
    demand = services.visible_demand(g.api_user, demand_id)
    if g.api_user.role in orders.COOP_ROLES:
        raise NotFound(_("No encontramos esa propuesta."))
    proposal = services.latest_proposal(demand)
    if proposal is None:
        raise NotFound(_("Esta solicitud aún no tiene propuesta."))
    return proposal


@blp.route("/matching/optimise", methods=["POST"])
@secured(blp)
@blp.arguments(OptimiseInputSchema)
@blp.response(201, ProposalListSchema)
@blp.alt_response(404, response="DEFAULT_ERROR", description="Una de las solicitudes no existe o no es suya.")
@blp.alt_response(409, response="DEFAULT_ERROR", description="Una de las solicitudes ya no está abierta.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Lista de solicitudes no válida.")
def optimise(values):
    """Optimizar juntas varias solicitudes abiertas de su empresa (compiten por la misma oferta)"""
    ids = list(dict.fromkeys(values["demand_ids"]))
    demands = [services.own_demand(g.api_user, demand_id) for demand_id in ids]
    return {"items": _commit_or_rollback(lambda: services.propose(g.api_user, demands))}


@blp.route("/proposals/<int:proposal_id>")
@secured(blp)
@blp.response(200, ProposalSchema)
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no es suya.")
def get_proposal(proposal_id):
    """Una propuesta de asignación"""
    return services.own_proposal(g.api_user, proposal_id)


@blp.route("/proposals/<int:proposal_id>/accept", methods=["POST"])
@secured(blp)
@blp.arguments(AcceptInputSchema)
@blp.response(201, AcceptanceSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Solo empresas compradoras verificadas.")
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no es suya.")
@blp.alt_response(409, schema=ProposalChangedSchema,
                  description="No se hizo ningún pedido: ya aceptada, reemplazada por otra, sin nada que pedir, o "
                              "algo cambió desde la propuesta (cantidad, precios, cotizaciones, costos): entonces "
                              "``proposal_id`` es la nueva propuesta, para revisarla y aceptarla.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Forma de pago no válida.")
def accept(values, proposal_id):
    """Aceptar una propuesta: se hace el pedido por exactamente el total de la propuesta"""
    proposal = services.own_proposal(g.api_user, proposal_id)
    accepted = _commit_or_rollback(lambda: services.accept(g.api_user, proposal, values["payment_method"]))
    if accepted.changed:
        message = _("Algo cambió desde que se calculó la propuesta (cantidad disponible, precios, cotizaciones o "
                    "costos de transporte): no se hizo ningún pedido. Revise la nueva propuesta y acéptela si está "
                    "de acuerdo.")
        body = {**error_payload(409, message), "proposal_id": accepted.proposal.id,
                "proposal": ProposalSchema().dump(accepted.proposal)}
        response = jsonify(body)  # a response of its own: not the 201 schema
        response.status_code = 409
        return response
    return {"order_id": accepted.order.id, "order_number": accepted.order.number, "total_cop": accepted.order.total,
            "message": _("Pedido hecho por el total de la propuesta."), "proposal": accepted.proposal}
