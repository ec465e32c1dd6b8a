"""Benchmark: the allocation optimiser on 5,000 listings against 200 open demands at once.

    .venv/bin/python benchmarks/matching.py        # --listings 5000 --demands 200 --seed 7

A seeded random instance: 24 products at realistic COP/kg farm-gate prices, grades 1-3,
600 cooperatives scattered over Colombia (about half in PDET municipalities, some women-led
or youth-led, some certified organic or fair trade, some behind a mule trail), listings with
availability ranges and, for a quarter of them, a minimum lot; demands from ten cities with
delivery windows, a minimum grade, sometimes a price cap and sourcing preferences (minimum
shares and weights). Logistics per kg follows distance: a full-truck rate per road km plus
loading and, behind a trail, a mule leg. Prints build and solve time (goal: solve <= 5 s),
the total landed cost, the greedy cheapest-price-first landed cost on the same instance and
the saving, and the kg met and unmet by both.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from marketplace.matching.optimizer import (  # noqa: E402
    Demand,
    Preference,
    Supply,
    greedy_cheapest_price,
    optimise,
)

SOLVE_GOAL_S = 5.0
TODAY = date(2026, 3, 2)
# COP per kg at the farm gate, grade 2 (roughly 2025 prices).
PRODUCTS = {
    "cacao": 11000, "cafe_pergamino": 21000, "platano": 1600, "aguacate_hass": 6500,
    "panela": 4800, "maiz": 1400, "frijol": 7500, "yuca": 1300, "arroz_paddy": 1900,
    "limon_tahiti": 2600, "naranja": 1500, "mango": 2800, "pina": 1900, "maracuya": 3600,
    "lulo": 4200, "mora": 4300, "tomate_arbol": 3100, "papa": 1500, "aji": 5200,
    "banano": 1200, "cafe_especial": 28000, "sacha_inchi": 9000, "caucho": 5500, "miel": 24000,
}
CITIES = [  # delivery sites: (lat, lon)
    (4.711, -74.072), (6.244, -75.581), (3.452, -76.532), (10.964, -74.796), (10.391, -75.479),
    (7.119, -73.123), (4.813, -75.696), (4.438, -75.232), (1.214, -77.281), (7.893, -72.508),
]
GRADE_FACTOR = {1: Decimal("0.85"), 2: Decimal("1.00"), 3: Decimal("1.20")}


def km_between(a, b) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def build(n_listings: int, n_demands: int, seed: int):
    rng = random.Random(seed)
    products = list(PRODUCTS)
    coops = []
    for cid in range(600):
        coops.append({
            "id": cid,
            "where": (rng.uniform(0.5, 11.0), rng.uniform(-77.5, -71.0)),
            "trail": rng.random() < 0.3,
            "pdet": rng.random() < 0.5,
            "women_led": rng.random() < 0.25,
            "youth_led": rng.random() < 0.15,
            "certs": frozenset(c for c, p in (("organic", 0.15), ("fairtrade", 0.1)) if rng.random() < p),
            "products": rng.sample(products, 3),
        })
    supplies, where = [], {}
    for i in range(n_listings):
        coop = rng.choice(coops)
        product = rng.choice(coop["products"])
        grade = rng.choice((1, 2, 2, 3))
        price = Decimal(PRODUCTS[product]) * GRADE_FACTOR[grade] * Decimal(rng.uniform(0.85, 1.15))
        start = TODAY + timedelta(days=rng.randint(-10, 30))
        key = f"L{i}"
        where[key] = coop
        supplies.append(Supply(
            key=key, cooperative_id=coop["id"], product_id=product, grade_rank=grade,
            available_kg=Decimal(rng.randrange(200, 4000, 50)),
            price_per_kg=price.quantize(Decimal(10)),
            available_from=start, available_until=start + timedelta(days=rng.randint(15, 90)),
            min_lot_kg=Decimal(rng.randrange(100, 1500, 50)) if rng.random() < 0.25 else None,
            pdet=coop["pdet"], women_led=coop["women_led"], youth_led=coop["youth_led"],
            certifications=coop["certs"],
        ))
    demands, site = [], {}
    for j in range(n_demands):
        product = rng.choice(products)
        start = TODAY + timedelta(days=rng.randint(0, 40))
        preferences = []
        roll = rng.random()
        if roll < 0.2:
            preferences.append(Preference("pdet", min_share=Decimal(rng.choice(("0.3", "0.4", "0.6")))))
        elif roll < 0.3:
            preferences.append(Preference("women_led", weight=Decimal(rng.choice((100, 300)))))
        elif roll < 0.35:
            preferences.append(Preference("cert:organic", min_share=Decimal("0.2"), weight=Decimal(200)))
        cap = None
        if rng.random() < 0.4:
            cap = (Decimal(PRODUCTS[product]) * Decimal("1.45")).quantize(Decimal(10))
        key = f"D{j}"
        site[key] = rng.choice(CITIES)
        demands.append(Demand(
            key=key, product_id=product, min_grade_rank=rng.choice((1, 1, 2, 3)),
            quantity_kg=Decimal(rng.randrange(1000, 40000, 500)),
            window_start=start, window_end=start + timedelta(days=rng.randint(7, 45)),
            max_price_per_kg=cap, preferences=tuple(preferences),
        ))

    cache = {}

    def logistics_per_kg(s: Supply, d: Demand) -> Decimal:
        k = (s.cooperative_id, site[d.key])
        if k not in cache:
            coop = where[s.key]
            road_km = Decimal(km_between(coop["where"], site[d.key]) * 1.45)
            per_kg = Decimal(25) + road_km * Decimal("0.30")  # loading + truck C2 by road km
            if coop["trail"]:
                per_kg += Decimal(180)  # mule leg to the road
            cache[k] = per_kg.quantize(Decimal("0.01"))
        return cache[k]

    return supplies, demands, logistics_per_kg


def cop(amount: Decimal) -> str:
    return f"{amount:,.0f} COP"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=5000)
    parser.add_argument("--demands", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    t0 = time.perf_counter()
    supplies, demands, logistics = build(args.listings, args.demands, args.seed)
    generate = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = optimise(supplies, demands, logistics)
    total = time.perf_counter() - t0
    t0 = time.perf_counter()
    greedy = greedy_cheapest_price(supplies, demands, logistics)
    greedy_s = time.perf_counter() - t0

    lots = sum(1 for s in supplies if s.min_lot_kg)
    prefs = sum(1 for d in demands if d.preferences)
    asked = sum(d.quantity_kg for d in demands)
    met = sum(o.met_kg for o in result.per_demand.values())
    g_met = sum(o.met_kg for o in greedy.per_demand.values())
    saving = greedy.total_landed_cop - result.total_landed_cop
    print(f"instance: {len(supplies)} listings ({lots} with a minimum lot), {len(demands)} demands "
          f"({prefs} with preferences), {asked:,.0f} kg asked; generated in {generate:.2f} s")
    print(f"optimiser: build {result.build_seconds:.2f} s, solve {result.solve_seconds:.2f} s "
          f"(goal <= {SOLVE_GOAL_S:.0f} s), whole call {total:.2f} s, status {result.status}, "
          f"{len(result.allocations)} allocations")
    print(f"optimiser landed cost: {cop(result.total_landed_cop)} "
          f"(goods {cop(result.total_goods_cop)}, logistics {cop(result.total_logistics_cop)}); "
          f"met {met:,.0f} kg, unmet {asked - met:,.0f} kg")
    print(f"greedy cheapest-price-first landed cost: {cop(greedy.total_landed_cop)} "
          f"(goods {cop(greedy.total_goods_cop)}, logistics {cop(greedy.total_logistics_cop)}); "
          f"met {g_met:,.0f} kg, unmet {asked - g_met:,.0f} kg; {greedy_s:.2f} s")
    if g_met == met:
        print(f"saving: {cop(saving)} ({saving * 100 / greedy.total_landed_cop:.2f} %)")
    else:
        per_kg, g_per_kg = result.total_landed_cop / met, greedy.total_landed_cop / g_met
        print(f"saving: {cop(saving)} ({saving * 100 / greedy.total_landed_cop:.2f} %) on unequal kg; "
              f"per kg met {per_kg:,.1f} against {g_per_kg:,.1f} COP/kg "
              f"({(g_per_kg - per_kg) * 100 / g_per_kg:.2f} %)")
    reasons: dict[str, int] = {}
    for outcome in result.per_demand.values():
        for code in outcome.reasons:
            reasons[code] = reasons.get(code, 0) + 1
    short = sum(1 for o in result.per_demand.values() if o.unmet_kg > 0)
    print(f"demands not fully met: {short}; reasons: {reasons}")
    ok = result.solve_seconds <= SOLVE_GOAL_S and result.status == "optimal"
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
