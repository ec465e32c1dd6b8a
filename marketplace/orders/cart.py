"""The web cart: quantities a buyer's user intends to order.

Functions take plain values and the acting user, flush, and leave the commit to the caller.
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.catalog import display
from marketplace.catalog.models import Listing
from marketplace.core.errors import DomainError, NotFound
from marketplace.core.models import bogota_date
from marketplace.extensions import db
from marketplace.orders.common import (
    MAX_LINES,
    _kg_text,
    require_can_buy,
)
from marketplace.orders.models import (
    CartItem,
)
from marketplace.orders.placing import (
    _check_listing,
    _line_kg,
)

# --------------------------------------------------------------------- cart


def cart(user: User) -> list[CartItem]:
    return list(db.session.scalars(select(CartItem).where(CartItem.user_id == user.id).order_by(CartItem.id)))


def add_to_cart(actor: User, listing_id: int, quantity: Decimal | None, unit: str | None) -> CartItem:
    require_can_buy(actor)  # pending buyers browse, but do not fill a cart
    listing = _check_listing(db.session.get(Listing, listing_id), bogota_date(), None, "quantity")
    kg = _line_kg(listing, quantity, unit, "quantity")
    if kg > listing.available_kg:
        raise DomainError(_l("De %(product)s quedan %(kg)s.", product=display.product_name(listing.product),
                             kg=_kg_text(listing.available_kg)), "quantity")
    if listing.min_order_kg and kg < listing.min_order_kg and kg < listing.available_kg:
        raise DomainError(_l("El pedido mínimo de %(product)s es %(kg)s.", product=display.product_name(listing.product),
                             kg=_kg_text(listing.min_order_kg)), "quantity")
    if len(cart(actor)) >= MAX_LINES:
        raise DomainError(_l("Un pedido puede tener hasta %(max)d líneas.", max=MAX_LINES), "quantity")
    item = db.session.scalar(select(CartItem).where(CartItem.user_id == actor.id, CartItem.listing_id == listing.id))
    if item is None:
        item = CartItem(user_id=actor.id, listing_id=listing.id)
        db.session.add(item)
    item.quantity, item.unit = quantity, unit or "kg"
    db.session.flush()
    return item


def remove_from_cart(actor: User, item_id: int) -> None:
    item = db.session.get(CartItem, item_id)
    if item is None or item.user_id != actor.id:
        raise NotFound(_l("Esa línea no está en su pedido."))
    db.session.delete(item)
    db.session.flush()
