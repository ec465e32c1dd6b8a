"""Demands, offers and proposals: a buyer posts what it needs, cooperatives it concerns
answer with offers, the optimiser proposes the allocation with the lowest landed cost, and
accepting the proposal places an order through ``orders.services.place_order``.

Who sees what (one policy per object kind, here):
* a demand: the buyer that posted it, staff, and the cooperatives it concerns (they sell the
  product at the grade asked, from a region the buyer accepts) or that answered it;
* an offer: the cooperative that made it, and the buyer of its demand; staff;
* a proposal: the buyer of its demand; staff.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from marketplace.accounts.models import Buyer, Cooperative, OrgStatus, User
from marketplace.catalog import units
from marketplace.catalog.models import Grade, Listing, ListingStatus, Product
from marketplace.catalog.services import CERTIFICATIONS
from marketplace.core import audit
from marketplace.core.errors import Conflict, DomainError, Forbidden, NotFound
from marketplace.core.formatting import kg as format_kg
from marketplace.core.models import Municipality, bogota_date, utcnow
from marketplace.core.text import clean_text
from marketplace.extensions import db
from marketplace.logistics import services as logistics
from marketplace.matching import allocation, optimizer, pricing
from marketplace.matching.models import Demand, DemandStatus, Offer, OfferStatus, Proposal
from marketplace.orders import freeze
from marketplace.orders import services as orders
from marketplace.orders.models import Order

CENTS = Decimal("0.01")
KG_STEP = Decimal("0.001")
DEMAND_UNITS = ("kg", "arroba", "carga", "tonelada")
ATTRIBUTES = ("pdet", "women_led", "youth_led")
MAX_PRICE = Decimal("10000000")  # COP per kg: far above any farm product
MAX_WEIGHT = Decimal("100000")  # COP per kg a buyer would pay for a preference
MAX_PREFERENCES = 3 + len(CERTIFICATIONS)
MAX_NOTE = 1000
MAX_JOINT = 200  # demands optimised together in one run
LIST_LIMIT = 200
ATTRIBUTE_LABELS = {
    "pdet": _l("municipios PDET"),
    "women_led": _l("cooperativas lideradas por mujeres"),
    "youth_led": _l("cooperativas lideradas por jóvenes"),
}
REASON_LABELS = {
    "no_eligible_supply": _l("ninguna cooperativa ofrece ese producto ahora"),
    "grade": _l("hay oferta, pero de una calidad menor a la pedida"),
    "window": _l("hay oferta, pero no estará lista dentro de la ventana de entrega"),
    "price_cap": _l("hay oferta, pero su costo puesto en destino supera el precio máximo"),
    "stock": _l("no hay suficiente cantidad disponible"),
    "min_lot": _l("el lote mínimo por cooperativa deja fuera a algunas"),
    "min_share": _l("no hay suficiente oferta que cumpla la participación mínima pedida"),
}
OPTIMISER_MESSAGES = {
    "quantity_not_positive": _l("La cantidad debe ser mayor que cero."),
    "bad_window": _l("«Entregar hasta» debe ser igual o posterior a «entregar desde»."),
    "share_out_of_range": _l("Una participación mínima debe estar entre 0 y 100 %."),
}


def attribute_label(attribute: str) -> str:
    if attribute.startswith("cert:"):
        return str(_l("certificación %(name)s", name=CERTIFICATIONS.get(attribute[5:], attribute[5:])))
    return str(ATTRIBUTE_LABELS.get(attribute, attribute))


def _today() -> date:
    return bogota_date()


# ------------------------------------------------------------------- policy


def _coop_of(user: User) -> Cooperative | None:
    org = user.organisation
    return org if isinstance(org, Cooperative) and user.role in orders.COOP_ROLES else None


def own_demand(user: User, demand_id: int) -> Demand:
    """A demand of the user's own company; any other id is simply not found."""
    demand = db.session.get(Demand, demand_id)
    org = user.organisation
    if demand is None or org is None or user.role not in orders.BUYER_ROLES or demand.buyer_id != org.id:
        raise NotFound(_l("No encontramos esa solicitud de compra."))
    return demand


def visible_demand(user: User, demand_id: int) -> Demand:
    demand = db.session.get(Demand, demand_id)
    if demand is None:
        raise NotFound(_l("No encontramos esa solicitud de compra."))
    if user.is_staff:
        return demand
    org = user.organisation
    if org is not None and user.role in orders.BUYER_ROLES and demand.buyer_id == org.id:
        return demand
    coop = _coop_of(user)
    if coop is not None and (concerns(coop, demand) or _has_offered(coop.id, demand.id)):
        return demand
    raise NotFound(_l("No encontramos esa solicitud de compra."))


def serves_site(coop_id: int, site_id: int) -> bool:
    """Whether the cooperative sees a demand delivered to the site (it offered on one, or one
    concerns it): the logistics quote policy lets it quote to that site."""
    coop = db.session.get(Cooperative, coop_id)
    if coop is None:
        return False
    demands = db.session.scalars(select(Demand).where(Demand.delivery_site_id == site_id)
                                 .order_by(Demand.id.desc()).limit(50)).all()
    return any(_has_offered(coop.id, d.id) or concerns(coop, d) for d in demands)


