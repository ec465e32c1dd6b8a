"""Order services: the one way to place an order, move its parts through their lifecycle,
take and return stock, and work out refunds and what each cooperative is owed.

Functions take plain values and the acting user, flush, and leave the commit to the caller.
Calls to Stripe and e-mail happen at the edge, after the commit (see ``payments`` and
``notifications``).

Stock is taken with one conditional UPDATE per listing, in listing-id order:
``available_kg = available_kg - q WHERE available_kg >= q``. The row lock it takes on
PostgreSQL serialises buyers of the same listing, the fixed order prevents deadlocks between
multi-listing orders, and the CHECK constraint ``available_kg >= 0`` is the last word. Parts
change status with a conditional UPDATE too, so a decline racing an expiry returns the
stock exactly once.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, lazyload, selectinload

from marketplace.accounts.models import Buyer, Cooperative, DeliverySite, OrgStatus, Role, User
from marketplace.catalog import units
from marketplace.catalog.models import Listing, ListingStatus
from marketplace.core import audit
from marketplace.core.errors import Conflict, DomainError, Forbidden, NotFound
from marketplace.core.models import bogota_date, utcnow
from marketplace.core.text import clean_text
from marketplace.extensions import db
from marketplace.logistics import services as logistics
from marketplace.orders.models import (
    CLOSED_WITHOUT_SALE,
    CartItem,
    Dispute,
    DisputeStatus,
    Notification,
    Order,
    OrderLine,
    OrderPart,
    PartEvent,
    PartStatus,
    PaymentMethod,
    PaymentStatus,
    PayoutStatus,
    Quality,
    Refund,
    SaleChange,
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
        raise Forbidden(_l("Su empresa debe estar verificada para hacer pedidos."))
    return buyer


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


# ------------------------------------------------------------------- requests


@dataclass
class LineRequest:
    listing_id: int | None
    quantity: Decimal | None
    unit: str | None = "kg"


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
            "lines": sorted([[ln.listing_id, str(ln.quantity), ln.unit] for ln in self.lines]),
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


ORDER_UNITS_FIXED = ("kg", "arroba", "carga", "tonelada")


def order_units(listing: Listing) -> list[str]:
    """Units a buyer may order a listing in: kg and the fixed units, plus the listing's own."""
    codes = list(ORDER_UNITS_FIXED)
    if listing.unit not in codes:
        codes.append(listing.unit)
    return codes


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
        raise DomainError(_l("La oferta de %(product)s ya no está activa.", product=listing.product.name), field_name)
    if listing.available_until < today:
        raise DomainError(_l("La oferta de %(product)s venció.", product=listing.product.name), field_name)
    if window_end is not None and listing.available_from > window_end:
        raise DomainError(_l("La oferta de %(product)s estará disponible después de la ventana de entrega.",
                             product=listing.product.name), field_name)
    seller = seller or db.session.get(Cooperative, listing.cooperative_id)
    if seller is None or seller.status != OrgStatus.VERIFIED:
        raise DomainError(_l("La cooperativa de esa oferta no puede vender ahora."), field_name)
    return listing


def check_delivery_site(buyer: Buyer, site_id: int | None) -> DeliverySite:
    site = db.session.get(DeliverySite, site_id) if site_id else None
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


