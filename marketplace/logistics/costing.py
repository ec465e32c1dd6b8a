"""What moving produce costs: road distance and trip costs by transport mode.

Pure arithmetic on ``Decimal``; no Flask, no database. Order placement uses it for the
logistics estimate each cooperative's part carries.

Road distance is the great-circle distance times a circuity factor. The factors come from
``../shared/data/circuity_13_cities_invias_hermes.csv`` (road distances between 13
Colombian cities from INVIAS/HERMES against straight-line distances): 1.55 for pairs
under 250 km straight-line, 1.43 beyond, because long routes follow trunk roads that
wander less than the mountain roads of short hops.

Trip costs follow the structure of the Ministry of Transport's SICE-TAC reference system:
a fixed cost per trip (crew, loading and waiting hours, the capital cost of the vehicle
spread over the trips of a month) plus a variable cost per km (fuel, tyres, maintenance,
tolls), the variable part scaled by terrain. A C2 truck does about 12.7, 10.1 and 7.8 km
per gallon on flat, rolling and mountainous roads, so fuel per km grows by about 1.26 and
1.63 from flat ground; the terrain factors below use those ratios. The default prices are
set so that a full two-axle truck over 150 km of rolling road costs about 480,000 COP,
the order of a reported rural trip of that length (about 24 to 55 COP/kg).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

EARTH_RADIUS_KM = 6371.0088
CIRCUITY_SHORT = Decimal("1.55")  # straight-line distance under 250 km
CIRCUITY_LONG = Decimal("1.43")  # 250 km and beyond
CIRCUITY_THRESHOLD_KM = Decimal("250")

TERRAIN_FACTORS = {
    "flat": Decimal("1.00"),
    "rolling": Decimal("1.26"),
    "mountainous": Decimal("1.63"),
}
PESO = Decimal("1")
CENTAVO = Decimal("0.01")


class CostError(ValueError):
    """Why a quote cannot be made; ``code`` names the problem for the caller to explain."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


LEG_KINDS = ("road", "trail", "river")


@dataclass(frozen=True)
class Mode:
    code: str
    fixed_cop: Decimal  # per trip
    per_km_cop: Decimal  # on flat ground
    capacity_kg: Decimal
    kinds: frozenset = frozenset({"road"})  # where it can go: road, trail (mule track), river
    max_road_km: Decimal | None = None  # beyond this it is not offered for a road leg

    @property
    def road(self) -> bool:
        return "road" in self.kinds


# Defaults, editable by staff (the migration copies them into the transport_mode table):
# - mule or horse: a pack animal carries about 100 kg (two 50 kg sacks) along tracks no
#   vehicle can use; a muleteer charges per trip and per km walked.
# - motorbike: the rural taxi of the PDET territories, about 150 kg of cargo, between veredas
#   and the municipal seat; not offered for road legs over 80 km (nobody hauls a harvest
#   from Tumaco to Bogotá on motorbikes, however cheap the arithmetic makes it).
# - small truck or chiva (NHR/turbo, about 3.5 t): the usual vehicle of tertiary roads.
# - two-axle truck (C2, about 9 t): secondary and primary roads to the cities.
# - river boat (chalupa or motor canoe, about 2 t): the Pacific, the Atrato, the Putumayo
#   and the Caguán, where the river is the road.
DEFAULT_MODES: dict[str, Mode] = {
    "mule": Mode("mule", Decimal("25000"), Decimal("3000"), Decimal("100"), frozenset({"trail", "road"})),
    "motorbike": Mode("motorbike", Decimal("10000"), Decimal("500"), Decimal("150"), frozenset({"road", "trail"}),
                      Decimal("80")),
    "small_truck": Mode("small_truck", Decimal("80000"), Decimal("1300"), Decimal("3500")),
    "truck_c2": Mode("truck_c2", Decimal("120000"), Decimal("1900"), Decimal("9000")),
    "river_boat": Mode("river_boat", Decimal("100000"), Decimal("4000"), Decimal("2000"), frozenset({"river"})),
}
ROAD_MODES = ("motorbike", "small_truck", "truck_c2")