def own_offer(user: User, offer_id: int) -> Offer:
    offer = db.session.get(Offer, offer_id)
    coop = _coop_of(user)
    if offer is None or coop is None or offer.cooperative_id != coop.id:
        raise NotFound(_l("No encontramos esa cotización."))
    return offer


def own_proposal(user: User, proposal_id: int) -> Proposal:
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(_l("No encontramos esa propuesta."))
    if user.is_staff:
        return proposal
    org = user.organisation
    if org is None or user.role not in orders.BUYER_ROLES or proposal.demand.buyer_id != org.id:
        raise NotFound(_l("No encontramos esa propuesta."))
    return proposal


def _has_offered(coop_id: int, demand_id: int) -> bool:
    return db.session.scalar(select(Offer.id).where(Offer.cooperative_id == coop_id,
                                                    Offer.demand_id == demand_id).limit(1)) is not None


def _grade_rank(grade: Grade | None) -> int:
    return grade.rank if grade is not None else -(10**6)


def _listing_fits(listing: Listing, demand: Demand) -> bool:
    """Could this listing serve the demand: product, grade, region and timing."""
    return (listing.product_id == demand.product_id
            and listing.grade.rank >= _grade_rank(demand.min_grade)
            and (not demand.source_departments or listing.department_code in demand.source_departments)
            and listing.available_from <= demand.window_end and listing.available_until >= demand.window_start)


def _live_listings(coop_ids=None, product_ids=None, today: date | None = None):
    today = today or _today()
    stmt = (select(Listing).join(Cooperative, Cooperative.id == Listing.cooperative_id)
            .where(Listing.status == ListingStatus.ACTIVE, Listing.available_kg > 0,
                   Listing.available_until >= today, Cooperative.status == OrgStatus.VERIFIED))
    if coop_ids is not None:
        stmt = stmt.where(Listing.cooperative_id.in_(list(coop_ids)))
    if product_ids is not None:
        stmt = stmt.where(Listing.product_id.in_(list(product_ids)))
    return list(db.session.scalars(stmt.order_by(Listing.id)))


def concerns(coop: Cooperative, demand: Demand) -> bool:
    """A demand concerns a cooperative that has a live listing able to serve it."""
    if coop.status != OrgStatus.VERIFIED:
        return False
    return any(_listing_fits(item, demand) for item in _live_listings([coop.id], [demand.product_id]))


def listings_for(coop: Cooperative, demand: Demand) -> list[Listing]:
    """The cooperative's live listings that could answer the demand."""
    return [item for item in _live_listings([coop.id], [demand.product_id]) if _listing_fits(item, demand)]


# ------------------------------------------------------------------- demands


@dataclass
class PreferenceData:
    attribute: str | None
    min_share_percent: Decimal | None = None  # 0-100, of the delivered kg
    weight_cop_per_kg: Decimal | None = None


@dataclass
class DemandData:
    product_id: int | None
    quantity: Decimal | None
    unit: str | None
    delivery_site_id: int | None
    window_start: date | None
    window_end: date | None
    min_grade_id: int | None = None
    target_price_per_kg: Decimal | None = None
    max_price_per_kg: Decimal | None = None
    min_lot_kg: Decimal | None = None
    preferences: list[PreferenceData] = field(default_factory=list)
    source_departments: list[str] = field(default_factory=list)
    note: str | None = None


def _price(value: Decimal | None, name: str) -> Decimal | None:
    if value is None:
        return None
    if not value.is_finite() or value.quantize(CENTS, ROUND_HALF_UP) <= 0:
        raise DomainError(_l("El precio debe ser mayor que cero."), name)
    if value > MAX_PRICE:
        raise DomainError(_l("Ese precio por kg es demasiado alto; revise las cifras."), name)
    return value.quantize(CENTS, ROUND_HALF_UP)


def _quantity(value: Decimal | None, name: str) -> Decimal:
    """A quantity as typed, at most to the thousandth (as stored)."""
    if value is None:
        raise DomainError(_l("Escriba la cantidad."), name)
    if not value.is_finite() or value <= 0:
        raise DomainError(_l("La cantidad debe ser mayor que cero."), name)
    if value != value.quantize(KG_STEP):
        raise DomainError(_l("Escriba la cantidad con hasta tres decimales."), name)
    return value