def quote(actor: User, request: OrderRequest, today: date | None = None,
          agreed_prices: dict[int, Decimal] | None = None) -> Quote:
    """Price a prospective order without taking stock: goods, logistics and fee per cooperative.

    ``agreed_prices`` (listing id -> COP per kg) come from an accepted demand proposal: the
    price a cooperative offered for that demand, and a quantity the optimiser already held to
    the cooperative's minimum lot. Only services pass them, never a buyer's request.
    """
    agreed_prices = agreed_prices or {}
    today = today or date.today()
    buyer = buyer_of(actor)
    site = check_delivery_site(buyer, request.delivery_site_id)
    if request.window_start is not None or request.window_end is not None:
        check_delivery_window(request.window_start, request.window_end, today)
    if not request.lines:
        raise DomainError(_l("Agregue al menos una oferta al pedido."), "lines")
    if len(request.lines) > MAX_LINES:
        raise DomainError(_l("Un pedido puede tener hasta %(max)d líneas.", max=MAX_LINES), "lines")
    seen: set[int] = set()
    parts: dict[int, QuotedPart] = {}
    percent = fee_percent()
    # Two queries for all the lines' listings and their cooperatives.
    wanted = {ln.listing_id for ln in request.lines if ln.listing_id}
    listings: dict[int, Listing] = {}
    sellers: dict[int, Cooperative] = {}
    if wanted:
        rows = db.session.execute(
            select(Listing, Cooperative).join(Cooperative, Cooperative.id == Listing.cooperative_id)
            .where(Listing.id.in_(wanted)).options(lazyload(Cooperative.municipality))).unique()
        for item, seller in rows:
            listings[item.id], sellers[seller.id] = item, seller
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
            raise Conflict(_l("De %(product)s quedan %(kg)s.", product=listing.product.name,
                              kg=_kg_text(listing.available_kg)), name)
        agreed = agreed_prices.get(listing.id)
        if agreed is None and listing.min_order_kg and kg < listing.min_order_kg and kg < listing.available_kg:
            raise DomainError(_l("El pedido mínimo de %(product)s es %(kg)s.", product=listing.product.name,
                                 kg=_kg_text(listing.min_order_kg)), name)
        price = listing.price_per_kg if agreed is None else agreed
        amount = (kg * price).quantize(CENTS, ROUND_HALF_UP)
        coop = sellers[listing.cooperative_id]
        part = parts.setdefault(coop.id, QuotedPart(cooperative=coop))
        part.lines.append(QuotedLine(listing, ln.quantity, ln.unit or "kg", kg, amount, price))
        part.goods += amount
    quoter = logistics.Quoter.load({item.collection_point_id for item in listings.values()}, [site.id])
    for part in parts.values():
        _logistics(part, site, quoter)
        part.fee = _pct(part.goods, percent)
    return Quote(site=site, parts=sorted(parts.values(), key=lambda p: p.cooperative.name), fee_percent=percent)


def _kg_text(kg: Decimal) -> str:
    from marketplace.core.formatting import kg as format_kg

    return format_kg(kg)


# ------------------------------------------------------------------- placing


