"""Buyer search with 100,000 listings: server time of the page against the bare SQL.

    .venv/bin/python benchmarks/listing_search.py [--listings 100000] [--runs 50]

Builds a fresh database (SQLite in a temporary file; PostgreSQL in a private schema of the
`test` database, dropped at the end), generates listings across products, grades and PDET
and non-PDET municipalities (some paused or expired so the filters matter), then times
`GET /buscar?producto=..&departamento=..` through the Flask test client (the whole server
side: routing, session, query, template) and the SQL behind it (the same statement, one
page and its count). Goal: page median <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("APP_ENV", "testing")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret")

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, func, insert, select, text  # noqa: E402

from marketplace import create_app  # noqa: E402
from marketplace.core.models import bogota_date
from marketplace.extensions import db  # noqa: E402

PG_BASE = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def overrides(url: str, uploads: str) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1,
        "SESSION_COOKIE_SECURE": False, "UPLOAD_FOLDER": uploads,
    }


def populate(n_listings: int, rng: random.Random) -> None:
    from marketplace.accounts.models import Cooperative, Organisation
    from marketplace.catalog.catalogue import seed_catalogue
    from marketplace.catalog.models import CollectionPoint, Listing, Product
    from marketplace.core.models import Municipality

    seed_catalogue()
    products = [(p.id, [g.id for g in p.grades]) for p in db.session.scalars(select(Product))]
    pdet = db.session.scalars(select(Municipality).where(Municipality.pdet_subregion.is_not(None))).all()
    others = db.session.scalars(select(Municipality).where(Municipality.pdet_subregion.is_(None))).all()
    places = rng.sample(pdet, 30) + rng.sample(others, 10)
    points = []
    for index, municipality in enumerate(places):
        org_id = db.session.execute(insert(Organisation).values(
            kind="cooperative", name=f"Cooperativa de prueba {index}", status="verified",
            municipality_code=municipality.code, created_at=func.now())).inserted_primary_key[0]
        db.session.execute(insert(Cooperative).values(id=org_id, legal_form="asociacion", members_total=100,
                                                      members_women=50, members_youth=20, members_victims=30,
                                                      substitution_families=10))
        point_id = db.session.execute(insert(CollectionPoint).values(
            cooperative_id=org_id, name=f"Acopio {municipality.name}", municipality_code=municipality.code,
            latitude=municipality.latitude, longitude=municipality.longitude, located=False, active=True,
            created_at=func.now())).inserted_primary_key[0]
        points.append((org_id, point_id, municipality))
    today = bogota_date()
    now = datetime.now(UTC)
    rows = []
    for n in range(n_listings):
        org_id, point_id, municipality = points[n % len(points)]
        product_id, grades = products[rng.randrange(len(products))]
        price = Decimal(rng.randint(800, 25000))
        quantity = Decimal(rng.randint(50, 20000))
        status = "active" if rng.random() < 0.9 else "paused"
        until = today + timedelta(days=rng.randint(-20, 90))
        rows.append({
            "cooperative_id": org_id, "product_id": product_id, "grade_id": rng.choice(grades), "status": status,
            "unit": "kg", "unit_kg": Decimal("1"), "quantity_kg": quantity, "available_kg": quantity,
            "price_per_unit": price, "price_per_kg": price, "harvest_date": today - timedelta(days=5),
            "available_from": min(until, today - timedelta(days=rng.randint(0, 10))), "available_until": until,
            "collection_point_id": point_id, "certifications": ["organico"] if rng.random() < 0.2 else [],
            "municipality_code": municipality.code, "department_code": municipality.department_code,
            "pdet_subregion": municipality.pdet_subregion, "latitude": municipality.latitude,
            "longitude": municipality.longitude, "created_at": now - timedelta(minutes=n), "updated_at": now,
        })
        if len(rows) == 5000:
            db.session.execute(insert(Listing), rows)
            rows = []
    if rows:
        db.session.execute(insert(Listing), rows)
    db.session.commit()


def buyer_client(app):
    from marketplace.accounts import services
    from marketplace.accounts.identity import nit_check_digit
    from marketplace.accounts.models import OrgStatus, Role

    with app.app_context():
        admin = services.create_staff_user(None, services.UserData("Admin", "Clave-de-Bench-2026",
                                                                   email="admin@bench.co"), Role.PLATFORM_ADMIN)
        buyer, _user = services.register_buyer(
            services.BuyerData(name="Compras Bench S.A.S.", nit=f"900100200-{nit_check_digit('900100200')}",
                               municipality_code="11001"),
            services.SiteData(name="Planta", address="Calle 1", municipality_code="11001"),
            services.UserData("Compras", "Clave-de-Bench-2026", email="compras@bench.co"))
        services.set_organisation_status(admin, buyer, OrgStatus.VERIFIED, None)
        db.session.commit()
    client = app.test_client()
    response = client.post("/entrar", data={"identifier": "compras@bench.co", "password": "Clave-de-Bench-2026"})
    assert response.status_code == 302, response.status_code
    return client


def busiest_pair(app):
    from marketplace.catalog.models import Listing

    with app.app_context():
        return db.session.execute(
            select(Listing.product_id, Listing.department_code, func.count())
            .group_by(Listing.product_id, Listing.department_code).order_by(func.count().desc()).limit(1)
        ).one()


def timed(fn, runs: int) -> list[float]:
    fn()
    fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def bench(label: str, url: str, n_listings: int, runs: int) -> dict:
    from marketplace.catalog import services

    uploads = tempfile.mkdtemp()
    app = create_app(overrides(url, uploads))
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        populate(n_listings, random.Random(2026))
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        else:
            db.session.execute(text("ANALYZE"))
        load_s = time.perf_counter() - started
    client = buyer_client(app)
    product_id, department, matches = busiest_pair(app)
    path = f"/buscar?producto={product_id}&departamento={department}"

    def page():
        response = client.get(path)
        assert response.status_code == 200

    page_ms = timed(page, runs)
    filters = services.SearchFilters(product_id=product_id, department_code=department)

    def bare():
        with app.app_context():
            stmt = services.search_statement(filters)
            db.session.execute(stmt.limit(20)).all()
            db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))

    sql_ms = timed(bare, runs)
    with app.app_context():
        db.engine.dispose()
    return {"db": label, "listings": n_listings, "matches": matches, "load_s": load_s, "path": path,
            "page_median": statistics.median(page_ms), "page_p95": sorted(page_ms)[int(0.95 * len(page_ms)) - 1],
            "sql_median": statistics.median(sql_ms)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        results.append(bench("SQLite", f"sqlite:///{folder}/bench.db", args.listings, args.runs))
    schema = f"bench_{os.getpid()}"
    try:
        engine = create_engine(PG_BASE)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - report and go on with SQLite only
        print(f"PostgreSQL no disponible ({exc.__class__.__name__}); solo SQLite.")
        engine = None
    if engine is not None:
        try:
            results.append(bench("PostgreSQL", f"{PG_BASE}?options=-csearch_path%3D{schema}", args.listings, args.runs))
        finally:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()
    print()
    print(f"{'database':<11} {'listings':>9} {'matches':>8} {'page median':>12} {'page p95':>9} "
          f"{'bare SQL':>9} {'ratio':>6}  goal")
    ok = True
    for r in results:
        passed = r["page_median"] <= 50
        ok &= passed
        print(f"{r['db']:<11} {r['listings']:>9,} {r['matches']:>8,} {r['page_median']:>9.1f} ms {r['page_p95']:>6.1f} ms "
              f"{r['sql_median']:>6.1f} ms {r['page_median'] / r['sql_median']:>6.2f}  "
              f"{'PASS' if passed else 'FAIL'} (<= 50 ms)")
    loads = ", ".join(f"{r['db']} {r['load_s']:.0f} s" for r in results)
    print(f"query: {results[0]['path']} (the product and department with most listings); data generated in {loads}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
