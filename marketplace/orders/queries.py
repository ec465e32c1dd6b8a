"""Lists the pages read: a buyer's orders, a cooperative's sales, staff's queues.

Functions take plain values and the acting user, flush, and leave the commit to the caller.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from marketplace.accounts.models import Buyer, Cooperative
from marketplace.catalog.models import Listing
from marketplace.core.errors import DomainError
from marketplace.core.models import bogota_date, bogota_day_start
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


# The cooperative's sales, filtered as its home page counts them. Each filter is one SQL
# condition, used both for the count on the home page and for the list it opens, so the two agree.
SALE_FILTERS: dict[str, object] = {
    "por-responder": OrderPart.status == PartStatus.PLACED,
    "por-alistar": OrderPart.status == PartStatus.ACCEPTED,
    "en-camino": OrderPart.status.in_([PartStatus.READY, PartStatus.IN_TRANSIT]),
    "por-cobrar": OrderPart.payout_status == PayoutStatus.DUE,
}
SALES_PER_PAGE = 20


class UnknownSaleFilter(DomainError):
    """The list was asked for with a filter it does not know."""

    status_code = 400


@dataclass
class SalesPage:
    parts: list[OrderPart]
    filter: str | None
    page: int
    pages: int
    total: int


def sale_counts(cooperative_id: int) -> dict[str, int]:
    """How many of the cooperative's sales each filter holds, and all of them (``None``)."""
    mine = OrderPart.cooperative_id == cooperative_id
    counts: dict[str | None, int] = {
        name: db.session.scalar(select(func.count(OrderPart.id)).where(mine, condition)) or 0
        for name, condition in SALE_FILTERS.items()
    }
    counts[None] = db.session.scalar(select(func.count(OrderPart.id)).where(mine)) or 0
    return counts


def cooperative_sales(cooperative_id: int, filter_name: str | None = None, page: int = 1,
                      per_page: int = SALES_PER_PAGE) -> SalesPage:
    """One page of the cooperative's sales, newest first, optionally only those of one filter
    (``SALE_FILTERS``). Waiting orders come soonest deadline first. An unknown filter raises
    ``UnknownSaleFilter``; a page past the end gives the last page."""
    if filter_name is not None and filter_name not in SALE_FILTERS:
        raise UnknownSaleFilter(_l("Ese filtro de ventas no existe. Elija una de las pestañas."), "estado")
    stmt = select(OrderPart).where(OrderPart.cooperative_id == cooperative_id)
    if filter_name is not None:
        stmt = stmt.where(SALE_FILTERS[filter_name])
    total = db.session.scalar(select(func.count()).select_from(stmt.with_only_columns(OrderPart.id).subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    order = ((OrderPart.respond_by, OrderPart.id) if filter_name == "por-responder"
             else (OrderPart.id.desc(),))
    parts = list(db.session.scalars(
        stmt.options(selectinload(OrderPart.lines), joinedload(OrderPart.order).joinedload(Order.buyer))
        .order_by(*order).limit(per_page).offset((page - 1) * per_page)
    ))
    return SalesPage(parts=parts, filter=filter_name, page=page, pages=pages, total=total)


def overdue_invoices(today: date | None = None) -> list[Order]:
    today = today or bogota_date()
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
               Order.placed_at >= bogota_day_start(start), Order.placed_at < bogota_day_start(end + timedelta(days=1)))
    )
    if grade_id is not None:
        stmt = stmt.where(OrderLine.grade_id == grade_id)
    return list(db.session.scalars(stmt))




def group_by_status(parts: list[OrderPart]) -> dict[PartStatus, list[OrderPart]]:
    groups: dict[PartStatus, list[OrderPart]] = defaultdict(list)
    for part in parts:
        groups[part.status].append(part)
    return groups