def _preferences(prefs: list[PreferenceData]) -> list[dict]:
    if len(prefs) > MAX_PREFERENCES:
        raise DomainError(_l("Demasiadas preferencias."), "preferences")
    out, seen = [], set()
    for index, pref in enumerate(prefs):
        name = f"preferences.{index}"
        attribute = pref.attribute or ""
        if not (attribute in ATTRIBUTES or (attribute.startswith("cert:") and attribute[5:] in CERTIFICATIONS)):
            raise DomainError(_l("Elija una preferencia de la lista."), name)
        if attribute in seen:
            raise DomainError(_l("Cada preferencia puede aparecer una sola vez."), name)
        seen.add(attribute)
        share, weight = pref.min_share_percent, pref.weight_cop_per_kg
        if share is None and weight is None:
            raise DomainError(_l("Diga la participación mínima (%) o cuánto vale para usted por kg."), name)
        if share is not None and (not share.is_finite() or share.quantize(Decimal("0.01"), ROUND_HALF_UP) <= 0
                                  or share > 100):
            raise DomainError(_l("La participación mínima debe ser mayor que 0 y como máximo 100 %."), name)
        if weight is not None and (not weight.is_finite() or weight.quantize(CENTS, ROUND_HALF_UP) <= 0
                                   or weight > MAX_WEIGHT):
            raise DomainError(_l("El valor por kg de una preferencia debe estar entre 0 y 100.000 pesos."), name)
        out.append({"attribute": attribute,
                    "min_share": str((share / 100).quantize(Decimal("0.0001"))) if share is not None else None,
                    "weight": str(weight.quantize(CENTS, ROUND_HALF_UP)) if weight is not None else None})
    return out


def _departments(codes: list[str]) -> list[str]:
    codes = sorted({(c or "").strip() for c in codes if (c or "").strip()})
    if not codes:
        return []
    known = set(db.session.scalars(select(Municipality.department_code)
                                   .where(Municipality.department_code.in_(codes)).distinct()))
    if set(codes) - known:
        raise DomainError(_l("Elija departamentos de la lista."), "source_departments")
    return codes


def create_demand(actor: User, data: DemandData, today: date | None = None) -> Demand:
    """Post a demand. Every field is checked before anything is written."""
    buyer = orders.require_can_buy(actor)
    today = today or _today()
    product = db.session.get(Product, data.product_id) if data.product_id else None
    if product is None or not product.active:
        raise DomainError(_l("Elija un producto de la lista."), "product_id")
    grade = None
    if data.min_grade_id:
        grade = db.session.get(Grade, data.min_grade_id)
        if grade is None or grade.product_id != product.id:
            raise DomainError(_l("Elija una calidad de ese producto."), "min_grade_id")
    quantity = _quantity(data.quantity, "quantity")
    unit = data.unit or "kg"
    if unit not in DEMAND_UNITS:
        raise DomainError(_l("Pida en kg, arrobas, cargas o toneladas."), "unit")
    try:
        kg = units.to_kg(quantity, unit)
    except units.UnitError as exc:
        message = (_l("La cantidad es demasiado grande.") if exc.code == "quantity_too_large"
                   else _l("La cantidad debe ser mayor que cero."))
        raise DomainError(message, "quantity") from exc
    site = orders.check_delivery_site(buyer, data.delivery_site_id)
    orders.check_delivery_window(data.window_start, data.window_end, today)
    target = _price(data.target_price_per_kg, "target_price_per_kg")
    ceiling = _price(data.max_price_per_kg, "max_price_per_kg")
    if target is not None and ceiling is not None and target > ceiling:
        raise DomainError(_l("El precio objetivo no puede superar el precio máximo."), "target_price_per_kg")
    lot = data.min_lot_kg
    if lot is not None:
        if not lot.is_finite() or lot.quantize(KG_STEP, ROUND_HALF_UP) <= 0:
            raise DomainError(_l("El lote mínimo debe ser mayor que cero."), "min_lot_kg")
        if lot > kg:
            raise DomainError(_l("El lote mínimo no puede superar la cantidad pedida."), "min_lot_kg")
    prefs = _preferences(data.preferences)
    departments = _departments(data.source_departments)
    note = clean_text(data.note) or None
    if note and len(note) > MAX_NOTE:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=MAX_NOTE), "note")
    now = utcnow()
    demand = Demand(
        buyer_id=buyer.id, created_by_id=actor.id, product_id=product.id, product=product,
        min_grade_id=grade.id if grade else None, min_grade=grade, quantity=quantity, unit=unit,
        quantity_kg=kg, delivery_site_id=site.id, delivery_site=site, window_start=data.window_start,
        window_end=data.window_end, target_price_per_kg=target, max_price_per_kg=ceiling,
        min_lot_kg=lot.quantize(KG_STEP, ROUND_HALF_UP) if lot is not None else None, preferences=prefs, source_departments=departments, note=note, status=DemandStatus.OPEN,
        created_at=now, updated_at=now,
    )
    db.session.add(demand)
    db.session.flush()
    audit.record("demand.created", "demand", demand.id, actor=actor, organisation_id=buyer.id,
                 after={"product": product.slug, "quantity_kg": str(kg), "site": site.id,
                        "window": [str(data.window_start), str(data.window_end)],
                        "max_price_per_kg": str(ceiling) if ceiling else None, "preferences": prefs})
    return demand


def _close_offers(demand: Demand, chosen: set[int] | None = None) -> None:
    now = utcnow()
    for offer in demand.offers:
        if offer.status == OfferStatus.OPEN:
            offer.status = OfferStatus.CHOSEN if chosen and offer.id in chosen else OfferStatus.NOT_CHOSEN
            offer.updated_at = now