def _take_stock(listing_id: int, kg: Decimal, today: date) -> bool:
    result = db.session.execute(
        update(Listing)
        .where(Listing.id == listing_id, Listing.available_kg >= kg, Listing.status == ListingStatus.ACTIVE,
               Listing.available_until >= today)
        .values(available_kg=Listing.available_kg - kg)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _return_stock(listing_id: int, kg: Decimal) -> None:
    # A cooperative may have lowered the lot's quantity meanwhile; never above it.
    db.session.execute(
        update(Listing)
        .where(Listing.id == listing_id)
        .values(available_kg=case(
            (Listing.available_kg + kg > Listing.quantity_kg, Listing.quantity_kg),
            else_=Listing.available_kg + kg))
        .execution_options(synchronize_session=False)
    )


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
        order = _place_new(actor, buyer, request, key, fingerprint, now, from_cart, **extra)
        db.session.flush()
        return order
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
                              product=ln.listing.product.name))

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
        part = OrderPart(
            order=order, cooperative_id=quoted.cooperative.id, cooperative=quoted.cooperative, lines=[], status=PartStatus.PLACED, respond_by=respond_by,
            goods_amount=quoted.goods, logistics_estimate=quoted.logistics, logistics_mode=quoted.logistics_mode,
            road_km=quoted.road_km, fee_amount=quoted.fee, coop_fee_percent=coop_percent,
            logistics_borne=Decimal("0"), payout_status=PayoutStatus.PENDING, updated_at=now,
        )
        db.session.add(part)
        created.append(part)
        for ln in quoted.lines:
            listing = ln.listing
            part.lines.append(OrderLine(
                listing_id=listing.id, product_id=listing.product_id, grade_id=listing.grade_id,
                product=listing.product, grade=listing.grade, municipality=listing.municipality,
                municipality_code=listing.municipality_code, collection_point_id=listing.collection_point_id,
                quantity_kg=ln.quantity_kg, unit=ln.unit, unit_kg=units.unit_weight(
                    ln.unit, listing.unit_kg if units.UNITS[ln.unit].needs_weight else None),
                price_per_kg=ln.price_per_kg, quality=Quality.PENDING,
            ))
    db.session.flush()  # one batched INSERT for the parts, one for the lines
    # Rows nothing here reads back: plain multi-row INSERTs, no unit-of-work bookkeeping.
    db.session.execute(insert(PartEvent), [
        {"part_id": part.id, "from_status": None, "to_status": PartStatus.PLACED.value, "actor_id": actor.id,
         "occurred_at": now, "note": None} for part in created])
    db.session.execute(insert(Notification), [
        {"kind": notify_kind, "part_id": part.id, "created_at": now, "attempts": 0} for part in created])
    if from_cart:  # the web cart's lines are now ordered
        db.session.execute(
            CartItem.__table__.delete().where(CartItem.user_id == actor.id,
                                              CartItem.listing_id.in_([ln.listing.id for ln in ordered]))
        )
    audit.record("order.placed", "order", order.id, actor=actor, organisation_id=buyer.id,
                 after={"total": str(order.total), "payment_method": order.payment_method.value,
                        "parts": [p.cooperative_id for p in created],
                        "lines": [[ln.listing.id, str(ln.quantity_kg)] for ln in ordered]})
    return order


# --------------------------------------------------------------- transitions


@dataclass(frozen=True)
class Transition:
    source: tuple[PartStatus, ...]
    target: PartStatus
    who: tuple[str, ...]  # "coop", "buyer", "staff", "system"


TRANSITIONS: dict[str, Transition] = {
    "accept": Transition((PartStatus.PLACED,), PartStatus.ACCEPTED, ("coop",)),
    "decline": Transition((PartStatus.PLACED,), PartStatus.DECLINED, ("coop",)),
    "expire": Transition((PartStatus.PLACED,), PartStatus.EXPIRED, ("system",)),
    "ready": Transition((PartStatus.ACCEPTED,), PartStatus.READY, ("coop",)),
    "ship": Transition((PartStatus.READY,), PartStatus.IN_TRANSIT, ("coop", "staff", "carrier")),
    "deliver": Transition((PartStatus.IN_TRANSIT, PartStatus.READY), PartStatus.DELIVERED, ("buyer",)),
    "settle": Transition((PartStatus.DELIVERED,), PartStatus.SETTLED, ("staff",)),
    # Before the produce leaves: the buyer until it is ready, the cooperative once it has
    # accepted (a lost harvest), staff and the system (an unpaid card order) too.
    "cancel": Transition((PartStatus.PLACED, PartStatus.ACCEPTED), PartStatus.CANCELLED,
                         ("buyer", "coop", "staff", "system")),
}
# Transitions the buyer hears about by e-mail (the cooperative hears of each new order).
NOTIFIED_ACTIONS = frozenset({"accept", "decline", "expire", "ready", "deliver"})
STATUS_LABELS = {
    PartStatus.PLACED: _l("Recibido, esperando respuesta"),
    PartStatus.ACCEPTED: _l("Aceptado"),
    PartStatus.DECLINED: _l("Rechazado por la cooperativa"),
    PartStatus.EXPIRED: _l("Vencido sin respuesta"),
    PartStatus.READY: _l("Listo para recoger"),
    PartStatus.IN_TRANSIT: _l("En camino"),
    PartStatus.DELIVERED: _l("Entregado"),
    PartStatus.SETTLED: _l("Liquidado (pagado a la cooperativa)"),
    PartStatus.CANCELLED: _l("Cancelado"),
}
ILLEGAL = {
    "accept": _l("Solo se puede aceptar un pedido recién recibido."),
    "decline": _l("Solo se puede rechazar un pedido recién recibido."),
    "expire": _l("Solo vence un pedido sin respuesta."),
    "ready": _l("Primero acepte el pedido; después márquelo listo para recoger."),
    "ship": _l("Solo sale en camino un pedido listo para recoger."),
    "deliver": _l("Solo se recibe un pedido listo o en camino."),
    "settle": _l("Solo se liquida un pedido entregado."),
    "cancel": _l("Este pedido ya no se puede cancelar: la cosecha ya está lista o en camino."),
}


