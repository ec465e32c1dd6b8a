"""Allocation of cooperatives' supply to buyers' demands at the lowest total landed cost.

Pure: no Flask, no database. The caller turns listings and offers into ``Supply``, open
demands into ``Demand`` (quantities already in kg), and passes ``logistics_per_kg(supply,
demand)``, the linearised per-kg estimate from the logistics cost model. ``optimise`` allocates
several demands together (they compete for the same stock); ``greedy_cheapest_price`` is the
naive reference the product shows next to it. ``OptimizerError.code`` is for the caller to
translate into a message.

The model (a transportation problem with side constraints):

* ``x[s,d] >= 0`` kg of supply ``s`` to demand ``d``, only for eligible pairs: same product,
  ``grade_rank >= min_grade_rank``, availability overlapping the delivery window, and landed
  price (price + logistics per kg) within ``max_price_per_kg`` when given;
* stock: ``sum_d x[s,d] <= available_kg``;
* demand: ``sum_s x[s,d] + unmet[d] = quantity_kg``; ``unmet`` costs ``penalty`` per kg, far
  above any landed price, so the solver first meets as much as it can and then minimises cost;
* minimum lot per cooperative and demand: a binary ``y[c,d]`` with
  ``lot * y <= sum_{s of c} x[s,d] <= min(quantity, stock of c) * y``; the lot is the largest
  ``min_lot_kg`` among the cooperative's eligible supplies (a supply without one sets none)
  and the demand's own ``min_lot_kg``;
* a supply with ``demand_keys`` (an offer answering particular demands) serves only those;
* minimum share of an attribute (PDET, women-led, youth-led, a certification):
  ``sum_{s with attribute} x[s,d] >= share * (quantity - unmet[d])``. The share is of the kg
  *delivered*, not of the kg asked: a partly met demand still gets the mix the buyer asked
  for, and when attribute supply is short the demand is met only as far as the share allows
  (reported with the reason ``min_share``) rather than silently breaking the preference;
* objective: ``sum (price + logistics - weight discounts) * x + penalty * unmet``; a weight is a
  soft preference, a COP/kg discount in the objective only, never in the reported costs.

Solver: OR-Tools' ``pywraplp`` with GLOP (a primal/dual simplex LP solver) when no cooperative
has a minimum lot, and SCIP when binaries are needed. ``pywraplp`` was chosen over MathOpt
because the model is a plain linear (mixed-integer) program that both backends solve through
one small, stable API, and GLOP solves the 5,000 x 200 LP in well under a second; SCIP is the
stronger of the two MIP backends bundled with OR-Tools (CBC's branch and bound on the lot
binaries was slower on the benchmark). Demands interact only through shared supplies, so each
connected component of the supply-demand graph (in practice: a product) is solved on its own:
24 small MIPs solve far faster than one large one, and each gets a penalty and a MIP gap sized
to itself. SCIP stops at the time limit with the best allocation found so far and the status
``feasible``.

Exactness: the solver works in floats; its values are turned into whole grams (0.001 kg,
rounded down with a tolerance, then the rounding losses given back where stock allows) and
repaired so that no supply is over-allocated, no demand over-filled, every minimum share and
every minimum lot holds exactly. Only reductions are used in the repair, so it terminates.
Every reported cost is then computed in ``Decimal`` from the final grams: ``kg * price`` and
``kg * logistics per kg``, never read from the solver's objective.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from fractions import Fraction

from ortools.linear_solver import pywraplp

ERROR_CODES = frozenset(
    {
        "quantity_not_positive",
        "bad_window",
        "bad_availability",
        "share_out_of_range",
        "negative_price",
        "negative_stock",
        "bad_min_lot",
        "bad_weight",
        "bad_preference",
        "duplicate_key",
        "not_decimal",
        "negative_logistics",
    }
)
REASON_CODES = (
    "no_eligible_supply",
    "grade",
    "window",
    "price_cap",
    "stock",
    "min_lot",
    "min_share",
)
FIXED_ATTRIBUTES = ("pdet", "women_led", "youth_led")
GRAM = Decimal("0.001")
ZERO = Decimal(0)
ONE = Decimal(1)


class OptimizerError(ValueError):
    """Bad input; ``code`` is one of ``ERROR_CODES``, ``detail`` names the offending item."""

    def __init__(self, code: str, detail: str = ""):
        assert code in ERROR_CODES, code
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Supply:
    """Kilos a cooperative can sell (a listing or an offer), at a price per kg, in a date range."""

    key: str
    cooperative_id: int | str
    product_id: int | str
    grade_rank: int
    available_kg: Decimal
    price_per_kg: Decimal
    available_from: date
    available_until: date
    min_lot_kg: Decimal | None = None
    pdet: bool = False
    women_led: bool = False
    youth_led: bool = False
    certifications: frozenset[str] = frozenset()
    # An offer answers particular demands: only those may take it. None: any demand.
    demand_keys: frozenset[str] | None = None

    def has(self, attribute: str) -> bool:
        if attribute.startswith("cert:"):
            return attribute[5:] in self.certifications
        return bool(getattr(self, attribute))


@dataclass(frozen=True)
class Preference:
    """A sourcing preference: a hard minimum share of the delivered kg, a soft COP/kg weight, or both."""

    attribute: str
    min_share: Decimal | None = None
    weight: Decimal | None = None


@dataclass(frozen=True)
class Demand:
    """What a buyer needs: kilos of a product of at least a grade, delivered within a window."""

    key: str
    product_id: int | str
    min_grade_rank: int
    quantity_kg: Decimal
    window_start: date
    window_end: date
    max_price_per_kg: Decimal | None = None
    preferences: tuple[Preference, ...] = ()
    # The buyer's smallest lot worth taking from any one cooperative (it adds to the supplies' own).
    min_lot_kg: Decimal | None = None


@dataclass(frozen=True)
class Allocation:
    supply_key: str
    demand_key: str
    kg: Decimal
    goods_cop: Decimal
    logistics_cop: Decimal

    @property
    def landed_cop(self) -> Decimal:
        return self.goods_cop + self.logistics_cop


@dataclass
class DemandOutcome:
    met_kg: Decimal
    unmet_kg: Decimal
    reasons: list[str] = field(default_factory=list)  # why unmet; empty when fully met
    shares: dict[str, Decimal] = field(default_factory=dict)  # per preference attribute, of met kg


@dataclass
class Result:
    allocations: list[Allocation]
    per_demand: dict[str, DemandOutcome]
    total_goods_cop: Decimal
    total_logistics_cop: Decimal
    total_landed_cop: Decimal
    status: str  # "optimal", "feasible" (time limit, best found) or "infeasible" (none found)
    solve_seconds: float
    build_seconds: float = 0.0


LogisticsFn = Callable[[Supply, Demand], Decimal]


# ---------------------------------------------------------------- validation and eligibility


def _decimal(value, what: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise OptimizerError("not_decimal", what)
    value = Decimal(value)
    if not value.is_finite():
        raise OptimizerError("not_decimal", what)
    return value


def _validate(supplies: Sequence[Supply], demands: Sequence[Demand]) -> None:
    keys = set()
    for s in supplies:
        if s.key in keys:
            raise OptimizerError("duplicate_key", s.key)
        keys.add(s.key)
        if _decimal(s.available_kg, s.key) < 0:
            raise OptimizerError("negative_stock", s.key)
        if _decimal(s.price_per_kg, s.key) < 0:
            raise OptimizerError("negative_price", s.key)
        if s.available_until < s.available_from:
            raise OptimizerError("bad_availability", s.key)
        if s.min_lot_kg is not None and _decimal(s.min_lot_kg, s.key) <= 0:
            raise OptimizerError("bad_min_lot", s.key)
    keys = set()
    for d in demands:
        if d.key in keys:
            raise OptimizerError("duplicate_key", d.key)
        keys.add(d.key)
        if _decimal(d.quantity_kg, d.key) <= 0:
            raise OptimizerError("quantity_not_positive", d.key)
        if d.window_end < d.window_start:
            raise OptimizerError("bad_window", d.key)
        if d.max_price_per_kg is not None and _decimal(d.max_price_per_kg, d.key) < 0:
            raise OptimizerError("negative_price", d.key)
        if d.min_lot_kg is not None and _decimal(d.min_lot_kg, d.key) <= 0:
            raise OptimizerError("bad_min_lot", d.key)
        seen = set()
        for p in d.preferences:
            a = p.attribute
            if not isinstance(a, str) or a in seen or not (
                a in FIXED_ATTRIBUTES or (a.startswith("cert:") and len(a) > 5)
            ):
                raise OptimizerError("bad_preference", f"{d.key}: {a!r}")
            seen.add(a)
            if p.min_share is None and p.weight is None:
                raise OptimizerError("bad_preference", f"{d.key}: {a} has neither share nor weight")
            if p.min_share is not None and not ZERO <= _decimal(p.min_share, d.key) <= ONE:
                raise OptimizerError("share_out_of_range", f"{d.key}: {a}")
            if p.weight is not None and _decimal(p.weight, d.key) < 0:
                raise OptimizerError("bad_weight", f"{d.key}: {a}")


def _static_failures(s: Supply, d: Demand) -> list[str]:
    """Why ``s`` cannot serve ``d`` apart from price (same product assumed)."""
    failures = []
    if s.grade_rank < d.min_grade_rank:
        failures.append("grade")
    if s.available_from > d.window_end or s.available_until < d.window_start:
        failures.append("window")
    return failures


@dataclass
class _Instance:
    """Supplies and demands with the eligible pairs and their per-kg figures."""

    supplies: Sequence[Supply]
    demands: Sequence[Demand]
    pairs: list[tuple[int, int]]  # (supply index, demand index)
    logistics: dict[tuple[int, int], Decimal]
    excluded: dict[int, set[str]]  # demand index -> filter codes that excluded a same-product supply
    same_product: dict[int, list[int]]


def _eligible(supplies: Sequence[Supply], demands: Sequence[Demand], logistics_per_kg: LogisticsFn):
    _validate(supplies, demands)
    by_product: dict = defaultdict(list)
    for si, s in enumerate(supplies):
        if s.available_kg > 0:
            by_product[s.product_id].append(si)
    pairs, logistics, excluded, same_product = [], {}, {}, {}
    for di, d in enumerate(demands):
        excluded[di] = set()
        same_product[di] = by_product.get(d.product_id, [])
        same_product[di] = [si for si in same_product[di]
                             if supplies[si].demand_keys is None or d.key in supplies[si].demand_keys]
        for si in same_product[di]:
            s = supplies[si]
            failures = _static_failures(s, d)
            if failures:
                excluded[di].update(failures)
                continue
            per_kg = _decimal(logistics_per_kg(s, d), f"logistics {s.key} -> {d.key}")
            if per_kg < 0:
                raise OptimizerError("negative_logistics", f"{s.key} -> {d.key}")
            if d.max_price_per_kg is not None and s.price_per_kg + per_kg > d.max_price_per_kg:
                excluded[di].add("price_cap")
                continue
            pairs.append((si, di))
            logistics[si, di] = per_kg
    return _Instance(supplies, demands, pairs, logistics, excluded, same_product)


def _pair_lots(lots: Mapping[tuple, Decimal] | None) -> dict[tuple, Decimal]:
    lots = dict(lots or {})
    for key, lot in lots.items():
        if _decimal(lot, f"lot {key}") <= 0:
            raise OptimizerError("bad_min_lot", f"lot {key}")
    return lots


def _units(kg: Decimal, rounding=ROUND_FLOOR) -> int:
    return int((kg / GRAM).to_integral_value(rounding))


# ---------------------------------------------------------------- the optimiser


def optimise(
    supplies: Sequence[Supply],
    demands: Sequence[Demand],
    logistics_per_kg: LogisticsFn,
    *,
    time_limit_seconds: float = 10.0,
    mip_gap: float = 1e-4,
    pair_lots: Mapping[tuple, Decimal] | None = None,
) -> Result:
    """Allocate supply to all ``demands`` together: most kg met first, then lowest landed cost.

    ``pair_lots`` ((cooperative id, demand key) -> kg) adds a minimum lot for one cooperative
    and one demand, beside the supplies' and the demand's own: the caller's way to say a
    cooperative is worth its trips to that demand only from so many kilos.

    Raises ``OptimizerError`` for bad input. The result's costs are exact; ``status`` is
    "optimal" when the solver proved optimality (within ``mip_gap`` with minimum lots),
    "feasible" when it stopped at the time limit, "infeasible" when it found nothing.
    """
    started = time.perf_counter()
    inst = _eligible(supplies, demands, logistics_per_kg)
    supplies, demands = inst.supplies, inst.demands
    pair_lots = _pair_lots(pair_lots)
    avail_u = [_units(s.available_kg) for s in supplies]
    qty_u = [_units(d.quantity_kg) for d in demands]

    # Minimum lots per (cooperative, demand); a group that can never reach its lot is dropped.
    groups: dict[tuple, list[int]] = defaultdict(list)  # (coop, di) -> pair indices
    for pi, (si, di) in enumerate(inst.pairs):
        groups[supplies[si].cooperative_id, di].append(pi)
    lot_u: dict[tuple, int] = {}
    dropped = set()
    for g, members in groups.items():
        lots = [supplies[inst.pairs[pi][0]].min_lot_kg for pi in members]
        lots += [demands[g[1]].min_lot_kg, pair_lots.get((g[0], demands[g[1]].key))]
        lots = [lot for lot in lots if lot is not None]
        if not lots:
            continue
        lot_u[g] = _units(max(lots), ROUND_CEILING)
        reach = min(qty_u[g[1]], sum(avail_u[inst.pairs[pi][0]] for pi in members))
        if lot_u[g] > reach:
            dropped.update(members)
    live = [pi for pi in range(len(inst.pairs)) if pi not in dropped]
    live_groups = {g: lot for g, lot in lot_u.items() if groups[g][0] not in dropped}

    # Demands only interact through shared supplies: each connected component of the
    # supply-demand graph is an independent (and much smaller) problem.
    parent = list(range(len(demands)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_demand_of_supply = {}
    for pi in live:
        si, di = inst.pairs[pi]
        other = first_demand_of_supply.setdefault(si, di)
        parent[find(di)] = find(other)
    component_pairs = defaultdict(list)
    component_demands = defaultdict(list)
    for pi in live:
        component_pairs[find(inst.pairs[pi][1])].append(pi)
    for di in range(len(demands)):
        component_demands[find(di)].append(di)
    component_groups = defaultdict(dict)
    for g, lot in live_groups.items():
        component_groups[find(g[1])][g] = lot

    build_seconds = time.perf_counter() - started
    solve_seconds = 0.0
    values: dict[int, float] = {}
    unmet_values = [qty_u[di] / 1000 for di in range(len(demands))]
    statuses = set()
    deadline = time.perf_counter() + time_limit_seconds
    for root in sorted(component_pairs, key=lambda r: -len(component_pairs[r])):
        solve_started = time.perf_counter()
        status = _solve_component(
            inst, component_pairs[root], component_demands[root], component_groups[root],
            groups, avail_u, qty_u, max(0.05, deadline - solve_started), mip_gap, values,
            unmet_values,
        )
        solve_seconds += time.perf_counter() - solve_started
        statuses.add(status)
    status = next((s for s in ("infeasible", "feasible") if s in statuses), "optimal")

    grams: dict[int, int] = {}
    if status != "infeasible":
        met_target = [qty_u[di] - round(unmet_values[di] * 1000) for di in range(len(demands))]
        grams = _to_grams(values, met_target, inst, avail_u, qty_u)
        _repair(grams, inst, avail_u, qty_u, groups, lot_u)
    build_seconds += time.perf_counter() - started - build_seconds - solve_seconds
    return _result(inst, grams, status, solve_seconds, build_seconds, groups, lot_u, avail_u)


def _solve_component(inst, pair_ids, demand_ids, lot_groups, groups, avail_u, qty_u,
                     seconds, mip_gap, values, unmet_values) -> str:
    """Solve one connected component; write its x and unmet values; return its status."""
    status, x, unmet = _solve_model(inst, pair_ids, demand_ids, lot_groups, groups, avail_u,
                                    qty_u, seconds, mip_gap)
    if status == "infeasible":
        return status
    values.update(x)
    for di, value in unmet.items():
        unmet_values[di] = value
    return status


def _solve_model(inst, pair_ids, demand_ids, lot_groups, groups, avail_u, qty_u, seconds,
                 mip_gap):
    """One LP or MIP solve with the given lot groups: (status, x values, unmet values)."""
    supplies, demands = inst.supplies, inst.demands
    needs_mip = bool(lot_groups)
    solver = pywraplp.Solver.CreateSolver("SCIP" if needs_mip else "GLOP")
    assert solver is not None
    cost = {}
    max_cost = 1.0
    for pi in pair_ids:
        si, di = inst.pairs[pi]
        s, d = supplies[si], demands[di]
        c = s.price_per_kg + inst.logistics[si, di]
        c -= sum((p.weight for p in d.preferences if p.weight and s.has(p.attribute)), ZERO)
        cost[pi] = float(c)
        max_cost = max(max_cost, abs(cost[pi]))
    # In the pure transportation problem an augmenting path that meets one more kg crosses
    # each demand at most once, so its cost change is below 2 * demands * max |cost|: a
    # larger penalty makes "meet more" come first. With minimum lots the MIP gap is relative
    # to an objective the penalty dominates, so a second pass fixes the met kg and minimises
    # cost alone (below).
    penalty = 2.0 * (len(demand_ids) + 1) * max_cost

    x = {}
    by_supply: dict[int, list[int]] = defaultdict(list)
    by_demand: dict[int, list[int]] = defaultdict(list)
    for pi in pair_ids:
        si, di = inst.pairs[pi]
        x[pi] = solver.NumVar(0.0, min(avail_u[si], qty_u[di]) / 1000, "")
        by_supply[si].append(pi)
        by_demand[di].append(pi)
    unmet = {di: solver.NumVar(0.0, qty_u[di] / 1000, "") for di in demand_ids}
    objective = solver.Objective()
    for pi, var in x.items():
        objective.SetCoefficient(var, cost[pi])
    for var in unmet.values():
        objective.SetCoefficient(var, penalty)
    objective.SetMinimization()

    for si, members in by_supply.items():
        if sum(min(avail_u[si], qty_u[inst.pairs[pi][1]]) for pi in members) <= avail_u[si]:
            continue  # cannot bind
        row = solver.Constraint(-math.inf, avail_u[si] / 1000)
        for pi in members:
            row.SetCoefficient(x[pi], 1.0)
    for di in demand_ids:
        q = qty_u[di] / 1000
        row = solver.Constraint(q, q)
        row.SetCoefficient(unmet[di], 1.0)
        for pi in by_demand[di]:
            row.SetCoefficient(x[pi], 1.0)
        for p in demands[di].preferences:
            if not p.min_share:
                continue
            share = float(p.min_share)
            row = solver.Constraint(share * q, math.inf)
            row.SetCoefficient(unmet[di], share)
            for pi in by_demand[di]:
                if supplies[inst.pairs[pi][0]].has(p.attribute):
                    row.SetCoefficient(x[pi], 1.0)
    for g, lot in lot_groups.items():
        members = groups[g]
        reach = min(qty_u[g[1]], sum(avail_u[inst.pairs[pi][0]] for pi in members))
        y = solver.BoolVar("")
        low = solver.Constraint(0.0, math.inf)
        high = solver.Constraint(-math.inf, 0.0)
        low.SetCoefficient(y, -lot / 1000)
        high.SetCoefficient(y, -reach / 1000)
        for pi in members:
            low.SetCoefficient(x[pi], 1.0)
            high.SetCoefficient(x[pi], 1.0)
            # x <= its bound * y, pair by pair: redundant for integers, but a much tighter
            # LP relaxation (SCIP solves the benchmark in about two thirds of the time).
            row = solver.Constraint(-math.inf, 0.0)
            row.SetCoefficient(x[pi], 1.0)
            row.SetCoefficient(y, -x[pi].ub())

    started = time.perf_counter()
    params = pywraplp.MPSolverParameters()
    if needs_mip:
        params.SetDoubleParam(params.RELATIVE_MIP_GAP, mip_gap)
    solver.SetTimeLimit(max(1, int(seconds * 1000)))
    code = solver.Solve(params)
    if code not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return "infeasible", {}, {}
    total_unmet = sum(var.solution_value() for var in unmet.values())
    if needs_mip and total_unmet > 1e-6 and code == pywraplp.Solver.OPTIMAL:
        # Keep the kg met, forget the penalty, minimise landed cost within the gap.
        first = ({pi: var.solution_value() for pi, var in x.items()},
                 {di: var.solution_value() for di, var in unmet.items()})
        cap = solver.Constraint(-math.inf, total_unmet + 1e-6)
        for var in unmet.values():
            cap.SetCoefficient(var, 1.0)
            objective.SetCoefficient(var, 0.0)
        solver.SetTimeLimit(max(1, int((seconds - (time.perf_counter() - started)) * 1000)))
        second = solver.Solve(params)
        if second not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            return "feasible", first[0], first[1]
        code = second
    return (
        "optimal" if code == pywraplp.Solver.OPTIMAL else "feasible",
        {pi: var.solution_value() for pi, var in x.items()},
        {di: var.solution_value() for di, var in unmet.items()},
    )


def _to_grams(values, met_target, inst: _Instance, avail_u, qty_u) -> dict[int, int]:
    """Whole grams from the solver's floats: round down, then give back the rounding losses."""
    grams, fractions = {}, []
    for pi, value in values.items():
        scaled = max(0.0, value) * 1000
        whole = math.floor(scaled + 1e-3)
        grams[pi] = whole
        if scaled - whole > 1e-6:
            fractions.append((scaled - whole, pi))
    used = defaultdict(int)
    met = defaultdict(int)
    for pi, g in grams.items():
        si, di = inst.pairs[pi]
        used[si] += g
        met[di] += g
    fractions.sort(reverse=True)
    for _, pi in fractions:
        si, di = inst.pairs[pi]
        if used[si] < avail_u[si] and met[di] < min(met_target[di], qty_u[di]):
            grams[pi] += 1
            used[si] += 1
            met[di] += 1
    return {pi: g for pi, g in grams.items() if g > 0}


