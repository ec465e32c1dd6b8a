"""Logistics services: staff-edited transport modes, known road distances, first-mile legs
of collection points, and quotes for moving a quantity from a pickup point to a delivery
site. Functions take plain values and the acting user, flush, and leave the commit to the
caller. The arithmetic is in ``costing`` (pure)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import lazyload

from marketplace.accounts.models import DeliverySite, User
from marketplace.catalog.models import CollectionPoint
from marketplace.core import audit, geography
from marketplace.core.errors import DomainError, Forbidden, NotFound
from marketplace.core.models import Municipality
from marketplace.core.text import clean_text
from marketplace.extensions import db
from marketplace.logistics import costing
from marketplace.logistics.models import AccessLeg, RouteDistance, TransportMode

MODE_NAMES = {
    "mule": (_l("Mula o caballo"), "Mule or horse"),
    "motorbike": (_l("Moto"), "Motorbike"),
    "small_truck": (_l("Chiva o camión pequeño"), "Chiva or small truck"),
    "truck_c2": (_l("Camión de dos ejes (C2)"), "Two-axle truck (C2)"),
    "river_boat": (_l("Lancha o canoa de motor"), "River boat"),
}
TERRAINS = {"flat": _l("Plano"), "rolling": _l("Ondulado"), "mountainous": _l("Montañoso")}
LEG_KINDS = {"road": _l("Carretera"), "trail": _l("Camino de herradura"), "river": _l("Río")}
COST_MESSAGES = {
    "quantity_not_positive": _l("La cantidad debe ser mayor que cero."),
    "negative_distance": _l("La distancia no puede ser negativa."),
    "capacity_not_positive": _l("La capacidad del transporte debe ser mayor que cero."),
    "negative_cost": _l("Los costos no pueden ser negativos."),
    "unknown_terrain": _l("Elija el terreno: plano, ondulado o montañoso."),
    "no_legs": _l("Agregue al menos un tramo."),
    "leg_without_mode": _l("Cada tramo necesita un medio de transporte."),
    "unknown_leg_kind": _l("Elija si el tramo es por carretera, camino de herradura o río."),
    "no_road_vehicle": _l("Ningún vehículo activo hace ese recorrido por carretera."),
    "mode_cannot_go_there": _l("Ese medio de transporte no puede hacer ese tramo (por ejemplo, un camión por un río)."),
}
MAX_KM = Decimal("3000")
MAX_COP = Decimal("100000000")


def cost_error(exc: costing.CostError, field: str | None = None) -> DomainError:
    return DomainError(COST_MESSAGES.get(exc.code, _l("No se pudo cotizar ese recorrido.")), field)


def _require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise Forbidden(_l("Solo el equipo del programa cambia los costos de transporte."))


# ----------------------------------------------------------------------- modes


def all_modes() -> list[TransportMode]:
    return list(db.session.scalars(select(TransportMode).order_by(TransportMode.capacity_kg)))


def as_mode(row: TransportMode) -> costing.Mode:
    return costing.Mode(row.code, row.fixed_cop, row.per_km_cop, row.capacity_kg,
                        frozenset(k for k in row.kinds.split(",") if k), row.max_road_km)


MODES_TTL_SECONDS = 30


def active_modes() -> dict[str, costing.Mode]:
    """The modes quotes use. Every order quotes, and staff change prices rarely: each
    process keeps them for MODES_TTL_SECONDS (a change made here applies at once)."""
    cache = current_app.extensions.setdefault("marketplace_modes", {})
    if cache.get("modes") is None or time.monotonic() - cache["at"] > MODES_TTL_SECONDS:
        cache["modes"] = {row.code: as_mode(row) for row in all_modes() if row.active}
        cache["at"] = time.monotonic()
    return cache["modes"]


def forget_modes() -> None:
    current_app.extensions.pop("marketplace_modes", None)


def save_mode(actor: User, code: str, fixed_cop: Decimal | None, per_km_cop: Decimal | None,
              capacity_kg: Decimal | None, active: bool = True) -> TransportMode:
    """Staff change what a mode costs and carries; every change is audited."""
    _require_admin(actor)
    row = db.session.get(TransportMode, code)
    if row is None:
        raise NotFound(_l("Ese medio de transporte no existe."))
    for name, value in (("fixed_cop", fixed_cop), ("per_km_cop", per_km_cop)):
        if value is None or value < 0 or value > MAX_COP:
            raise DomainError(_l("Escriba un costo entre 0 y 100 millones de pesos."), f"{code}-{name}")
    if capacity_kg is None or capacity_kg <= 0 or capacity_kg > Decimal("60000"):
        raise DomainError(_l("La capacidad debe ser mayor que cero y de hasta 60.000 kg."), f"{code}-capacity_kg")
    fields = ("fixed_cop", "per_km_cop", "capacity_kg", "active")
    before = audit.snapshot(row, fields)
    row.fixed_cop, row.per_km_cop, row.capacity_kg, row.active = fixed_cop, per_km_cop, capacity_kg, active
    if active is False and code in costing.ROAD_MODES and not any(
            m.active for m in all_modes() if m.code in costing.ROAD_MODES and m.code != code):
        raise DomainError(_l("Debe quedar al menos un vehículo de carretera activo."), f"{code}-active")
    row.updated_at, row.updated_by_id = datetime.now(UTC), actor.id
    forget_modes()
    old, new = audit.changed(before, audit.snapshot(row, fields))
    if new:
        audit.record("transport_mode.updated", "transport_mode", code, actor=actor, before=old, after=new)
    db.session.flush()
    return row


# -------------------------------------------------------------- road distances


def set_route_distance(actor: User, point_id: int, site_id: int, road_km: Decimal | None, terrain: str,
                       note: str | None = None) -> RouteDistance:
    _require_admin(actor)
    point = db.session.get(CollectionPoint, point_id)
    site = db.session.get(DeliverySite, site_id)
    if point is None or site is None:
        raise NotFound(_l("No encontramos ese centro de acopio o sitio de entrega."))
    if road_km is None or road_km < 0 or road_km > MAX_KM:
        raise DomainError(_l("La distancia por carretera debe estar entre 0 y 3.000 km."), "road_km")
    if terrain not in costing.TERRAIN_FACTORS:
        raise DomainError(_l("Elija el terreno: plano, ondulado o montañoso."), "terrain")
    row = db.session.scalar(select(RouteDistance).where(RouteDistance.collection_point_id == point.id,
                                                        RouteDistance.delivery_site_id == site.id))
    before = audit.snapshot(row, ("road_km", "terrain")) if row else {}
    if row is None:
        row = RouteDistance(collection_point_id=point.id, delivery_site_id=site.id)
        db.session.add(row)
    row.road_km, row.terrain = road_km.quantize(Decimal("0.001")), terrain
    row.note = (clean_text(note) or None) if note else None
    row.set_by_id, row.updated_at = actor.id, datetime.now(UTC)
    db.session.flush()
    audit.record("route_distance.set", "route_distance", row.id, actor=actor, before=before,
                 after={"road_km": str(row.road_km), "terrain": terrain, "point": point.id, "site": site.id})
    return row


def route_distances() -> list[RouteDistance]:
    return list(db.session.scalars(select(RouteDistance).order_by(RouteDistance.id.desc())))


# ------------------------------------------------------------------ access legs


@dataclass
class AccessLegData:
    kind: str
    mode_code: str | None
    km: Decimal | None
    terrain: str = "mountainous"
    description: str | None = None


def set_access_legs(actor: User, point: CollectionPoint, legs: list[AccessLegData]) -> list[AccessLeg]:
    """The stretches from a collection point to where a truck can load (replaces the old ones).
    The cooperative that owns the point, or staff, set them."""
    org = actor.organisation
    if not actor.is_admin and (org is None or org.id != point.cooperative_id):
        raise NotFound(_l("No encontramos ese centro de acopio."))
    if len(legs) > 5:
        raise DomainError(_l("Hasta 5 tramos antes de la carretera."), "legs")
    modes = {m.code: m for m in all_modes()}
    rows = []
    for index, leg in enumerate(legs):
        field = f"leg-{index}"
        mode = modes.get(leg.mode_code or "")
        if mode is None or not mode.active:
            raise DomainError(COST_MESSAGES["leg_without_mode"], field)
        if leg.kind not in costing.LEG_KINDS:
            raise DomainError(COST_MESSAGES["unknown_leg_kind"], field)
        if leg.kind not in as_mode(mode).kinds:
            raise DomainError(COST_MESSAGES["mode_cannot_go_there"], field)
        if leg.km is None or leg.km < 0 or leg.km > Decimal("500"):
            raise DomainError(_l("Cada tramo debe medir entre 0 y 500 km."), field)
        if leg.terrain not in costing.TERRAIN_FACTORS:
            raise DomainError(COST_MESSAGES["unknown_terrain"], field)
        rows.append(AccessLeg(collection_point_id=point.id, position=index, kind=leg.kind, mode_code=mode.code,
                              km=leg.km.quantize(Decimal("0.001")), terrain=leg.terrain,
                              description=(clean_text(leg.description) or None) if leg.description else None))
    db.session.execute(delete(AccessLeg).where(AccessLeg.collection_point_id == point.id))
    db.session.add_all(rows)
    db.session.flush()
    audit.record("collection_point.access_legs", "collection_point", point.id, actor=actor,
                 organisation_id=point.cooperative_id,
                 after={"legs": [[r.kind, r.mode_code, str(r.km), r.terrain] for r in rows]})
    return rows


def access_legs_of(point_ids: list[int]) -> dict[int, list[AccessLeg]]:
    found: dict[int, list[AccessLeg]] = {pid: [] for pid in point_ids}
    if point_ids:
        for leg in db.session.scalars(select(AccessLeg).where(AccessLeg.collection_point_id.in_(point_ids))
                                      .order_by(AccessLeg.position)):
            found[leg.collection_point_id].append(leg)
    return found


# ---------------------------------------------------------------------- quotes


@dataclass(frozen=True)
class PlannedLeg:
    leg: costing.Leg
    from_label: str
    to_label: str


@dataclass(frozen=True)
class Quote:
    legs: tuple[PlannedLeg, ...]
    priced: costing.RouteQuote

    @property
    def total_cop(self) -> Decimal:
        return self.priced.total_cop

    @property
    def per_kg_cop(self) -> Decimal:
        return self.priced.per_kg_cop

    @property
    def road_km(self) -> Decimal:
        return sum((pl.leg.km for pl in self.legs), Decimal("0"))

    @property
    def main_mode(self) -> str:
        return self.legs[-1].leg.mode.code


def _quoter_statements():
    """What ``Quoter.load`` runs, by whether it is given points (and sites). Every quote and
    order loads a quoter, so they are built once (their cache keys too). A leg's mode comes
    from ``active_modes``, not from a join."""
    points = bindparam("points", expanding=True)
    legs = select(AccessLeg).order_by(AccessLeg.collection_point_id, AccessLeg.position).options(
        lazyload(AccessLeg.mode))
    of_points = RouteDistance.collection_point_id.in_(points)
    to_sites = RouteDistance.delivery_site_id.in_(bindparam("sites", expanding=True))
    distances = select(RouteDistance)
    return ({False: legs, True: legs.where(AccessLeg.collection_point_id.in_(points))},
            {(False, False): distances, (True, False): distances.where(of_points),
             (False, True): distances.where(to_sites), (True, True): distances.where(of_points, to_sites)})


_LEGS, _DISTANCES = _quoter_statements()


class Quoter:
    """Everything a quote needs, read once: many quotes (a whole order, a benchmark, a
    route plan) then cost no queries."""

    def __init__(self, modes: dict[str, costing.Mode], distances: dict[tuple[int, int], RouteDistance],
                 access: dict[int, list[AccessLeg]]):
        if not any(code in modes for code in costing.ROAD_MODES):
            raise DomainError(_l("No hay ningún vehículo de carretera activo para cotizar."))
        self.modes, self.distances, self.access = modes, distances, access

    @classmethod
    def load(cls, point_ids=None, site_ids=None) -> Quoter:
        """Modes, and the legs and road distances of the points and sites given (of all if None)."""
        params = {"points": list(point_ids or ()), "sites": list(site_ids or ())}
        by_point: dict[int, list[AccessLeg]] = {}
        for leg in db.session.scalars(_LEGS[point_ids is not None], params):
            by_point.setdefault(leg.collection_point_id, []).append(leg)
        distances = db.session.scalars(_DISTANCES[point_ids is not None, site_ids is not None], params)
        return cls(active_modes(), {(d.collection_point_id, d.delivery_site_id): d for d in distances}, by_point)

    def quote(self, point, site, quantity_kg: Decimal, *, describe_first_mile: bool = True) -> Quote:
        """From a collection point (its first-mile legs, then the road) to a delivery site.
        ``point`` and ``site`` need id, name, latitude and longitude; a site whose id is None
        (a municipality's seat) has no staff-set road distance. Without
        ``describe_first_mile`` the first-mile legs are named by their kind of way, not by the
        cooperative's own descriptions."""
        legs: list[PlannedLeg] = []
        here = point.name
        for access in self.access.get(point.id, []):
            mode = self.modes.get(access.mode_code)
            kind = str(LEG_KINDS.get(access.kind, access.kind))
            to_label = (access.description or kind) if describe_first_mile else kind
            legs.append(PlannedLeg(costing.Leg(mode, access.km, access.terrain, access.kind), here, to_label))
            here = to_label
        known = self.distances.get((point.id, site.id)) if site.id is not None else None
        if known is not None:
            km, terrain = known.road_km, known.terrain
        else:
            km = costing.road_km(costing.great_circle_km(point.latitude, point.longitude,
                                                         site.latitude, site.longitude))
            terrain = "rolling"
        try:
            road = costing.cheapest_road_quote(quantity_kg, km, terrain, self.modes)
        except costing.CostError as exc:
            raise cost_error(exc) from exc
        legs.append(PlannedLeg(costing.Leg(self.modes[road.mode], km, terrain, "road"), here, site.name))
        try:
            priced = costing.quote_route(quantity_kg, [pl.leg for pl in legs])
        except costing.CostError as exc:
            raise cost_error(exc) from exc
        return Quote(tuple(legs), priced)


@dataclass(frozen=True)
class MunicipalSeat:
    """A municipality as a destination: its seat's DIVIPOLA coordinates and its label. It is
    no delivery site (``id`` None), so the road is the straight line times the circuity, on
    rolling terrain, as for any site without a staff-set distance."""

    name: str
    latitude: Decimal
    longitude: Decimal
    id: None = None

    @classmethod
    def of(cls, municipality: Municipality) -> MunicipalSeat:
        return cls(municipality.label, municipality.latitude, municipality.longitude)


def _check_quantity(quantity_kg: Decimal | None) -> None:
    if quantity_kg is None or quantity_kg <= 0 or quantity_kg > Decimal("10000000"):
        raise DomainError(COST_MESSAGES["quantity_not_positive"], "quantity_kg")


def quote_for(point_id: int, site_id: int, quantity_kg: Decimal, *, describe_first_mile: bool = True) -> Quote:
    point = db.session.get(CollectionPoint, point_id)
    site = db.session.get(DeliverySite, site_id)
    if point is None or site is None:
        raise NotFound(_l("No encontramos ese centro de acopio o sitio de entrega."))
    _check_quantity(quantity_kg)
    return Quoter.load([point.id], [site.id]).quote(point, site, quantity_kg, describe_first_mile=describe_first_mile)


def quote_to_municipality(point_id: int, code: str, quantity_kg: Decimal, *,
                          describe_first_mile: bool = True) -> Quote:
    """From a collection point to a municipality's seat (DIVIPOLA code), by the same legs and
    costs as a quote to a delivery site."""
    point = db.session.get(CollectionPoint, point_id)
    municipality = geography.get_municipality(code)
    if point is None or municipality is None:
        raise NotFound(_l("No encontramos ese centro de acopio o municipio."))
    _check_quantity(quantity_kg)
    return Quoter.load([point.id], []).quote(point, MunicipalSeat.of(municipality), quantity_kg,
                                              describe_first_mile=describe_first_mile)


def places() -> tuple[list[CollectionPoint], list[DeliverySite]]:
    points = list(db.session.scalars(select(CollectionPoint).where(CollectionPoint.active.is_(True))
                                     .order_by(CollectionPoint.municipality_code, CollectionPoint.name)))
    sites = list(db.session.scalars(select(DeliverySite).where(DeliverySite.active.is_(True))
                                    .order_by(DeliverySite.municipality_code, DeliverySite.name)))
    return points, sites
