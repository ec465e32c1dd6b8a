"""What of a shipment each user may see: the one place that decides it, for the pages, the
API and anything else that shows a shipment.

A shipment from a consolidated route plan carries several cooperatives' parts. Each
cooperative sees only its own stops, kilos and money: the others are an anonymous count,
and neither the shipment's legs (they name the others' collection points) nor its totals
(with its own share they give the others' kilos and costs) are shown to it. The carrier
sees every stop's place and kilos, and the money of the legs it records, never what the
produce is worth, what moving it costs per kilo or its share of the landed price. Staff
see everything. Buyers see no shipment (their order page shows their own part)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from marketplace.accounts.models import User
from marketplace.catalog.models import CollectionPoint
from marketplace.extensions import db
from marketplace.logistics.models import Shipment, ShipmentLeg, ShipmentPart
from marketplace.orders import shipping
from marketplace.orders.models import OrderPart

STAFF, CARRIER, COOPERATIVE, NOBODY = "staff", "carrier", "cooperative", "nobody"


@dataclass(frozen=True)
class StopView:
    """A stop the user may see. ``last_mile`` is ``None`` when its money is not the user's."""

    part_id: int
    order_number: str
    cooperative_id: int
    cooperative: str
    place: str
    municipality_code: str
    municipality: str
    kg: Decimal
    last_mile: shipping.LastMile | None

    @property
    def last_mile_cop(self) -> Decimal | None:
        return self.last_mile.cost_cop if self.last_mile else None

    @property
    def last_mile_per_kg(self) -> Decimal | None:
        return self.last_mile.per_kg if self.last_mile else None

    @property
    def last_mile_share(self) -> Decimal | None:
        return self.last_mile.share if self.last_mile else None

    @property
    def last_mile_actual(self) -> bool | None:
        return self.last_mile.actual if self.last_mile else None


@dataclass(frozen=True)
class LegView:
    """A leg; its amounts are ``None`` when the user may not see them."""

    leg: ShipmentLeg
    money: bool

    id = property(lambda self: self.leg.id)
    position = property(lambda self: self.leg.position)
    kind = property(lambda self: self.leg.kind)
    mode_code = property(lambda self: self.leg.mode_code)
    from_label = property(lambda self: self.leg.from_label)
    to_label = property(lambda self: self.leg.to_label)
    km = property(lambda self: self.leg.km)
    trips = property(lambda self: self.leg.trips)
    paid_by = property(lambda self: self.leg.paid_by)

    @property
    def estimated_cop(self) -> Decimal | None:
        return self.leg.estimated_cop if self.money else None

    @property
    def actual_cop(self) -> Decimal | None:
        return self.leg.actual_cop if self.money else None


@dataclass
class ShipmentView:
    """A shipment as one user may see it. ``estimated_cop`` and ``actual_cop`` are the totals
    the user may see (``None``: not theirs to see); ``other_stops`` counts the stops of other
    cooperatives that a cooperative does not see."""

    shipment: Shipment
    audience: str
    shared: bool
    stops: list[StopView] = field(default_factory=list)
    other_stops: int = 0
    legs: list[LegView] = field(default_factory=list)
    estimated_cop: Decimal | None = None
    actual_cop: Decimal | None = None

    @property
    def money(self) -> bool:
        """Whether the stops' last-mile cost, per kg and share of the landed price are shown."""
        return self.audience in (STAFF, COOPERATIVE)

    # The shipment's own facts, the same for everyone who may see it.
    id = property(lambda self: self.shipment.id)
    number = property(lambda self: self.shipment.number)
    status = property(lambda self: self.shipment.status)
    carrier_id = property(lambda self: self.shipment.carrier_id)
    carrier_name = property(lambda self: self.shipment.carrier_name)
    planned_pickup = property(lambda self: self.shipment.planned_pickup)
    planned_delivery = property(lambda self: self.shipment.planned_delivery)
    actual_pickup = property(lambda self: self.shipment.actual_pickup)
    actual_delivery = property(lambda self: self.shipment.actual_delivery)
    route_plan_id = property(lambda self: self.shipment.route_plan_id)


def audience(user: User, shipment: Shipment) -> str:
    """Who the user is to this shipment (it must already be visible to them)."""
    if user.is_staff:
        return STAFF
    carrier = shipping._carrier_id(user)  # noqa: SLF001 - the same rule as who sees a shipment
    if carrier is not None and shipment.carrier_id == carrier:
        return CARRIER
    if shipping._coop_id(user) is not None:  # noqa: SLF001
        return COOPERATIVE
    return NOBODY