def _repair(grams: dict[int, int], inst: _Instance, avail_u, qty_u, groups, lot_u) -> None:
    """Reduce ``grams`` in place until stock, quantity, shares and lots hold exactly."""
    supplies, demands = inst.supplies, inst.demands
    group_of = {}
    for g, members in groups.items():
        for pi in members:
            group_of[pi] = g

    def group_total(g):
        return sum(grams.get(pi, 0) for pi in groups[g])

    def reduce(candidates: Iterable[int], excess: int) -> None:
        candidates = [pi for pi in candidates if grams.get(pi, 0) > 0]

        def spare(pi):  # how much can go without breaking a lot
            g = group_of[pi]
            if g not in lot_u:
                return grams[pi]
            return max(0, min(grams[pi], group_total(g) - lot_u[g]))

        for pass_ in (0, 1):
            for pi in sorted(candidates, key=lambda p: -grams.get(p, 0)):
                if excess <= 0:
                    return
                take = min(excess, spare(pi) if pass_ == 0 else grams.get(pi, 0))
                if take > 0:
                    grams[pi] -= take
                    excess -= take
        assert excess <= 0

    share_prefs = [
        [(p.attribute, Fraction(p.min_share)) for p in d.preferences if p.min_share]
        for d in demands
    ]
    for _ in range(100):
        before = dict(grams)
        by_supply, by_demand = defaultdict(list), defaultdict(list)
        for pi in grams:
            si, di = inst.pairs[pi]
            by_supply[si].append(pi)
            by_demand[di].append(pi)
        for si, members in by_supply.items():
            reduce(members, sum(grams[pi] for pi in members) - avail_u[si])
        for di, members in by_demand.items():
            reduce(members, sum(grams[pi] for pi in members) - qty_u[di])
            for attribute, share in share_prefs[di]:
                having = sum(grams[pi] for pi in members if supplies[inst.pairs[pi][0]].has(attribute))
                others = [pi for pi in members if not supplies[inst.pairs[pi][0]].has(attribute)]
                rest = sum(grams[pi] for pi in others)
                # having >= share * (having + rest)  <=>  rest <= having * (1 - share) / share
                allowed = 0 if share == 1 else math.floor(having * (1 - share) / share)
                reduce(others, rest - allowed)
        for g, lot in lot_u.items():
            total = group_total(g)
            if 0 < total < lot:
                for pi in groups[g]:
                    grams.pop(pi, None)
        for pi in [pi for pi, g in grams.items() if g <= 0]:
            del grams[pi]
        if grams == before:
            return
    raise AssertionError("allocation repair did not settle")  # pragma: no cover


