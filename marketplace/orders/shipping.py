"""Shipments of order parts: who may see them, creating them (by a cooperative, or from an
accepted route plan), dispatching, recording what the legs really cost, and allocating that
cost to the order lines by weight so it reaches each order and each cooperative's ledger.

Lives in ``orders`` because it moves order parts; the logistics package it builds on knows
nothing of orders (imports flow one way)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from marketplace.accounts.models import Cooperative, Organisation, OrgKind, Role, User
from marketplace.catalog.display import product_name
from marketplace.catalog.models import CollectionPoint
from marketplace.core import audit
from marketplace.core.errors import Conflict, DomainError, Forbidden, NotFound
from marketplace.core.models import bogota_date, utcnow
from marketplace.core.text import clean_text
from marketplace.extensions import db
from marketplace.logistics import costing
from marketplace.logistics import services as logistics
from marketplace.logistics.models import Shipment, ShipmentLeg, ShipmentPart
from marketplace.orders import adjustments, freeze, services
from marketplace.orders.models import (
    CLOSED_WITHOUT_SALE,
    Order,
    OrderLine,
    OrderPart,
    PartStatus,
    PayoutAdjustment,
    PayoutStatus,
    SaleChange,
)

PESO = Decimal("1")
MAX_COP = Decimal("100000000")
SHIPPABLE = (PartStatus.ACCEPTED, PartStatus.READY)
CARRIER_ROLES = (Role.CARRIER_MANAGER,)


# -------------------------------------------------------------- authorisation


def _coop_id(user: User) -> int | None:
    org = user.organisation
    return org.id if org is not None and user.role in services.COOP_ROLES else None


def _carrier_id(user: User) -> int | None:
    org = user.organisation
    return org.id if org is not None and user.role in CARRIER_ROLES else None


def _part_coops(shipment: Shipment) -> set[int]:
    ids = [stop.part_id for stop in shipment.stops]
    if not ids:
        return set()
    return set(db.session.scalars(select(OrderPart.cooperative_id).where(OrderPart.id.in_(ids))))


def carries_listing(carrier_id: int, listing_id: int) -> bool:
    """Whether the carrier drives a shipment carrying a line of the listing (catalog asks, so a
    carrier sees a listing's page only through its shipments)."""
    return db.session.scalar(
        select(ShipmentPart.id).join(Shipment, Shipment.id == ShipmentPart.shipment_id)
        .join(OrderLine, OrderLine.part_id == ShipmentPart.part_id)
        .where(Shipment.carrier_id == carrier_id, OrderLine.listing_id == listing_id).limit(1)) is not None


def visible_shipment(user: User, shipment_id: int) -> Shipment:
    """Staff see every shipment; a carrier those it drives; a cooperative those carrying its parts."""
    shipment = db.session.get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound(_l("No encontramos ese envío."))
    if user.is_staff:
        return shipment
    carrier = _carrier_id(user)
    if carrier is not None and shipment.carrier_id == carrier:
        return shipment
    coop = _coop_id(user)
    if coop is not None and coop in _part_coops(shipment):
        return shipment
    raise NotFound(_l("No encontramos ese envío."))


def can_record_costs(user: User, shipment: Shipment) -> bool:
    """The carrier that drives it, a cooperative whose parts are all it carries, or an admin."""
    if user.is_admin:
        return True
    if _carrier_id(user) is not None and shipment.carrier_id == _carrier_id(user):
        return True
    coop = _coop_id(user)
    return coop is not None and _part_coops(shipment) == {coop}


def shipments_for(user: User, limit: int = 200) -> list[Shipment]:
    stmt = select(Shipment).order_by(Shipment.id.desc()).limit(limit)
    if user.is_staff:
        return list(db.session.scalars(stmt))
    carrier = _carrier_id(user)
    if carrier is not None:
        return list(db.session.scalars(stmt.where(Shipment.carrier_id == carrier)))
    coop = _coop_id(user)
    if coop is None:
        return []
    mine = (select(ShipmentPart.shipment_id).join(OrderPart, OrderPart.id == ShipmentPart.part_id)
            .where(OrderPart.cooperative_id == coop))
    return list(db.session.scalars(stmt.where(Shipment.id.in_(mine))))


def carriers() -> list[Organisation]:
    from marketplace.accounts.models import OrgStatus

    return list(db.session.scalars(select(Organisation).where(Organisation.kind == OrgKind.CARRIER,
                                                              Organisation.status == OrgStatus.VERIFIED)
                                   .order_by(Organisation.name)))


def shipment_of(part: OrderPart) -> Shipment | None:
    return db.session.scalar(select(Shipment).join(ShipmentPart).where(ShipmentPart.part_id == part.id))


def shippable_parts(coop: Cooperative) -> list[OrderPart]:
    shipped = select(ShipmentPart.part_id)
    return list(db.session.scalars(
        select(OrderPart).join(Order, Order.id == OrderPart.order_id)
        .where(OrderPart.cooperative_id == coop.id, OrderPart.status.in_(SHIPPABLE),
               OrderPart.id.not_in(shipped), freeze.unfrozen()).order_by(OrderPart.id)))


# ------------------------------------------------------------------- creating


def part_kg(part: OrderPart) -> Decimal:
    return sum((ln.quantity_kg for ln in part.lines), Decimal("0"))


@dataclass
class ShipmentData:
    part_ids: list[int]
    planned_pickup: date | None
    planned_delivery: date | None
    carrier_id: int | None = None
    carrier_name: str | None = None


def _check_dates(data: ShipmentData, today: date) -> None:
    if data.planned_pickup is None or data.planned_delivery is None:
        raise DomainError(_l("Escriba las fechas de recogida y de entrega."), "planned_pickup")
    if data.planned_pickup < today - timedelta(days=30) or data.planned_pickup > today + timedelta(days=365):
        raise DomainError(_l("La recogida debe ser dentro del próximo año."), "planned_pickup")
    if data.planned_delivery < data.planned_pickup:
        raise DomainError(_l("La entrega no puede ser antes de la recogida."), "planned_delivery")


def _carrier(data: ShipmentData) -> tuple[int | None, str | None]:
    if data.carrier_id:
        carrier = db.session.get(Organisation, data.carrier_id)
        if carrier is None or carrier.kind != OrgKind.CARRIER or not carrier.is_verified:
            raise DomainError(_l("Elija un transportador verificado de la lista."), "carrier")
        return carrier.id, None
    name = clean_text(data.carrier_name) or None
    if name and len(name) > 120:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=120), "carrier_name")
    return None, name