def _role_of(actor: User | None, part: OrderPart) -> str | None:
    if actor is None:
        return "system"
    org = actor.organisation
    if actor.is_admin:
        return "staff"
    if org is not None and actor.role in COOP_ROLES and part.cooperative_id == org.id:
        return "coop"
    if org is not None and actor.role in BUYER_ROLES and part.order.buyer_id == org.id:
        return "buyer"
    if org is not None and actor.role == Role.CARRIER_MANAGER and _carries(org.id, part):
        return "carrier"
    return None


def _carries(carrier_id: int, part: OrderPart) -> bool:
    from marketplace.logistics.models import Shipment, ShipmentPart

    return db.session.scalar(select(Shipment.id).join(ShipmentPart).where(
        ShipmentPart.part_id == part.id, Shipment.carrier_id == carrier_id)) is not None


def _move(part: OrderPart, action: str, actor: User | None, now: datetime, note: str | None = None) -> PartStatus:
    """Apply a transition if the part is still where it must be; refuse otherwise."""
    rule = TRANSITIONS[action]
    role = _role_of(actor, part)
    if role is None:
        raise NotFound(_l("No encontramos ese pedido."))
    if role not in rule.who:
        raise Forbidden(_l("Usted no puede hacer ese cambio en este pedido."))
    previous = part.status
    result = db.session.execute(
        update(OrderPart)
        .where(OrderPart.id == part.id, OrderPart.status.in_(rule.source))
        .values(status=rule.target, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(part)
        raise Conflict(ILLEGAL[action])
    db.session.refresh(part)
    db.session.add(SaleChange(part_id=part.id, changed_at=now))
    db.session.add(PartEvent(part_id=part.id, from_status=previous.value, to_status=rule.target.value,
                             actor_id=actor.id if actor else None, occurred_at=now, note=note))
    audit.record(f"order_part.{action}", "order_part", part.id, actor=actor,
                 organisation_id=part.cooperative_id,
                 before={"status": previous.value}, after={"status": rule.target.value}, note=note)
    if action in NOTIFIED_ACTIONS:
        db.session.add(Notification(kind=action, part_id=part.id, created_at=now))
    if rule.target in CLOSED_WITHOUT_SALE:
        # In listing-id order, as placement takes it, so the row locks never form a cycle.
        for line in sorted(part.lines, key=lambda ln: ln.listing_id):
            _return_stock(line.listing_id, line.quantity_kg)
        part.payout_status = PayoutStatus.NONE
        _close_order_if_empty(part.order)
        plan_refunds(part.order)
    return rule.target


def _close_order_if_empty(order: Order) -> None:
    db.session.refresh(order)
    if all(p.status in CLOSED_WITHOUT_SALE for p in order.parts) and order.payment_status in (
            PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.FAILED):
        order.payment_status = PaymentStatus.CANCELLED


def accept(actor: User, part: OrderPart, now: datetime | None = None) -> None:
    _move(part, "accept", actor, now or utcnow())


def decline(actor: User, part: OrderPart, reason: str | None, now: datetime | None = None) -> None:
    reason = clean_text(reason) or None
    if reason and len(reason) > 500:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=500), "reason")
    _move(part, "decline", actor, now or utcnow(), note=reason)
    part.decline_reason = reason


