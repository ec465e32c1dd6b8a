"""The pure cost model: road distance, trip quotes and exact allocation of a total."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest

from marketplace.logistics import costing
from marketplace.logistics.costing import (
    DEFAULT_MODES,
    CostError,
    Leg,
    Mode,
    allocate,
    cheapest_road_quote,
    quote_leg,
    quote_route,
    road_km,
)

D = Decimal


def test_great_circle_distance_of_one_degree_on_the_equator_and_symmetry():
    assert costing.great_circle_km(0, 0, 0, 1) == D("111.195")
    assert costing.great_circle_km(4.711, -74.0721, 4.711, -74.0721) == D("0")
    bogota_medellin = costing.great_circle_km(D("4.711"), D("-74.0721"), D("6.2442"), D("-75.5812"))
    assert bogota_medellin == costing.great_circle_km(D("6.2442"), D("-75.5812"), D("4.711"), D("-74.0721"))
    assert D("235") < bogota_medellin < D("242")


@pytest.mark.parametrize(("straight", "expected"), [
    ("0", "0.000"),
    ("100", "155.000"),
    ("249.999", "387.498"),  # 387.49845 rounds half up at the metre
    ("250", "357.500"),  # the long-haul factor starts at 250 km
    ("400", "572.000"),
    ("12.3456", "19.136"),
])
def test_road_km_uses_1_55_under_250_km_and_1_43_from_there(straight, expected):
    result = road_km(D(straight))
    assert result == D(expected)
    assert result.as_tuple().exponent == -3


def test_short_hops_are_more_circuitous_than_long_ones():
    assert road_km(D("249")) / D("249") == D("1.55")
    assert road_km(D("251")) / D("251") == D("1.43")


def test_quote_of_a_full_truck_over_150_km_of_rolling_road():
    leg = quote_leg(D("9000"), D("150"), DEFAULT_MODES["truck_c2"])
    # 120,000 fixed + 1,900 COP/km x 1.26 x 150 km
    assert (leg.mode, leg.km, leg.trips, leg.total_cop) == ("truck_c2", D("150"), 1, D("479100"))


def test_one_gram_over_capacity_needs_another_trip():
    leg = quote_leg(D("9000.001"), D("150"), DEFAULT_MODES["truck_c2"])
    assert leg.trips == 2
    assert leg.total_cop == D("958200")


@pytest.mark.parametrize(("terrain", "expected"), [("flat", "405000"), ("rolling", "479100"),
                                                   ("mountainous", "584550")])
def test_terrain_scales_only_the_per_km_part(terrain, expected):
    assert quote_leg(D("1"), D("150"), DEFAULT_MODES["truck_c2"], terrain).total_cop == D(expected)


def test_totals_are_whole_pesos_rounded_half_up():
    leg = quote_leg(D("100"), D("0.001"), DEFAULT_MODES["motorbike"])  # 10,000.63
    assert leg.total_cop == D("10001")
    assert leg.total_cop.as_tuple().exponent == 0
    odd = Mode("x", D("0"), D("1"), D("10"))
    assert quote_leg(D("1"), D("0.5"), odd, "flat").total_cop == D("1")  # 0.5 rounds up
    assert quote_leg(D("1"), D("0.49"), odd, "flat").total_cop == D("0")


def test_zero_distance_costs_the_fixed_part_per_trip():
    leg = quote_leg(D("301"), D("0"), DEFAULT_MODES["motorbike"])
    assert leg.trips == 3 and leg.total_cop == D("30000")


@pytest.mark.parametrize(("quantity", "km"), [("0", "10"), ("-1", "10"), ("1", "-0.001")])
def test_quote_refuses_nonsense(quantity, km):
    with pytest.raises(ValueError):
        quote_leg(D(quantity), D(km), DEFAULT_MODES["truck_c2"])


def test_unknown_terrain_is_refused():
    with pytest.raises(CostError) as refused:
        quote_leg(D("1"), D("1"), DEFAULT_MODES["truck_c2"], "swamp")
    assert refused.value.code == "unknown_terrain"


def test_cheapest_road_quote_picks_the_vehicle_by_load():
    small = cheapest_road_quote(D("100"), D("10"))
    assert (small.mode, small.trips, small.total_cop) == ("motorbike", 1, D("16300"))
    large = cheapest_road_quote(D("5000"), D("150"))
    assert (large.mode, large.trips, large.total_cop) == ("truck_c2", 1, D("479100"))
    # Never a mode that is not among the road vehicles, even if it were cheaper.
    cheap_mule = {**DEFAULT_MODES, "mule": Mode("mule", D("1"), D("1"), D("100000"), frozenset({"trail"}))}
    assert cheapest_road_quote(D("100"), D("10"), modes=cheap_mule).mode == "motorbike"


def test_cheapest_road_quote_is_the_minimum_of_the_road_modes_that_go_that_far():
    for kg in ("1", "149", "151", "3499", "3501", "9000", "20000"):
        for km in ("0", "5", "80", "81", "600"):
            best = cheapest_road_quote(D(kg), D(km))
            allowed = [c for c in costing.ROAD_MODES
                       if DEFAULT_MODES[c].max_road_km is None or D(km) <= DEFAULT_MODES[c].max_road_km]
            totals = [quote_leg(D(kg), D(km), DEFAULT_MODES[c]).total_cop for c in allowed]
            assert best.total_cop == min(totals)
    # A motorbike is cheapest for a small load nearby, never for a long haul.
    assert cheapest_road_quote(D("100"), D("20")).mode == "motorbike"
    assert cheapest_road_quote(D("100"), D("600")).mode == "small_truck"


def test_no_road_vehicle_for_the_distance_is_a_clear_refusal():
    only_bikes = {"motorbike": DEFAULT_MODES["motorbike"]}
    with pytest.raises(CostError) as refused:
        cheapest_road_quote(D("100"), D("300"), modes=only_bikes)
    assert refused.value.code == "no_road_vehicle"


def test_allocate_gives_leftover_centavos_to_the_largest_remainders():
    assert allocate(D("0.10"), [D(1)] * 3) == [D("0.04"), D("0.03"), D("0.03")]
    assert allocate(D("100"), [D(1), D(3)]) == [D("25.00"), D("75.00")]
    assert allocate(D("1.00"), [D(0), D(1)]) == [D("0.00"), D("1.00")]
    assert allocate(D("7"), [D(1), D(2)], step=D("1")) == [D("2"), D("5")]
    assert allocate(D("5"), []) == []


@pytest.mark.parametrize("bad", [[D(0), D(0)], [D(-1), D(1)]])
def test_allocate_refuses_weights_that_add_to_nothing(bad):
    with pytest.raises(ValueError):
        allocate(D("10"), bad)


def test_allocate_sums_exactly_to_the_centavo_for_random_weights():
    rng = random.Random(20260115)
    for _ in range(500):
        total = D(rng.randint(0, 10**9)) / 100
        weights = [D(rng.randint(0, 10**6)) / D(1000) for _ in range(rng.randint(1, 12))]
        if sum(weights) == 0:
            weights[0] = D("0.001")
        parts = allocate(total, weights)
        assert sum(parts) == total
        assert all(p >= 0 and p == p.quantize(D("0.01")) for p in parts)
        weight_sum = sum(weights)
        for part, weight in zip(parts, weights, strict=True):
            exact = total * weight / weight_sum
            assert abs(part - exact) < D("0.01")
            assert part == 0 or weight > 0


def test_allocate_is_proportional_when_it_divides_evenly():
    weights = [D("125"), D("250"), D("625")]
    assert allocate(D("8000.00"), weights) == [D("1000.00"), D("2000.00"), D("5000.00")]
    assert math.isclose(sum(float(x) for x in allocate(D("1"), weights)), 1.0)


def test_a_route_of_several_legs_adds_each_legs_trips():
    mule, truck = DEFAULT_MODES["mule"], DEFAULT_MODES["small_truck"]
    quote = quote_route(D("400"), [Leg(mule, D("12"), "mountainous", "trail"), Leg(truck, D("300"))])
    # 4 mule trips of (25,000 + 3,000 x 1.63 x 12) and one truck trip of (80,000 + 1,300 x 1.26 x 300).
    assert [leg.trips for leg in quote.legs] == [4, 1]
    assert quote.legs[0].total_cop == 4 * (D("25000") + D("3000") * D("1.63") * 12)
    assert quote.legs[1].total_cop == D("80000") + D("1300") * D("1.26") * 300
    assert quote.total_cop == quote.legs[0].total_cop + quote.legs[1].total_cop
    assert quote.per_kg_cop == (quote.total_cop / 400).quantize(D("0.01"))


@pytest.mark.parametrize(("legs", "code"), [
    ([], "no_legs"),
    ([Leg(None, D("5"))], "leg_without_mode"),
    ([Leg(DEFAULT_MODES["truck_c2"], D("5"), kind="river")], "mode_cannot_go_there"),
    ([Leg(DEFAULT_MODES["river_boat"], D("-1"), kind="river")], "negative_distance"),
    ([Leg(Mode("cart", D("1"), D("1"), D("0")), D("5"))], "capacity_not_positive"),
    ([Leg(Mode("cart", D("-1"), D("1"), D("10")), D("5"))], "negative_cost"),
    ([Leg(DEFAULT_MODES["mule"], D("5"), kind="air")], "unknown_leg_kind"),
])
def test_impossible_routes_are_refused_with_a_reason(legs, code):
    with pytest.raises(CostError) as refused:
        quote_route(D("100"), legs)
    assert refused.value.code == code
