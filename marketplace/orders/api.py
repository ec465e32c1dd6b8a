"""JSON API for orders: buyers quote, place (with an Idempotency-Key) and read their
orders; cooperatives read and move their parts; buyers record deliveries."""

from __future__ import annotations

from flask import g
from flask_smorest import Blueprint, abort
from sqlalchemy import func, inspect, select

from marketplace.accounts.api import secured
from marketplace.core.errors import DomainError
from marketplace.extensions import csrf, db
from marketplace.orders import services
from marketplace.orders.models import Order, OrderPart, PartEvent
from marketplace.orders.schemas import (
    DeliverySchema,
    IdempotencyHeaderSchema,
    OrderInputSchema,
    OrderPageSchema,
    OrderQuerySchema,
    OrderSchema,
    PartPageSchema,
    PartQuerySchema,
    PartSchema,
    QuoteInputSchema,
    QuoteSchema,
    TransitionSchema,
)

blp = Blueprint("orders-api", __name__, description="Pedidos, sus partes por cooperativa y su ciclo de vida.")
csrf.exempt(blp)  # bearer tokens, no cookies


def _request(values: dict) -> services.OrderRequest:
    return services.OrderRequest(
        lines=[services.LineRequest(ln["listing_id"], ln["quantity"], ln["unit"]) for ln in values["lines"]],
        delivery_site_id=values["delivery_site_id"], window_start=values["window_start"],
        window_end=values["window_end"], payment_method=values["payment_method"], note=values.get("note"),
    )


def _part(part: OrderPart, events: list | None = None) -> dict:
    ledger = services.ledger(part)
    kg = sum((ln.quantity_kg for ln in part.lines), 0)
    landed = ((part.goods_amount + part.logistics_estimate) / kg).quantize(services.CENTS) if kg else 0
    return {
        "id": part.id, "order_id": part.order_id, "cooperative_id": part.cooperative_id, "cooperative": part.cooperative,
        "status": part.status, "respond_by": part.respond_by, "goods_amount": part.goods_amount,
        "logistics_estimate": part.logistics_estimate, "fee_amount": part.fee_amount, "landed_per_kg": landed,
        "payout_status": part.payout_status, "payout_due_date": part.payout_due_date, "ledger": ledger.__dict__,
        "lines": part.lines, "events": part.events if events is None else events,
    }


def _order(order: Order) -> dict:
    data = {name: getattr(order, name) for name in (
        "id", "number", "buyer_id", "delivery_site_id", "placed_at", "window_start", "window_end", "payment_method",
        "payment_status", "goods_total", "logistics_total", "fee_total", "total", "refunded_total",
        "invoice_number", "invoice_due_date")}
    data["amount_due"] = services.payment_due(order).amount
    unread = [p.id for p in order.parts if "events" in inspect(p).unloaded]
    events: dict[int, list] = {p.id: p.events for p in order.parts if p.id not in unread}
    if unread:  # the parts' events in one query rather than one per part
        events.update({part_id: [] for part_id in unread})
        for event in db.session.scalars(select(PartEvent).where(PartEvent.part_id.in_(unread))
                                        .order_by(PartEvent.id)):
            events[event.part_id].append(event)
    data["parts"] = [_part(p, events[p.id]) for p in order.parts]
    return data