def cancel_demand(actor: User, demand: Demand) -> None:
    if demand.status != DemandStatus.OPEN:
        raise Conflict(_l("Esta solicitud ya no está abierta."))
    changed = db.session.execute(
        update(Demand).where(Demand.id == demand.id, Demand.status == DemandStatus.OPEN)
        .values(status=DemandStatus.CANCELLED, updated_at=utcnow()).execution_options(synchronize_session="fetch"))
    if changed.rowcount != 1:
        raise Conflict(_l("Esta solicitud ya no está abierta."))
    _close_offers(demand)
    audit.record("demand.cancelled", "demand", demand.id, actor=actor, organisation_id=demand.buyer_id,
                 before={"status": "open"}, after={"status": "cancelled"})


def expire_demands(today: date | None = None) -> int:
    """Open demands whose delivery window has ended expire (their offers with them)."""
    today = today or _today()
    stale = list(db.session.scalars(select(Demand).where(Demand.status == DemandStatus.OPEN,
                                                         Demand.window_end < today).limit(500)))
    for demand in stale:
        demand.status, demand.updated_at = DemandStatus.EXPIRED, utcnow()
        _close_offers(demand)
    return len(stale)


def buyer_demands(buyer: Buyer, limit: int = LIST_LIMIT) -> list[Demand]:
    return list(db.session.scalars(
        select(Demand).where(Demand.buyer_id == buyer.id).options(selectinload(Demand.offers))
        .order_by(Demand.id.desc()).limit(limit)))


def all_demands(limit: int = LIST_LIMIT) -> list[Demand]:
    return list(db.session.scalars(select(Demand).options(selectinload(Demand.offers))
                                   .order_by(Demand.id.desc()).limit(limit)))


def open_demands_for(coop: Cooperative, today: date | None = None, limit: int = LIST_LIMIT) -> list[Demand]:
    """Open demands this cooperative could answer from its live listings, soonest first."""
    today = today or _today()
    if coop.status != OrgStatus.VERIFIED:
        return []
    live = _live_listings([coop.id], None, today)
    products = {item.product_id for item in live}
    if not products:
        return []
    candidates = db.session.scalars(
        select(Demand).where(Demand.status == DemandStatus.OPEN, Demand.window_end >= today,
                             Demand.product_id.in_(products), Demand.buyer_id.not_in(freeze.suspended_ids()))
        .order_by(Demand.window_start, Demand.id).limit(limit * 5))
    return [d for d in candidates if any(_listing_fits(item, d) for item in live)][:limit]


def offers_of(coop: Cooperative, limit: int = LIST_LIMIT) -> list[Offer]:
    return list(db.session.scalars(select(Offer).where(Offer.cooperative_id == coop.id)
                                   .order_by(Offer.id.desc()).limit(limit)))


def offers_on(demand: Demand, viewer: User) -> list[Offer]:
    """The buyer and staff see every offer; a cooperative only its own."""
    coop = _coop_of(viewer)
    if coop is not None:
        return [o for o in demand.offers if o.cooperative_id == coop.id]
    return list(demand.offers)


# ------------------------------------------------------------------- offers


@dataclass
class OfferData:
    listing_id: int | None
    quantity: Decimal | None
    unit: str | None
    price_per_kg: Decimal | None
    ready_date: date | None
    note: str | None = None