def _result(inst: _Instance, grams, status, solve_seconds, build_seconds, groups, lot_u, avail_u):
    supplies, demands = inst.supplies, inst.demands
    allocations = []
    met = defaultdict(lambda: ZERO)
    used = defaultdict(int)
    attr_kg = defaultdict(lambda: ZERO)
    per_pair_kg = {}
    for pi in sorted(grams, key=lambda p: (inst.pairs[p][1], inst.pairs[p][0])):
        si, di = inst.pairs[pi]
        s, d = supplies[si], demands[di]
        kg = grams[pi] * GRAM
        per_pair_kg[pi] = kg
        allocations.append(
            Allocation(s.key, d.key, kg, kg * s.price_per_kg, kg * inst.logistics[si, di])
        )
        met[di] += kg
        used[si] += grams[pi]
        for p in d.preferences:
            if s.has(p.attribute):
                attr_kg[di, p.attribute] += kg

    pairs_of_demand = defaultdict(list)
    for pi, (_si, di) in enumerate(inst.pairs):
        pairs_of_demand[di].append(pi)
    per_demand = {}
    for di, d in enumerate(demands):
        m = met[di]
        shares = {p.attribute: (attr_kg[di, p.attribute] / m if m else ZERO) for p in d.preferences}
        unmet = d.quantity_kg - m
        reasons = []
        if unmet > 0:
            reasons = _reasons(inst, di, grams, used, avail_u, groups, lot_u, pairs_of_demand[di],
                               attr_kg, m)
        per_demand[d.key] = DemandOutcome(m, unmet, reasons, shares)
    goods = sum((a.goods_cop for a in allocations), ZERO)
    logistics = sum((a.logistics_cop for a in allocations), ZERO)
    return Result(allocations, per_demand, goods, logistics, goods + logistics, status,
                  solve_seconds, build_seconds)


