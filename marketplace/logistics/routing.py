"""Consolidated collection routes: which stops share a truck, and in what order.

A capacitated vehicle routing problem (CVRP, with optional time windows) solved with
Google OR-Tools' routing library. Pure: no Flask, no database. The caller turns collection
points into a distance matrix (integer metres or km), quantities into integer demands in the
same unit as the truck capacity, and translates ``RoutingError.code`` into a message.

Node 0 is the depot (the collection centre) with demand 0; nodes 1..n-1 are the stops. Every
stop is visited exactly once by one route; a route leaves the depot and comes back to it.

The solver works on integers, so the cost per distance and the fixed cost per route are scaled
to integers for the search; the plan's ``cost`` is recomputed exactly in ``Decimal`` from the
routes chosen, never taken from the solver's objective.

Determinism: the routing search runs in one thread and its local search is deterministic, but
it stops at a wall-clock limit, so a slower or busier machine may stop it earlier, at a
different (still valid) plan. The same input on an idle machine gives the same plan.
"""

from __future__ import annotations

import numbers
import time
from dataclasses import dataclass
from decimal import Decimal

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

ERROR_CODES = frozenset(
    {
        "no_stops",
        "capacity_not_positive",
        "demand_exceeds_capacity",
        "no_solution",
        "bad_matrix",
        "bad_demand",
        "bad_time_window",
    }
)

# OR-Tools costs are int64; keep the largest possible objective well below 2**63.
_COST_CEILING = 2**62
# Decimal places of the cost parameters kept in the solver's integer costs.
_MAX_COST_DECIMALS = 6