def make_offer(actor: User, demand: Demand, data: OfferData, today: date | None = None) -> Offer:
    """Answer a demand from one of the cooperative's listings (or change that answer). The
    kilos must be in the listing now; they stay there until an order takes them."""
    coop = _coop_of(actor)
    if coop is None:
        raise Forbidden(_l("Solo las asociaciones y cooperativas responden solicitudes."))
    if coop.status != OrgStatus.VERIFIED:
        raise Forbidden(_l("Su organización debe estar verificada para vender."))
    today = today or _today()
    if demand.status != DemandStatus.OPEN or demand.window_end < today:
        raise Conflict(_l("Esta solicitud ya no recibe cotizaciones."))
    if demand.buyer.status == OrgStatus.SUSPENDED:  # its work is on hold (``orders.freeze``)
        raise Conflict(freeze.frozen_message(actor, demand.buyer))
    listing = db.session.get(Listing, data.listing_id) if data.listing_id else None
    if listing is None or listing.cooperative_id != coop.id:
        raise DomainError(_l("Elija una de sus ofertas de este producto."), "listing_id")
    if (listing.status != ListingStatus.ACTIVE or listing.available_until < today
            or listing.available_kg <= 0):
        raise DomainError(_l("Esa oferta no está activa o no tiene cantidad disponible."), "listing_id")
    if not _listing_fits(listing, demand):
        raise DomainError(_l("Esa oferta no sirve para esta solicitud (producto, calidad, región o fechas)."),
                          "listing_id")
    quantity = _quantity(data.quantity, "quantity")
    unit = data.unit or "kg"
    if unit not in orders.order_units(listing):
        raise DomainError(_l("Ofrezca en kg, arrobas, cargas, toneladas o en la unidad de su oferta."), "unit")
    try:
        kg = units.to_kg(quantity, unit, listing.unit_kg if units.UNITS[unit].needs_weight else None)
    except units.UnitError as exc:
        raise DomainError(_l("La cantidad debe ser mayor que cero."), "quantity") from exc
    if kg > listing.available_kg:
        raise DomainError(_l("Su oferta tiene disponibles %(kg)s; no puede cotizar más que eso.",
                             kg=format_kg(listing.available_kg)), "quantity")
    if kg > demand.quantity_kg:
        raise DomainError(_l("La solicitud pide %(kg)s; cotice como máximo esa cantidad.",
                             kg=format_kg(demand.quantity_kg)), "quantity")
    price = _price(data.price_per_kg, "price_per_kg")
    if price is None:
        raise DomainError(_l("Escriba el precio por kg."), "price_per_kg")
    ready = data.ready_date
    if ready is None:
        raise DomainError(_l("Diga desde qué fecha lo tiene listo."), "ready_date")
    if ready < today:
        raise DomainError(_l("La fecha en que estará listo no puede ser en el pasado."), "ready_date")
    if ready > demand.window_end:
        raise DomainError(_l("Debe estar listo a más tardar el último día de la ventana de entrega (%(d)s).",
                             d=demand.window_end.isoformat()), "ready_date")
    if ready > listing.available_until:
        raise DomainError(_l("Su oferta vence antes de esa fecha."), "ready_date")
    note = clean_text(data.note) or None
    if note and len(note) > MAX_NOTE:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=MAX_NOTE), "note")
    now = utcnow()
    offer = db.session.scalar(select(Offer).where(Offer.demand_id == demand.id, Offer.listing_id == listing.id))
    before = None
    if offer is None:
        offer = Offer(demand_id=demand.id, demand=demand, cooperative_id=coop.id, listing_id=listing.id,
                      listing=listing, created_by_id=actor.id, created_at=now)
        db.session.add(offer)
    else:
        if offer.status not in (OfferStatus.OPEN, OfferStatus.WITHDRAWN):
            raise Conflict(_l("Esta cotización ya se cerró."))
        before = {"quantity_kg": str(offer.quantity_kg), "price_per_kg": str(offer.price_per_kg),
                  "ready_date": str(offer.ready_date), "status": offer.status.value}
    offer.quantity, offer.unit, offer.quantity_kg = quantity, unit, kg
    offer.price_per_kg, offer.ready_date, offer.note = price, ready, note
    offer.status, offer.updated_at = OfferStatus.OPEN, now
    db.session.flush()
    audit.record("offer.saved", "demand_offer", offer.id, actor=actor, organisation_id=coop.id, before=before,
                 after={"demand": demand.id, "listing": listing.id, "quantity_kg": str(kg),
                        "price_per_kg": str(price), "ready_date": str(ready)})
    return offer


def withdraw_offer(actor: User, offer: Offer) -> None:
    if offer.status != OfferStatus.OPEN:
        raise Conflict(_l("Esta cotización ya no está abierta."))
    offer.status, offer.updated_at = OfferStatus.WITHDRAWN, utcnow()
    audit.record("offer.withdrawn", "demand_offer", offer.id, actor=actor, organisation_id=offer.cooperative_id,
                 before={"status": "open"}, after={"status": "withdrawn"})


# ------------------------------------------------------------------- the optimiser


def _pref_tuple(demand: Demand) -> tuple[optimizer.Preference, ...]:
    return tuple(
        optimizer.Preference(p["attribute"],
                             Decimal(p["min_share"]) if p.get("min_share") is not None else None,
                             Decimal(p["weight"]) if p.get("weight") is not None else None)
        for p in demand.preferences or ())


