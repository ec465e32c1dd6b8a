"""Choosing the allocation a proposal shows: the optimiser's, priced by the order's quote and
held to each demand's maximum landed price.

The optimiser is linear: it sees logistics as a cost per kg (``pricing.logistics_floor_per_kg``,
a bound never above the quote's), while the quote charges whole trips. So the optimiser's
answer is priced by the quote and then:

1. **Held to the maximum.** A row whose landed price per kg, as quoted, is above its demand's
   maximum paid whole trips for too few kilos. Its cooperative first gets a minimum lot for
   that demand, the kilos from which every load lands within the maximum
   (``pricing.lot_within_cap``); if it fails again, or no load would do, the row is dropped
   from that demand (the pair is given a cost above the maximum). Everything is then
   optimised again, so lots, shares and stock still hold by construction: cutting the row's
   kilos by hand would have to recheck every rule. Each round adds a lot or drops a pair, so
   it ends; after ``MAX_CAP_ROUNDS`` rounds (or ``CAP_BUDGET`` solver time limits) a demand
   still above its maximum is proposed nothing.
2. **Improved on the quote's own figures.** The pairs the answer used are given the per-kg
   cost the quote charged them and the optimiser runs again (slope scaling, for trips a small
   load pays in full), a few rounds; the cheapest-price-only choice is a candidate too when it
   keeps every rule. Of the candidates within every maximum, the one meeting the most kilos
   and then costing least as quoted (less the buyer's preference weights) is proposed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from marketplace.accounts.models import Cooperative
from marketplace.catalog.models import Listing
from marketplace.extensions import db
from marketplace.matching import optimizer, pricing
from marketplace.matching.models import Demand, Offer

MAX_CAP_ROUNDS = 12
CAP_BUDGET = 3  # the rounds that hold demands to their maximum stop after this many time limits
REFINE_ROUNDS = 3
ZERO = Decimal(0)


@dataclass
class Source:
    listing: Listing
    offer: Offer | None


@dataclass
class Instance:
    """The optimiser's input built from the database, and what it needs to turn answers back
    into rows: ``floor`` is the per-kg logistics bound of a supply and a demand."""

    supplies: list[optimizer.Supply]
    model: list[optimizer.Demand]
    sources: dict[str, Source]
    floor: Callable[[optimizer.Supply, optimizer.Demand], Decimal]
    keyed: dict[str, Demand]
    lot_within_cap: Callable[[optimizer.Supply, optimizer.Demand], Decimal | None]


def rows_of(result: optimizer.Result, dkey: str, sources: dict[str, Source]) -> list[dict]:
    """The optimiser's allocations to one demand, one row per supply, not yet priced."""
    rows = []
    for a in sorted((a for a in result.allocations if a.demand_key == dkey and a.kg > 0),
                    key=lambda a: (sources[a.supply_key].listing.cooperative_id, a.supply_key)):
        src = sources[a.supply_key]
        item, coop = src.listing, db.session.get(Cooperative, src.listing.cooperative_id)
        price = src.offer.price_per_kg if src.offer else item.price_per_kg
        rows.append({
            "supply": a.supply_key, "listing_id": item.id, "offer_id": src.offer.id if src.offer else None,
            "cooperative_id": coop.id, "cooperative": coop.name, "municipality_code": item.municipality_code,
            "municipality": item.municipality.label, "pdet_subregion": item.pdet_subregion,
            "women_led": coop.women_led, "youth_led": coop.youth_led,
            "certifications": list(item.certifications or ()), "grade": item.grade.name, "grade_en": item.grade.name_en,
            "kg": str(a.kg), "price_per_kg": str(price), **pricing.terms(item, src.offer),
        })
    return rows


@dataclass
class Run:
    """One allocation of every demand of the run, each priced by the quote."""

    result: optimizer.Result
    priced: dict[str, pricing.Priced]
    emptied: frozenset[str] = frozenset()  # demands proposed nothing: above their maximum every round
    capped: frozenset[str] = frozenset()  # demands whose maximum cost a cooperative a lot or a supply
    status: str | None = None  # the solver's (optimal, feasible, infeasible); the result's by default

    def __post_init__(self):
        self.status = self.status or self.result.status

    def shape(self) -> tuple:
        return tuple(sorted((a.supply_key, a.demand_key, a.kg) for a in self.result.allocations if a.kg > 0
                            and a.demand_key not in self.emptied))

    def met(self) -> Decimal:
        return sum((p.kg for p in self.priced.values()), ZERO)

    def cost(self, keyed: dict[str, Demand]) -> Decimal:
        """Landed cost as quoted, less what the buyer said its preferences are worth per kg."""
        total = ZERO
        for dkey, priced in self.priced.items():
            total += priced.goods + priced.logistics
            for pref in keyed[dkey].preferences or ():
                if pref.get("weight") is not None:
                    worth = Decimal(pref["weight"])
                    total -= sum((Decimal(r["kg"]) * worth for r in priced.rows if _has(r, pref["attribute"])), ZERO)
        return total


