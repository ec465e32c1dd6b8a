"""Pricing a prospective order and placing it: all lines' stock is taken, or none.

Stock is taken with one conditional UPDATE per listing, in listing-id order:
``available_kg = available_kg - q WHERE available_kg >= q``. The row lock it takes on
PostgreSQL serialises buyers of the same listing, the fixed order prevents deadlocks between
multi-listing orders, and the CHECK constraint ``available_kg >= 0`` is the last word.

Functions take plain values and the acting user, flush, and leave the commit to the caller.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.attributes import set_committed_value

from marketplace.accounts.models import Buyer, Cooperative, DeliverySite, OrgStatus, User
from marketplace.catalog import display, units
from marketplace.catalog.models import Listing, ListingStatus
from marketplace.core import audit
from marketplace.core.errors import Conflict, DomainError
from marketplace.core.models import bogota_date, utcnow
from marketplace.core.text import clean_text, collation_key
from marketplace.core.types import grams
from marketplace.extensions import db
from marketplace.logistics import services as logistics
from marketplace.logistics.models import AccessLeg, RouteDistance
from marketplace.messaging.models import Notice
from marketplace.orders.common import (
    CENTS,
    MAX_LINES,
    MAX_WINDOW_DAYS,
    _config,
    _kg_text,
    _pct,
    card_enabled,
    coop_fee_percent,
    fee_percent,
    require_can_buy,
)
from marketplace.orders.models import (
    CartItem,
    Order,
    OrderLine,
    OrderPart,
    PartEvent,
    PartStatus,
    PaymentMethod,
    PaymentStatus,
    PayoutStatus,
    Quality,
)

# ------------------------------------------------------------------- requests


@dataclass
class LineRequest:
    listing_id: int | None
    quantity: Decimal | None
    unit: str | None = "kg"


def _by_value(quantity) -> str:
    if isinstance(quantity, Decimal) and quantity.is_finite():
        return format(quantity.normalize(), "f")
    return str(quantity)


@dataclass
class OrderRequest:
    lines: list[LineRequest]
    delivery_site_id: int | None
    window_start: date | None
    window_end: date | None
    payment_method: str | None
    note: str | None = None

    def fingerprint(self) -> str:
        """A stable hash of what was asked, to tell a retry from a different request."""
        body = {
            # By value: "100", "100.0" and "100.000" kg are the same request.
            "lines": sorted([[ln.listing_id, _by_value(ln.quantity), ln.unit] for ln in self.lines]),
            "site": self.delivery_site_id, "start": str(self.window_start), "end": str(self.window_end),
            "payment": self.payment_method, "note": self.note or "",
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class QuotedLine:
    listing: Listing
    quantity: Decimal  # as asked, in ``unit``
    unit: str
    quantity_kg: Decimal
    amount: Decimal
    price_per_kg: Decimal | None = None  # the listing's, unless a demand's offer agreed another

    def __post_init__(self):
        if self.price_per_kg is None:
            self.price_per_kg = self.listing.price_per_kg


@dataclass
class QuotedPart:
    cooperative: Cooperative
    lines: list[QuotedLine] = field(default_factory=list)
    goods: Decimal = Decimal("0")
    logistics: Decimal = Decimal("0")
    logistics_mode: str | None = None
    road_km: Decimal | None = None
    fee: Decimal = Decimal("0")

    @property
    def total(self) -> Decimal:
        return self.goods + self.logistics + self.fee

    @property
    def kg(self) -> Decimal:
        return sum((ln.quantity_kg for ln in self.lines), Decimal("0"))

    @property
    def landed_per_kg(self) -> Decimal:
        return ((self.goods + self.logistics) / self.kg).quantize(CENTS, ROUND_HALF_UP)


@dataclass
class Quote:
    site: DeliverySite
    parts: list[QuotedPart]
    fee_percent: Decimal

    @property
    def goods(self) -> Decimal:
        return sum((p.goods for p in self.parts), Decimal("0"))

    @property
    def logistics(self) -> Decimal:
        return sum((p.logistics for p in self.parts), Decimal("0"))

    @property
    def fee(self) -> Decimal:
        return sum((p.fee for p in self.parts), Decimal("0"))

    @property
    def total(self) -> Decimal:
        return self.goods + self.logistics + self.fee

    @property
    def kg(self) -> Decimal:
        return sum((p.kg for p in self.parts), Decimal("0"))


ORDER_UNITS_FIXED = units.FIXED_UNITS


def order_units(listing: Listing) -> list[str]:
    """Units a buyer may order a listing in (``units.order_units``: the same list the
    listing form offers, with the listing's own unit)."""
    return units.order_units(listing.unit, listing.product.usual_units)


def _line_kg(listing: Listing, quantity: Decimal | None, unit: str | None, field_name: str) -> Decimal:
    if quantity is None:
        raise DomainError(_l("Escriba la cantidad."), field_name)
    unit = unit or "kg"
    if unit not in order_units(listing):
        raise DomainError(_l("Esta oferta se pide en kg, arrobas, cargas, toneladas o en su propia unidad."),
                          field_name)
    try:
        kg = units.to_kg(quantity, unit, listing.unit_kg if units.UNITS[unit].needs_weight else None)
    except units.UnitError as exc:
        raise DomainError(_l("La cantidad debe ser mayor que cero."), field_name) from exc
    return kg


def _check_listing(listing: Listing | None, today: date, window_end: date | None, field_name: str,
                   seller: Cooperative | None = None) -> Listing:
    if listing is None:
        raise DomainError(_l("Esa oferta no existe."), field_name)
    if listing.status != ListingStatus.ACTIVE:
        raise DomainError(_l("La oferta de %(product)s ya no está activa.", product=display.product_name(listing.product)), field_name)
    if listing.available_until < today:
        raise DomainError(_l("La oferta de %(product)s venció.", product=display.product_name(listing.product)), field_name)
    if window_end is not None and listing.available_from > window_end:
        raise DomainError(_l("La oferta de %(product)s estará disponible después de la ventana de entrega.",
                             product=display.product_name(listing.product)), field_name)
    seller = seller or db.session.get(Cooperative, listing.cooperative_id)
    if seller is None or seller.status != OrgStatus.VERIFIED:
        raise DomainError(_l("La cooperativa de esa oferta no puede vender ahora."), field_name)
    return listing


def check_delivery_site(buyer: Buyer, site_id: int | None) -> DeliverySite:
    return _usable_site(buyer, db.session.get(DeliverySite, site_id) if site_id else None)


def _usable_site(buyer: Buyer, site: DeliverySite | None) -> DeliverySite:
    if site is None or site.buyer_id != buyer.id or not site.active:
        raise DomainError(_l("Elija uno de los sitios de entrega de su empresa."), "delivery_site")
    return site


def check_delivery_window(start: date | None, end: date | None, today: date) -> None:
    if start is None or end is None:
        raise DomainError(_l("Escriba la ventana de entrega (desde y hasta)."), "window_start")
    if start < today:
        raise DomainError(_l("La entrega no puede empezar en el pasado."), "window_start")
    if end < start:
        raise DomainError(_l("«Entregar hasta» debe ser igual o posterior a «entregar desde»."), "window_end")
    if (end - today).days > MAX_WINDOW_DAYS:
        raise DomainError(_l("La entrega debe ser dentro de un año."), "window_end")


@dataclass(frozen=True)
class Pickup:
    id: int
    name: str
    latitude: Decimal
    longitude: Decimal


def _logistics(part: QuotedPart, site: DeliverySite, quoter: logistics.Quoter) -> None:
    """Estimate moving each collection point's kilos to the site: its first-mile legs, then
    the cheapest road vehicle over the known or estimated road distance."""
    by_point: dict[int, tuple[Listing, Decimal]] = {}
    for ln in part.lines:
        listing, kg = by_point.get(ln.listing.collection_point_id, (ln.listing, Decimal("0")))
        by_point[ln.listing.collection_point_id] = (listing, kg + ln.quantity_kg)
    total = Decimal("0")
    longest = Decimal("0")
    modes = set()
    for point_id, (listing, kg) in by_point.items():
        quoted = quoter.quote(Pickup(point_id, "", listing.latitude, listing.longitude), site, kg)
        total += quoted.total_cop
        longest = max(longest, quoted.road_km)
        modes.add(quoted.main_mode)
    part.logistics = total
    part.road_km = longest
    part.logistics_mode = modes.pop() if len(modes) == 1 else "mixed"


# What a quote reads, in one round trip: the delivery site; the listings asked for, with their
# sellers; and for each listing's collection point, its known road distance to the site and
# its first-mile legs (a row per leg, at most a few). No row: no such site; a row without a
# listing: none of the ids is one. Every quote and order runs it, so it is built once (its
# cache key too). Legs' modes come from the quoter's active modes, not from a join.
_SITE_AND_LISTINGS = (
    select(DeliverySite, Listing, Cooperative, RouteDistance, AccessLeg).select_from(DeliverySite)
    .outerjoin(Listing, Listing.id.in_(bindparam("ids", expanding=True)))
    .outerjoin(Cooperative, Cooperative.id == Listing.cooperative_id)
    .outerjoin(RouteDistance, and_(RouteDistance.collection_point_id == Listing.collection_point_id,
                                   RouteDistance.delivery_site_id == DeliverySite.id))
    .outerjoin(AccessLeg, AccessLeg.collection_point_id == Listing.collection_point_id)
    .where(DeliverySite.id == bindparam("site"))
    .options(lazyload(DeliverySite.municipality), lazyload(Listing.municipality), lazyload(Cooperative.municipality),
             lazyload(AccessLeg.mode))
)


def quote(actor: User, request: OrderRequest, today: date | None = None,
          agreed_prices: dict[int, Decimal] | None = None) -> Quote:
    """Price a prospective order without taking stock: goods, logistics and fee per cooperative.

    ``agreed_prices`` (listing id -> COP per kg) come from an accepted demand proposal: the
    price a cooperative offered for that demand, and a quantity the optimiser already held to
    the cooperative's minimum lot. Only services pass them, never a buyer's request.
    """
    agreed_prices = agreed_prices or {}
    today = today or bogota_date()
    buyer = require_can_buy(actor)  # pending buyers browse, but do not quote
    rows = []
    if request.delivery_site_id:
        wanted = [ln.listing_id for ln in request.lines if ln.listing_id]
        rows = db.session.execute(_SITE_AND_LISTINGS, {"site": request.delivery_site_id, "ids": wanted}).unique().all()
    site = _usable_site(buyer, rows[0].DeliverySite if rows else None)
    if request.window_start is not None or request.window_end is not None:
        check_delivery_window(request.window_start, request.window_end, today)
    if not request.lines:
        raise DomainError(_l("Agregue al menos una oferta al pedido."), "lines")
    if len(request.lines) > MAX_LINES:
        raise DomainError(_l("Un pedido puede tener hasta %(max)d líneas.", max=MAX_LINES), "lines")
    seen: set[int] = set()
    parts: dict[int, QuotedPart] = {}
    percent = fee_percent()
    listings: dict[int, Listing] = {}
    sellers: dict[int, Cooperative] = {}
    distances: dict[tuple[int, int], RouteDistance] = {}
    legs: dict[int, dict[int, AccessLeg]] = {}
    for _site, item, seller, distance, leg in rows:
        if item is not None:
            listings[item.id], sellers[seller.id] = item, seller
        if distance is not None:
            distances[distance.collection_point_id, distance.delivery_site_id] = distance
        if leg is not None:
            legs.setdefault(leg.collection_point_id, {})[leg.id] = leg
    for index, ln in enumerate(request.lines):
        name = f"lines.{index}"
        if ln.listing_id in seen:
            raise DomainError(_l("Cada oferta puede aparecer una sola vez en el pedido."), name)
        seen.add(ln.listing_id)
        candidate = listings.get(ln.listing_id)
        listing = _check_listing(candidate, today, request.window_end, name,
                                 sellers.get(candidate.cooperative_id) if candidate else None)
        kg = _line_kg(listing, ln.quantity, ln.unit, name)
        if kg > listing.available_kg:
            # 409 like a reservation lost to another buyer: the same shortage, whether it
            # shows up here or in the conditional UPDATE that takes the stock.
            raise Conflict(_l("De %(product)s quedan %(kg)s.", product=display.product_name(listing.product),
                              kg=_kg_text(listing.available_kg)), name)
        agreed = agreed_prices.get(listing.id)
        if agreed is None and listing.min_order_kg and kg < listing.min_order_kg and kg < listing.available_kg:
            raise DomainError(_l("El pedido mínimo de %(product)s es %(kg)s.", product=display.product_name(listing.product),
                                 kg=_kg_text(listing.min_order_kg)), name)
        price = listing.price_per_kg if agreed is None else agreed
        amount = (kg * price).quantize(CENTS, ROUND_HALF_UP)
        coop = sellers[listing.cooperative_id]
        part = parts.setdefault(coop.id, QuotedPart(cooperative=coop))
        part.lines.append(QuotedLine(listing, ln.quantity, ln.unit or "kg", kg, amount, price))
        part.goods += amount
    quoter = logistics.Quoter(logistics.active_modes(), distances, {
        point: sorted(by_id.values(), key=attrgetter("position")) for point, by_id in legs.items()})
    for part in parts.values():
        _logistics(part, site, quoter)
        part.fee = _pct(part.goods, percent)
    by_name = collation_key("es")  # cooperatives in Spanish alphabetical order, in either language
    return Quote(site=site, parts=sorted(parts.values(), key=lambda p: by_name(p.cooperative.name)),
                 fee_percent=percent)




def landed_prices(actor: User, listings: list[Listing], site_id: int,
                  wanted_kg: Decimal | None = None) -> dict[int, tuple[Decimal, Decimal]]:
    """Each listing's landed price per kg at a delivery site (goods plus logistics, the fee
    apart), as the cart quotes that listing alone: ``{listing id: (COP per kg, kg quoted)}``.
    The kilos quoted are ``wanted_kg`` (a buyer's search filter) or the whole lot available,
    within the listing's minimum order. A listing that cannot be quoted is left out."""
    prices: dict[int, tuple[Decimal, Decimal]] = {}
    try:
        require_can_buy(actor)  # a pending buyer browses without quotes
    except DomainError:
        return prices
    for listing in listings:
        kg = min(wanted_kg, listing.available_kg) if wanted_kg else listing.available_kg
        if listing.min_order_kg:
            kg = min(max(kg, listing.min_order_kg), listing.available_kg)
        try:
            quoted = quote(actor, OrderRequest([LineRequest(listing.id, kg, "kg")], site_id, None, None, None))
        except DomainError:
            continue
        prices[listing.id] = (quoted.parts[0].landed_per_kg, kg)
    return prices


# ------------------------------------------------------------------- placing


def _take_stock_statement():
    listing = Listing.__table__
    kg = bindparam("kg", type_=listing.c.available_kg.type)
    return (update(listing)
            .where(listing.c.id == bindparam("listing_id"), grams(listing.c.available_kg) >= kg,
                   listing.c.status == ListingStatus.ACTIVE, listing.c.available_until >= bindparam("today"))
            .values(available_kg=grams(listing.c.available_kg - kg)))


# Built once (its cache key too): every line of every order runs it. A plain table UPDATE:
# nothing in the session is synchronised with it.
_TAKE_STOCK = _take_stock_statement()


def _take_stock(listing_id: int, kg: Decimal, today: date) -> bool:
    result = db.session.execute(_TAKE_STOCK, {"listing_id": listing_id, "kg": kg, "today": today})
    return result.rowcount == 1


def _loaded(obj, **related):
    """``obj`` with the related objects it is written with set as if loaded with it: the order
    as placed is complete in memory, so the answer reads nothing back (a new line has no
    dispute; a new part, its placing event), and the flush writes the foreign keys set beside
    them with no relationship to synchronise."""
    for name, value in related.items():
        set_committed_value(obj, name, value)
    return obj


def find_by_idempotency_key(buyer_id: int, key: str) -> Order | None:
    return db.session.scalar(select(Order).where(Order.buyer_id == buyer_id, Order.idempotency_key == key))


def place_order(actor: User, request: OrderRequest, *, idempotency_key: str | None = None,
                now: datetime | None = None, from_cart: bool = False,
                agreed_prices: dict[int, Decimal] | None = None, notify_kind: str = "new_order") -> Order:
    """Place an order: all lines' stock is taken, or none and nothing is written.

    With an ``idempotency_key``, the same key and request give back the same order; the
    same key with a different request is refused. ``agreed_prices`` and ``notify_kind``
    are for orders made from a demand's proposal (see ``quote``).
    """
    extra = {"agreed_prices": agreed_prices, "notify_kind": notify_kind}
    buyer = require_can_buy(actor)
    fingerprint = request.fingerprint()
    if idempotency_key is None:
        return _place_new(actor, buyer, request, None, fingerprint, now, from_cart, **extra)
    key = idempotency_key.strip()
    if not key or len(key) > 100:
        raise DomainError(_l("La clave de idempotencia debe tener entre 1 y 100 caracteres."), "Idempotency-Key",
                          status_code=400)
    # Optimistic: a key is almost always new, so place the order and let the unique
    # constraint on (buyer, key) catch a retry, even one racing the first request (the
    # second INSERT waits for the first to commit, then fails). A retry that would now be
    # refused (stock gone, dates passed) still gets its order back.
    try:
        return _place_new(actor, buyer, request, key, fingerprint, now, from_cart, **extra)
    except (DomainError, IntegrityError):
        db.session.rollback()
        existing = find_by_idempotency_key(buyer.id, key)
        if existing is None:
            raise
    if existing.request_hash != fingerprint:
        raise Conflict(_l("Esa clave de idempotencia ya se usó con otro pedido."))
    return existing


def _place_new(actor: User, buyer: Buyer, request: OrderRequest, idempotency_key: str | None, fingerprint: str,
               now: datetime | None, from_cart: bool, agreed_prices: dict[int, Decimal] | None = None,
               notify_kind: str = "new_order") -> Order:
    now = now or utcnow()
    today = bogota_date(now)
    check_delivery_window(request.window_start, request.window_end, today)
    method = request.payment_method
    if method not in (PaymentMethod.CARD.value, PaymentMethod.INVOICE.value):
        raise DomainError(_l("Elija cómo pagará: tarjeta o factura."), "payment_method")
    if method == PaymentMethod.CARD and not card_enabled():
        raise DomainError(_l("El pago con tarjeta no está disponible; elija factura."), "payment_method")
    note = clean_text(request.note) or None
    if note and len(note) > 1000:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=1000), "note")
    priced = quote(actor, request, today, agreed_prices)

    ordered = sorted((ln for p in priced.parts for ln in p.lines), key=lambda ln: ln.listing.id)
    for ln in ordered:
        if not _take_stock(ln.listing.id, ln.quantity_kg, today):
            db.session.rollback()
            raise Conflict(_l("No hay suficiente cantidad de %(product)s: otro comprador la tomó. Revise su pedido.",
                              product=display.product_name(ln.listing.product)))

    respond_by = now + timedelta(hours=_config("ORDER_ACCEPT_HOURS"))
    order = Order(
        buyer_id=buyer.id, delivery_site_id=priced.site.id, placed_by_id=actor.id, placed_at=now,
        window_start=request.window_start, window_end=request.window_end, note=note,
        payment_method=PaymentMethod(method), payment_status=PaymentStatus.PENDING,
        fee_percent=priced.fee_percent, goods_total=priced.goods, logistics_total=priced.logistics,
        fee_total=priced.fee, total=priced.total, amount_paid=Decimal("0"), refunded_total=Decimal("0"),
        idempotency_key=idempotency_key, request_hash=fingerprint, parts=[],
    )
    if order.payment_method == PaymentMethod.CARD:
        order.pay_by = now + timedelta(minutes=_config("CARD_PAYMENT_MINUTES"))
    else:
        order.invoice_due_date = today + timedelta(days=_config("INVOICE_TERMS_DAYS"))
    db.session.add(order)
    coop_percent = coop_fee_percent()
    created: list[OrderPart] = []
    for quoted in priced.parts:
        part = _loaded(OrderPart(
            order=order, cooperative_id=quoted.cooperative.id, lines=[], status=PartStatus.PLACED,
            respond_by=respond_by, goods_amount=quoted.goods, logistics_estimate=quoted.logistics,
            logistics_mode=quoted.logistics_mode, road_km=quoted.road_km, fee_amount=quoted.fee,
            coop_fee_percent=coop_percent, logistics_borne=Decimal("0"), payout_status=PayoutStatus.PENDING,
            updated_at=now,
        ), cooperative=quoted.cooperative)
        db.session.add(part)
        created.append(part)
        for ln in quoted.lines:
            listing = ln.listing
            part.lines.append(_loaded(OrderLine(
                listing_id=listing.id, product_id=listing.product_id, grade_id=listing.grade_id,
                municipality_code=listing.municipality_code, collection_point_id=listing.collection_point_id,
                quantity_kg=ln.quantity_kg, unit=ln.unit, unit_kg=units.unit_weight(
                    ln.unit, listing.unit_kg if units.UNITS[ln.unit].needs_weight else None),
                price_per_kg=ln.price_per_kg, quality=Quality.PENDING,
            ), product=listing.product, grade=listing.grade, dispute=None))
    db.session.flush()  # one batched INSERT for the parts, one for the lines
    # Each cooperative is told of its own part (``orders.messages``), by the messaging worker:
    # placing waits on no provider. The notices nothing reads back: one plain multi-row INSERT.
    db.session.execute(Notice.__table__.insert(), [
        {"kind": notify_kind, "subject_id": part.id, "organisation_id": part.cooperative_id, "created_at": now,
         "attempts": 0} for part in created])
    if from_cart:  # the web cart's lines are now ordered
        db.session.execute(
            CartItem.__table__.delete().where(CartItem.user_id == actor.id,
                                              CartItem.listing_id.in_([ln.listing.id for ln in ordered]))
        )
    # The events and the audit event share the last flush.
    for part in created:
        placed = PartEvent(part_id=part.id, from_status=None, to_status=PartStatus.PLACED.value,
                           actor_id=actor.id, occurred_at=now, note=None)
        db.session.add(placed)
        _loaded(part, events=[placed])
    audit.record("order.placed", "order", order.id, actor=actor, organisation_id=buyer.id,
                 after={"total": str(order.total), "payment_method": order.payment_method.value,
                        "parts": [p.cooperative_id for p in created],
                        "lines": [[ln.listing.id, str(ln.quantity_kg)] for ln in ordered]})
    db.session.flush()
    return order
