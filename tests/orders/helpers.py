"""Shared helpers for the order service tests: build requests, place orders, read state fresh."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.catalog.models import Listing
from marketplace.extensions import db
from marketplace.orders import services
from marketplace.orders.models import Order, OrderPart, PartEvent
from tests.orders.conftest import TODAY

D = Decimal
START = TODAY + timedelta(days=2)
END = TODAY + timedelta(days=9)


def user(person) -> User:
    return db.session.get(User, person.user_id)


def order_request(market, lines, **changes) -> services.OrderRequest:
    values = dict(
        lines=[services.LineRequest(listing_id, None if q is None else D(q), unit) for listing_id, q, unit in lines],
        delivery_site_id=market.site_id, window_start=START, window_end=END, payment_method="invoice", note=None,
    )
    values.update(changes)
    return services.OrderRequest(**values)


def place(app, market, lines, *, now=None, **changes) -> int:
    """Place an order as the market's buyer, commit, and return its id."""
    with app.app_context():
        order = services.place_order(user(market.buyer), order_request(market, lines, **changes), now=now)
        db.session.commit()
        return order.id


def available(listing_id: int) -> Decimal:
    """The listing's available kg as stored now (not the session's cached copy)."""
    return db.session.scalar(select(Listing.available_kg).where(Listing.id == listing_id))


def order_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Order))


def part_of(order_id: int, coop_id: int) -> OrderPart:
    return db.session.scalar(select(OrderPart).where(OrderPart.order_id == order_id,
                                                     OrderPart.cooperative_id == coop_id))


def events(part_id: int) -> list[tuple[str | None, str, int | None]]:
    rows = db.session.scalars(select(PartEvent).where(PartEvent.part_id == part_id).order_by(PartEvent.id))
    return [(e.from_status, e.to_status, e.actor_id) for e in rows]


def card_charge(order: Order, amount: Decimal | None = None, now=None) -> str:
    """What a verified ``payment_intent.succeeded`` for the order's own intent records."""
    from marketplace.core.models import utcnow

    if order.stripe_payment_intent_id is None:
        order.stripe_payment_intent_id = f"pi_test_{order.id}"
    return services.card_succeeded(order, order.stripe_payment_intent_id,
                                   order.total if amount is None else amount, now or utcnow())
