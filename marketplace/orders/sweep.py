"""The periodic sweep: parts nobody answered expire, unpaid card orders are cancelled, and
cooperatives are reminded 12 hours and 2 hours before an unanswered part declines itself.

Functions take plain values and the acting user, flush, and leave the commit to the caller.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from marketplace.catalog.models import Listing
from marketplace.core.errors import Conflict
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.messaging.services import notify
from marketplace.orders import freeze
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
    """Expire parts nobody answered in time, cancel card orders left unpaid, and remind
    cooperatives of the parts still waiting for their answer (``remind``).
    Safe to run from many processes at once: each part moves once, each reminder is written once.

    It takes each order's lock without waiting (``lock_order``'s SKIP LOCKED): an order a
    cooperative, a buyer, staff or a webhook is changing right now is left for the next
    sweep. Then it locks the listings it returns stock to in id order, as placing and
    declines do, before moving anything, so it cannot deadlock with them."""
    now = now or utcnow()
    expired = cancelled = 0
    # Parts on hold (``freeze``) neither expire nor are cancelled: ``_move`` refuses them.
    overdue_orders = set(db.session.scalars(
        select(OrderPart.order_id).join(Order, Order.id == OrderPart.order_id)
        .where(OrderPart.status == PartStatus.PLACED, OrderPart.respond_by < now, freeze.unfrozen())))
    unpaid_filter = (Order.payment_method == PaymentMethod.CARD,
                     Order.payment_status.in_([PaymentStatus.PENDING, PaymentStatus.FAILED]), Order.pay_by < now)
    unpaid_orders = set(db.session.scalars(select(Order.id).where(*unpaid_filter,
                                                                  Order.buyer_id.not_in(freeze.suspended_ids()))))
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
    remind(now)
    db.session.flush()
    return {"expired": expired, "cancelled": cancelled}


# (notice kind, hours before the part declines itself, the column that records it was sent)
REMINDERS = (("reminder_12h", 12, OrderPart.reminded_12h_at), ("reminder_2h", 2, OrderPart.reminded_2h_at))


def remind(now: datetime | None = None) -> int:
    """Remind each cooperative of its parts still waiting for an answer: once 12 hours before
    the part declines itself, once 2 hours before. Each reminder is written once, whatever
    runs beside it: the part's column is set by an UPDATE that only a part still placed,
    not yet reminded, wins. A reminder is due only inside its own span (the 12-hour one
    while more than 2 hours are left), and only for a part that had longer than that to
    answer: one placed with less than 12 hours gets only the 2-hour reminder."""
    now = now or utcnow()
    written = 0
    for index, (kind, hours, column) in enumerate(REMINDERS):
        before = timedelta(hours=hours)
        after = timedelta(hours=REMINDERS[index + 1][1]) if index + 1 < len(REMINDERS) else timedelta(0)
        due = db.session.execute(
            select(OrderPart.id, OrderPart.cooperative_id, OrderPart.respond_by, Order.placed_at)
            .join(Order, Order.id == OrderPart.order_id)
            .where(OrderPart.status == PartStatus.PLACED, column.is_(None),
                   OrderPart.respond_by > now + after, OrderPart.respond_by <= now + before,
                   freeze.unfrozen())  # a part on hold cannot be answered
            .order_by(OrderPart.id)).all()
        for part_id, cooperative_id, respond_by, placed_at in due:
            if _aware(respond_by) - _aware(placed_at) <= before:
                continue  # placed with less time than that to answer: the new order said it all
            won = db.session.execute(
                update(OrderPart)
                .where(OrderPart.id == part_id, OrderPart.status == PartStatus.PLACED, column.is_(None),
                       OrderPart.respond_by > now)
                .values({column.key: now})
                .execution_options(synchronize_session=False))
            if won.rowcount == 1:
                notify(kind, subject_id=part_id, organisation_id=cooperative_id, now=now)
                written += 1
    db.session.flush()
    return written