def mark_ready(actor: User, part: OrderPart, now: datetime | None = None) -> None:
    order = part.order
    if order.payment_method == PaymentMethod.CARD and order.payment_status != PaymentStatus.PAID:
        raise Conflict(_l("El comprador aún no ha pagado con tarjeta; espere el pago antes de alistar."))
    _move(part, "ready", actor, now or utcnow())


def ship(actor: User, part: OrderPart, logistics_borne: Decimal | None = None, now: datetime | None = None) -> None:
    if logistics_borne is not None and not Decimal("0") <= logistics_borne <= Decimal("1000000000"):
        raise DomainError(_l("Escriba un costo de transporte entre 0 y 1.000 millones."), "logistics_borne")
    _move(part, "ship", actor, now or utcnow())
    if logistics_borne is not None:
        part.logistics_borne = logistics_borne.quantize(CENTS, ROUND_HALF_UP)


def cancel(actor: User, part: OrderPart, reason: str | None = None, now: datetime | None = None) -> None:
    reason = clean_text(reason) or None
    if reason and len(reason) > 500:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=500), "reason")
    _move(part, "cancel", actor, now or utcnow(), note=reason)


@dataclass
class Receipt:
    line_id: int
    received_kg: Decimal | None
    accepted: bool = True
    reason: str | None = None
    photo_key: str | None = None


def record_delivery(actor: User, part: OrderPart, receipts: list[Receipt], now: datetime | None = None) -> None:
    """The buyer records what arrived: kilos and quality per line. A shortfall re-prices the
    line; a rejection opens a dispute for staff."""
    now = now or utcnow()
    by_id = {ln.id: ln for ln in part.lines}
    if {r.line_id for r in receipts} != set(by_id) or len(receipts) != len(by_id):
        raise DomainError(_l("Registre lo recibido en cada línea del pedido."), "lines")
    for r in receipts:
        line = by_id[r.line_id]
        name = f"line-{line.id}"
        if r.received_kg is None:
            raise DomainError(_l("Escriba los kg recibidos."), name)
        if r.received_kg < 0 or r.received_kg > line.quantity_kg:
            raise DomainError(_l("Los kg recibidos deben estar entre 0 y %(kg)s.", kg=_kg_text(line.quantity_kg)),
                              name)
        if not r.accepted:
            reason = clean_text(r.reason)
            if not reason:
                raise DomainError(_l("Diga por qué rechaza la calidad."), name)
            if len(reason) > 1000:
                raise DomainError(_l("Máximo %(max)d caracteres.", max=1000), name)
    _move(part, "deliver", actor, now)
    for r in receipts:
        line = by_id[r.line_id]
        line.received_kg = r.received_kg.quantize(units.KG_STEP, ROUND_HALF_UP)
        if r.accepted:
            line.quality = Quality.ACCEPTED
        else:
            line.quality = Quality.REJECTED
            line.rejection_reason = clean_text(r.reason)
            line.rejection_photo_key = r.photo_key
            db.session.add(Dispute(line_id=line.id, status=DisputeStatus.OPEN, opened_by_id=actor.id,
                                   opened_at=now))
            audit.record("dispute.opened", "order_line", line.id, actor=actor, organisation_id=part.order.buyer_id,
                         after={"reason": line.rejection_reason})
    audit.record("order_part.received", "order_part", part.id, actor=actor, organisation_id=part.order.buyer_id,
                 after={str(r.line_id): {"received_kg": str(r.received_kg), "accepted": r.accepted}
                        for r in receipts})
    db.session.add(SaleChange(part_id=part.id, changed_at=now))
    db.session.flush()
    refresh_payout(part, now)
    plan_refunds(part.order)
    from marketplace.orders import shipping  # shipping builds on this module

    shipping.part_delivered(part, bogota_date(now))