def _build(demands: list[Demand], today: date):
    """Supplies for the optimiser from live listings and open offers, and its per-kg
    logistics costs: ``pricing.logistics_floor_per_kg``, a bound never above what the order's
    quote will charge per kg.

    A cooperative's offer on a listing is its answer for that demand: for that demand the
    offer (its price, its kilos, its ready date) replaces the listing. The offer's kilos are
    set apart from the listing's stock, so the listing's remainder can serve other demands
    of the same run without the two ever selling the same kilo twice. A collection point no
    vehicle can reach the demand's site from serves no demand there.
    """
    keyed = {f"d{d.id}": d for d in demands}
    listings = _live_listings(None, {d.product_id for d in demands}, today)
    by_listing: dict[int, list[Offer]] = defaultdict(list)
    if demands:
        for offer in db.session.scalars(select(Offer).where(Offer.demand_id.in_([d.id for d in demands]),
                                                            Offer.status == OfferStatus.OPEN).order_by(Offer.id)):
            by_listing[offer.listing_id].append(offer)
    coops = {c.id: c for c in db.session.scalars(
        select(Cooperative).where(Cooperative.id.in_({item.cooperative_id for item in listings})))}
    quoter = logistics.Quoter.load({item.collection_point_id for item in listings},
                                   {d.delivery_site_id for d in demands})
    reachable: dict[tuple[int, int], bool] = {}

    def reaches(item: Listing, demand: Demand) -> bool:
        slot = (item.collection_point_id, demand.delivery_site_id)
        if slot not in reachable:
            try:
                quoter.quote(_pickup(item), demand.delivery_site, Decimal(1))
                reachable[slot] = True
            except DomainError:
                reachable[slot] = False
        return reachable[slot]

    supplies: list[optimizer.Supply] = []
    sources: dict[str, allocation.Source] = {}

    def supply(key, item, kg, price, start, lot, keys):
        coop = coops[item.cooperative_id]
        supplies.append(optimizer.Supply(
            key=key, cooperative_id=coop.id, product_id=item.product_id, grade_rank=item.grade.rank,
            available_kg=kg, price_per_kg=price, available_from=start, available_until=item.available_until,
            min_lot_kg=lot, pdet=item.pdet_subregion is not None, women_led=coop.women_led,
            youth_led=coop.youth_led, certifications=frozenset(item.certifications or ()),
            demand_keys=frozenset(keys)))

    for item in listings:
        remaining = item.available_kg
        answered = set()
        for offer in by_listing.get(item.id, []):
            kg = min(offer.quantity_kg, remaining)
            answered.add(f"d{offer.demand_id}")
            if kg <= 0 or not reaches(item, keyed[f"d{offer.demand_id}"]):
                continue
            remaining -= kg
            key = f"o{offer.id}"
            supply(key, item, kg, offer.price_per_kg, max(item.available_from, offer.ready_date), None,
                   {f"d{offer.demand_id}"})
            sources[key] = allocation.Source(item, offer)
        # Region is the buyer's hard limit; grade and timing are left to the optimiser, which
        # then reports them as the reason a demand is not met.
        keys = {k for k, d in keyed.items() if k not in answered and d.product_id == item.product_id
                and (not d.source_departments or item.department_code in d.source_departments)
                and reaches(item, d)}
        if remaining > 0 and keys:
            key = f"l{item.id}"
            supply(key, item, remaining, item.price_per_kg, item.available_from, item.min_order_kg, keys)
            sources[key] = allocation.Source(item, None)

    model = [optimizer.Demand(
        key=k, product_id=d.product_id, min_grade_rank=_grade_rank(d.min_grade), quantity_kg=d.quantity_kg,
        window_start=d.window_start, window_end=d.window_end, max_price_per_kg=d.max_price_per_kg,
        preferences=_pref_tuple(d), min_lot_kg=d.min_lot_kg) for k, d in keyed.items()]

    # The most one cooperative can send a demand from one collection point: the quote charges
    # per cooperative and collection point, so the bound holds for any load up to it.
    most: dict[tuple, Decimal] = defaultdict(Decimal)
    for s in supplies:
        for k in s.demand_keys:
            most[s.cooperative_id, sources[s.key].listing.collection_point_id, k] += s.available_kg
    cache: dict[tuple, Decimal] = {}

    def pair(s: optimizer.Supply, dm: optimizer.Demand):
        item = sources[s.key].listing
        demand = keyed[dm.key]
        return item, demand, min(most[s.cooperative_id, item.collection_point_id, dm.key], dm.quantity_kg)

    def per_kg(s: optimizer.Supply, dm: optimizer.Demand) -> Decimal:
        item, demand, load = pair(s, dm)
        slot = (item.collection_point_id, demand.delivery_site_id, load)
        if slot not in cache:
            cache[slot] = pricing.logistics_floor_per_kg(quoter, _pickup(item), demand.delivery_site, load)
        return cache[slot]

    def lot_within_cap(s: optimizer.Supply, dm: optimizer.Demand) -> Decimal | None:
        item, demand, load = pair(s, dm)
        return pricing.lot_within_cap(quoter, _pickup(item), demand.delivery_site, load, s.price_per_kg,
                                      dm.max_price_per_kg)

    return allocation.Instance(supplies, model, sources, per_kg, keyed, lot_within_cap)


def _pickup(item: Listing) -> orders.Pickup:
    return orders.Pickup(item.collection_point_id, "", item.latitude, item.longitude)


def _time_limit() -> float:
    return float(current_app.config["MATCHING_TIME_LIMIT"])