def _reasons(inst: _Instance, di, grams, used, avail_u, groups, lot_u, pair_ids, attr_kg, met):
    """Why a demand is not fully met, in the order of ``REASON_CODES``."""
    d = inst.demands[di]
    supplies = inst.supplies
    found = set(inst.excluded[di])
    if not pair_ids:
        found.add("no_eligible_supply")
    else:
        unmet_u = _units(d.quantity_kg - met, ROUND_CEILING)
        left = {inst.pairs[pi][0]: avail_u[inst.pairs[pi][0]] - used[inst.pairs[pi][0]] for pi in pair_ids}
        if sum(left.values()) < unmet_u:
            found.add("stock")
        for (coop, gdi), members in groups.items():
            if (
                gdi == di and (coop, gdi) in lot_u
                and not any(grams.get(pi) for pi in members)
                and any(left[inst.pairs[pi][0]] > 0 for pi in members)
            ):
                found.add("min_lot")
        for p in d.preferences:
            if not p.min_share:
                continue
            tight = attr_kg[di, p.attribute] <= p.min_share * met + GRAM
            idle_others = any(
                left[inst.pairs[pi][0]] > 0 and not supplies[inst.pairs[pi][0]].has(p.attribute)
                for pi in pair_ids
            )
            if tight and idle_others:
                found.add("min_share")
    return [code for code in REASON_CODES if code in found]