def create_shipment(actor: User, data: ShipmentData, today: date | None = None) -> Shipment:
    """A cooperative ships some of its accepted or ready parts to one delivery site; the legs
    and their estimated cost come from the quote (first-mile legs, then the road)."""
    today = today or bogota_date()
    coop = _coop_id(actor)
    if coop is None and not actor.is_admin:
        raise Forbidden(_l("Solo las cooperativas y el equipo del programa crean envíos."))
    ids = sorted(set(data.part_ids or []))
    if not ids:
        raise DomainError(_l("Elija al menos un pedido para el envío."), "parts")
    if len(ids) > 100:
        raise DomainError(_l("Un envío puede llevar hasta 100 pedidos."), "parts")
    parts = list(db.session.scalars(select(OrderPart).where(OrderPart.id.in_(ids))))
    if len(parts) != len(ids) or (coop is not None and any(p.cooperative_id != coop for p in parts)):
        raise NotFound(_l("No encontramos ese pedido."))
    freeze.check_parts(actor, parts)
    for part in parts:
        if part.status not in SHIPPABLE:
            raise Conflict(_l("El pedido %(n)s no está aceptado ni listo.", n=part.order.number))
        if shipment_of(part) is not None:
            raise Conflict(_l("El pedido %(n)s ya va en otro envío.", n=part.order.number))
    sites = {p.order.delivery_site_id for p in parts}
    if len(sites) != 1:
        raise DomainError(_l("Un envío va a un solo sitio de entrega; separe los pedidos por destino."), "parts")
    if len({p.cooperative_id for p in parts}) != 1:
        # The quote's first-mile legs (a mule to the road, a boat) are the cooperative's, and
        # their cost falls on the parts shipped: another cooperative's parts would bear a leg
        # that is not theirs. Pickups from several cooperatives are the route planner's.
        raise DomainError(_l("Un envío lleva pedidos de una sola cooperativa; para recoger en varias, use el "
                             "planificador de rutas."), "parts")
    _check_dates(data, today)
    carrier_id, carrier_name = _carrier(data)
    site = parts[0].order.delivery_site
    point = db.session.get(CollectionPoint, parts[0].lines[0].collection_point_id)
    total_kg = sum((part_kg(p) for p in parts), Decimal("0"))
    quote = logistics.Quoter.load([point.id], [site.id]).quote(point, site, total_kg)
    shipment = Shipment(status="planned", carrier_id=carrier_id, carrier_name=carrier_name,
                        planned_pickup=data.planned_pickup, planned_delivery=data.planned_delivery,
                        estimated_cop=quote.total_cop, created_by_id=actor.id, legs=[], stops=[])
    for position, (planned, priced) in enumerate(zip(quote.legs, quote.priced.legs, strict=True)):
        shipment.legs.append(ShipmentLeg(
            position=position, kind=planned.leg.kind, mode_code=planned.leg.mode.code,
            from_label=planned.from_label[:160], to_label=planned.to_label[:160], km=planned.leg.km,
            terrain=planned.leg.terrain, trips=priced.trips, estimated_cop=priced.total_cop,
            # First-mile legs (mule, river to the road) are the cooperative's; the road the platform's.
            paid_by="cooperative" if planned.leg.kind != "road" else "platform",
        ))
    for part in parts:
        shipment.stops.append(ShipmentPart(part_id=part.id, kg=part_kg(part)))
    db.session.add(shipment)
    db.session.flush()
    audit.record("shipment.created", "shipment", shipment.id, actor=actor, organisation_id=coop,
                 after={"parts": ids, "estimated_cop": str(shipment.estimated_cop),
                        "legs": [[leg.mode_code, str(leg.km)] for leg in shipment.legs]})
    return shipment


