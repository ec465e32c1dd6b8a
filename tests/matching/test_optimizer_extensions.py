"""Two optimiser inputs: ``Supply.demand_keys`` (an offer serves only the demands it answers)
and ``Demand.min_lot_kg`` (the buyer's smallest lot worth taking from one cooperative)."""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from decimal import Decimal

import pytest

from marketplace.matching.optimizer import (
    OptimizerError,
    Preference,
    greedy_cheapest_price,
    optimise,
)
from tests.matching.test_optimizer import (
    check_invariants,
    demand,
    generated,
    kg_of,
    scipy_reference,
    supply,
    table,
)

D = Decimal
SOLVERS = [optimise, greedy_cheapest_price]
FAR = D(10**8)  # a logistics cost no cap lets through: how the reference LP drops a pair


def allowed(s, d) -> bool:
    return s.demand_keys is None or d.key in s.demand_keys


def check_restrictions(result, supplies):
    by_key = {s.key: s for s in supplies}
    for a in result.allocations:
        keys = by_key[a.supply_key].demand_keys
        assert keys is None or a.demand_key in keys, (a.supply_key, a.demand_key, keys)


def cooperative_kg(result, supplies) -> dict[tuple, Decimal]:
    by_key = {s.key: s for s in supplies}
    kg = defaultdict(D)
    for a in result.allocations:
        kg[by_key[a.supply_key].cooperative_id, a.demand_key] += a.kg
    return kg


def check_all_lots(result, supplies, demands):
    """Every cooperative's kg to a demand is 0 or at least the larger of the demand's lot
    and its own eligible supplies' lots."""
    by_demand = {d.key: d for d in demands}
    for (coop, dkey), kg in cooperative_kg(result, supplies).items():
        d = by_demand[dkey]
        lots = [s.min_lot_kg for s in supplies if s.cooperative_id == coop and s.min_lot_kg
                and allowed(s, d) and s.product_id == d.product_id and s.grade_rank >= d.min_grade_rank
                and s.available_from <= d.window_end and s.available_until >= d.window_start]
        if d.min_lot_kg is not None:
            lots.append(d.min_lot_kg)
        assert kg == 0 or kg >= max(lots, default=D(0)), (coop, dkey, kg, lots)


def total_met(result) -> Decimal:
    return sum((o.met_kg for o in result.per_demand.values()), D(0))


# ---------------------------------------------------------------- demand_keys


@pytest.mark.parametrize("solve", SOLVERS)
def test_a_restricted_supply_serves_only_its_demands_and_the_restriction_binds(solve):
    # "cheap" is an offer answering d2 only; d1 would take it if it could (cheaper and near).
    cheap = supply("cheap", coop="c1", price=900, kg=300)
    dear = supply("dear", coop="c2", price=1200, kg=500)
    demands = [demand("d1", kg=100), demand("d2", kg=50)]
    free = solve([cheap, dear], demands, table({}))
    assert kg_of(free, "cheap", "d1") == 100
    assert free.total_landed_cop == 150 * 900

    restricted = [dataclasses.replace(cheap, demand_keys=frozenset({"d2"})), dear]
    result = solve(restricted, demands, table({}))
    check_restrictions(result, restricted)
    check_invariants(result, restricted, demands, table({}))
    assert kg_of(result, "cheap", "d1") == 0
    assert kg_of(result, "cheap", "d2") == 50
    assert kg_of(result, "dear", "d1") == 100
    assert result.total_landed_cop == 50 * 900 + 100 * 1200 > free.total_landed_cop


@pytest.mark.parametrize("solve", SOLVERS)
def test_a_demand_with_only_restricted_supply_is_unmet_and_the_stock_stays_idle(solve):
    # The offer answers another demand (not in this run) and an empty set answers none.
    supplies = [supply("o1", price=500, kg=1000, demand_keys=frozenset({"d9"})),
                supply("o2", coop="c2", price=500, kg=1000, demand_keys=frozenset())]
    result = solve(supplies, [demand("d1", kg=100)], table({}))
    assert result.allocations == []
    outcome = result.per_demand["d1"]
    assert outcome.met_kg == 0 and outcome.unmet_kg == 100
    assert outcome.reasons == ["no_eligible_supply"]


