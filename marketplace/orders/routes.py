"""Consolidated collection routes: the pickups due in a department on a day, planned into
vehicle routes from and back to a depot with OR-Tools (``logistics.routing``), compared with
one trip per pickup; accepting a plan creates one shipment per route."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.catalog.models import CollectionPoint
from marketplace.core import audit, geography
from marketplace.core.errors import Conflict, DomainError, Forbidden, NotFound
from marketplace.extensions import db
from marketplace.logistics import costing, routing
from marketplace.logistics.models import (
    RoutePlan,
    Shipment,
    ShipmentLeg,
    ShipmentPart,
    TransportMode,
)
from marketplace.orders import freeze, shipping
from marketplace.orders.models import Order, OrderPart

MAX_PICKUPS = 200
TERRAIN = "rolling"
ROUTING_MESSAGES = {
    "demand_exceeds_capacity": _l("Una recogida pesa más de lo que carga ese vehículo; elija uno más grande."),
    "no_solution": _l("No se encontró un plan que cumpla las restricciones."),
}


@dataclass(frozen=True)
class Pickup:
    part: OrderPart
    point: CollectionPoint
    kg: Decimal


def pickups_due(department_code: str, day: date) -> list[Pickup]:
    """Accepted or ready parts not yet in a shipment, whose delivery window includes the day,
    picked up in the department."""
    shipped = select(ShipmentPart.part_id)
    parts = db.session.scalars(
        select(OrderPart).join(Order, Order.id == OrderPart.order_id)
        .where(OrderPart.status.in_(shipping.SHIPPABLE), OrderPart.id.not_in(shipped),
               Order.window_start <= day, Order.window_end >= day, freeze.unfrozen())
        .order_by(OrderPart.id)
    )
    found = []
    for part in parts:
        point = db.session.get(CollectionPoint, part.lines[0].collection_point_id)
        if point.municipality.department_code == department_code:
            found.append(Pickup(part, point, shipping.part_kg(part)))
    return found


def _matrix(nodes: list[tuple[Decimal, Decimal]]) -> list[list[int]]:
    """Estimated road distances in metres between every pair of nodes."""
    return [[0 if i == j else int(costing.road_km(costing.great_circle_km(a[0], a[1], b[0], b[1])) * 1000)
             for j, b in enumerate(nodes)] for i, a in enumerate(nodes)]


def propose(actor: User, department_code: str, day: date, depot_code: str, mode_code: str) -> RoutePlan:
    if not actor.is_admin:
        raise Forbidden(_l("Solo el equipo del programa planea rutas."))
    if department_code not in {code for code, _name in geography.departments()}:
        raise DomainError(_l("Elija un departamento de la lista."), "department")
    depot = geography.resolve(depot_code).municipality
    if depot is None:
        raise DomainError(_l("Escriba el municipio de salida y llegada (nombre o código DIVIPOLA); si hay "
                             "varios con ese nombre, use el código."), "depot")
    mode = db.session.get(TransportMode, mode_code)
    if mode is None or not mode.active or "road" not in mode.kinds.split(","):
        raise DomainError(_l("Elija un vehículo de carretera."), "mode")
    pickups = pickups_due(department_code, day)
    if not pickups:
        raise DomainError(_l("No hay recogidas pendientes en ese departamento para ese día."), "department")
    if len(pickups) > MAX_PICKUPS:
        raise DomainError(_l("Demasiadas recogidas para un solo plan; divida por municipio."), "department")
    nodes = [(depot.latitude, depot.longitude)] + [(p.point.latitude, p.point.longitude) for p in pickups]
    distances = _matrix(nodes)
    demands = [0] + [int(math.ceil(p.kg)) for p in pickups]
    capacity = int(mode.capacity_kg)
    per_metre = mode.per_km_cop * costing.TERRAIN_FACTORS[TERRAIN] / 1000
    try:
        plan = routing.plan_routes(distances, demands, capacity, fixed_cost_per_route=mode.fixed_cop,
                                   cost_per_distance=per_metre, time_limit_s=3.0)
        baseline = routing.one_trip_per_stop_cost(distances, demands, capacity, mode.fixed_cop, per_metre)
    except routing.RoutingError as exc:
        raise DomainError(ROUTING_MESSAGES.get(exc.code, _l("No se pudo planear la ruta.")), "mode") from exc
    record = RoutePlan(
        department_code=department_code, day=day, depot_label=f"{depot.name} ({depot.department_name})",
        depot_latitude=depot.latitude, depot_longitude=depot.longitude, mode_code=mode.code,
        routes=[[pickups[i - 1].part.id for i in route] for route in plan.routes],
        distance_km=(Decimal(plan.distance) / 1000).quantize(Decimal("0.001")),
        cost_cop=plan.cost.quantize(Decimal("1"), ROUND_HALF_UP),
        baseline_cop=baseline.quantize(Decimal("1"), ROUND_HALF_UP), status="proposed", created_by_id=actor.id,
    )
    db.session.add(record)
    db.session.flush()
    audit.record("route_plan.proposed", "route_plan", record.id, actor=actor,
                 after={"routes": record.routes, "cost": str(record.cost_cop), "baseline": str(record.baseline_cop)})
    return record


def recent_plans(limit: int = 10) -> list[RoutePlan]:
    return list(db.session.scalars(select(RoutePlan).order_by(RoutePlan.id.desc()).limit(limit)))


def open_plans(limit: int = 20) -> list[RoutePlan]:
    """Proposed plans a carrier may take."""
    return list(db.session.scalars(select(RoutePlan).where(RoutePlan.status == "proposed")
                                   .order_by(RoutePlan.day, RoutePlan.id).limit(limit)))


@dataclass
class RouteStop:
    part: OrderPart
    point: CollectionPoint
    kg: Decimal


def describe(plan: RoutePlan) -> list[list[RouteStop]]:
    return [describe_route(route) for route in plan.routes]


def accept(actor: User, plan_id: int) -> list[Shipment]:
    """Create one shipment per route (legs depot -> pickups -> depot). Refused when a pickup
    was shipped or changed meanwhile: plan again."""
    carrier_id = shipping._carrier_id(actor)  # noqa: SLF001 - the same rule as for shipments
    if not actor.is_admin and carrier_id is None:
        raise Forbidden(_l("Solo el equipo del programa o un transportador aceptan planes de ruta."))
    plan = db.session.get(RoutePlan, plan_id)
    if plan is None:
        raise NotFound(_l("No encontramos ese plan."))
    if plan.status != "proposed":
        raise Conflict(_l("Este plan ya fue aceptado."))
    mode = db.session.get(TransportMode, plan.mode_code)
    per_km = mode.per_km_cop * costing.TERRAIN_FACTORS[TERRAIN]
    created = []
    for route in plan.routes:
        stops = describe_route(route)
        # A carrier that accepts the plan drives its routes.
        shipment = Shipment(status="planned", planned_pickup=plan.day, planned_delivery=plan.day,
                            estimated_cop=Decimal("0"), route_plan_id=plan.id, created_by_id=actor.id,
                            carrier_id=carrier_id, legs=[], stops=[])
        here_label, here = plan.depot_label, (plan.depot_latitude, plan.depot_longitude)
        waypoints = [(s.point.name, (s.point.latitude, s.point.longitude)) for s in stops]
        waypoints.append((plan.depot_label, (plan.depot_latitude, plan.depot_longitude)))
        for position, (label, coords) in enumerate(waypoints):
            km = costing.road_km(costing.great_circle_km(here[0], here[1], coords[0], coords[1]))
            cost = (per_km * km + (mode.fixed_cop if position == 0 else 0)).quantize(Decimal("1"), ROUND_HALF_UP)
            shipment.legs.append(ShipmentLeg(position=position, kind="road", mode_code=mode.code,
                                             from_label=here_label[:160], to_label=label[:160], km=km,
                                             terrain=TERRAIN, trips=1, estimated_cop=cost, paid_by="platform"))
            here_label, here = label, coords
        shipment.estimated_cop = sum((leg.estimated_cop for leg in shipment.legs), Decimal("0"))
        for stop in stops:
            if stop.part.status not in shipping.SHIPPABLE or shipping.shipment_of(stop.part) is not None \
                    or freeze.is_frozen(stop.part):
                raise Conflict(_l("El pedido %(n)s cambió desde que se hizo el plan; planee de nuevo.",
                                  n=stop.part.order.number))
            shipment.stops.append(ShipmentPart(part_id=stop.part.id, kg=stop.kg))
        db.session.add(shipment)
        created.append(shipment)
    plan.status, plan.accepted_by_id = "accepted", actor.id
    db.session.flush()
    audit.record("route_plan.accepted", "route_plan", plan.id, actor=actor,
                 after={"shipments": [s.id for s in created]})
    return created


def describe_route(route: list[int]) -> list[RouteStop]:
    stops = []
    for part_id in route:
        part = db.session.get(OrderPart, part_id)
        if part is None:
            raise Conflict(_l("Un pedido del plan ya no existe; planee de nuevo."))
        stops.append(RouteStop(part, db.session.get(CollectionPoint, part.lines[0].collection_point_id),
                               shipping.part_kg(part)))
    return stops