class RoutingError(ValueError):
    """Why no plan can be made; ``code`` names the problem for the caller to explain."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class RoutePlan:
    routes: list[list[int]]  # stop indices in visiting order, depot omitted; no empty routes
    distance: int  # sum of the matrix entries travelled, depot to depot
    cost: Decimal  # fixed_cost_per_route * len(routes) + cost_per_distance * distance
    loads: list[int]  # total demand of each route
    solve_seconds: float
    optimal: bool  # True only when the solver proved it


def plan_routes(
    distances: list[list[int]],
    demands: list[int],
    capacity: int,
    *,
    max_vehicles: int | None = None,
    fixed_cost_per_route: Decimal = Decimal(0),
    cost_per_distance: Decimal = Decimal(1),
    time_windows: list[tuple[int, int]] | None = None,
    travel_minutes: list[list[int]] | None = None,
    service_minutes: list[int] | None = None,
    time_limit_s: float = 5.0,
    seed_solution: bool = True,
) -> RoutePlan:
    """Plan routes of least cost that visit every stop once without exceeding ``capacity``.

    ``max_vehicles`` bounds the number of routes (default: one per stop, always enough).
    With ``time_windows`` (one ``(open, close)`` in minutes per node, the depot's bounding
    departure and return), service at each stop starts inside its window; trucks may wait.
    ``travel_minutes`` is then required and ``service_minutes`` (time spent at each node)
    defaults to 0. ``seed_solution`` starts the search from a Clarke-Wright savings plan, which
    is never worse than serving each stop by its own trip, instead of OR-Tools' own first
    solution. The search stops after ``time_limit_s`` seconds.

    Raises ``RoutingError`` with ``code`` one of ``ERROR_CODES``.
    """
    started = time.perf_counter()
    if not isinstance(time_limit_s, numbers.Real) or not time_limit_s > 0:
        raise ValueError("time_limit_s must be positive")
    fixed, per_distance = _cost_parameters(fixed_cost_per_route, cost_per_distance)
    matrix = _check_matrix(distances, "distances")
    n = len(matrix)
    loads = _check_demands(demands, n)
    cap = _check_capacity(capacity)
    for stop in range(1, n):
        if loads[stop] > cap:
            raise RoutingError(
                "demand_exceeds_capacity", f"stop {stop}: demand {loads[stop]} > capacity {cap}"
            )
    vehicles = n - 1 if max_vehicles is None else max_vehicles
    if not isinstance(vehicles, numbers.Integral) or isinstance(vehicles, bool):
        raise ValueError("max_vehicles must be an integer")
    vehicles = int(vehicles)
    if vehicles < 1 or sum(loads) > vehicles * cap:
        raise RoutingError(
            "no_solution", f"{vehicles} vehicles of capacity {cap} cannot carry {sum(loads)}"
        )

    # Travel and service times only matter against windows, but bad ones are refused anyway.
    schedule = _Schedule.checked(time_windows, travel_minutes, service_minutes, n)
    if time_windows is None:
        schedule = None

    arc_scale, fixed_scaled = _integer_costs(fixed, per_distance, matrix, vehicles)

    seed = None
    if seed_solution:
        seed = _savings_routes(matrix, loads, cap, vehicles, fixed, per_distance, schedule)

    manager = pywrapcp.RoutingIndexManager(n, vehicles, 0)
    model = pywrapcp.RoutingModel(manager)
    # Matrices and vectors registered natively keep Python out of the search's inner loop.
    arc_cost = model.RegisterTransitMatrix([[d * arc_scale for d in row] for row in matrix])
    model.SetArcCostEvaluatorOfAllVehicles(arc_cost)
    model.SetFixedCostOfAllVehicles(fixed_scaled)
    load = model.RegisterUnaryTransitVector(loads)
    model.AddDimensionWithVehicleCapacity(load, 0, [cap] * vehicles, True, "Load")
    if schedule is not None:
        schedule.add_dimension(model, manager, vehicles)

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.sat_parameters.num_workers = 1  # one thread, in case a CP-SAT fallback kicks in
    params.time_limit.FromMilliseconds(max(1, round(time_limit_s * 1000)))

    solution = None
    if seed is not None:
        initial = model.ReadAssignmentFromRoutes(
            [[manager.NodeToIndex(s) for s in r] for r in seed] + [[]] * (vehicles - len(seed)),
            True,
        )
        if initial is not None:
            solution = model.SolveFromAssignmentWithParameters(initial, params)
    if solution is None:
        solution = model.SolveWithParameters(params)
    if solution is None:
        raise RoutingError("no_solution", f"solver status {model.status()}")

    routes = []
    for vehicle in range(vehicles):
        route = []
        index = model.Start(vehicle)
        while not model.IsEnd(index):
            node = manager.IndexToNode(index)
            if node != 0:
                route.append(node)
            index = solution.Value(model.NextVar(index))
        if route:
            routes.append(route)
    optimal = model.status() == routing_enums_pb2.RoutingSearchStatus.ROUTING_OPTIMAL

    # The solver compared plans on scaled, possibly rounded costs; the exact cost decides.
    if seed is not None and _exact_cost(seed, matrix, fixed, per_distance) < _exact_cost(
        routes, matrix, fixed, per_distance
    ):
        routes, optimal = seed, False
    total = sum(_route_distance(r, matrix) for r in routes)
    return RoutePlan(
        routes=routes,
        distance=total,
        cost=fixed * len(routes) + per_distance * total,
        loads=[sum(loads[s] for s in r) for r in routes],
        solve_seconds=time.perf_counter() - started,
        optimal=optimal,
    )


def one_trip_per_stop_cost(
    distances: list[list[int]],
    demands: list[int],
    capacity: int,
    fixed_cost_per_route: Decimal,
    cost_per_distance: Decimal,
) -> Decimal:
    """What serving every stop by its own round trips costs: the "without consolidation" figure.

    A stop takes ``ceil(demand / capacity)`` trips from the depot and back, and at least one
    (a stop is visited even when it has nothing to load, as in ``plan_routes``).
    """
    fixed, per_distance = _cost_parameters(fixed_cost_per_route, cost_per_distance)
    matrix = _check_matrix(distances, "distances")
    loads = _check_demands(demands, len(matrix))
    cap = _check_capacity(capacity)
    total = Decimal(0)
    for stop in range(1, len(matrix)):
        trips = max(1, -(-loads[stop] // cap))
        total += trips * (fixed + per_distance * (matrix[0][stop] + matrix[stop][0]))
    return total


def _cost_parameters(fixed, per_distance) -> tuple[Decimal, Decimal]:
    values = []
    for name, value in (("fixed_cost_per_route", fixed), ("cost_per_distance", per_distance)):
        if isinstance(value, float | bool) or not isinstance(value, Decimal | int):
            # Money is exact: a float here is a caller's bug, not bad data.
            raise ValueError(f"{name} must be a Decimal or an int")
        value = Decimal(value)
        if not value.is_finite() or value < 0:
            raise ValueError(f"{name} must be a finite non-negative amount")
        values.append(value)
    return values[0], values[1]


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_matrix(matrix, name: str) -> list[list[int]]:
    try:
        rows = [list(row) for row in matrix]
    except TypeError:
        raise RoutingError("bad_matrix", f"{name} is not a list of rows") from None
    n = len(rows)
    if n == 0:
        raise RoutingError("no_stops", f"{name} is empty")
    for i, row in enumerate(rows):
        if len(row) != n:
            raise RoutingError("bad_matrix", f"{name} row {i} has {len(row)} entries, not {n}")
        for j, value in enumerate(row):
            if not _is_int(value) or value < 0:
                raise RoutingError(
                    "bad_matrix", f"{name}[{i}][{j}] = {value!r} is not a non-negative integer"
                )
    return [[int(v) for v in row] for row in rows]


def _check_demands(demands, n: int) -> list[int]:
    demands = list(demands)
    if len(demands) != n:
        raise RoutingError("bad_matrix", f"{len(demands)} demands for a {n}x{n} matrix")
    if n < 2:
        raise RoutingError("no_stops", "only the depot")
    for i, value in enumerate(demands):
        if not _is_int(value) or value < 0:
            raise RoutingError("bad_demand", f"demand of node {i} = {value!r}")
    if demands[0] != 0:
        raise RoutingError("bad_demand", f"the depot's demand is {demands[0]}, not 0")
    return [int(v) for v in demands]


def _check_capacity(capacity) -> int:
    if not _is_int(capacity):
        raise ValueError("capacity must be an integer")
    if capacity <= 0:
        raise RoutingError("capacity_not_positive", f"capacity {capacity}")
    return int(capacity)


def _integer_costs(
    fixed: Decimal, per_distance: Decimal, matrix: list[list[int]], vehicles: int
) -> tuple[int, int]:
    """Integer arc multiplier and fixed cost per route for the solver, in one common unit.

    Both amounts are multiplied by the same power of ten, as many decimals as they have (up to
    ``_MAX_COST_DECIMALS``), fewer when the largest possible objective would overflow int64.
    With no cost per distance the distance itself is the arc cost and the fixed cost is scaled
    to outweigh any possible total distance: fewest routes first, then the shortest.
    """
    n = len(matrix)
    longest = max(max(row) for row in matrix)
    # A plan has n - 1 + vehicles arcs at most.
    arcs = n - 1 + vehicles
    if per_distance == 0:
        bound = longest * arcs + 1
        fixed_units = 0 if fixed == 0 else bound
        if fixed_units * vehicles + bound > _COST_CEILING:
            raise RoutingError("bad_matrix", "distances too large")
        return 1, fixed_units
    decimals = max(0, -fixed.as_tuple().exponent, -per_distance.as_tuple().exponent)
    for places in range(min(decimals, _MAX_COST_DECIMALS), -1, -1):
        scale = 10**places
        arc_scale = max(1, int((per_distance * scale).to_integral_value()))
        fixed_scaled = int((fixed * scale).to_integral_value())
        if longest * arc_scale * arcs + fixed_scaled * vehicles < _COST_CEILING:
            return arc_scale, fixed_scaled
    raise RoutingError("bad_matrix", "distances or costs too large")


def _route_distance(route: list[int], matrix: list[list[int]]) -> int:
    total, previous = 0, 0
    for stop in route:
        total += matrix[previous][stop]
        previous = stop
    return total + matrix[previous][0]


def _exact_cost(routes, matrix, fixed: Decimal, per_distance: Decimal) -> Decimal:
    return fixed * len(routes) + per_distance * sum(_route_distance(r, matrix) for r in routes)


class _Schedule:
    """Time windows, travel and service minutes: checks, the time dimension, route feasibility."""

    def __init__(self, windows, travel, service):
        self.windows = windows
        self.travel = travel
        self.service = service

    @classmethod
    def checked(cls, time_windows, travel_minutes, service_minutes, n):
        if travel_minutes is None:
            if time_windows is not None:
                raise RoutingError("bad_time_window", "time windows need travel_minutes")
            travel = [[0] * n for _ in range(n)]
        else:
            travel = _check_matrix(travel_minutes, "travel_minutes")
        if len(travel) != n:
            raise RoutingError("bad_matrix", f"travel_minutes is {len(travel)}x{len(travel)}")
        service = [0] * n if service_minutes is None else list(service_minutes)
        if len(service) != n or not all(_is_int(s) and s >= 0 for s in service):
            raise RoutingError("bad_time_window", "service_minutes: one non-negative int a node")
        checked_windows = []
        if time_windows is not None:
            time_windows = list(time_windows)
            if len(time_windows) != n:
                raise RoutingError("bad_time_window", f"{len(time_windows)} windows for {n} nodes")
            for i, window in enumerate(time_windows):
                try:
                    opens, closes = window
                except (TypeError, ValueError):
                    raise RoutingError("bad_time_window", f"window of node {i}") from None
                if not (_is_int(opens) and _is_int(closes) and 0 <= opens <= closes):
                    raise RoutingError("bad_time_window", f"window of node {i}: {window!r}")
                checked_windows.append((int(opens), int(closes)))
        return cls(checked_windows, travel, [int(s) for s in service])

    def add_dimension(self, model, manager, vehicles: int) -> None:
        n = len(self.windows)
        horizon = max(closes for _, closes in self.windows)
        # Leaving node i takes its service time plus the drive to j.
        transit = model.RegisterTransitMatrix(
            [[self.service[i] + self.travel[i][j] for j in range(n)] for i in range(n)]
        )
        # Slack is waiting for a window to open; cumul is when service starts.
        model.AddDimension(transit, horizon, horizon, False, "Time")
        time_dim = model.GetDimensionOrDie("Time")
        for node in range(1, n):
            time_dim.CumulVar(manager.NodeToIndex(node)).SetRange(*self.windows[node])
        depot_opens, depot_closes = self.windows[0]
        for vehicle in range(vehicles):
            for index in (model.Start(vehicle), model.End(vehicle)):
                time_dim.CumulVar(index).SetRange(depot_opens, depot_closes)
            model.AddVariableMinimizedByFinalizer(time_dim.CumulVar(model.Start(vehicle)))
            model.AddVariableMinimizedByFinalizer(time_dim.CumulVar(model.End(vehicle)))

    def feasible(self, route: list[int]) -> bool:
        """Leaving the depot when it opens and waiting where early, is every window met?"""
        clock, previous = self.windows[0][0], 0
        for stop in route:
            clock = max(
                clock + self.service[previous] + self.travel[previous][stop], self.windows[stop][0]
            )
            if clock > self.windows[stop][1]:
                return False
            previous = stop
        return clock + self.service[previous] + self.travel[previous][0] <= self.windows[0][1]


def _savings_routes(matrix, loads, cap, vehicles, fixed, per_distance, schedule):
    """Clarke-Wright savings: start from one trip per stop, join route ends while it pays.

    Joining the route that ends at i to the one that starts at j saves one route's fixed
    cost and the distance i->depot->j less i->j. Joins that save nothing are still made, best
    first, while there are more routes than vehicles. Returns None when no plan fits.
    """
    n = len(matrix)
    if schedule is not None and not all(schedule.feasible([s]) for s in range(1, n)):
        return None
    # Each route is a [stops, load] record, found from the stop at either of its ends.
    end_of = {s: [[s], loads[s]] for s in range(1, n)}
    savings = sorted(
        (
            (fixed + per_distance * (matrix[i][0] + matrix[0][j] - matrix[i][j]), i, j)
            for i in range(1, n)
            for j in range(1, n)
            if i != j
        ),
        key=lambda item: (-item[0], item[1], item[2]),
    )
    count = n - 1
    for saving, i, j in savings:
        if saving <= 0 and count <= vehicles:
            break
        first, second = end_of.get(i), end_of.get(j)
        if first is None or second is None or first is second:
            continue
        if first[0][-1] != i or second[0][0] != j or first[1] + second[1] > cap:
            continue
        stops = first[0] + second[0]
        if schedule is not None and not schedule.feasible(stops):
            continue
        for end in (first[0][0], i, j, second[0][-1]):
            end_of.pop(end, None)
        joined = [stops, first[1] + second[1]]
        end_of[stops[0]] = end_of[stops[-1]] = joined
        count -= 1
    routes = {id(record): record[0] for record in end_of.values()}
    routes = list(routes.values())
    if len(routes) > vehicles:
        return None
    routes.sort(key=lambda r: r[0])
    return routes