@pytest.mark.parametrize("solve", SOLVERS)
def test_a_restricted_supply_may_serve_several_demands(solve):
    both = supply("o", price=900, kg=150, demand_keys=frozenset({"d1", "d2"}))
    other = supply("other", coop="c2", price=1000, kg=500)
    demands = [demand("d1", kg=100), demand("d2", kg=100), demand("d3", kg=100)]
    result = solve([both, other], demands, table({}))
    check_restrictions(result, [both, other])
    assert kg_of(result, "o") == 150
    assert kg_of(result, "o", "d3") == 0 and kg_of(result, "other", "d3") == 100
    assert total_met(result) == 300


def test_the_optimiser_sends_the_restricted_stock_where_it_may_go_and_cheapens_the_rest():
    # Without the restriction "near" would go to d1 (its logistics to d2 is high); restricted
    # to d2 it must go there, and d1 falls back to the far supply.
    near = supply("near", coop="c1", price=1000, kg=100)
    far = supply("far", coop="c2", price=1000, kg=100)
    logistics = table({("near", "d2"): 200, ("far", "d1"): 300, ("far", "d2"): 0})
    demands = [demand("d1", kg=100), demand("d2", kg=100)]
    free = optimise([near, far], demands, logistics)
    assert kg_of(free, "near", "d1") == 100 and kg_of(free, "far", "d2") == 100
    assert free.total_landed_cop == 200 * 1000
    restricted = [dataclasses.replace(near, demand_keys=frozenset({"d2"})), far]
    result = optimise(restricted, demands, logistics)
    assert kg_of(result, "near", "d2") == 100 and kg_of(result, "far", "d1") == 100
    assert result.total_landed_cop == 100 * 1200 + 100 * 1300
    assert result.total_landed_cop > free.total_landed_cop


def restrict(seed, supplies, demands):
    rng = random.Random(seed)
    keys = [d.key for d in demands]
    out = []
    for s in supplies:
        if rng.random() < 0.5:
            chosen = frozenset(rng.sample(keys, rng.randint(0, min(2, len(keys)))))
            s = dataclasses.replace(s, demand_keys=chosen)
        out.append(s)
    return out


@pytest.mark.parametrize("seed", range(8))
def test_restricted_optimum_equals_an_independent_lp_without_the_forbidden_pairs(seed):
    supplies, demands, logistics = generated(300 + seed, shares=seed % 2 == 1)
    restricted = restrict(seed, supplies, demands)
    result = optimise(restricted, demands, logistics)
    assert result.status == "optimal"
    check_restrictions(result, restricted)
    check_invariants(result, restricted, demands, logistics)

    # The reference knows nothing of demand_keys: a forbidden pair costs more than any cap.
    by_key = {s.key: s for s in restricted}

    def gated(s, d):
        return FAR if not allowed(by_key[s.key], d) else logistics(s, d)

    capped = [d if d.max_price_per_kg is not None else dataclasses.replace(d, max_price_per_kg=D(10**7))
              for d in demands]
    met, landed, _ = scipy_reference(supplies, capped, gated)
    assert float(total_met(result)) == pytest.approx(met, abs=0.01)
    assert float(result.total_landed_cop) == pytest.approx(landed, rel=1e-4)
    # A restriction never helps.
    free = optimise(supplies, demands, logistics)
    assert total_met(result) <= total_met(free)
    if total_met(result) == total_met(free):
        assert result.total_landed_cop >= free.total_landed_cop


@pytest.mark.parametrize("seed", range(6))
def test_greedy_respects_restrictions(seed):
    supplies, demands, logistics = generated(400 + seed, lots=seed % 2 == 1, ample=True)
    restricted = restrict(seed, supplies, demands)
    greedy = greedy_cheapest_price(restricted, demands, logistics)
    check_restrictions(greedy, restricted)
    check_invariants(greedy, restricted, demands, logistics)
    check_all_lots(greedy, restricted, demands)
    best = optimise(restricted, demands, logistics)
    assert total_met(best) >= total_met(greedy)
    if total_met(best) == total_met(greedy):
        assert best.total_landed_cop <= greedy.total_landed_cop * (1 + D("1e-6"))


