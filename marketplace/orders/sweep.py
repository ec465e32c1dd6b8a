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
from marketplace.orders.lifecycle import (
    TRANSITIONS,
    _move,
)
from marketplace.orders.models import (
    CLOSED_WITHOUT_SALE,
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

    On PostgreSQL it never waits for a part or an order another transaction holds (a
    cooperative declining it, a webhook paying it): those are skipped until the next sweep.
    It locks the listings it returns stock to in id order before moving anything, the
    order placement and declines use, so it cannot deadlock with them."""
    now = now or utcnow()
    expired = cancelled = 0
    overdue = db.session.scalars(
        select(OrderPart).where(OrderPart.status == PartStatus.PLACED, OrderPart.respond_by < now)
        .order_by(OrderPart.id).with_for_update(skip_locked=True)
    ).all()
    unpaid_filter = (Order.payment_method == PaymentMethod.CARD,
                     Order.payment_status.in_([PaymentStatus.PENDING, PaymentStatus.FAILED]), Order.pay_by < now)
    unpaid_ids = list(db.session.scalars(select(Order.id).where(*unpaid_filter)))
    to_cancel = db.session.scalars(
        select(OrderPart).where(OrderPart.order_id.in_(unpaid_ids),
                                OrderPart.status.in_(TRANSITIONS["cancel"].source))
        .order_by(OrderPart.id).with_for_update(skip_locked=True)
    ).all() if unpaid_ids else []
    listing_ids = sorted({ln.listing_id for part in [*overdue, *to_cancel] for ln in part.lines})
    if listing_ids:
        db.session.execute(select(Listing.id).where(Listing.id.in_(listing_ids)).order_by(Listing.id)
                           .with_for_update())
    for part in overdue:
        try:
            with db.session.begin_nested():
                _move(part, "expire", None, now)
            expired += 1
        except Conflict:
            continue
    unpaid = db.session.scalars(
        select(Order).where(Order.id.in_(unpaid_ids), *unpaid_filter).order_by(Order.id)
        .with_for_update(skip_locked=True)
    ).all() if unpaid_ids else []
    locked = {part.id for part in to_cancel}
    for order in unpaid:
        for part in order.parts:
            if part.id in locked and part.status in TRANSITIONS["cancel"].source:
                try:
                    with db.session.begin_nested():
                        _move(part, "cancel", None, now, note="unpaid")
                    cancelled += 1
                except Conflict:
                    continue
        if all(part.status in CLOSED_WITHOUT_SALE for part in order.parts):
            order.payment_status = PaymentStatus.CANCELLED
    db.session.flush()
    return {"expired": expired, "cancelled": cancelled}