def view_for(user: User, shipment: Shipment) -> ShipmentView:
    return views_for(user, [shipment])[0]


def views_for(user: User, shipments: list[Shipment]) -> list[ShipmentView]:
    """Each shipment as the user may see it (they must be visible to the user: see
    ``shipping.visible_shipment`` and ``shipping.shipments_for``). Reads every shipment's
    stops, parts and legs in a few queries, whatever the number of shipments."""
    if not shipments:
        return []
    ids = [s.id for s in shipments]
    stops_of: dict[int, list[ShipmentPart]] = defaultdict(list)
    for stop in db.session.scalars(select(ShipmentPart).where(ShipmentPart.shipment_id.in_(ids))
                                   .order_by(ShipmentPart.part_id)):
        stops_of[stop.shipment_id].append(stop)
    legs_of: dict[int, list[ShipmentLeg]] = defaultdict(list)
    for leg in db.session.scalars(select(ShipmentLeg).where(ShipmentLeg.shipment_id.in_(ids))
                                  .order_by(ShipmentLeg.shipment_id, ShipmentLeg.position)):
        legs_of[leg.shipment_id].append(leg)
    part_ids = [stop.part_id for stops in stops_of.values() for stop in stops]
    parts = {p.id: p for p in db.session.scalars(
        select(OrderPart).where(OrderPart.id.in_(part_ids))
        .options(selectinload(OrderPart.lines), joinedload(OrderPart.order), joinedload(OrderPart.cooperative)))}
    point_ids = {p.lines[0].collection_point_id for p in parts.values() if p.lines}
    points = {pt.id: pt for pt in db.session.scalars(select(CollectionPoint)
                                                    .where(CollectionPoint.id.in_(point_ids)))}
    coop = shipping._coop_id(user)  # noqa: SLF001
    return [_view(user, s, [parts[stop.part_id] for stop in stops_of[s.id]], legs_of[s.id], points, coop)
            for s in shipments]


def _stop(part: OrderPart, points: dict[int, CollectionPoint], money: bool) -> StopView:
    point = points.get(part.lines[0].collection_point_id) if part.lines else None
    return StopView(
        part_id=part.id, order_number=part.order.number, cooperative_id=part.cooperative_id,
        cooperative=part.cooperative.name, place=point.name if point else "",
        municipality_code=point.municipality_code if point else "",
        municipality=point.municipality.label if point else "", kg=shipping.part_kg(part),
        last_mile=shipping.last_mile(part) if money else None)


def _total(legs: list[ShipmentLeg]) -> tuple[Decimal, Decimal | None]:
    estimated = sum((leg.estimated_cop for leg in legs), Decimal("0"))
    complete = bool(legs) and all(leg.actual_cop is not None for leg in legs)
    return estimated, sum((leg.actual_cop for leg in legs), Decimal("0")) if complete else None


def _view(user: User, shipment: Shipment, parts: list[OrderPart], legs: list[ShipmentLeg],
          points: dict[int, CollectionPoint], coop: int | None) -> ShipmentView:
    who = audience(user, shipment)
    shared = len({p.cooperative_id for p in parts}) > 1
    view = ShipmentView(shipment, who, shared)
    if who == STAFF:
        view.stops = [_stop(p, points, money=True) for p in parts]
        view.legs = [LegView(leg, money=True) for leg in legs]
        view.estimated_cop, view.actual_cop = shipment.estimated_cop, shipment.actual_cop
    elif who == CARRIER:
        # Every place and its kilos; money only for the legs it records (a leg the
        # cooperative pays comes out of the cooperative's net, so it is not the carrier's).
        view.stops = [_stop(p, points, money=False) for p in parts]
        view.legs = [LegView(leg, money=leg.paid_by != shipping.COOPERATIVE_PAYS) for leg in legs]
        view.estimated_cop, view.actual_cop = _total([leg for leg in legs if leg.paid_by != shipping.COOPERATIVE_PAYS])
    elif who == COOPERATIVE:
        own = [p for p in parts if p.cooperative_id == coop]
        view.stops = [_stop(p, points, money=True) for p in own]
        view.other_stops = len(parts) - len(own)
        if not view.other_stops:
            view.legs = [LegView(leg, money=True) for leg in legs]
            view.estimated_cop, view.actual_cop = shipment.estimated_cop, shipment.actual_cop
    return view
