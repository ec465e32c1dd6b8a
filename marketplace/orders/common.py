"""What every part of ordering shares: roles, fee percentages, rounding, who may see an order
or a part (the one policy for orders and parts), and the order's lock.

Functions take plain values and the acting user, flush, and leave the commit to the caller.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace.accounts.models import Buyer, OrgStatus, Role, User
from marketplace.core.errors import Forbidden, NotFound
from marketplace.extensions import db
from marketplace.orders.models import (
    Dispute,
    Order,
    OrderLine,
    OrderPart,
)

BUYER_ROLES = (Role.BUYER_ADMIN, Role.BUYER_PURCHASER)
COOP_ROLES = (Role.COOP_MANAGER, Role.COOP_MEMBER)
MAX_LINES = 50
MAX_WINDOW_DAYS = 365
PESO = Decimal("1")
CENTS = Decimal("0.01")
HUNDRED = Decimal("100")


def _config(name: str):
    return current_app.config[name]


def fee_percent() -> Decimal:
    return Decimal(str(_config("PLATFORM_FEE_PERCENT")))


def coop_fee_percent() -> Decimal:
    return Decimal(str(_config("COOPERATIVE_FEE_PERCENT")))


def card_enabled() -> bool:
    return bool(_config("STRIPE_SECRET_KEY"))


def _pct(amount: Decimal, percent: Decimal) -> Decimal:
    return (amount * percent / HUNDRED).quantize(PESO, ROUND_HALF_UP)


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; every stored time is UTC."""
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -------------------------------------------------------------- authorisation


def buyer_of(user: User) -> Buyer:
    org = user.organisation
    if not isinstance(org, Buyer) or user.role not in BUYER_ROLES:
        raise Forbidden(_l("Solo las empresas compradoras hacen pedidos."))
    return org


def require_can_buy(user: User) -> Buyer:
    buyer = buyer_of(user)
    if buyer.status != OrgStatus.VERIFIED:
        raise Forbidden(_l("Su empresa debe estar verificada para cotizar y hacer pedidos. "
                           "Complete la verificación en el perfil de su empresa."))
    return buyer


def serves_site(coop_id: int, site_id: int) -> bool:
    """Whether the cooperative has a part of an order delivered to the site: the logistics
    quote policy lets it quote to that site."""
    return db.session.scalar(
        select(OrderPart.id).join(Order, Order.id == OrderPart.order_id)
        .where(OrderPart.cooperative_id == coop_id, Order.delivery_site_id == site_id).limit(1)) is not None


def visible_order(user: User, order_id: int) -> Order:
    """The buyer that placed it, staff, and cooperatives with a part in it see an order."""
    order = db.session.get(Order, order_id)
    if order is None:
        raise NotFound(_l("No encontramos ese pedido."))
    if user.is_staff:
        return order
    org = user.organisation
    if org is not None and user.role in BUYER_ROLES and order.buyer_id == org.id:
        return order
    raise NotFound(_l("No encontramos ese pedido."))


def visible_part(user: User, part_id: int) -> OrderPart:
    part = db.session.get(OrderPart, part_id)
    if part is None:
        raise NotFound(_l("No encontramos ese pedido."))
    if user.is_staff:
        return part
    org = user.organisation
    if org is not None and user.role in COOP_ROLES and part.cooperative_id == org.id:
        return part
    if org is not None and user.role in BUYER_ROLES and part.order.buyer_id == org.id:
        return part
    raise NotFound(_l("No encontramos ese pedido."))



def _kg_text(kg: Decimal) -> str:
    from marketplace.core.formatting import kg as format_kg

    return format_kg(kg)


# ----------------------------------------------------------------------- lock


def lock_order(order_id: int, *, skip_locked: bool = False) -> Order | None:
    """Take the order's row lock and reload the order, its parts and lines as last committed.

    Every change to an order's money or to its parts' status holds this lock first (one
    writer per order), so a decline, a payment, an expiry and a delivery of the same order
    run one after the other and each sees what the one before it wrote. Lock order across
    the code: the order, then its listings in id order (placing takes listings alone).
    With ``skip_locked`` an order another transaction holds gives None instead of waiting
    (the sweep comes back for it). On SQLite every write transaction already runs alone
    (BEGIN IMMEDIATE), and FOR UPDATE is left out.
    """
    order = db.session.scalar(
        select(Order).where(Order.id == order_id).with_for_update(of=Order, skip_locked=skip_locked)
        .execution_options(populate_existing=True))
    if order is None:
        return None
    fresh = {"populate_existing": True}
    db.session.scalars(select(OrderPart).where(OrderPart.order_id == order_id).execution_options(**fresh)).all()
    db.session.scalars(select(OrderLine).join(OrderPart).where(OrderPart.order_id == order_id)
                       .execution_options(**fresh)).all()
    db.session.scalars(select(Dispute).join(OrderLine).join(OrderPart).where(OrderPart.order_id == order_id)
                       .execution_options(**fresh)).all()
    return order