def great_circle_km(lat1, lon1, lat2, lon2) -> Decimal:
    """Haversine distance in km, to the metre."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp = p2 - p1
    dl = math.radians(float(lon2) - float(lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    km = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
    return Decimal(str(round(km, 3)))


def road_km(straight_km: Decimal) -> Decimal:
    """Estimated road distance for a straight-line distance."""
    factor = CIRCUITY_SHORT if straight_km < CIRCUITY_THRESHOLD_KM else CIRCUITY_LONG
    return (straight_km * factor).quantize(Decimal("0.001"), ROUND_HALF_UP)


@dataclass(frozen=True)
class LegQuote:
    mode: str
    km: Decimal
    trips: int
    total_cop: Decimal


def quote_leg(quantity_kg: Decimal, km: Decimal, mode: Mode, terrain: str = "rolling") -> LegQuote:
    """Cost of moving ``quantity_kg`` over ``km`` with ``mode``, in whole pesos."""
    if quantity_kg <= 0:
        raise CostError("quantity_not_positive")
    if km < 0:
        raise CostError("negative_distance")
    if mode.capacity_kg <= 0:
        raise CostError("capacity_not_positive", mode.code)
    if mode.fixed_cop < 0 or mode.per_km_cop < 0:
        raise CostError("negative_cost", mode.code)
    if terrain not in TERRAIN_FACTORS:
        raise CostError("unknown_terrain", terrain)
    trips = max(1, math.ceil(quantity_kg / mode.capacity_kg))
    per_trip = mode.fixed_cop + mode.per_km_cop * TERRAIN_FACTORS[terrain] * km
    total = (per_trip * trips).quantize(PESO, ROUND_HALF_UP)
    return LegQuote(mode.code, km, trips, total)


@dataclass(frozen=True)
class Leg:
    """One stretch of a route: a mode over a distance, on a kind of way and terrain."""

    mode: Mode | None
    km: Decimal
    terrain: str = "rolling"
    kind: str = "road"


@dataclass(frozen=True)
class RouteQuote:
    legs: tuple[LegQuote, ...]
    quantity_kg: Decimal
    total_cop: Decimal

    @property
    def per_kg_cop(self) -> Decimal:
        return (self.total_cop / self.quantity_kg).quantize(CENTAVO, ROUND_HALF_UP)


def quote_route(quantity_kg: Decimal, legs: list[Leg]) -> RouteQuote:
    """Cost of moving a quantity along several legs (a mule to the road, a truck to the
    city): each leg carries the whole quantity, in as many trips as its mode needs."""
    if not legs:
        raise CostError("no_legs")
    quoted = []
    for leg in legs:
        if leg.mode is None:
            raise CostError("leg_without_mode")
        if leg.kind not in LEG_KINDS:
            raise CostError("unknown_leg_kind", leg.kind)
        if leg.kind not in leg.mode.kinds:
            raise CostError("mode_cannot_go_there", f"{leg.mode.code} on {leg.kind}")
        quoted.append(quote_leg(quantity_kg, leg.km, leg.mode, leg.terrain))
    return RouteQuote(tuple(quoted), quantity_kg, sum((q.total_cop for q in quoted), Decimal("0")))


def cheapest_road_quote(quantity_kg: Decimal, km: Decimal, terrain: str = "rolling",
                        modes: dict[str, Mode] | None = None) -> LegQuote:
    """The cheapest road vehicle (or several trips of it) for the load."""
    modes = modes or DEFAULT_MODES
    quotes = [quote_leg(quantity_kg, km, modes[code], terrain) for code in ROAD_MODES
              if code in modes and (modes[code].max_road_km is None or km <= modes[code].max_road_km)]
    if not quotes:
        raise CostError("no_road_vehicle", f"{km} km")
    return min(quotes, key=lambda q: (q.total_cop, q.trips))


def allocate(total: Decimal, weights: list[Decimal], step: Decimal = CENTAVO) -> list[Decimal]:
    """Split ``total`` in proportion to ``weights`` so that the parts sum exactly to it
    (largest remainders get the leftover steps)."""
    if not weights:
        return []
    weight_sum = sum(weights)
    if weight_sum <= 0:
        raise ValueError("weights must add up to more than zero")
    units = int((total / step).to_integral_value(ROUND_HALF_UP))
    raw = [Decimal(units) * w / weight_sum for w in weights]
    floors = [int(r) for r in raw]
    leftover = units - sum(floors)
    order = sorted(range(len(raw)), key=lambda i: (raw[i] - floors[i], -i), reverse=True)
    for i in order[:leftover]:
        floors[i] += 1
    return [Decimal(f) * step for f in floors]