def resolve_dispute(actor: User, dispute: Dispute, outcome: str, note: str | None, now: datetime | None = None) -> None:
    if not actor.is_admin:
        raise Forbidden(_l("Solo el equipo del programa resuelve disputas."))
    if dispute.status != DisputeStatus.OPEN:
        raise Conflict(_l("Esta disputa ya fue resuelta."))
    if outcome not in (DisputeStatus.REFUNDED.value, DisputeStatus.RELEASED.value):
        raise DomainError(_l("Elija a favor de quién se resuelve."), "outcome")
    note = clean_text(note)
    if not note:
        raise DomainError(_l("Escriba qué se encontró y por qué se resuelve así."), "note")
    now = now or utcnow()
    dispute.status = DisputeStatus(outcome)
    dispute.resolution = note[:2000]
    dispute.resolved_by_id = actor.id
    dispute.resolved_at = now
    audit.record("dispute.resolved", "dispute", dispute.id, actor=actor, before={"status": "open"},
                 after={"status": outcome, "resolution": dispute.resolution})
    db.session.flush()
    part = dispute.line.part
    db.session.add(SaleChange(part_id=part.id, changed_at=now))
    refresh_payout(part, now)
    plan_refunds(part.order)


def settle(actor: User, part: OrderPart, reference: str | None, now: datetime | None = None) -> None:
    """Staff record that the cooperative was paid what it is owed."""
    reference = clean_text(reference)
    if not reference:
        raise DomainError(_l("Escriba la referencia de la transferencia a la cooperativa."), "reference")
    if len(reference) > 80:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=80), "reference")
    if part.payout_status != PayoutStatus.DUE:
        raise Conflict(_l("Aún no se le debe pagar a la cooperativa: falta el pago del comprador o hay una "
                          "disputa abierta."))
    _move(part, "settle", actor, now or utcnow(), note=reference)
    part.payout_status = PayoutStatus.PAID
    part.payout_reference = reference


def transition(actor: User, part: OrderPart, action: str, **kwargs) -> None:
    handlers = {"accept": accept, "ready": mark_ready}
    if action in handlers:
        handlers[action](actor, part)
    elif action == "decline":
        decline(actor, part, kwargs.get("reason"))
    elif action == "ship":
        ship(actor, part, kwargs.get("logistics_borne"))
    elif action == "cancel":
        cancel(actor, part, kwargs.get("reason"))
    elif action == "settle":
        settle(actor, part, kwargs.get("reference"))
    else:
        raise DomainError(_l("Esa acción no existe."), "action")


# -------------------------------------------------------------------- ledger


def billable_kg(line: OrderLine) -> Decimal:
    """Kilos the buyer pays for: what arrived, none of a rejected line unless staff released it."""
    if line.quality == Quality.REJECTED:
        dispute = line.dispute
        if dispute is None or dispute.status != DisputeStatus.RELEASED:
            return Decimal("0")
    return line.received_kg if line.received_kg is not None else line.quantity_kg


def line_amount(line: OrderLine) -> Decimal:
    return (billable_kg(line) * line.price_per_kg).quantize(CENTS, ROUND_HALF_UP)


@dataclass
class PartLedger:
    gross: Decimal
    platform_fee: Decimal
    logistics_borne: Decimal
    net: Decimal
    buyer_goods: Decimal
    buyer_logistics: Decimal
    buyer_fee: Decimal

    @property
    def buyer_total(self) -> Decimal:
        return self.buyer_goods + self.buyer_logistics + self.buyer_fee


ZERO_LEDGER = PartLedger(*(Decimal("0"),) * 7)