def _page(stmt, page: int, page_size: int, render) -> dict:
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = db.session.scalars(stmt.limit(page_size).offset((page - 1) * page_size)).all()
    return {"page": page, "page_size": page_size, "total": total, "pages": -(-total // page_size),
            "items": [render(item) for item in items]}


@blp.route("/orders/quote", methods=["POST"])
@secured(blp)
@blp.arguments(QuoteInputSchema)
@blp.response(200, QuoteSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Solo empresas compradoras.")
@blp.alt_response(409, response="DEFAULT_ERROR", description="No alcanza la cantidad de una oferta.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Una regla del negocio rechazó el pedido.")
def quote_order(values):
    """Cotizar un pedido sin hacerlo: producto, logística y tarifa por cooperativa"""
    quote = services.quote(g.api_user, _request(values))
    return {
        "goods": quote.goods, "logistics": quote.logistics, "fee": quote.fee, "total": quote.total,
        "parts": [{"cooperative_id": p.cooperative.id, "cooperative": p.cooperative.name, "kg": p.kg,
                   "goods": p.goods, "logistics": p.logistics, "fee": p.fee, "landed_per_kg": p.landed_per_kg}
                  for p in quote.parts],
    }


@blp.route("/orders", methods=["POST"])
@secured(blp)
@blp.arguments(IdempotencyHeaderSchema, location="headers")
@blp.arguments(OrderInputSchema)
@blp.response(201, OrderSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Solo empresas compradoras verificadas.")
@blp.alt_response(409, response="DEFAULT_ERROR",
                  description="No alcanza la cantidad, o la clave de idempotencia se usó con otro pedido.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Una regla del negocio rechazó el pedido.")
def place_order(headers, values):
    """Hacer un pedido: toma la cantidad de todas las ofertas o de ninguna"""
    order = services.place_order(g.api_user, _request(values), idempotency_key=headers.get("idempotency_key"))
    # What was just written is what the answer shows: keep it loaded rather than read it
    # all back after the commit (this session ends with the request).
    db.session().expire_on_commit = False
    db.session.commit()
    return _order(order)


@blp.route("/orders")
@secured(blp)
@blp.arguments(OrderQuerySchema, location="query")
@blp.response(200, OrderPageSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Solo empresas compradoras.")
def list_orders(args):
    """Los pedidos de su empresa, del más reciente al más antiguo"""
    buyer = services.buyer_of(g.api_user)
    stmt = select(Order).where(Order.buyer_id == buyer.id).order_by(Order.id.desc())
    return _page(stmt, args["page"], args["page_size"], _order)


@blp.route("/orders/<int:order_id>")
@secured(blp)
@blp.response(200, OrderSchema)
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no es suyo.")
def get_order(order_id):
    """Un pedido de su empresa"""
    return _order(services.visible_order(g.api_user, order_id))


@blp.route("/order-parts")
@secured(blp)
@blp.arguments(PartQuerySchema, location="query")
@blp.response(200, PartPageSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Solo cooperativas.")
def list_parts(args):
    """Las partes de pedidos de su cooperativa"""
    user = g.api_user
    if user.role not in services.COOP_ROLES:
        abort(403, message="Solo las cooperativas tienen partes de pedidos.")
    stmt = select(OrderPart).where(OrderPart.cooperative_id == user.organisation.id).order_by(OrderPart.id.desc())
    if args.get("status"):
        stmt = stmt.where(OrderPart.status == args["status"])
    return _page(stmt, args["page"], args["page_size"], _part)


@blp.route("/order-parts/<int:part_id>")
@secured(blp)
@blp.response(200, PartSchema)
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no es suya.")
def get_part(part_id):
    """Una parte de pedido (la cooperativa que la surte, el comprador o el equipo)"""
    return _part(services.visible_part(g.api_user, part_id))


@blp.route("/order-parts/<int:part_id>/transitions", methods=["POST"])
@secured(blp)
@blp.arguments(TransitionSchema)
@blp.response(200, PartSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Ese cambio no le corresponde.")
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no es suya.")
@blp.alt_response(409, response="DEFAULT_ERROR", description="Cambio fuera de orden.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Datos del cambio no válidos.")
def move_part(values, part_id):
    """Aceptar, rechazar, marcar lista, en camino, cancelar o liquidar una parte"""
    part = services.visible_part(g.api_user, part_id)
    action = values.pop("action")
    services.transition(g.api_user, part, action, **values)
    db.session.commit()
    return _part(part)


@blp.route("/order-parts/<int:part_id>/delivery", methods=["POST"])
@secured(blp)
@blp.arguments(DeliverySchema)
@blp.response(200, PartSchema)
@blp.alt_response(403, response="DEFAULT_ERROR", description="Solo el comprador registra la entrega.")
@blp.alt_response(404, response="DEFAULT_ERROR", description="No existe o no es suya.")
@blp.alt_response(409, response="DEFAULT_ERROR", description="La parte no está lista ni en camino.")
@blp.alt_response(422, response="DEFAULT_ERROR", description="Cantidades o calidad no válidas.")
def record_delivery(values, part_id):
    """Registrar lo recibido por línea: kg y calidad (con motivo si se rechaza)"""
    part = services.visible_part(g.api_user, part_id)
    receipts = [services.Receipt(r["line_id"], r["received_kg"], r["accepted"], r.get("reason"))
                for r in values["lines"]]
    try:
        services.record_delivery(g.api_user, part, receipts)
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    return _part(part)
