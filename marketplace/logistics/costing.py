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


@dataclass(frozen=True)
class Mode:
    code: str
    fixed_cop: Decimal  # per trip
    per_km_cop: Decimal  # on flat road
    capacity_kg: Decimal
    road: bool = True  # False: needs no road (mule track, river)


# Defaults; staff will be able to edit them. Capacities are typical loads, not legal maxima.
DEFAULT_MODES: dict[str, Mode] = {
    "mule": Mode("mule", Decimal("25000"), Decimal("3000"), Decimal("100"), road=False),
    "motorbike": Mode("motorbike", Decimal("10000"), Decimal("500"), Decimal("150")),
    "small_truck": Mode("small_truck", Decimal("80000"), Decimal("1300"), Decimal("3500")),
    "truck_c2": Mode("truck_c2", Decimal("120000"), Decimal("1900"), Decimal("9000")),
    "river_boat": Mode("river_boat", Decimal("100000"), Decimal("4000"), Decimal("2000"), road=False),
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
        raise ValueError("quantity must be positive")
    if km < 0:
        raise ValueError("distance cannot be negative")
    trips = max(1, math.ceil(quantity_kg / mode.capacity_kg))
    per_trip = mode.fixed_cop + mode.per_km_cop * TERRAIN_FACTORS[terrain] * km
    total = (per_trip * trips).quantize(PESO, ROUND_HALF_UP)
    return LegQuote(mode.code, km, trips, total)


def cheapest_road_quote(quantity_kg: Decimal, km: Decimal, terrain: str = "rolling",
                        modes: dict[str, Mode] | None = None) -> LegQuote:
    """The cheapest road vehicle (or several trips of it) for the load."""
    modes = modes or DEFAULT_MODES
    quotes = [quote_leg(quantity_kg, km, modes[code], terrain) for code in ROAD_MODES if code in modes]
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