def ledger(part: OrderPart) -> PartLedger:
    """What the cooperative earns from the part and what the buyer pays for it, now."""
    if part.status in CLOSED_WITHOUT_SALE:
        return ZERO_LEDGER
    gross = sum((line_amount(ln) for ln in part.lines), Decimal("0"))
    fee = _pct(gross, part.coop_fee_percent)
    buyer_fee = _pct(gross, part.order.fee_percent)
    net = gross - fee - part.logistics_borne
    return PartLedger(gross=gross, platform_fee=fee, logistics_borne=part.logistics_borne, net=net,
                      buyer_goods=gross, buyer_logistics=part.logistics_estimate, buyer_fee=buyer_fee)


def amount_due(order: Order) -> Decimal:
    """What the buyer owes for the order as it stands (declines, shortfalls, disputes)."""
    return sum((ledger(p).buyer_total for p in order.parts), Decimal("0"))


def has_open_dispute(part: OrderPart) -> bool:
    return any(ln.dispute is not None and ln.dispute.status == DisputeStatus.OPEN for ln in part.lines)


def refresh_payout(part: OrderPart, now: datetime | None = None) -> None:
    """A delivered part is due to the cooperative once the buyer has paid and no dispute is open."""
    if part.status in CLOSED_WITHOUT_SALE or part.payout_status == PayoutStatus.PAID:
        return
    if part.status not in (PartStatus.DELIVERED,):
        part.payout_status = PayoutStatus.PENDING
        return
    now = now or utcnow()
    paid = part.order.payment_status == PaymentStatus.PAID
    if paid and not has_open_dispute(part):
        part.payout_status = PayoutStatus.DUE
        if part.payout_due_date is None:
            part.payout_due_date = bogota_date(now) + timedelta(days=_config("PAYOUT_DAYS"))
    else:
        part.payout_status = PayoutStatus.PENDING


# ------------------------------------------------------------------- refunds


def refunds_owed(order: Order) -> dict[str, tuple[int | None, Decimal, str]]:
    """Every refund a card order deserves as it stands, under a deterministic key:
    whole parts that were declined, expired or cancelled, and each line's shortfall or
    refunded dispute (with its share of the fee)."""
    owed: dict[str, tuple[int | None, Decimal, str]] = {}
    if order.payment_method != PaymentMethod.CARD or order.payment_status != PaymentStatus.PAID:
        return owed
    for part in order.parts:
        if part.status in CLOSED_WITHOUT_SALE:
            amount = part.goods_amount + part.logistics_estimate + part.fee_amount
            if amount > 0:
                owed[f"order-{order.id}-part-{part.id}-{part.status.value}"] = (part.id, amount, part.status.value)
            continue
        for line in part.lines:
            if line.received_kg is None and line.quality == Quality.PENDING:
                continue
            if line.dispute is not None and line.dispute.status == DisputeStatus.OPEN:
                continue  # staff decide first; a released line is paid for
            ordered = (line.quantity_kg * line.price_per_kg).quantize(CENTS, ROUND_HALF_UP)
            missing = ordered - line_amount(line)
            if missing > 0:
                amount = missing + _pct(missing, order.fee_percent)
                owed[f"order-{order.id}-line-{line.id}-adjust"] = (part.id, amount, "shortfall")
    return owed


def plan_refunds(order: Order) -> list[Refund]:
    """Add a pending Refund for each one owed and not yet planned. Sent to Stripe at the edge."""
    if order.payment_method != PaymentMethod.CARD or order.payment_status != PaymentStatus.PAID:
        return []
    existing = {r.idempotency_key: r for r in db.session.scalars(select(Refund).where(Refund.order_id == order.id))}
    created = []
    for key, (part_id, amount, reason) in refunds_owed(order).items():
        if key in existing:
            continue
        refund = Refund(order_id=order.id, part_id=part_id, amount=amount, reason=reason, idempotency_key=key,
                        status="pending")
        db.session.add(refund)
        created.append(refund)
        order.refunded_total = (order.refunded_total or Decimal("0")) + amount
    if created:
        db.session.flush()
    return created


# -------------------------------------------------------------- payments (db)


