"""The periodic sweep: parts nobody answered expire, unpaid card orders are cancelled.

Functions take plain values and the acting user, flush, and leave the commit to the caller.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from marketplace.catalog.models import Listing
from marketplace.core.errors import Conflict
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.orders.common import _aware, lock_order
from marketplace.orders.lifecycle import (
    TRANSITIONS,
    _move,
)
from marketplace.orders.models import (
    Order,
    OrderPart,
    PartStatus,
    PaymentMethod,
    PaymentStatus,
)

# --------------------------------------------------------------------- sweep


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Expire parts nobody answered in time and cancel card orders left unpaid.
    Safe to run from many processes at once: each part moves once.

    It takes each order's lock without waiting (``lock_order``'s SKIP LOCKED): an order a
    cooperative, a buyer, staff or a webhook is changing right now is left for the next
    sweep. Then it locks the listings it returns stock to in id order, as placing and
    declines do, before moving anything, so it cannot deadlock with them."""
    now = now or utcnow()
    expired = cancelled = 0
    overdue_orders = set(db.session.scalars(
        select(OrderPart.order_id).where(OrderPart.status == PartStatus.PLACED, OrderPart.respond_by < now)))
    unpaid_filter = (Order.payment_method == PaymentMethod.CARD,
                     Order.payment_status.in_([PaymentStatus.PENDING, PaymentStatus.FAILED]), Order.pay_by < now)
    unpaid_orders = set(db.session.scalars(select(Order.id).where(*unpaid_filter)))
    orders = [order for order_id in sorted(overdue_orders | unpaid_orders)
              if (order := lock_order(order_id, skip_locked=True)) is not None]
    cancellable = TRANSITIONS["cancel"].source
    unpaid = {order.id for order in orders if order.payment_method == PaymentMethod.CARD
              and order.payment_status in (PaymentStatus.PENDING, PaymentStatus.FAILED)
              and order.pay_by is not None and _aware(order.pay_by) < now}
    moves: list[tuple[OrderPart, str]] = []
    for order in orders:
        for part in order.parts:
            if order.id in unpaid and part.status in cancellable:
                moves.append((part, "cancel"))
            elif part.status == PartStatus.PLACED and _aware(part.respond_by) < now:
                moves.append((part, "expire"))
    listing_ids = sorted({ln.listing_id for part, _ in moves for ln in part.lines})
    if listing_ids:
        db.session.execute(select(Listing.id).where(Listing.id.in_(listing_ids)).order_by(Listing.id)
                           .with_for_update())
    for part, action in moves:
        try:
            with db.session.begin_nested():
                _move(part, action, None, now, note="unpaid" if action == "cancel" else None)
        except Conflict:
            continue
        if action == "cancel":
            cancelled += 1
        else:
            expired += 1
    db.session.flush()
    return {"expired": expired, "cancelled": cancelled}