def propose(actor: User, demands: list[Demand], today: date | None = None) -> list[Proposal]:
    """Run the optimiser over the given open demands of the actor's company together (they
    compete for the same stock) and keep one proposal per demand, with the cheapest-price-only
    choice on the same instance beside it. Every figure is the quote of the order the
    proposal becomes; no demand lands above its maximum price."""
    buyer = orders.buyer_of(actor)
    today = today or _today()
    if not demands:
        raise DomainError(_l("Elija al menos una solicitud abierta."), "demand_ids")
    if len(demands) > MAX_JOINT:
        raise DomainError(_l("Se pueden optimizar juntas hasta %(n)d solicitudes.", n=MAX_JOINT), "demand_ids")
    for demand in demands:
        if demand.buyer_id != buyer.id:
            raise NotFound(_l("No encontramos esa solicitud de compra."))
        if demand.status != DemandStatus.OPEN or demand.window_end < today:
            raise Conflict(_l("La solicitud %(n)s ya no está abierta.", n=demand.number))
    inst = _build(demands, today)
    try:
        choice = allocation.choose(actor, inst, today, _time_limit())
    except optimizer.OptimizerError as exc:  # input was checked when the demand was saved
        raise DomainError(OPTIMISER_MESSAGES.get(exc.code, _l("No se pudo calcular la propuesta."))) from exc
    run = choice.run
    proposals = []
    now = utcnow()
    for dkey, demand in inst.keyed.items():
        db.session.execute(update(Proposal).where(Proposal.demand_id == demand.id, Proposal.accepted_at.is_(None))
                           .values(superseded=True))
        priced, naive = run.priced[dkey], choice.greedy[dkey]
        outcome = run.result.per_demand[dkey]
        reasons, shares = list(outcome.reasons), {k: str(v) for k, v in outcome.shares.items()}
        if dkey in run.emptied or (dkey in run.capped and priced.kg < demand.quantity_kg):
            # Whole trips for too few kilos would land above the maximum: that is the price cap,
            # not a minimum lot of the buyer's or of a cooperative's.
            natural_lot = demand.min_lot_kg is not None or any(
                s.min_lot_kg is not None and dkey in s.demand_keys for s in inst.supplies)
            found = {*reasons, "price_cap"} - (set() if natural_lot else {"min_lot"})
            reasons = [code for code in optimizer.REASON_CODES if code in found]
        if dkey in run.emptied:
            shares = {}
        proposal = Proposal(
            demand_id=demand.id, demand=demand, created_at=now, created_by_id=actor.id, status=run.status,
            met_kg=priced.kg, goods_cop=priced.goods, logistics_cop=priced.logistics,
            fee_percent=priced.fee_percent, fee_cop=priced.fee, total_cop=priced.total,
            greedy_met_kg=naive.kg, greedy_landed_cop=naive.goods + naive.logistics,
            allocations=priced.rows, parts=priced.parts, greedy=naive.rows, greedy_parts=naive.parts,
            reasons=reasons, shares=shares, solve_ms=int(run.result.solve_seconds * 1000), superseded=False,
        )
        db.session.add(proposal)
        proposals.append(proposal)
    db.session.flush()
    for proposal in proposals:
        audit.record("demand.proposed", "demand", proposal.demand_id, actor=actor, organisation_id=buyer.id,
                     after={"proposal": proposal.id, "met_kg": str(proposal.met_kg),
                            "total_cop": str(proposal.total_cop)})
    return proposals


@dataclass
class Summary:
    """A proposal (or its cheapest-price-only twin) ready to show: its rows grouped by
    cooperative under the cooperative's figures, as the order's parts will be, with exact
    decimals. Figures a proposal made before it was priced by the quote lacks are None."""

    parts: list[dict]
    kg: Decimal
    goods: Decimal
    logistics: Decimal
    fee: Decimal | None
    fee_percent: Decimal | None
    total: Decimal | None

    @property
    def rows(self) -> list[dict]:
        return [row for part in self.parts for row in part["rows"]]

    @property
    def landed(self) -> Decimal:
        return self.goods + self.logistics

    @property
    def landed_per_kg(self) -> Decimal | None:
        return (self.landed / self.kg).quantize(CENTS, ROUND_HALF_UP) if self.kg else None

    @property
    def cooperatives(self) -> int:
        return len(self.parts)


ROW_DECIMALS = ("kg", "price_per_kg", "goods_cop", "logistics_cop", "landed_per_kg")
PART_DECIMALS = ("kg", "goods_cop", "logistics_cop", "fee_cop", "total_cop", "landed_per_kg")


def _summary(rows: list[dict], parts: list[dict] | None, fee_percent: Decimal | None, fee: Decimal | None,
             total: Decimal | None) -> Summary:
    shown = [{**row, **{k: Decimal(row[k]) for k in ROW_DECIMALS}} for row in rows]
    by_coop: dict[int, list[dict]] = defaultdict(list)
    for row in shown:
        by_coop[row["cooperative_id"]].append(row)
    if parts is None:  # made before proposals were priced by the quote: rows only
        parts = [{"cooperative_id": cid, "cooperative": own[0]["cooperative"]} for cid, own in by_coop.items()]
    grouped = [{**part, **{k: Decimal(part[k]) if part.get(k) is not None else None for k in PART_DECIMALS},
                "rows": by_coop[part["cooperative_id"]]} for part in parts]
    return Summary(grouped, sum((r["kg"] for r in shown), Decimal(0)), sum((r["goods_cop"] for r in shown), Decimal(0)),
                   sum((r["logistics_cop"] for r in shown), Decimal(0)), fee, fee_percent, total)


def summary(proposal: Proposal) -> Summary:
    return _summary(proposal.allocations, proposal.parts, proposal.fee_percent, proposal.fee_cop,
                    proposal.total_cop)


