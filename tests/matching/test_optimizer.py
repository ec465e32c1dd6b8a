"""The pure allocation optimiser: against an independent LP, lots, shares, each constraint, errors."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.sparse import lil_matrix

from marketplace.matching.optimizer import (
    Demand,
    OptimizerError,
    Preference,
    Supply,
    greedy_cheapest_price,
    optimise,
)

D = Decimal
DAY = date(2026, 3, 2)
SITES = {}


def supply(key, coop="c1", price=1000, kg=100, **kw):
    kw.setdefault("product_id", "cacao")
    kw.setdefault("grade_rank", 2)
    kw.setdefault("available_from", DAY)
    kw.setdefault("available_until", DAY + timedelta(days=30))
    return Supply(key=key, cooperative_id=coop, available_kg=D(kg), price_per_kg=D(price), **kw)


def demand(key="d1", kg=100, **kw):
    kw.setdefault("product_id", "cacao")
    kw.setdefault("min_grade_rank", 1)
    kw.setdefault("window_start", DAY + timedelta(days=5))
    kw.setdefault("window_end", DAY + timedelta(days=10))
    return Demand(key=key, quantity_kg=D(kg), **kw)


def table(costs: dict[tuple[str, str], int], default=0):
    """Logistics per kg from a (supply key, demand key) table."""
    return lambda s, d: D(costs.get((s.key, d.key), default))


def kg_of(result, supply_key=None, demand_key=None):
    return sum(
        (a.kg for a in result.allocations
         if supply_key in (None, a.supply_key) and demand_key in (None, a.demand_key)),
        D(0),
    )


def check_invariants(result, supplies, demands, logistics):
    """Stock, quantities, exact costs, totals; returns nothing, asserts."""
    by_key = {s.key: s for s in supplies}
    demand_by_key = {d.key: d for d in demands}
    used, met = defaultdict(D), defaultdict(D)
    for a in result.allocations:
        s, d = by_key[a.supply_key], demand_by_key[a.demand_key]
        assert a.kg > 0 and a.kg == a.kg.quantize(D("0.001"))
        assert a.goods_cop == a.kg * s.price_per_kg
        assert a.logistics_cop == a.kg * logistics(s, d)
        used[s.key] += a.kg
        met[d.key] += a.kg
    for s in supplies:
        assert used[s.key] <= s.available_kg
    for d in demands:
        outcome = result.per_demand[d.key]
        assert outcome.met_kg == met[d.key] <= d.quantity_kg
        assert outcome.unmet_kg == d.quantity_kg - met[d.key]
        assert bool(outcome.reasons) == (outcome.unmet_kg > 0)
        for p in d.preferences:
            if p.min_share:
                having = sum((a.kg for a in result.allocations if a.demand_key == d.key
                              and by_key[a.supply_key].has(p.attribute)), D(0))
                assert having >= p.min_share * met[d.key]
    assert result.total_goods_cop == sum((a.goods_cop for a in result.allocations), D(0))
    assert result.total_logistics_cop == sum((a.logistics_cop for a in result.allocations), D(0))
    assert result.total_landed_cop == result.total_goods_cop + result.total_logistics_cop


def check_lots(result, supplies, demands):
    by_key = {s.key: s for s in supplies}
    group = defaultdict(D)
    for a in result.allocations:
        group[by_key[a.supply_key].cooperative_id, a.demand_key] += a.kg
    for (coop, dkey), kg in group.items():
        d = next(d for d in demands if d.key == dkey)
        lots = [s.min_lot_kg for s in supplies if s.cooperative_id == coop and s.min_lot_kg
                and s.product_id == d.product_id and s.grade_rank >= d.min_grade_rank
                and s.available_from <= d.window_end and s.available_until >= d.window_start]
        assert kg == 0 or kg >= max(lots, default=D(0)), (coop, dkey, kg, lots)


# ---------------------------------------------------------------- generated instances


def generated(seed, *, lots=False, shares=False, weights=False, caps=True, ample=False):
    rng = random.Random(seed)
    coops = [
        {"id": f"c{i}", "pdet": rng.random() < 0.5, "women_led": rng.random() < 0.3,
         "where": rng.uniform(0, 600), "lot": D(rng.randrange(50, 400, 10)) if lots and rng.random() < 0.5 else None}
        for i in range(8)
    ]
    products = ["cacao", "cafe", "panela"]
    base = {"cacao": 11000, "cafe": 21000, "panela": 4800}
    supplies = []
    for i in range(rng.randint(20, 35)):
        coop = rng.choice(coops)
        product = rng.choice(products)
        start = DAY + timedelta(days=rng.randint(-5, 20))
        supplies.append(Supply(
            key=f"s{i}", cooperative_id=coop["id"], product_id=product,
            grade_rank=rng.randint(1, 3),
            available_kg=D(rng.randrange(100, 3000 if ample else 1500, 10)),
            price_per_kg=D(round(base[product] * rng.uniform(0.8, 1.2), -1)),
            available_from=start, available_until=start + timedelta(days=rng.randint(5, 40)),
            min_lot_kg=coop["lot"] if coop["lot"] and rng.random() < 0.7 else None,
            pdet=coop["pdet"], women_led=coop["women_led"],
        ))
    where = {s.key: next(c["where"] for c in coops if c["id"] == s.cooperative_id) for s in supplies}
    demands = []
    for j in range(rng.randint(4, 7)):
        product = rng.choice(products)
        start = DAY + timedelta(days=rng.randint(0, 15))
        preferences = []
        if shares and rng.random() < 0.6:
            preferences.append(Preference("pdet", min_share=D(rng.choice(("0.3", "0.5", "0.8")))))
        if weights and rng.random() < 0.6:
            preferences.append(Preference("women_led", weight=D(rng.choice((200, 800)))))
        demands.append(Demand(
            key=f"d{j}", product_id=product, min_grade_rank=rng.randint(1, 2),
            quantity_kg=D(rng.randrange(200, 1500 if ample else 3000, 10)),
            window_start=start, window_end=start + timedelta(days=rng.randint(3, 20)),
            max_price_per_kg=D(round(base[product] * 1.2, -1)) if caps and rng.random() < 0.3 else None,
            preferences=tuple(preferences),
        ))
    site = {d.key: rng.uniform(0, 600) for d in demands}

    def logistics(s, d):
        return (D(30) + D(abs(where[s.key] - site[d.key])) * D("0.9")).quantize(D("0.01"))

    return supplies, demands, logistics


def scipy_reference(supplies, demands, logistics):
    """Lexicographic LP with HiGHS: most kg met, then least (price + logistics - weights) cost."""
    pairs = []
    for si, s in enumerate(supplies):
        for di, d in enumerate(demands):
            if (s.product_id == d.product_id and s.grade_rank >= d.min_grade_rank
                    and s.available_from <= d.window_end and s.available_until >= d.window_start
                    and (d.max_price_per_kg is None
                         or s.price_per_kg + logistics(s, d) <= d.max_price_per_kg)):
                pairs.append((si, di))
    n, m = len(pairs), len(demands)
    cost = np.zeros(n + m)
    for k, (si, di) in enumerate(pairs):
        s, d = supplies[si], demands[di]
        c = s.price_per_kg + logistics(s, d)
        c -= sum((p.weight for p in d.preferences if p.weight and s.has(p.attribute)), D(0))
        cost[k] = float(c)
    a_eq = lil_matrix((m, n + m))
    b_eq = np.array([float(d.quantity_kg) for d in demands])
    for k, (_si, di) in enumerate(pairs):
        a_eq[di, k] = 1
    for di in range(m):
        a_eq[di, n + di] = 1
    rows, b_ub = [], []
    for si, s in enumerate(supplies):
        rows.append({k: 1.0 for k, (sj, _d) in enumerate(pairs) if sj == si})
        b_ub.append(float(s.available_kg))
    for di, d in enumerate(demands):
        for p in d.preferences:
            if p.min_share:  # -(attr x) - share * unmet <= -share * q
                row = {k: -1.0 for k, (si, dj) in enumerate(pairs)
                       if dj == di and supplies[si].has(p.attribute)}
                row[n + di] = -float(p.min_share)
                rows.append(row)
                b_ub.append(-float(p.min_share * d.quantity_kg))
    a_ub = lil_matrix((len(rows) + 1, n + m))
    for r, row in enumerate(rows):
        for k, v in row.items():
            a_ub[r, k] = v
    bounds = [(0, None)] * (n + m)
    first = np.zeros(n + m)
    first[n:] = 1
    phase1 = linprog(first, A_ub=a_ub[:-1].tocsr(), b_ub=b_ub, A_eq=a_eq.tocsr(), b_eq=b_eq,
                     bounds=bounds, method="highs")
    assert phase1.status == 0
    a_ub[len(rows), n:] = 1
    phase2 = linprog(cost, A_ub=a_ub.tocsr(), b_ub=[*b_ub, phase1.fun + 1e-6], A_eq=a_eq.tocsr(),
                     b_eq=b_eq, bounds=bounds, method="highs")
    assert phase2.status == 0
    x = phase2.x[:n]
    landed = sum(
        x[k] * float(supplies[si].price_per_kg + logistics(supplies[si], demands[di]))
        for k, (si, di) in enumerate(pairs)
    )
    return float(b_eq.sum() - phase1.fun), landed, phase2.fun


def objective_of(result, supplies, demands):
    by_key = {s.key: s for s in supplies}
    by_demand = {d.key: d for d in demands}
    total = result.total_landed_cop
    for a in result.allocations:
        s, d = by_key[a.supply_key], by_demand[a.demand_key]
        total -= a.kg * sum((p.weight for p in d.preferences if p.weight and s.has(p.attribute)), D(0))
    return float(total)


@pytest.mark.parametrize("seed", range(12))
def test_without_lots_equals_an_independent_lp(seed):
    shares, weights = seed % 3 == 1, seed % 3 == 2
    supplies, demands, logistics = generated(seed, shares=shares, weights=weights)
    result = optimise(supplies, demands, logistics)
    assert result.status == "optimal"
    check_invariants(result, supplies, demands, logistics)
    met, landed, objective = scipy_reference(supplies, demands, logistics)
    ours_met = float(sum(o.met_kg for o in result.per_demand.values()))
    assert ours_met == pytest.approx(met, abs=0.01)
    if weights:  # alternative optima may differ in landed cost; the objective may not
        assert objective_of(result, supplies, demands) == pytest.approx(objective, rel=1e-4)
    else:
        assert float(result.total_landed_cop) == pytest.approx(landed, rel=1e-4)


@pytest.mark.parametrize("seed", range(8))
def test_with_lots_every_allocation_is_zero_or_at_least_the_lot(seed):
    supplies, demands, logistics = generated(100 + seed, lots=True, shares=seed % 2 == 1)
    result = optimise(supplies, demands, logistics)
    assert result.status == "optimal"
    check_invariants(result, supplies, demands, logistics)
    check_lots(result, supplies, demands)
    # Lots only restrict: never more met or cheaper than the LP without them.
    met, landed, _ = scipy_reference(supplies, demands, logistics)
    ours_met = float(sum(o.met_kg for o in result.per_demand.values()))
    assert ours_met <= met + 0.01
    if ours_met == pytest.approx(met, abs=0.01):
        assert float(result.total_landed_cop) >= landed * (1 - 1e-6)


@pytest.mark.parametrize("seed", range(8))
def test_greedy_never_beats_the_optimiser(seed):
    supplies, demands, logistics = generated(200 + seed, lots=seed % 2 == 1, ample=True)
    best = optimise(supplies, demands, logistics)
    greedy = greedy_cheapest_price(supplies, demands, logistics)
    check_invariants(greedy, supplies, demands, logistics)
    check_lots(greedy, supplies, demands)
    best_met = sum(o.met_kg for o in best.per_demand.values())
    greedy_met = sum(o.met_kg for o in greedy.per_demand.values())
    assert best_met >= greedy_met
    if best_met == greedy_met:
        assert best.total_landed_cop <= greedy.total_landed_cop * (1 + D("1e-6"))


# ---------------------------------------------------------------- each constraint binds


def test_stock_binds_and_demands_compete():
    supplies = [supply("cheap", price=1000, kg=150), supply("dear", coop="c2", price=1500, kg=500)]
    one = [demand("d1", kg=100)]
    assert kg_of(optimise(supplies, one, table({})), "cheap") == 100
    both = [demand("d1", kg=100), demand("d2", kg=100)]
    # d2's alternative is far dearer for it (logistics), so the cheap stock goes to d2 first.
    logistics = table({("dear", "d2"): 900})
    result = optimise(supplies, both, logistics)
    assert kg_of(result, "cheap", "d2") == 100
    assert kg_of(result, "cheap", "d1") == 50
    assert kg_of(result, "dear", "d1") == 50
    assert result.total_landed_cop == 100 * 1000 + 50 * 1000 + 50 * 1500
    greedy = greedy_cheapest_price(supplies, both, logistics)
    assert greedy.total_landed_cop == 100 * 1000 + 50 * 1000 + 50 * (1500 + 900)


def test_grade_binds():
    supplies = [supply("low", price=900, grade_rank=1), supply("high", coop="c2", price=1200, grade_rank=3)]
    assert kg_of(optimise(supplies, [demand(min_grade_rank=1)], table({})), "low") == 100
    result = optimise(supplies, [demand(min_grade_rank=2)], table({}))
    assert kg_of(result, "high") == 100 and kg_of(result, "low") == 0


def test_window_binds():
    late = supply("late", price=900, available_from=DAY + timedelta(days=11))
    ontime = supply("ontime", coop="c2", price=1200)
    assert kg_of(optimise([late, ontime], [demand(window_end=DAY + timedelta(days=11))], table({})), "late") == 100
    result = optimise([late, ontime], [demand()], table({}))
    assert kg_of(result, "ontime") == 100 and kg_of(result, "late") == 0


def test_price_cap_binds_on_landed_price():
    supplies = [supply("near", price=1000, kg=60), supply("far", coop="c2", price=900, kg=500)]
    logistics = table({("far", "d1"): 300})  # far lands at 1,200 COP/kg
    uncapped = optimise(supplies, [demand()], logistics)
    assert kg_of(uncapped, "near") == 60 and kg_of(uncapped, "far") == 40
    capped = optimise(supplies, [demand(max_price_per_kg=D(1100))], logistics)
    assert kg_of(capped, "near") == 60 and kg_of(capped, "far") == 0
    assert capped.per_demand["d1"].reasons == ["price_cap", "stock"]


def test_min_lot_binds():
    supplies = [supply("big", price=900, kg=500, min_lot_kg=D(80)), supply("small", coop="c2", price=1000)]
    result = optimise(supplies, [demand(kg=50)], table({}))
    assert kg_of(result, "big") == 0 and kg_of(result, "small") == 50
    assert result.status == "optimal"
    assert kg_of(optimise(supplies, [demand(kg=100)], table({})), "big") == 100
    # Stock short of the lot: 30 kg from a lotted cooperative plus 90 kg elsewhere is not allowed.
    split = [supply("lotted", price=900, kg=100, min_lot_kg=D(60)), supply("other", coop="c2", price=1000, kg=90)]
    result = optimise(split, [demand(kg=120)], table({}))
    assert kg_of(result) == 120 and kg_of(result, "lotted") >= 60


def test_largest_lot_of_the_cooperative_applies_to_all_its_supplies():
    supplies = [
        supply("a", coop="c1", price=900, kg=40),
        supply("b", coop="c1", price=950, kg=40, min_lot_kg=D(70)),
        supply("c", coop="c2", price=1200, kg=200),
    ]
    result = optimise(supplies, [demand(kg=60)], table({}))
    assert kg_of(result, "a") + kg_of(result, "b") == 0
    result = optimise(supplies, [demand(kg=75)], table({}))
    assert kg_of(result, "a") + kg_of(result, "b") == 75


def test_min_share_binds_and_is_reported():
    supplies = [supply("plain", price=1000, kg=1000), supply("pdet", coop="c2", price=1300, kg=1000, pdet=True)]
    free = optimise(supplies, [demand(kg=200)], table({}))
    assert kg_of(free, "pdet") == 0
    wanted = demand(kg=200, preferences=(Preference("pdet", min_share=D("0.4")),))
    result = optimise(supplies, [wanted], table({}))
    assert kg_of(result, "pdet") == 80 and kg_of(result, "plain") == 120
    assert result.per_demand["d1"].shares == {"pdet": D("0.4")}


def test_min_share_limits_the_kg_met_when_attribute_supply_is_short():
    supplies = [supply("plain", price=1000, kg=1000), supply("pdet", coop="c2", price=1300, kg=50, pdet=True)]
    wanted = demand(kg=200, preferences=(Preference("pdet", min_share=D("0.5")),))
    result = optimise(supplies, [wanted], table({}))
    outcome = result.per_demand["d1"]
    assert outcome.met_kg == 100 and outcome.unmet_kg == 100
    assert "min_share" in outcome.reasons
    assert outcome.shares["pdet"] == D("0.5")


def test_weight_is_a_soft_preference_in_cop_per_kg():
    supplies = [supply("plain", price=1000), supply("women", coop="c2", price=1100, women_led=True)]
    small = demand(preferences=(Preference("women_led", weight=D(50)),))
    assert kg_of(optimise(supplies, [small], table({})), "women") == 0
    large = demand(preferences=(Preference("women_led", weight=D(150)),))
    result = optimise(supplies, [large], table({}))
    assert kg_of(result, "women") == 100
    assert result.total_landed_cop == 100 * 1100  # the weight never enters reported costs


def test_certification_preference():
    supplies = [supply("plain", price=1000), supply("organic", coop="c2", price=1200,
                                                     certifications=frozenset({"organic"}))]
    wanted = demand(preferences=(Preference("cert:organic", min_share=D("0.25")),))
    assert kg_of(optimise(supplies, [wanted], table({})), "organic") == 25


# ---------------------------------------------------------------- unmet demand and its reasons


def test_no_supply_of_the_product():
    result = optimise([supply("s", product_id="cafe")], [demand()], table({}))
    assert result.per_demand["d1"].reasons == ["no_eligible_supply"]
    assert result.per_demand["d1"].unmet_kg == 100 and result.allocations == []


@pytest.mark.parametrize(
    ("kw", "demand_kw", "code"),
    [
        ({"grade_rank": 1}, {"min_grade_rank": 2}, "grade"),
        ({"available_until": DAY + timedelta(days=2)}, {}, "window"),
        ({"price": 2000}, {"max_price_per_kg": D(1500)}, "price_cap"),
    ],
)
def test_unmet_because_of_a_filter(kw, demand_kw, code):
    result = optimise([supply("s", **kw)], [demand(**demand_kw)], table({}))
    assert result.per_demand["d1"].reasons == ["no_eligible_supply", code]


def test_unmet_because_of_stock_taken_by_another_demand():
    supplies = [supply("s", kg=150)]
    result = optimise(supplies, [demand("d1"), demand("d2")], table({}))
    assert kg_of(result) == 150
    short = [o for o in result.per_demand.values() if o.unmet_kg]
    assert len(short) == 1 and short[0].unmet_kg == 50 and short[0].reasons == ["stock"]


def test_unmet_because_of_min_lot():
    result = optimise([supply("s", kg=500, min_lot_kg=D(200))], [demand(kg=100)], table({}))
    assert result.per_demand["d1"].reasons == ["min_lot"]


# ---------------------------------------------------------------- exactness and bad input


def test_fractional_quantities_round_to_grams_without_overfilling():
    supplies = [supply(f"s{i}", coop=f"c{i}", price=1000 + i, kg=D("33.3335")) for i in range(3)]
    wanted = demand(kg=D("99.9999"), preferences=(Preference("pdet", min_share=D("0")),))
    result = optimise(supplies, [wanted], table({}, default=D("12.345")))
    check_invariants(result, supplies, [wanted], table({}, default=D("12.345")))
    assert result.per_demand["d1"].met_kg == D("99.999")


def test_shares_with_thirds_hold_exactly_after_rounding():
    supplies = [supply("plain", price=1000, kg=1000), supply("pdet", coop="c2", price=1300, kg=1000, pdet=True)]
    wanted = demand(kg=D("100.001"), preferences=(Preference("pdet", min_share=D(1) / D(3)),))
    result = optimise(supplies, [wanted], table({}))
    check_invariants(result, supplies, [wanted], table({}))


@pytest.mark.parametrize(
    ("supplies", "demands", "code"),
    [
        ([supply("s")], [demand(kg=0)], "quantity_not_positive"),
        ([supply("s")], [demand(kg=-5)], "quantity_not_positive"),
        ([supply("s")], [demand(window_end=DAY)], "bad_window"),
        ([supply("s")], [demand(preferences=(Preference("pdet", min_share=D("1.2")),))], "share_out_of_range"),
        ([supply("s")], [demand(preferences=(Preference("pdet", min_share=D("-0.1")),))], "share_out_of_range"),
        ([supply("s", price=-1)], [demand()], "negative_price"),
        ([supply("s")], [demand(max_price_per_kg=D(-1))], "negative_price"),
        ([supply("s", kg=-1)], [demand()], "negative_stock"),
        ([supply("s", min_lot_kg=D(0))], [demand()], "bad_min_lot"),
        ([supply("s")], [demand(preferences=(Preference("organic", min_share=D("0.2")),))], "bad_preference"),
        ([supply("s")], [demand(preferences=(Preference("pdet", weight=D(-3)),))], "bad_weight"),
        ([supply("s"), supply("s")], [demand()], "duplicate_key"),
        ([supply("s")], [Demand("d", "cacao", 1, 10.5, DAY, DAY)], "not_decimal"),
    ],
)
def test_bad_input_raises(supplies, demands, code):
    with pytest.raises(OptimizerError) as error:
        optimise(supplies, demands, table({}))
    assert error.value.code == code
    with pytest.raises(OptimizerError):
        greedy_cheapest_price(supplies, demands, table({}))


def test_negative_logistics_is_rejected():
    with pytest.raises(OptimizerError) as error:
        optimise([supply("s")], [demand()], table({}, default=-1))
    assert error.value.code == "negative_logistics"


def test_nothing_to_allocate():
    result = optimise([], [], table({}))
    assert result.allocations == [] and result.total_landed_cop == 0 and result.status == "optimal"