# ---------------------------------------------------------------- Demand.min_lot_kg


@pytest.mark.parametrize("solve", SOLVERS)
def test_demand_lot_excludes_a_cooperative_that_cannot_reach_it(solve):
    supplies = [supply("small", coop="c1", price=900, kg=50), supply("big", coop="c2", price=1000, kg=500)]
    free = solve(supplies, [demand(kg=100)], table({}))
    assert kg_of(free, "small") == 50 and free.total_landed_cop == 50 * 900 + 50 * 1000
    lotted = [demand(kg=100, min_lot_kg=D(60))]
    result = solve(supplies, lotted, table({}))
    check_all_lots(result, supplies, lotted)
    assert kg_of(result, "small") == 0 and kg_of(result, "big") == 100
    assert result.total_landed_cop == 100 * 1000 > free.total_landed_cop
    assert result.per_demand["d1"].reasons == []


def test_demand_lot_binds_the_split_between_cooperatives():
    # Without a lot: 80 from c1 and 50 from c2. With 60: c2 must take at least 60, so c1 70.
    supplies = [supply("s1", coop="c1", price=900, kg=80), supply("s2", coop="c2", price=1000, kg=80),
                supply("s3", coop="c3", price=1100, kg=80)]
    free = optimise(supplies, [demand(kg=130)], table({}))
    assert free.total_landed_cop == 80 * 900 + 50 * 1000
    lotted = [demand(kg=130, min_lot_kg=D(60))]
    result = optimise(supplies, lotted, table({}))
    assert result.status == "optimal"
    check_all_lots(result, supplies, lotted)
    check_invariants(result, supplies, lotted, table({}))
    assert kg_of(result, "s1") == 70 and kg_of(result, "s2") == 60 and kg_of(result, "s3") == 0
    assert result.total_landed_cop == 70 * 900 + 60 * 1000 > free.total_landed_cop
    greedy = greedy_cheapest_price(supplies, lotted, table({}))
    check_all_lots(greedy, supplies, lotted)
    check_invariants(greedy, supplies, lotted, table({}))


def test_demand_lot_applies_to_the_cooperatives_total_not_to_each_supply():
    # c1's two 40 kg supplies together reach the 70 kg lot; neither does alone.
    supplies = [supply("a", coop="c1", price=900, kg=40), supply("b", coop="c1", price=910, kg=40),
                supply("c", coop="c2", price=1000, kg=500)]
    lotted = [demand(kg=150, min_lot_kg=D(70))]
    result = optimise(supplies, lotted, table({}))
    check_all_lots(result, supplies, lotted)
    assert kg_of(result, "a") + kg_of(result, "b") == 80 and kg_of(result, "c") == 70
    # 100 kg cannot be split into two lots of 70: one cooperative serves it all.
    lotted = [demand(kg=100, min_lot_kg=D(70))]
    result = optimise(supplies, lotted, table({}))
    check_all_lots(result, supplies, lotted)
    assert kg_of(result, "c") == 100 and kg_of(result, "a") + kg_of(result, "b") == 0


@pytest.mark.parametrize("solve", SOLVERS)
def test_the_larger_of_the_demand_lot_and_the_supply_lot_applies(solve):
    supplies = [supply("lotted", coop="c1", price=900, kg=500, min_lot_kg=D(90)),
                supply("plain", coop="c2", price=1000, kg=500)]
    # The demand's 60 is below the supply's 90: 80 kg cannot come from c1.
    result = solve(supplies, [demand(kg=80, min_lot_kg=D(60))], table({}))
    assert kg_of(result, "lotted") == 0 and kg_of(result, "plain") == 80
    result = solve(supplies, [demand(kg=100, min_lot_kg=D(60))], table({}))
    assert kg_of(result, "lotted") == 100
    # The demand's 95 is above the supply's 10: 90 kg cannot come from c1.
    supplies[0] = dataclasses.replace(supplies[0], min_lot_kg=D(10))
    result = solve(supplies, [demand(kg=90, min_lot_kg=D(95))], table({}))
    assert result.allocations == [] and result.per_demand["d1"].reasons == ["min_lot"]
    result = solve(supplies, [demand(kg=100, min_lot_kg=D(95))], table({}))
    assert kg_of(result, "lotted") == 100