def greedy_summary(proposal: Proposal) -> Summary:
    """The cheapest-price-only choice, priced by the same quote (never ordered)."""
    fee = total = None
    if proposal.greedy_parts is not None:
        fee = sum((Decimal(p["fee_cop"]) for p in proposal.greedy_parts), Decimal(0))
        total = sum((Decimal(p["total_cop"]) for p in proposal.greedy_parts), Decimal(0))
    return _summary(proposal.greedy, proposal.greedy_parts, proposal.fee_percent, fee, total)


def latest_proposal(demand: Demand) -> Proposal | None:
    return db.session.scalar(select(Proposal).where(Proposal.demand_id == demand.id)
                             .order_by(Proposal.id.desc()).limit(1))


@dataclass
class Acceptance:
    """What accepting a proposal did: placed ``order`` for exactly the proposal's figures, or,
    when something changed since the buyer read it, placed nothing and made ``proposal`` the
    new one to review (``changed``); ``previous`` is the one the buyer accepted."""

    order: Order | None
    proposal: Proposal
    previous: Proposal

    @property
    def changed(self) -> bool:
        return self.order is None


def _priced_as_shown(actor: User, demand: Demand, proposal: Proposal, today: date) -> bool:
    """The proposal can still be ordered for exactly what it shows: the same lots and offers on
    the same terms, the stock still there, the same quote to the centavo (logistics model and
    fee included), and no landed price above the demand's maximum."""
    if proposal.parts is None or not pricing.terms_hold(proposal.allocations):
        return False
    try:
        now = pricing.price(actor, demand, proposal.allocations, today)
    except DomainError:  # a lot gone, stock short, a route no vehicle makes any more
        return False
    return pricing.still_priced_as_shown(proposal, now) and not pricing.over_cap(demand, now)


def accept(actor: User, proposal: Proposal, payment_method: str | None, now: datetime | None = None) -> Acceptance:
    """Place the order a proposal shows, through the same service as any order, stock taken
    atomically, charged exactly the proposal's total.

    If stock, a lot, an offer, a price, the logistics model or the fee changed since the
    proposal was made, nothing is ordered: the demand is optimised again and the new proposal
    returned for the buyer to review and accept (``Acceptance.changed``)."""
    buyer = orders.require_can_buy(actor)
    demand = proposal.demand
    if demand.buyer_id != buyer.id:
        raise NotFound(_l("No encontramos esa propuesta."))
    if proposal.accepted_at is not None:
        raise Conflict(_l("Esta propuesta ya se aceptó."))
    if demand.status != DemandStatus.OPEN:
        raise Conflict(_l("Esta solicitud ya no está abierta."))
    if proposal.superseded:
        raise Conflict(_l("Esta propuesta ya no vale: revise la más reciente o vuelva a calcularla."))
    if payment_method not in ("card", "invoice"):
        raise DomainError(_l("Elija cómo pagará: tarjeta o factura."), "payment_method")
    if not proposal.allocations:
        raise Conflict(_l("Esta propuesta no tiene nada que pedir."))
    now = now or utcnow()
    today = bogota_date(now)
    if not _priced_as_shown(actor, demand, proposal, today):
        [fresh] = propose(actor, [demand], today)
        audit.record("demand.proposal_changed", "demand", demand.id, actor=actor, organisation_id=buyer.id,
                     before={"proposal": proposal.id, "total_cop": str(proposal.total_cop)},
                     after={"proposal": fresh.id, "total_cop": str(fresh.total_cop)})
        return Acceptance(None, fresh, proposal)
    # Claim the demand first: of two accepts racing, one orders and the other is told.
    claimed = db.session.execute(
        update(Demand).where(Demand.id == demand.id, Demand.status == DemandStatus.OPEN)
        .values(status=DemandStatus.ORDERED, updated_at=now).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise Conflict(_l("Esta solicitud ya no está abierta."))
    request, agreed = pricing.order_request(demand, proposal.allocations, today, payment_method)
    order = orders.place_order(actor, request, now=now, agreed_prices=agreed, notify_kind="offer_chosen")
    if pricing.order_figures(order) != pricing.figures(proposal.parts, proposal.total_cop):
        # The order priced itself in this same transaction from the same rows; only a change
        # committed in between could part them. Nothing is kept: the caller rolls back.
        raise Conflict(_l("Los costos cambiaron mientras se hacía el pedido. Vuelva a calcular la propuesta."))
    demand = db.session.get(Demand, demand.id)
    db.session.refresh(demand)
    demand.order_id = order.id
    proposal.accepted_at = now
    _close_offers(demand, {row["offer_id"] for row in proposal.allocations if row["offer_id"]})
    audit.record("demand.ordered", "demand", demand.id, actor=actor, organisation_id=buyer.id,
                 before={"status": "open"},
                 after={"status": "ordered", "order": order.id, "proposal": proposal.id,
                        "total_cop": str(order.total)})
    return Acceptance(order, proposal, proposal)


def window_days_default() -> tuple[date, date]:
    today = _today()
    return today + timedelta(days=7), today + timedelta(days=21)
