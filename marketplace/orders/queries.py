"""Lists the pages read: a buyer's orders, a cooperative's sales, staff's queues.

Functions take plain values and the acting user, flush, and leave the commit to the caller.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from marketplace.accounts.models import Buyer, Cooperative
from marketplace.catalog.models import Listing
from marketplace.extensions import db
from marketplace.orders.models import (
    CLOSED_WITHOUT_SALE,
    Dispute,
    DisputeStatus,
    Order,
    OrderLine,
    OrderPart,
    PartStatus,
    PaymentMethod,
    PaymentStatus,
    PayoutStatus,
)

# ---------------------------------------------------------------- listings


def orders_listing():
    """Orders with what their lists show (parts and their cooperatives, the buyer), loaded
    in a few queries rather than one per row."""
    return select(Order).options(selectinload(Order.parts).joinedload(OrderPart.cooperative),
                                 joinedload(Order.buyer))


def buyer_orders(buyer: Buyer, limit: int = 200) -> list[Order]:
    return list(db.session.scalars(
        orders_listing().where(Order.buyer_id == buyer.id)
        .order_by(Order.placed_at.desc(), Order.id.desc()).limit(limit)
    ))


def cooperative_parts(coop: Cooperative, limit: int = 200) -> list[OrderPart]:
    """The cooperative's parts with their lines and orders, for the sales list and ledger."""
    return list(db.session.scalars(
        select(OrderPart).where(OrderPart.cooperative_id == coop.id)
        .options(selectinload(OrderPart.lines), joinedload(OrderPart.order).joinedload(Order.buyer))
        .order_by(OrderPart.id.desc()).limit(limit)
    ))


def overdue_invoices(today: date | None = None) -> list[Order]:
    today = today or date.today()
    return list(db.session.scalars(
        select(Order).where(Order.payment_method == PaymentMethod.INVOICE,
                            Order.payment_status == PaymentStatus.PENDING, Order.invoice_due_date < today)
        .order_by(Order.invoice_due_date)
    ))


def open_invoices() -> list[Order]:
    return list(db.session.scalars(
        select(Order).where(Order.payment_method == PaymentMethod.INVOICE,
                            Order.payment_status == PaymentStatus.PENDING)
        .order_by(Order.invoice_due_date)
    ))


def open_disputes() -> list[Dispute]:
    return list(db.session.scalars(select(Dispute).where(Dispute.status == DisputeStatus.OPEN)
                                   .order_by(Dispute.opened_at)))


def payouts_due() -> list[OrderPart]:
    return list(db.session.scalars(select(OrderPart).where(OrderPart.payout_status == PayoutStatus.DUE)
                                   .order_by(OrderPart.payout_due_date)))


def paid_prices(product_id: int, grade_id: int | None, department_code: str, start: date, end: date) -> list[Decimal]:
    """Prices per kg of lines sold (not declined or cancelled) in a department and period:
    the platform's reference price beside a listing's price field."""
    stmt = (
        select(OrderLine.price_per_kg)
        .join(OrderPart, OrderPart.id == OrderLine.part_id)
        .join(Order, Order.id == OrderPart.order_id)
        .join(Listing, Listing.id == OrderLine.listing_id)
        .where(OrderLine.product_id == product_id, Listing.department_code == department_code,
               OrderPart.status.not_in([s.value for s in CLOSED_WITHOUT_SALE]),
               func.date(Order.placed_at) >= start, func.date(Order.placed_at) <= end)
    )
    if grade_id is not None:
        stmt = stmt.where(OrderLine.grade_id == grade_id)
    return list(db.session.scalars(stmt))




def group_by_status(parts: list[OrderPart]) -> dict[PartStatus, list[OrderPart]]:
    groups: dict[PartStatus, list[OrderPart]] = defaultdict(list)
    for part in parts:
        groups[part.status].append(part)
    return groups