def _has(row: dict, attribute: str) -> bool:
    if attribute == "pdet":
        return row["pdet_subregion"] is not None
    if attribute.startswith("cert:"):
        return attribute[5:] in row["certifications"]
    return bool(row[attribute])


def _price(actor, inst: Instance, result: optimizer.Result, today: date) -> dict[str, pricing.Priced]:
    return {dkey: pricing.price(actor, demand, rows_of(result, dkey, inst.sources), today)
            for dkey, demand in inst.keyed.items()}


def _over(inst: Instance, priced: dict[str, pricing.Priced]) -> set[tuple[str, str]]:
    return {(row["supply"], dkey) for dkey, demand in inst.keyed.items()
            for row in pricing.over_cap(demand, priced[dkey])}


def _keeps_shares(inst: Instance, result: optimizer.Result) -> bool:
    for dkey, outcome in result.per_demand.items():
        for pref in inst.keyed[dkey].preferences or ():
            if pref.get("min_share") is not None and outcome.met_kg > 0 \
                    and outcome.shares.get(pref["attribute"], ZERO) < Decimal(pref["min_share"]):
                return False
    return True


@dataclass
class Choice:
    run: Run  # what the proposals show
    greedy: dict[str, pricing.Priced]  # the cheapest-price-only reference, priced the same way


def choose(actor, inst: Instance, today: date, time_limit: float) -> Choice:
    """The allocation to propose for every demand of the run (see the module's docstring).
    Raises ``optimizer.OptimizerError`` for bad input and what the quote raises."""
    started = time.perf_counter()
    by_key = {s.key: s for s in inst.supplies}
    demand_model = {d.key: d for d in inst.model}
    dropped: set[tuple[str, str]] = set()
    lots: dict[tuple, Decimal] = {}  # (cooperative id, demand key) -> kg

    def with_drops(per_kg):
        def costs(s: optimizer.Supply, dm: optimizer.Demand) -> Decimal:
            if (s.key, dm.key) in dropped:
                return dm.max_price_per_kg + 1  # above the maximum whatever the price: not eligible
            return per_kg(s, dm)
        return costs

    def solve(per_kg) -> optimizer.Result:
        return optimizer.optimise(inst.supplies, inst.model, with_drops(per_kg), time_limit_seconds=time_limit,
                                  pair_lots=lots)

    base = None
    for round_ in range(1, MAX_CAP_ROUNDS + 1):
        result = solve(inst.floor)
        priced = _price(actor, inst, result, today)
        over = _over(inst, priced)
        if not over:
            base = Run(result, priced)
            break
        if round_ == MAX_CAP_ROUNDS or time.perf_counter() - started > CAP_BUDGET * time_limit:
            break
        new_lots: dict[tuple, Decimal] = {}
        for supply_key, dkey in sorted(over):
            s = by_key[supply_key]
            group = (s.cooperative_id, dkey)
            lot = None if group in lots else inst.lot_within_cap(s, demand_model[dkey])
            if lot is None:
                dropped.add((supply_key, dkey))
            else:
                new_lots[group] = max(lot, new_lots.get(group, ZERO))
        lots.update(new_lots)
    if base is None:  # out of rounds or time: what is still above its maximum is proposed nothing
        emptied = frozenset(dkey for _supply, dkey in over)
        for dkey in emptied:
            priced[dkey] = pricing.price(actor, inst.keyed[dkey], [], today)
        base = Run(result, priced, emptied)
    capped = frozenset({dkey for _s, dkey in dropped} | {dkey for _c, dkey in lots})
    base.capped = capped

    costs = with_drops(inst.floor)
    greedy_result = optimizer.greedy_cheapest_price(inst.supplies, inst.model, costs, pair_lots=lots)
    greedy = _price(actor, inst, greedy_result, today)
    candidates = [base]
    if not _over(inst, greedy) and _keeps_shares(inst, greedy_result):
        candidates.append(Run(greedy_result, greedy, status=base.status, capped=capped))

    # Slope scaling: each pair a run used costs, next time, what the quote charged it per kg.
    slopes: dict[tuple[str, str], Decimal] = {}
    seen = {base.shape()}
    current = base
    for _round in range(REFINE_ROUNDS):
        if time.perf_counter() - started > time_limit:
            break
        for dkey, priced in current.priced.items():
            part_per_kg = {int(p["cooperative_id"]): Decimal(p["logistics_cop"]) / Decimal(p["kg"])
                           for p in priced.parts}
            for row in priced.rows:
                slopes[row["supply"], dkey] = part_per_kg[row["cooperative_id"]]

        def refined(s: optimizer.Supply, dm: optimizer.Demand) -> Decimal:
            slope = slopes.get((s.key, dm.key))
            return inst.floor(s, dm) if slope is None else max(slope, inst.floor(s, dm))

        result = solve(refined)
        current = Run(result, _price(actor, inst, result, today), status=base.status, capped=capped)
        if current.shape() in seen:
            break
        seen.add(current.shape())
        if not _over(inst, current.priced):
            candidates.append(current)

    best = candidates[0]
    for run in candidates[1:]:
        if (run.met(), -run.cost(inst.keyed)) > (best.met(), -best.cost(inst.keyed)):
            best = run
    return Choice(best, greedy)