def dispatch(actor: User, shipment: Shipment, today: date | None = None) -> None:
    """The shipment leaves: its parts go in transit (they must be ready)."""
    if not can_record_costs(actor, shipment):
        raise Forbidden(_l("Usted no puede despachar este envío."))
    if shipment.status != "planned":
        raise Conflict(_l("Este envío ya salió."))
    parts = _parts(shipment)
    freeze.check_parts(actor, parts)
    not_ready = [p for p in parts if p.status != PartStatus.READY]
    if not_ready:
        raise Conflict(_l("Primero marque listo el pedido %(n)s.", n=not_ready[0].order.number))
    for part in parts:
        services.ship(actor, part)
    shipment.status = "in_transit"
    shipment.actual_pickup = today or bogota_date()
    audit.record("shipment.dispatched", "shipment", shipment.id, actor=actor)


def part_delivered(part: OrderPart, today: date) -> None:
    """A shipment is delivered when every part it carries is."""
    shipment = shipment_of(part)
    if shipment is None or shipment.status == "delivered":
        return
    if all(p.status in (PartStatus.DELIVERED, PartStatus.SETTLED) for p in _parts(shipment)):
        shipment.status = "delivered"
        shipment.actual_delivery = shipment.actual_delivery or today


def _parts(shipment: Shipment) -> list[OrderPart]:
    ids = [stop.part_id for stop in shipment.stops]
    return list(db.session.scalars(select(OrderPart).where(OrderPart.id.in_(ids)).order_by(OrderPart.id)))