# ---------------------------------------------------------------- the naive reference


def greedy_cheapest_price(
    supplies: Sequence[Supply], demands: Sequence[Demand], logistics_per_kg: LogisticsFn,
    *, pair_lots: Mapping[tuple, Decimal] | None = None,
) -> Result:
    """Each demand in turn takes the eligible supplies by ascending price (logistics and
    preferences ignored), as far as stock lasts; a cooperative's minimum lot is respected
    (a take that would leave it below the lot is skipped), ``pair_lots`` as in ``optimise``.
    Costs are landed, exact."""
    started = time.perf_counter()
    inst = _eligible(supplies, demands, logistics_per_kg)
    pair_lots = _pair_lots(pair_lots)
    avail_u = [_units(s.available_kg) for s in inst.supplies]
    qty_u = [_units(d.quantity_kg) for d in inst.demands]
    groups: dict[tuple, list[int]] = defaultdict(list)
    lot_u: dict[tuple, int] = {}
    by_demand = defaultdict(list)
    for pi, (si, di) in enumerate(inst.pairs):
        s = inst.supplies[si]
        g = (s.cooperative_id, di)
        groups[g].append(pi)
        d = inst.demands[di]
        for lot in (s.min_lot_kg, d.min_lot_kg, pair_lots.get((s.cooperative_id, d.key))):
            if lot is not None:
                lot_u[g] = max(lot_u.get(g, 0), _units(lot, ROUND_CEILING))
        by_demand[di].append(pi)
    left = list(avail_u)
    grams: dict[int, int] = {}
    for di in range(len(inst.demands)):
        need = qty_u[di]
        taken = defaultdict(int)
        ordered = sorted(
            by_demand[di], key=lambda pi: (inst.supplies[inst.pairs[pi][0]].price_per_kg, inst.pairs[pi][0])
        )
        for pi in ordered:
            si = inst.pairs[pi][0]
            take = min(need, left[si])
            g = (inst.supplies[si].cooperative_id, di)
            if take <= 0 or taken[g] + take < lot_u.get(g, 0):
                continue
            grams[pi] = take
            taken[g] += take
            left[si] -= take
            need -= take
    elapsed = time.perf_counter() - started
    return _result(inst, grams, "feasible", elapsed, 0.0, groups, lot_u, avail_u)
