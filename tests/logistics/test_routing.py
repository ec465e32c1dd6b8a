"""The pure route planner: valid plans on generated and CVRPLIB instances, exact costs, errors."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest

from marketplace.logistics.routing import (
    ERROR_CODES,
    RoutePlan,
    RoutingError,
    one_trip_per_stop_cost,
    plan_routes,
)
from tests.logistics import cvrplib

D = Decimal
SECONDS = 1.0


def euclidean_instance(seed: int, n: int, *, asymmetric: bool = False):
    rng = random.Random(seed)
    points = [(rng.randint(0, 100), rng.randint(0, 100)) for _ in range(n)]
    distances = [[round(math.dist(a, b)) for b in points] for a in points]
    if asymmetric:  # uphill is longer than downhill
        distances = [
            [d + (rng.randint(0, 15) if i != j else 0) for j, d in enumerate(row)]
            for i, row in enumerate(distances)
        ]
    demands = [0] + [rng.randint(1, 10) for _ in range(n - 1)]
    return distances, demands


def route_distance(routes, distances):
    return cvrplib.route_cost(routes, distances)


def assert_valid(plan: RoutePlan, distances, demands, capacity, fixed, per_distance):
    n = len(demands)
    visited = [stop for route in plan.routes for stop in route]
    assert sorted(visited) == list(range(1, n)), "every stop exactly once, never the depot"
    assert all(plan.routes), "no empty route"
    assert plan.loads == [sum(demands[s] for s in route) for route in plan.routes]
    assert max(plan.loads) <= capacity
    assert plan.distance == route_distance(plan.routes, distances)
    assert plan.cost == fixed * len(plan.routes) + per_distance * plan.distance
    assert isinstance(plan.cost, Decimal)
    baseline = one_trip_per_stop_cost(distances, demands, capacity, fixed, per_distance)
    assert plan.cost <= baseline
    assert plan.solve_seconds > 0


@pytest.mark.parametrize(
    ("seed", "n", "capacity", "fixed", "per_distance", "asymmetric"),
    [
        (1, 12, 20, D(0), D(1), False),
        (2, 20, 25, D("45000"), D("1250.5"), False),  # COP per route and per km
        (3, 15, 30, D("100.25"), D("0.333"), True),
        (4, 10, 15, D("500"), D(0), False),  # only the number of routes costs
    ],
)
def test_generated_instances_give_valid_plans_with_exact_costs(
    seed, n, capacity, fixed, per_distance, asymmetric
):
    distances, demands = euclidean_instance(seed, n, asymmetric=asymmetric)
    plan = plan_routes(
        distances,
        demands,
        capacity,
        fixed_cost_per_route=fixed,
        cost_per_distance=per_distance,
        time_limit_s=SECONDS,
    )
    assert_valid(plan, distances, demands, capacity, fixed, per_distance)
    # Consolidation pays on these instances: fewer routes than stops.
    assert len(plan.routes) < n - 1
    if per_distance == 0:  # fewest routes: here the load fits the lower bound exactly
        assert len(plan.routes) == math.ceil(sum(demands) / capacity)


def test_without_a_seed_the_solver_alone_gives_a_valid_plan():
    distances, demands = euclidean_instance(5, 14)
    plan = plan_routes(distances, demands, 20, time_limit_s=SECONDS, seed_solution=False)
    assert_valid(plan, distances, demands, 20, D(0), D(1))


def test_one_stop_and_zero_demand_stops_are_still_visited():
    plan = plan_routes([[0, 7], [9, 0]], [0, 3], 5, time_limit_s=0.2)
    assert plan.routes == [[1]] and plan.distance == 16 and plan.loads == [3]
    distances, demands = euclidean_instance(6, 6)
    demands[2] = 0
    plan = plan_routes(distances, demands, 10, time_limit_s=0.2)
    assert_valid(plan, distances, demands, 10, D(0), D(1))


def test_max_vehicles_bounds_the_routes_and_too_few_have_no_solution():
    distances, demands = euclidean_instance(7, 9)
    capacity = 20
    needed = math.ceil(sum(demands) / capacity)
    plan = plan_routes(
        distances,
        demands,
        capacity,
        max_vehicles=needed + 1,
        fixed_cost_per_route=D(1000),
        time_limit_s=SECONDS,
    )
    assert_valid(plan, distances, demands, capacity, D(1000), D(1))
    assert len(plan.routes) <= needed + 1
    with pytest.raises(RoutingError) as raised:
        plan_routes(distances, demands, capacity, max_vehicles=needed - 1, time_limit_s=SECONDS)
    assert raised.value.code == "no_solution"


def test_one_trip_per_stop_cost_counts_round_trips_exactly():
    distances = [[0, 10, 20, 5], [11, 0, 3, 4], [21, 3, 0, 4], [6, 4, 4, 0]]
    demands = [0, 25, 10, 0]
    # Stop 1 needs two trips of 21, stop 2 one of 41, stop 3 (nothing to load) one of 11.
    cost = one_trip_per_stop_cost(distances, demands, 20, D("1000"), D("2.5"))
    assert cost == 4 * D(1000) + D("2.5") * (2 * 21 + 41 + 11)


@pytest.fixture(scope="module", params=["E-n13-k4", "P-n16-k8", "B-n31-k5", "A-n32-k5"])
def cvrplib_plan(request):
    instance, solution = cvrplib.load(request.param)
    plan = plan_routes(
        instance.distances,
        instance.demands,
        instance.capacity,
        time_limit_s=1.5,
    )
    return instance, solution, plan


def test_cvrplib_instances_give_valid_plans_close_to_the_best_known(cvrplib_plan):
    instance, solution, plan = cvrplib_plan
    assert cvrplib.route_cost(solution.routes, instance.distances) == solution.cost
    assert_valid(plan, instance.distances, instance.demands, instance.capacity, D(0), D(1))
    # A short solve is not the benchmark (benchmarks/route_planner.py), but it is never
    # below the optimum and lands near it.
    assert solution.cost <= plan.cost <= solution.cost * D("1.10")


def test_cvrplib_parser_reads_the_explicit_lower_row_matrix():
    instance, solution = cvrplib.load("E-n13-k4")
    assert instance.capacity == 6000 and instance.customers == 12
    assert instance.distances[0][1] == instance.distances[1][0] == 9
    assert instance.distances[2][0] == 14 and instance.distances[2][1] == 21
    assert instance.demands[:3] == [0, 1200, 1700]
    assert solution.cost == 247 and len(solution.routes) == 4


def arrival_times(route, windows, travel, service):
    """Service start at each stop and the return time, leaving the depot when it opens."""
    clock, previous, starts = windows[0][0], 0, []
    for stop in route:
        clock = max(clock + service[previous] + travel[previous][stop], windows[stop][0])
        starts.append(clock)
        previous = stop
    return starts, clock + service[previous] + travel[previous][0]


def assert_windows_met(plan, windows, travel, service):
    for route in plan.routes:
        starts, back = arrival_times(route, windows, travel, service)
        for stop, start in zip(route, starts, strict=True):
            assert windows[stop][0] <= start <= windows[stop][1], (stop, start, windows[stop])
        assert back <= windows[0][1]


def test_time_windows_are_respected():
    rng = random.Random(11)
    distances, demands = euclidean_instance(11, 16)
    n = len(demands)
    travel = [[round(d * 1.5) for d in row] for row in distances]  # minutes
    service = [0] + [rng.choice([10, 15, 20]) for _ in range(n - 1)]
    windows = [(0, 900)]
    for stop in range(1, n):
        # Every stop reachable on its own trip; the windows still rule out many orders.
        opens = travel[0][stop] + rng.randrange(0, 240, 30)
        windows.append((opens, opens + rng.choice([60, 90, 120])))
    plan = plan_routes(
        distances,
        demands,
        40,
        time_windows=windows,
        travel_minutes=travel,
        service_minutes=service,
        time_limit_s=SECONDS,
    )
    assert_valid(plan, distances, demands, 40, D(0), D(1))
    assert_windows_met(plan, windows, travel, service)


def test_time_windows_split_a_route_that_capacity_alone_would_join():
    distances = [[0, 8, 8], [8, 0, 5], [8, 5, 0]]
    demands = [0, 1, 1]
    windows = [(0, 100), (0, 10), (0, 10)]
    service = [0, 5, 5]
    joined = plan_routes(distances, demands, 10, time_limit_s=0.3)
    assert len(joined.routes) == 1
    plan = plan_routes(
        distances,
        demands,
        10,
        time_windows=windows,
        travel_minutes=distances,
        service_minutes=service,
        time_limit_s=0.3,
    )
    assert sorted(plan.routes) == [[1], [2]]
    assert_windows_met(plan, windows, distances, service)


def test_a_window_that_cannot_be_reached_has_no_solution():
    distances, demands = euclidean_instance(12, 6)
    windows = [(0, 600)] + [(0, 600)] * 5
    windows[3] = (0, distances[0][3] - 1)  # closes before a truck can get there
    with pytest.raises(RoutingError) as raised:
        plan_routes(
            distances,
            demands,
            40,
            time_windows=windows,
            travel_minutes=distances,
            time_limit_s=SECONDS,
        )
    assert raised.value.code == "no_solution"


def error_code(*args, **kwargs) -> str:
    kwargs.setdefault("time_limit_s", 0.2)
    with pytest.raises(RoutingError) as raised:
        plan_routes(*args, **kwargs)
    assert raised.value.code in ERROR_CODES
    return raised.value.code


def test_a_demand_above_capacity_is_refused_naming_the_stop():
    distances, demands = euclidean_instance(13, 5)
    demands[4] = 31
    with pytest.raises(RoutingError) as raised:
        plan_routes(distances, demands, 30)
    assert raised.value.code == "demand_exceeds_capacity"
    assert "stop 4" in str(raised.value)


def test_bad_input_raises_its_code():
    distances, demands = euclidean_instance(14, 4)
    assert error_code([], [], 10) == "no_stops"
    assert error_code([[0]], [0], 10) == "no_stops"
    assert error_code(distances, demands, 0) == "capacity_not_positive"
    assert error_code(distances, demands, -5) == "capacity_not_positive"
    assert error_code(distances, demands[:3], 10) == "bad_matrix"
    assert error_code([row[:3] for row in distances], demands, 10) == "bad_matrix"
    negative = [row[:] for row in distances]
    negative[1][2] = -1
    assert error_code(negative, demands, 10) == "bad_matrix"
    fractional = [row[:] for row in distances]
    fractional[2][1] = 1.5
    assert error_code(fractional, demands, 10) == "bad_matrix"
    assert error_code(distances, [0, 1, -1, 1], 10) == "bad_demand"
    assert error_code(distances, [2, 1, 1, 1], 10) == "bad_demand"


def test_bad_time_windows_raise_their_code():
    distances, demands = euclidean_instance(15, 4)
    windows = [(0, 100)] * 4
    assert error_code(distances, demands, 10, time_windows=windows) == "bad_time_window"
    for bad in ([(0, 100)] * 3, [(0, 100), (50, 40), (0, 100), (0, 100)], [(0, 100), (-1, 5)] * 2):
        code = error_code(distances, demands, 10, time_windows=bad, travel_minutes=distances)
        assert code == "bad_time_window"
    code = error_code(
        distances, demands, 10, time_windows=windows, travel_minutes=distances, service_minutes=[0]
    )
    assert code == "bad_time_window"
    code = error_code(distances, demands, 10, time_windows=windows, travel_minutes=[[0]])
    assert code == "bad_matrix"


def test_programming_errors_are_plain_value_errors():
    distances, demands = euclidean_instance(16, 4)
    with pytest.raises(ValueError, match="Decimal"):
        plan_routes(distances, demands, 10, cost_per_distance=1.5)
    with pytest.raises(ValueError, match="non-negative"):
        plan_routes(distances, demands, 10, fixed_cost_per_route=D(-1))
    with pytest.raises(ValueError, match="time_limit_s"):
        plan_routes(distances, demands, 10, time_limit_s=0)