# ---------------------------------------------------------------- actual costs

COOPERATIVE_PAYS = "cooperative"  # ShipmentLeg.paid_by: the cooperative's ledger bears the leg
PLATFORM_PAYS = "platform"
REASON_MAX = 500
ARRIVED = (PartStatus.DELIVERED, PartStatus.SETTLED)


def costs_closed(shipment: Shipment, parts: list[OrderPart] | None = None) -> bool:
    """Actual costs close when the produce has arrived: the shipment is delivered, or every
    part it carries that was sold is. After that only staff correct them."""
    if shipment.status == "delivered":
        return True
    sold = [p for p in (parts if parts is not None else _parts(shipment)) if p.status not in CLOSED_WITHOUT_SALE]
    return bool(sold) and all(p.status in ARRIVED for p in sold)


def _paid_out(part: OrderPart) -> bool:
    return part.payout_status == PayoutStatus.PAID or part.status == PartStatus.SETTLED


def can_price_leg(user: User, shipment: Shipment, leg: ShipmentLeg) -> bool:
    """Who may record what a leg cost: an admin; the cooperative whose parts are all the
    shipment carries; the carrier that drives it, but not for a leg the cooperative paid
    (a mule to the road), since that cost comes out of the cooperative's net."""
    if user.is_admin:
        return True
    coop = _coop_id(user)
    if coop is not None and _part_coops(shipment) == {coop}:
        return True
    carrier = _carrier_id(user)
    return leg.paid_by != COOPERATIVE_PAYS and carrier is not None and shipment.carrier_id == carrier


def editable_legs(user: User, shipment: Shipment) -> set[int]:
    """The legs whose cost the user may enter now (none for non-staff once costs closed)."""
    if not can_record_costs(user, shipment) or (not user.is_admin and costs_closed(shipment)):
        return set()
    return {leg.id for leg in shipment.legs if can_price_leg(user, shipment, leg)}


def visible_adjustments(user: User, parts: list[OrderPart]) -> list[PayoutAdjustment]:
    """Payout adjustments that corrections of these parts gave rise to: staff see them all,
    a cooperative its own; carriers none (they are the cooperative's money)."""
    coop = _coop_id(user)
    if not user.is_staff and coop is None:
        return []
    return [a for p in parts if user.is_staff or p.cooperative_id == coop for a in adjustments.from_part(p)]


def adjustments_for(user: User, limit: int = 500) -> list[PayoutAdjustment]:
    """Staff see every payout adjustment; a cooperative its own; others none. Newest first."""
    stmt = select(PayoutAdjustment).order_by(PayoutAdjustment.id.desc()).limit(limit)
    if user.is_staff:
        return list(db.session.scalars(stmt))
    coop = _coop_id(user)
    if coop is None:
        return []
    return list(db.session.scalars(stmt.where(PayoutAdjustment.cooperative_id == coop)))


def _lock(shipment: Shipment) -> tuple[list[OrderPart], list[ShipmentLeg]]:
    """Hold the parts' rows (in id order, as a delivery does before it touches the shipment)
    and then the shipment's, and read them fresh: a correction never races a payout, a
    delivery or another correction."""
    ids = sorted(stop.part_id for stop in shipment.stops)
    parts = list(db.session.scalars(select(OrderPart).where(OrderPart.id.in_(ids)).order_by(OrderPart.id)
                                    .with_for_update().execution_options(populate_existing=True)))
    db.session.scalars(select(Shipment).where(Shipment.id == shipment.id).with_for_update()
                       .execution_options(populate_existing=True)).one()
    legs = list(db.session.scalars(select(ShipmentLeg).where(ShipmentLeg.shipment_id == shipment.id)
                                   .order_by(ShipmentLeg.position).execution_options(populate_existing=True)))
    return parts, legs