@pytest.mark.parametrize("solve", SOLVERS)
def test_demand_lot_equal_to_the_quantity_means_a_single_cooperative(solve):
    supplies = [supply("a", coop="c1", price=900, kg=60), supply("b", coop="c2", price=950, kg=60),
                supply("c", coop="c3", price=1200, kg=150)]
    lotted = [demand(kg=100, min_lot_kg=D(100))]
    result = solve(supplies, lotted, table({}))
    assert [(a.supply_key, a.kg) for a in result.allocations] == [("c", D(100))]
    assert result.total_landed_cop == 100 * 1200


@pytest.mark.parametrize("solve", SOLVERS)
def test_demand_lot_above_every_cooperatives_stock_leaves_it_unmet_with_the_reason(solve):
    # 105 kg in stock would meet 100 kg, but neither cooperative reaches the 60 kg lot.
    supplies = [supply("a", coop="c1", price=900, kg=50), supply("b", coop="c2", price=900, kg=55)]
    result = solve(supplies, [demand(kg=100, min_lot_kg=D(60))], table({}))
    assert result.allocations == []
    assert result.per_demand["d1"].unmet_kg == 100
    assert result.per_demand["d1"].reasons == ["min_lot"]
    # Without the lot the same stock meets it.
    assert kg_of(solve(supplies, [demand(kg=100)], table({}))) == 100


def test_demand_lot_with_a_minimum_share():
    # PDET supply is dear; 40 % of 200 kg must be PDET, and every cooperative gives 0 or 70+.
    supplies = [supply("plain", coop="c1", price=1000, kg=1000),
                supply("pdet", coop="c2", price=1300, kg=1000, pdet=True)]
    wanted = [demand(kg=200, min_lot_kg=D(70), preferences=(Preference("pdet", min_share=D("0.4")),))]
    result = optimise(supplies, wanted, table({}))
    check_all_lots(result, supplies, wanted)
    check_invariants(result, supplies, wanted, table({}))
    assert kg_of(result, "pdet") == 80 and kg_of(result, "plain") == 120
    # A lot of 130 for both: 200 kg cannot be split, and one cooperative alone breaks the share
    # unless it is all PDET.
    wanted = [demand(kg=200, min_lot_kg=D(130), preferences=(Preference("pdet", min_share=D("0.4")),))]
    result = optimise(supplies, wanted, table({}))
    check_all_lots(result, supplies, wanted)
    assert kg_of(result, "pdet") == 200 and kg_of(result, "plain") == 0


def test_fractional_demand_lot_holds_exactly_after_rounding_to_grams():
    # Stock rounds down to 40.000 kg, the lot up to 30.001 kg: three cooperatives, each within.
    supplies = [supply(f"s{i}", coop=f"c{i}", price=1000 + i, kg=D("40.0005")) for i in range(4)]
    lotted = [demand(kg=D("100.001"), min_lot_kg=D("30.0005"))]
    logistics = table({}, default=D("7.77"))
    result = optimise(supplies, lotted, logistics)
    check_all_lots(result, supplies, lotted)
    check_invariants(result, supplies, lotted, logistics)
    assert result.per_demand["d1"].met_kg == D("100.001")
    assert len(cooperative_kg(result, supplies)) == 3
    greedy = greedy_cheapest_price(supplies, lotted, logistics)
    check_all_lots(greedy, supplies, lotted)
    check_invariants(greedy, supplies, lotted, logistics)


