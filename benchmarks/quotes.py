"""Logistics quotes: 10,000 point × site × quantity quotes from one ``Quoter.load()``.

    .venv/bin/python benchmarks/quotes.py [--quotes 10000] [--points 200] [--sites 50] [--runs 5]

Builds a fresh SQLite database in a temporary file (migrated with ``flask_migrate.upgrade``)
and creates through the application's services: verified cooperatives in PDET
municipalities with their collection points (``catalog.services.add_collection_point``),
a share of them behind a mule trail or a river leg to the road
(``logistics.services.set_access_legs``), buyers with delivery sites in the big cities
(``accounts.services``) and some road distances staff know (``set_route_distance``). Then
it times ``Quoter.load()`` for every point and site plus 10,000 quotes of a random point,
site and quantity (50 to 20,000 kg), the load counted in the total. Each run draws the same
requests; the figures are the median of the runs. Goal: 10,000 quotes in at most 1 s.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("APP_ENV", "testing")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret")

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402

from marketplace import create_app  # noqa: E402
from marketplace.extensions import db  # noqa: E402

PASSWORD = "Clave-de-Bench-2026"  # noqa: S105 - a throwaway database
GOAL_SECONDS = 1.0
# Delivery sites: the cities buyers are in (DIVIPOLA) and a few streets for the address.
CITIES = ["11001", "05001", "76001", "08001", "68001", "13001", "66001", "17001", "73001", "54001"]
STREETS = ["Calle 13 # 68-50", "Cra 106 # 15-25", "Autopista Norte km 3", "Vía 40 # 73-290", "Calle 80 # 69-70"]


def overrides(url: str, uploads: str) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1,
        "SESSION_COOKIE_SECURE": False, "UPLOAD_FOLDER": uploads,
    }


def populate(n_points: int, n_sites: int, rng: random.Random) -> dict:
    from marketplace.accounts import services as accounts
    from marketplace.accounts.identity import nit_check_digit
    from marketplace.accounts.models import OrgStatus, Role
    from marketplace.catalog import services as catalog
    from marketplace.core.models import Municipality
    from marketplace.logistics import services as logistics

    admin = accounts.create_staff_user(None, accounts.UserData("Admin Bench", PASSWORD, email="admin@bench.co"),
                                       Role.PLATFORM_ADMIN)
    pdet = list(db.session.scalars(select(Municipality).where(Municipality.pdet_subregion.is_not(None))
                                   .order_by(Municipality.code)))
    # A few cooperatives, each with points in several PDET municipalities (veredas).
    coops = []
    for n, municipality in enumerate(rng.sample(pdet, 8)):
        coop, _user = accounts.register_cooperative(
            accounts.CooperativeData(name=f"Cooperativa Bench {n}", legal_form="asociacion",
                                     municipality_code=municipality.code, members_total=100, members_women=50,
                                     members_youth=20, members_victims=30, substitution_families=10),
            accounts.UserData(f"Gerente Bench {n}", PASSWORD, phone=f"+57315{n:07d}"))
        accounts.set_organisation_status(admin, coop, OrgStatus.VERIFIED, None)
        coops.append(coop)
    points, trails, rivers = [], 0, 0
    for n in range(n_points):
        municipality = pdet[rng.randrange(len(pdet))]
        point = catalog.add_collection_point(coops[n % len(coops)], f"Acopio vereda {n} {municipality.name}",
                                             None, None, municipality.code)
        roll = rng.random()
        if roll < 0.25:
            legs = [logistics.AccessLegData("trail", "mule", Decimal(rng.randint(20, 180)) / 10, "mountainous",
                                            "Camino de herradura a la vía")]
            if rng.random() < 0.3:
                legs.append(logistics.AccessLegData("road", "motorbike", Decimal(rng.randint(30, 250)) / 10,
                                                    "rolling", "Placa huella hasta la troncal"))
            logistics.set_access_legs(admin, point, legs)
            trails += 1
        elif roll < 0.35:
            logistics.set_access_legs(admin, point, [
                logistics.AccessLegData("river", "river_boat", Decimal(rng.randint(100, 1800)) / 10, "flat",
                                        "Muelle del río")])
            rivers += 1
        points.append(point)
    sites = []
    for n in range(n_sites):
        base = str(900_000_000 + n)
        city = CITIES[n % len(CITIES)]
        if n < 10:
            buyer, _user = accounts.register_buyer(
                accounts.BuyerData(name=f"Compradora Bench {n} S.A.S.", nit=f"{base}-{nit_check_digit(base)}",
                                   municipality_code=city),
                accounts.SiteData(name=f"Planta {n}", address=STREETS[n % len(STREETS)], municipality_code=city),
                accounts.UserData(f"Compras {n}", PASSWORD, email=f"compras{n}@bench.co"))
            accounts.set_organisation_status(admin, buyer, OrgStatus.VERIFIED, None)
            sites.append(buyer.delivery_sites[0])
        else:
            buyer = sites[n % 10].buyer
            # Sites spread a few km around the city centre, as real warehouses are.
            centre = sites[n % 10].municipality
            lat = (Decimal(centre.latitude) + Decimal(rng.randint(-300, 300)) / 10000).quantize(Decimal("0.000001"))
            lon = (Decimal(centre.longitude) + Decimal(rng.randint(-300, 300)) / 10000).quantize(Decimal("0.000001"))
            sites.append(accounts.add_delivery_site(admin, buyer, accounts.SiteData(
                name=f"Bodega {n}", address=STREETS[n % len(STREETS)], municipality_code=centre.code,
                latitude=lat, longitude=lon)))
    known = 0
    for point in rng.sample(points, min(len(points), 40)):
        for site in rng.sample(sites, min(len(sites), 5)):
            logistics.set_route_distance(admin, point.id, site.id, Decimal(rng.randint(800, 15000)) / 10,
                                         rng.choice(["flat", "rolling", "mountainous"]), "Medido por el equipo")
            known += 1
    db.session.commit()
    return {"coops": len(coops), "points": len(points), "trails": trails, "rivers": rivers, "sites": len(sites),
            "distances": known}


def requests(n: int, points: list, sites: list, rng: random.Random) -> list:
    return [(rng.choice(points), rng.choice(sites), Decimal(rng.randint(50, 20_000))) for _ in range(n)]


def run(todo: list) -> tuple[float, float, list]:
    from marketplace.logistics import services as logistics

    logistics.forget_modes()  # the load reads the modes too, as a cold process would
    started = time.perf_counter()
    quoter = logistics.Quoter.load()
    loaded = time.perf_counter()
    quotes = [quoter.quote(point, site, kg) for point, site, kg in todo]
    done = time.perf_counter()
    return loaded - started, done - started, quotes


def describe(quote, point, site, kg: Decimal) -> list[str]:
    from marketplace.core.formatting import cop

    lines = [f"sample: {point.name} → {site.name}, {kg} kg"]
    for planned, priced in zip(quote.legs, quote.priced.legs, strict=True):
        lines.append(f"  {planned.leg.kind:<5} {priced.mode:<11} {priced.km:>9} km {planned.leg.terrain:<11} "
                     f"{priced.trips:>3} trip(s) {cop(priced.total_cop):>14}   {planned.from_label} → {planned.to_label}")
    lines.append(f"  total {cop(quote.total_cop)} · {cop(quote.per_kg_cop, decimals=True)}/kg")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quotes", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from marketplace.accounts.models import DeliverySite
    from marketplace.catalog.models import CollectionPoint

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(overrides(f"sqlite:///{folder}/bench.db", folder))
        with app.app_context(), app.test_request_context():
            upgrade()
            started = time.perf_counter()
            made = populate(args.points, args.sites, random.Random(2026))
            setup_s = time.perf_counter() - started
            points = list(db.session.scalars(select(CollectionPoint).order_by(CollectionPoint.id)))
            sites = list(db.session.scalars(select(DeliverySite).order_by(DeliverySite.id)))
            todo = requests(args.quotes, points, sites, random.Random(7))
            run(todo[:200])  # warm up imports and caches
            loads, totals, first = [], [], None
            for _ in range(args.runs):
                load_s, total_s, quotes = run(todo)
                loads.append(load_s)
                totals.append(total_s)
                if first is None:
                    first = quotes
                assert [q.total_cop for q in quotes] == [q.total_cop for q in first]
            # The sample: a point behind a trail or a river, so its first mile shows.
            index = next((i for i, q in enumerate(first) if len(q.legs) > 1), 0)
            sample = describe(first[index], *todo[index])
            db.session.remove()
            db.engine.dispose()
    load_s, total_s = statistics.median(loads), statistics.median(totals)
    passed = total_s <= GOAL_SECONDS
    print(f"places: {made['points']} collection points of {made['coops']} cooperatives in PDET municipalities "
          f"({made['trails']} behind a mule trail, {made['rivers']} behind a river leg), {made['sites']} delivery "
          f"sites, {made['distances']} known road distances; built in {setup_s:.1f} s")
    print(f"runs: {args.runs} (median); every run: {', '.join(f'{t:.3f}' for t in totals)} s")
    print()
    print(f"{'quotes':>7} {'load':>9} {'total':>9} {'quotes/s':>10} {'µs/quote':>9}  goal")
    print(f"{args.quotes:>7,} {load_s * 1000:>6.1f} ms {total_s:>7.3f} s {args.quotes / total_s:>10,.0f} "
          f"{total_s / args.quotes * 1e6:>9.1f}  {'PASS' if passed else 'FAIL'} (10,000 quotes in <= 1 s)")
    print()
    print("\n".join(sample))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