def _cop(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def record_actual_costs(actor: User, shipment: Shipment, costs: dict[int, Decimal | None],
                        actual_pickup: date | None = None, actual_delivery: date | None = None,
                        reason: str | None = None, now: datetime | None = None) -> list[PayoutAdjustment]:
    """What each leg really cost (``None``: leave the leg as it is). Once every leg has its
    cost, the total is allocated to the order lines by weight (to the peso) and the legs the
    cooperative paid become the transport its ledger bears.

    - The carrier that drives the shipment prices the platform's legs, never the
      cooperative's; the cooperative whose parts it all is prices any leg; an admin too.
    - Once the produce has arrived (``costs_closed``) only an admin corrects, with a reason.
    - A part already paid out keeps the figures it was paid on: the change in what its
      cooperative bears becomes a payout adjustment on the cooperative's next payout
      (staff only, with a reason). Those adjustments are returned.
    - No leg and no shipment costs more than ``MAX_COP``, and nobody but an admin giving a
      reason leaves a cooperative's net for a part below zero.

    Everything is audited with before and after; refused input changes nothing."""
    if not can_record_costs(actor, shipment):
        raise NotFound(_l("No encontramos ese envío."))
    parts, leg_rows = _lock(shipment)
    legs = {leg.id: leg for leg in leg_rows}
    closed = costs_closed(shipment, parts)
    if closed and not actor.is_admin:
        raise Conflict(_l("Los pedidos de este envío ya se entregaron y sus costos están cerrados. Si hay un "
                          "error, pida al equipo del programa que lo corrija."))
    reason = clean_text(reason) or None
    if reason and len(reason) > REASON_MAX:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=REASON_MAX), "reason")
    if not costs or set(costs) - set(legs):
        raise DomainError(_l("Escriba el costo de los tramos de este envío."), "legs")
    new: dict[int, Decimal] = {}
    for leg_id, value in costs.items():
        if value is None:
            continue
        if not value.is_finite() or value < 0 or value > MAX_COP:
            raise DomainError(_l("Escriba un costo entre 0 y 100 millones de pesos."), f"leg-{leg_id}")
        if not can_price_leg(actor, shipment, legs[leg_id]):
            raise Forbidden(_l("El tramo %(n)s lo paga la cooperativa: solo ella o el equipo del programa "
                               "registran su costo.", n=legs[leg_id].position + 1), f"leg-{leg_id}")
        new[leg_id] = value.quantize(PESO, ROUND_HALF_UP)
    if actual_pickup and actual_delivery and actual_delivery < actual_pickup:
        raise DomainError(_l("La entrega no puede ser antes de la recogida."), "actual_delivery")
    total = sum((new.get(leg.id, leg.actual_cop) or Decimal("0") for leg in leg_rows), Decimal("0"))
    if total > MAX_COP:
        raise DomainError(_l("El costo real del envío no puede pasar de 100 millones de pesos."), "legs")
    changed = {leg_id: value for leg_id, value in new.items() if legs[leg_id].actual_cop != value}
    if closed and not changed:
        raise DomainError(_l("Cambie al menos un costo para corregirlo."), "legs")
    if closed and not reason:
        raise DomainError(_l("Escriba el motivo de la corrección."), "reason")

    before_legs = {str(leg.id): _cop(leg.actual_cop) for leg in leg_rows}
    borne_before = {p.id: p.logistics_borne for p in parts}
    before_parts = {str(p.id): {"logistics_actual": _cop(p.logistics_actual), "logistics_borne": str(p.logistics_borne),
                                "net": str(services.ledger(p).net)} for p in parts}
    for leg_id, value in new.items():
        legs[leg_id].actual_cop = value
    if actual_pickup:
        shipment.actual_pickup = actual_pickup
    if actual_delivery:
        shipment.actual_delivery = actual_delivery
    complete = all(leg.actual_cop is not None for leg in leg_rows)
    shipment.actual_cop = sum((leg.actual_cop for leg in leg_rows), Decimal("0")) if complete else None
    frozen = [p for p in parts if _paid_out(p)]
    owed: dict[int, Decimal] = {}
    if complete:
        borne = allocate_actual_cost(shipment, frozen={p.id for p in frozen})
        for part in frozen:
            # What the cooperative bears for the part as paid, with earlier adjustments.
            bears = part.logistics_borne - sum((a.amount for a in adjustments.from_part(part)), Decimal("0"))
            if bears != borne[part.id]:
                owed[part.id] = bears - borne[part.id]
    if owed and not actor.is_admin:
        paid = next(p for p in frozen if p.id in owed)
        raise Conflict(_l("El pedido %(n)s ya se pagó a la cooperativa: solo el equipo del programa corrige "
                          "este costo.", n=paid.order.number))
    if owed and not reason:
        raise DomainError(_l("El pedido ya se pagó a la cooperativa: escriba el motivo del ajuste a su próximo "
                             "pago."), "reason")
    for part in parts:
        if part in frozen or borne_before[part.id] == part.logistics_borne:
            continue
        if services.ledger(part).net < 0 and not (actor.is_admin and reason):
            raise DomainError(_l("Con estos costos la cooperativa recibiría menos de cero por el pedido %(n)s. "
                                 "Revise las cifras; si son correctas, el equipo del programa las registra con "
                                 "un motivo.", n=part.order.number), "legs")
    now = now or utcnow()
    created = [adjustments.create(actor, part, owed[part.id], reason, shipment_id=shipment.id, now=now)
               for part in frozen if part.id in owed]
    coops = {p.cooperative_id for p in parts}
    after_parts = {str(p.id): {"logistics_actual": _cop(p.logistics_actual), "logistics_borne": str(p.logistics_borne),
                               "net": str(services.ledger(p).net)} for p in parts}
    after: dict = {"legs": {str(leg.id): _cop(leg.actual_cop) for leg in leg_rows}, "parts": after_parts}
    if created:
        after["adjustments"] = {str(a.part_id): str(a.amount) for a in created}
    audit.record("shipment.cost_corrected" if closed or created else "shipment.actual_costs", "shipment",
                 shipment.id, actor=actor, organisation_id=next(iter(coops)) if len(coops) == 1 else None, note=reason,
                 before={"legs": before_legs, "parts": before_parts}, after=after)
    db.session.flush()
    return created