@pytest.mark.parametrize("seed", range(8))
def test_random_demand_lots_hold_and_only_restrict(seed):
    rng = random.Random(seed)
    supplies, demands, logistics = generated(500 + seed, lots=seed % 2 == 0, shares=seed % 3 == 0, ample=True)
    demands = [dataclasses.replace(d, min_lot_kg=(d.quantity_kg * D(rng.choice(("0.2", "0.35", "0.6"))))
                                   .quantize(D("0.001")))
               if rng.random() < 0.7 else d for d in demands]
    if seed % 2 == 1:
        supplies = restrict(seed, supplies, demands)
    result = optimise(supplies, demands, logistics)
    assert result.status == "optimal"
    check_invariants(result, supplies, demands, logistics)
    check_all_lots(result, supplies, demands)
    check_restrictions(result, supplies)
    unlotted = [dataclasses.replace(d, min_lot_kg=None) for d in demands]
    free = optimise(supplies, unlotted, logistics)
    assert total_met(result) <= total_met(free)
    if total_met(result) == total_met(free):
        assert result.total_landed_cop >= free.total_landed_cop * (1 - D("1e-6"))
    greedy = greedy_cheapest_price(supplies, demands, logistics)
    # The greedy reference ignores preferences by design: check everything but the shares.
    check_invariants(greedy, supplies, [dataclasses.replace(d, preferences=()) for d in demands], logistics)
    check_all_lots(greedy, supplies, demands)
    check_restrictions(greedy, supplies)
    if seed % 3:
        assert total_met(result) >= total_met(greedy)


@pytest.mark.parametrize("lot", [D(0), D(-5), D("-0.001")])
@pytest.mark.parametrize("solve", SOLVERS)
def test_zero_or_negative_demand_lot_is_refused(solve, lot):
    with pytest.raises(OptimizerError) as error:
        solve([supply("s")], [demand(min_lot_kg=lot)], table({}))
    assert error.value.code == "bad_min_lot"
    assert error.value.detail == "d1"


@pytest.mark.parametrize("solve", SOLVERS)
def test_a_demand_lot_that_is_not_a_decimal_is_refused(solve):
    with pytest.raises(OptimizerError) as error:
        solve([supply("s")], [demand(min_lot_kg=60.5)], table({}))
    assert error.value.code == "not_decimal"


# ---------------------------------------------------------------- pair_lots


@pytest.mark.parametrize("solve", SOLVERS)
def test_a_pair_lot_holds_one_cooperative_to_it_for_one_demand_only(solve):
    # c1 is cheapest, more so at d2 (no logistics) than at d1 (50 COP/kg). To d1 it is worth
    # its trips only from 80 kg: it sends 80 or more there, or nothing; d2 is not held to it.
    supplies = [supply("s1", coop="c1", price=900, kg=90), supply("s2", coop="c2", price=1000, kg=500)]
    demands = [demand("d1", kg=100), demand("d2", kg=30)]
    costs = table({("s1", "d1"): 50})
    free = solve(supplies, demands, costs)
    lots = {("c1", "d1"): D(80)}
    result = solve(supplies, demands, costs, pair_lots=lots)
    check_invariants(result, supplies, demands, costs)
    to = cooperative_kg(result, supplies)
    assert to["c1", "d1"] == 0 or to["c1", "d1"] >= 80
    assert total_met(result) == total_met(free) == 130
    if solve is optimise:
        # Without the lot: 30 kg of c1 to d2, the other 60 to d1. With it: 80 to d1, 10 to d2.
        assert cooperative_kg(free, supplies)["c1", "d1"] == 60
        assert (to["c1", "d1"], to["c1", "d2"]) == (80, 10)


@pytest.mark.parametrize("solve", SOLVERS)
@pytest.mark.parametrize("lot", [D(0), D(-1), "80"])
def test_a_pair_lot_must_be_a_positive_decimal(solve, lot):
    with pytest.raises(OptimizerError) as error:
        solve([supply("s1", coop="c1")], [demand()], table({}), pair_lots={("c1", "d1"): lot})
    assert error.value.code in ("bad_min_lot", "not_decimal")