def mark_invoice_paid(actor: User, order: Order, bank_reference: str | None, now: datetime | None = None) -> None:
    if not actor.is_admin:
        raise Forbidden(_l("Solo el equipo del programa registra pagos de facturas."))
    if order.payment_method != PaymentMethod.INVOICE:
        raise Conflict(_l("Este pedido se paga con tarjeta, no con factura."))
    if order.payment_status == PaymentStatus.PAID:
        raise Conflict(_l("Esta factura ya está pagada."))
    if order.payment_status == PaymentStatus.CANCELLED:
        raise Conflict(_l("Este pedido fue cancelado; no hay nada que pagar."))
    reference = clean_text(bank_reference)
    if not reference:
        raise DomainError(_l("Escriba la referencia bancaria del pago."), "bank_reference")
    if len(reference) > 80:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=80), "bank_reference")
    now = now or utcnow()
    order.payment_status = PaymentStatus.PAID
    order.paid_at = now
    order.bank_reference = reference
    order.marked_paid_by_id = actor.id
    order.amount_paid = amount_due(order)
    audit.record("invoice.paid", "order", order.id, actor=actor, organisation_id=order.buyer_id,
                 before={"payment_status": "pending"},
                 after={"payment_status": "paid", "bank_reference": reference, "amount": str(order.amount_paid)})
    for part in order.parts:
        refresh_payout(part, now)


def card_paid(order: Order, amount: Decimal, now: datetime) -> str:
    """Record a successful card payment (from a verified webhook). Returns the outcome."""
    if order.payment_status == PaymentStatus.PAID:
        return "already_paid"
    if amount != order.total:
        audit.record("payment.amount_mismatch", "order", order.id, organisation_id=order.buyer_id,
                     after={"expected": str(order.total), "received": str(amount)})
        return "amount_mismatch"
    late = order.payment_status == PaymentStatus.CANCELLED
    order.payment_status = PaymentStatus.PAID
    order.amount_paid = amount
    order.paid_at = now
    audit.record("payment.card_paid", "order", order.id, organisation_id=order.buyer_id,
                 after={"amount": str(amount), "late": late})
    for part in order.parts:
        refresh_payout(part, now)
    plan_refunds(order)
    return "paid_after_cancel" if late else "paid"


def card_failed(order: Order) -> str:
    if order.payment_status in (PaymentStatus.PENDING, PaymentStatus.PROCESSING):
        order.payment_status = PaymentStatus.FAILED
        audit.record("payment.card_failed", "order", order.id, organisation_id=order.buyer_id)
        return "failed"
    return "ignored"


def card_processing(order: Order) -> str:
    if order.payment_status == PaymentStatus.PENDING:
        order.payment_status = PaymentStatus.PROCESSING
        return "processing"
    return "ignored"


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


# --------------------------------------------------------------------- cart


def cart(user: User) -> list[CartItem]:
    return list(db.session.scalars(select(CartItem).where(CartItem.user_id == user.id).order_by(CartItem.id)))


def add_to_cart(actor: User, listing_id: int, quantity: Decimal | None, unit: str | None) -> CartItem:
    buyer_of(actor)
    listing = _check_listing(db.session.get(Listing, listing_id), date.today(), None, "quantity")
    kg = _line_kg(listing, quantity, unit, "quantity")
    if kg > listing.available_kg:
        raise DomainError(_l("De %(product)s quedan %(kg)s.", product=listing.product.name,
                             kg=_kg_text(listing.available_kg)), "quantity")
    if listing.min_order_kg and kg < listing.min_order_kg and kg < listing.available_kg:
        raise DomainError(_l("El pedido mínimo de %(product)s es %(kg)s.", product=listing.product.name,
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


def group_by_status(parts: list[OrderPart]) -> dict[PartStatus, list[OrderPart]]:
    groups: dict[PartStatus, list[OrderPart]] = defaultdict(list)
    for part in parts:
        groups[part.status].append(part)
    return groups