def allocate_actual_cost(shipment: Shipment, frozen: set[int] | frozenset[int] = frozenset()) -> dict[int, Decimal]:
    """Split the shipment's actual cost over its order lines in proportion to their kilos;
    the shares add up to the total to the peso. Legs the cooperative paid become, in the
    same proportion, the transport each part's cooperative bore in its ledger. Parts in
    ``frozen`` (paid out) keep their figures. Returns each part's borne share."""
    parts = _parts(shipment)
    lines = [ln for part in parts for ln in sorted(part.lines, key=lambda ln: ln.id)]
    weights = [ln.quantity_kg for ln in lines]
    shares = costing.allocate(shipment.actual_cop, weights, PESO)
    per_part: dict[int, Decimal] = defaultdict(Decimal)
    for line, share in zip(lines, shares, strict=True):
        if line.part_id not in frozen:
            line.logistics_actual = share
        per_part[line.part_id] += share
    borne_total = sum((leg.actual_cop for leg in shipment.legs if leg.paid_by == COOPERATIVE_PAYS), Decimal("0"))
    part_weights = [part_kg(p) for p in parts]
    borne = costing.allocate(borne_total, part_weights, PESO) if borne_total > 0 else [Decimal("0")] * len(parts)
    for part, share in zip(parts, borne, strict=True):
        if part.id in frozen:
            continue
        part.logistics_actual = per_part[part.id]
        part.logistics_borne = share
        db.session.add(SaleChange(part_id=part.id))
    return {part.id: share for part, share in zip(parts, borne, strict=True)}


# ---------------------------------------------------------------- last mile


@dataclass(frozen=True)
class LastMile:
    cost_cop: Decimal
    actual: bool  # False: still the estimate
    kg: Decimal
    goods_cop: Decimal

    @property
    def per_kg(self) -> Decimal:
        return (self.cost_cop / self.kg).quantize(Decimal("0.01"), ROUND_HALF_UP) if self.kg else Decimal("0")

    @property
    def landed_per_kg(self) -> Decimal:
        return ((self.goods_cop + self.cost_cop) / self.kg).quantize(Decimal("0.01"), ROUND_HALF_UP) \
            if self.kg else Decimal("0")

    @property
    def share(self) -> Decimal:
        total = self.goods_cop + self.cost_cop
        return (self.cost_cop / total).quantize(Decimal("0.0001"), ROUND_HALF_UP) if total else Decimal("0")


def last_mile(part: OrderPart) -> LastMile:
    """What moving the part costs (actual once recorded, else the estimate), per kg and as a
    share of the landed price."""
    kg = part_kg(part)
    actual = part.logistics_actual is not None
    return LastMile(part.logistics_actual if actual else part.logistics_estimate, actual, kg, part.goods_amount)


@dataclass
class ReportRow:
    department: str
    municipality: str
    pdet: bool
    product: str
    kg: Decimal
    goods_cop: Decimal
    logistics_cop: Decimal
    actual_kg: Decimal

    @property
    def per_kg(self) -> Decimal:
        return (self.logistics_cop / self.kg).quantize(Decimal("0.01"), ROUND_HALF_UP) if self.kg else Decimal("0")

    @property
    def share(self) -> Decimal:
        total = self.goods_cop + self.logistics_cop
        return (self.logistics_cop / total).quantize(Decimal("0.0001"), ROUND_HALF_UP) if total else Decimal("0")


def last_mile_report(start: date | None = None, end: date | None = None) -> list[ReportRow]:
    """Last-mile cost by origin municipality and product, over order lines that were sold:
    a line's actual share of its shipment where recorded, else its part's estimate by weight."""
    from marketplace.catalog.models import Product
    from marketplace.core.models import Municipality

    part_kg_q = (select(OrderLine.part_id, func.sum(OrderLine.quantity_kg).label("kg"))
                 .group_by(OrderLine.part_id).subquery())
    stmt = (
        select(OrderLine, OrderPart.logistics_estimate, part_kg_q.c.kg, Municipality, Product)
        .join(OrderPart, OrderPart.id == OrderLine.part_id)
        .join(Order, Order.id == OrderPart.order_id)
        .join(part_kg_q, part_kg_q.c.part_id == OrderPart.id)
        .join(Municipality, Municipality.code == OrderLine.municipality_code)
        .join(Product, Product.id == OrderLine.product_id)
        .where(OrderPart.status.not_in([s.value for s in CLOSED_WITHOUT_SALE]))
    )
    if start:
        stmt = stmt.where(func.date(Order.placed_at) >= start)
    if end:
        stmt = stmt.where(func.date(Order.placed_at) <= end)
    rows: dict[tuple[str, int], ReportRow] = {}
    for line, estimate, kg_total, municipality, product in db.session.execute(stmt):
        key = (municipality.code, product.id)
        row = rows.get(key)
        if row is None:
            row = rows[key] = ReportRow(municipality.department_name, municipality.name,
                                        municipality.pdet_subregion is not None, product_name(product),
                                        Decimal("0"), Decimal("0"), Decimal("0"), Decimal("0"))
        row.kg += line.quantity_kg
        row.goods_cop += (line.quantity_kg * line.price_per_kg).quantize(Decimal("0.01"))
        if line.logistics_actual is not None:
            row.logistics_cop += line.logistics_actual
            row.actual_kg += line.quantity_kg
        else:
            row.logistics_cop += (estimate * line.quantity_kg / kg_total).quantize(Decimal("0.01"))
    return sorted(rows.values(), key=lambda r: (-r.share, r.department, r.municipality, r.product))
