"""Staff dashboards with 1,000,000 order lines: server time of each page, the rebuild of the
rollups from the raw rows, and the same figures computed straight from the raw rows.

    .venv/bin/python benchmarks/insights.py [--lines 1000000] [--runs 5] [--postgres [URL]]

Builds a fresh database with the migrations (SQLite in a temporary file by default; with
--postgres, a private schema of PostgreSQL's `test` database at URL or BENCH_POSTGRES_URL,
dropped at the end). The catalogue, 100 cooperatives (70 in PDET municipalities, women- and
youth-led in varied shares), 40 buyer companies and a staff auditor are made through the
services; listings, orders, parts, lines, disputes and audit events are bulk inserted:
24 months up to this one with seasonality and growth, most parts sold (accepted .. settled),
some declined, expired, cancelled or still waiting, short deliveries, rejected lines with
disputes open, refunded or released, actual logistics on part of the delivered parts, prices
around each product's farm-gate level by region, grade, quarter and season, some negotiated
to the peso and a few far off (entry errors).

Then it measures
(a) `rollups.rebuild()`: every sale fact and monthly rollup recomputed from the raw rows
    (and, for comparison, the old part-by-part Python rebuild timed on a sample), and checks
    a random sample of parts against the Python definition (`rollups.facts_of`);
(b) each staff dashboard through the Flask test client, logged in as staff: median and max
    of --runs requests after one warm-up; before every request a few parts are accepted or
    cancelled through the order services, so each timed request includes `rollups.refresh()`
    of those changes (figures are current, never stale);
(c) the indicator totals and the trend computed straight from the raw order rows (SQL
    aggregates over order_line / order_part / purchase_order), their time and the ratio, and
    that they equal what the dashboards show.
Goal: every dashboard <= 500 ms (median and max).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("APP_ENV", "testing")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret")

from _machine import machine_busy_seconds  # noqa: E402  (beside this script)
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from marketplace import create_app  # noqa: E402
from marketplace.extensions import db  # noqa: E402

PG_BASE = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
GOAL_MS = 500
PASSWORD = "Clave-de-Bench-2026"  # noqa: S105 - throwaway accounts in a database removed at the end
MONTHS = 24
N_COOPS, N_PDET_COOPS, N_BUYERS = 100, 70, 40
CHANGES_PER_REQUEST = 5
BOGOTA = timedelta(hours=-5)  # UTC-5 all year
# Farm-gate COP/kg around 2025-2026 (order of magnitude, by product slug), and how often each is ordered.
PRICES = {
    "cacao-grano-seco": 18000, "cafe-pergamino-seco": 16000, "platano-harton": 1500, "aguacate-hass": 5000,
    "aguacate-papelillo": 2500, "panela": 4500, "yuca": 1200, "maracuya": 3000, "limon-tahiti": 2000,
    "pina-gold": 1500, "papaya-maradol": 1800, "maiz-blanco": 1600, "arroz-paddy": 1800, "frijol": 7000,
    "name": 1800, "aji": 4000, "caucho": 5000, "miel-abejas": 18000, "quinua": 9000, "sacha-inchi": 12000,
    "pescado-estanque": 10000, "coco": 2500, "banano": 1200, "pimienta": 20000,
}
POPULAR = {"cacao-grano-seco": 8, "cafe-pergamino-seco": 8, "platano-harton": 4, "aguacate-hass": 4, "panela": 3,
           "yuca": 2, "maracuya": 2, "limon-tahiti": 2, "banano": 2}


def overrides(url: str, uploads: str) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1,
        "SESSION_COOKIE_SECURE": False, "UPLOAD_FOLDER": uploads,
    }


def month_add(value: date, n: int) -> date:
    index = value.year * 12 + value.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def ms(seconds: float) -> float:
    return seconds * 1000


# ------------------------------------------------------------------ bulk writing


class Writer:
    """Bulk rows into a table inside the session's transaction: COPY on PostgreSQL, the
    driver's executemany on SQLite. Values are plain strings (numbers as decimal text,
    timestamps in the format each database's SQLAlchemy type stores), ints or None."""

    def __init__(self, dialect: str):
        self.dialect = dialect
        self.raw = db.session.connection().connection.driver_connection

    def ts(self, epoch: float) -> str:
        moment = datetime.fromtimestamp(epoch, UTC)
        if self.dialect == "postgresql":
            return moment.isoformat(sep=" ")
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite DATETIME, UTC without zone

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        if self.dialect == "postgresql":
            with self.raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            self.raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


def kg_text(grams: int) -> str:
    return f"{grams // 1000}.{grams % 1000:03d}"


def cop_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


# ---------------------------------------------------------------------- people


def populate_people(rng: random.Random) -> dict:
    """Catalogue, cooperatives, buyers and staff through the services."""
    from marketplace.accounts import services as accounts
    from marketplace.accounts.identity import nit_check_digit
    from marketplace.accounts.models import OrgStatus, Role
    from marketplace.catalog import services as catalog
    from marketplace.catalog.catalogue import seed_catalogue
    from marketplace.catalog.models import Product
    from marketplace.core.models import Municipality

    seed_catalogue()
    admin = accounts.create_staff_user(None, accounts.UserData("Admin Bench", PASSWORD, email="admin@bench.co"),
                                       Role.PLATFORM_ADMIN)
    accounts.create_staff_user(None, accounts.UserData("Auditora Bench", PASSWORD, email="auditora@bench.co"),
                               Role.STAFF_AUDITOR)
    pdet = db.session.scalars(select(Municipality).where(Municipality.pdet_subregion.is_not(None))
                              .order_by(Municipality.code)).all()
    others = db.session.scalars(select(Municipality).where(Municipality.pdet_subregion.is_(None),
                                                           Municipality.department_code != "11")
                                .order_by(Municipality.code)).all()
    places = rng.sample(pdet, N_PDET_COOPS) + rng.sample(others, N_COOPS - N_PDET_COOPS)
    coops = []
    for n, place in enumerate(places):
        total = rng.randint(12, 400)
        coop, manager = accounts.register_cooperative(
            accounts.CooperativeData(name=f"Cooperativa Bench {n}", legal_form="asociacion",
                                     municipality_code=place.code, members_total=total,
                                     members_women=int(total * rng.uniform(0.15, 0.75)),
                                     members_youth=int(total * rng.uniform(0.05, 0.6)),
                                     members_victims=int(total * rng.uniform(0, 0.5)), substitution_families=0),
            accounts.UserData(f"Gerente {n}", PASSWORD, phone=f"+57315{n:07d}"))
        accounts.set_organisation_status(admin, coop, OrgStatus.VERIFIED, None)
        point = catalog.add_collection_point(coop, f"Acopio Bench {n}", None, None)
        coops.append({"id": coop.id, "manager_id": manager.id, "point_id": point.id, "place": place.code,
                      "department": place.department_code, "lat": place.latitude, "lon": place.longitude,
                      "pdet": place.pdet_subregion, "factor": rng.uniform(0.85, 1.15)})
    buyers = []
    for n in range(N_BUYERS):
        base = str(900_200_000 + n)
        city = rng.choice(["11001", "05001", "76001", "08001", "68001", "13001"])
        buyer, user = accounts.register_buyer(
            accounts.BuyerData(name=f"Compras Bench {n} S.A.S.", nit=f"{base}-{nit_check_digit(base)}",
                               municipality_code=city),
            accounts.SiteData(name="Planta", address="Calle 13 # 68-50", municipality_code=city),
            accounts.UserData(f"Compras {n}", PASSWORD, email=f"compras{n}@bench.co"))
        accounts.set_organisation_status(admin, buyer, OrgStatus.VERIFIED, None)
        buyers.append({"id": buyer.id, "user_id": user.id, "site_id": buyer.delivery_sites[0].id})
    products = [{"id": p.id, "slug": p.slug, "grades": [g.id for g in p.grades], "price": PRICES[p.slug],
                 "weight": POPULAR.get(p.slug, 1), "phase": rng.uniform(0, 2 * math.pi)}
                for p in db.session.scalars(select(Product).order_by(Product.id))]
    db.session.commit()
    return {"admin_id": admin.id, "coops": coops, "buyers": buyers, "products": products}


# ------------------------------------------------------------------------ sales


def generate(people: dict, n_lines: int, rng: random.Random, dialect: str) -> dict:
    """Listings, then orders month by month until n_lines order lines, bulk inserted."""
    w = Writer(dialect)
    coops, buyers, products = people["coops"], people["buyers"], people["products"]
    by_id = {p["id"]: p for p in products}
    now = datetime.now(UTC)
    last = date(now.year, now.month, 1)
    first = month_add(last, -(MONTHS - 1))
    # Each cooperative sells 2-4 products; each listing lasts a quarter, in two grades.
    for coop in coops:
        coop["products"], wanted = [], rng.randint(2, 4)
        while len(coop["products"]) < wanted:
            pid = rng.choices(products, weights=[p["weight"] for p in products])[0]["id"]
            if pid not in coop["products"]:
                coop["products"].append(pid)
    listing_rows, listings = [], {}  # (coop, product, quarter) -> [(listing id, grade id, price cents, product)]
    listing_id = 0
    for coop in coops:
        for pid in coop["products"]:
            product = by_id[pid]
            for quarter in range(MONTHS // 3 + 1):
                start = month_add(first, 3 * quarter)
                drift = 1 + 0.012 * quarter  # prices creep up with inflation
                for g, grade in enumerate(product["grades"][:2]):
                    listing_id += 1
                    price = product["price"] * coop["factor"] * drift * (1 - 0.12 * g) * rng.uniform(0.95, 1.05)
                    cents = max(50, round(price / 50)) * 5000  # listings are priced to 50 pesos
                    listings.setdefault((coop["id"], pid, quarter), []).append((listing_id, grade, cents, pid))
                    listing_rows.append((
                        listing_id, coop["id"], pid, grade, "active", "kg", "1", "100000.000", "50000.000",
                        cop_text(cents), cop_text(cents), start.isoformat(), start.isoformat(),
                        month_add(start, 3).isoformat(), coop["point_id"], "[]", coop["place"], coop["department"],
                        coop["pdet"], str(coop["lat"]), str(coop["lon"]), w.ts(now.timestamp()),
                        w.ts(now.timestamp())))
    w.write("listing", ("id", "cooperative_id", "product_id", "grade_id", "status", "unit", "unit_kg", "quantity_kg",
                        "available_kg", "price_per_unit", "price_per_kg", "harvest_date", "available_from",
                        "available_until", "collection_point_id", "certifications", "municipality_code",
                        "department_code", "pdet_subregion", "latitude", "longitude", "created_at", "updated_at"),
            listing_rows)
    # Buyers: 2-5 products each and a few favourite cooperatives per product; buyer 0 is big.
    sellers = defaultdict(list)
    for coop in coops:
        for pid in coop["products"]:
            sellers[pid].append(coop["id"])
    for n, buyer in enumerate(buyers):
        wanted = set()
        while len(wanted) < (6 if n == 0 else rng.randint(2, 5)):
            wanted.add(rng.choices(products, weights=[p["weight"] for p in products])[0]["id"])
        buyer["products"] = sorted(wanted)
        buyer["coops"] = {pid: rng.sample(sellers[pid], min(len(sellers[pid]), 12 if n == 0 else rng.randint(2, 7)))
                          for pid in buyer["products"] if sellers[pid]}
        buyer["products"] = [pid for pid in buyer["products"] if pid in buyer["coops"]]
    buyer_weights = [15] + [1] * (len(buyers) - 1)
    coop_by_id = {c["id"]: c for c in coops}

    # Lines per month: growth and seasonality.
    month_weights = [(1 + 0.03 * i) * (1 + 0.2 * math.sin(2 * math.pi * i / 12)) for i in range(MONTHS)]
    quotas = [int(n_lines * mw / sum(month_weights)) for mw in month_weights]
    quotas[-1] += n_lines - sum(quotas)
    ids = {"order": 0, "part": 0, "line": 0}
    stats = defaultdict(int)
    order_cols = ("id", "buyer_id", "delivery_site_id", "placed_by_id", "placed_at", "window_start", "window_end",
                  "payment_method", "payment_status", "fee_percent", "goods_total", "logistics_total", "fee_total",
                  "total", "amount_paid", "refunded_total", "invoice_due_date")
    part_cols = ("id", "order_id", "cooperative_id", "status", "respond_by", "goods_amount", "logistics_estimate",
                 "logistics_mode", "road_km", "fee_amount", "coop_fee_percent", "logistics_borne", "logistics_actual",
                 "payout_status", "updated_at")
    line_cols = ("id", "part_id", "listing_id", "product_id", "grade_id", "municipality_code", "collection_point_id",
                 "quantity_kg", "unit", "unit_kg", "price_per_kg", "received_kg", "quality", "rejection_reason",
                 "logistics_actual")
    dispute_cols = ("line_id", "status", "opened_by_id", "opened_at", "resolution", "resolved_by_id", "resolved_at")
    now_epoch = now.timestamp()
    for m in range(MONTHS):
        month = month_add(first, m)
        start = datetime(month.year, month.month, 1, tzinfo=UTC).timestamp()
        end = min(datetime(*(month_add(month, 1).timetuple()[:3]), tzinfo=UTC).timestamp(), now_epoch - 60)
        quarter = m // 3
        orders, parts, lines, disputes = [], [], [], []
        made = 0
        while made < quotas[m]:
            buyer = buyers[rng.choices(range(len(buyers)), weights=buyer_weights)[0]]
            placed = rng.uniform(start, end)
            age_days = (now_epoch - placed) / 86400
            ids["order"] += 1
            order_id = ids["order"]
            # Seasonal demand across the buyer's products; one to three cooperatives.
            season = [by_id[p]["weight"] * (1 + 0.5 * math.sin(2 * math.pi * m / 12 + by_id[p]["phase"]))
                      for p in buyer["products"]]
            product_id = rng.choices(buyer["products"], weights=season)[0]
            n_parts = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
            chosen = rng.sample(buyer["coops"][product_id], min(n_parts, len(buyer["coops"][product_id])))
            goods_total = logistics_total = 0
            statuses = []
            for coop_id in chosen:
                coop = coop_by_id[coop_id]
                ids["part"] += 1
                part_id = ids["part"]
                status = part_status(rng, age_days)
                statuses.append(status)
                offer = [x for pid in coop["products"] if pid in buyer["products"] or pid == product_id
                         for x in listings[(coop_id, pid, quarter)]]
                n_lines_part = min(len(offer), rng.choices((1, 2, 3), weights=(45, 35, 20))[0])
                picked = rng.sample(offer, n_lines_part)
                delivered = status in ("delivered", "settled")
                part_goods = part_grams = 0
                part_lines = []
                for listing_id_, grade_id, cents, pid in picked:
                    ids["line"] += 1
                    grams = max(500, int(rng.lognormvariate(math.log(250), 0.9) * 2)) * 500  # half kilos
                    grams = min(grams, 20_000_000)
                    price = cents * (1 - 0.06 * math.sin(2 * math.pi * m / 12 + by_id[pid]["phase"]))
                    roll = rng.random()
                    if roll < 0.004:  # entry errors and odd deals, far from the market
                        price *= rng.choice((0.3, 0.4, 2.4, 3.0))
                    if roll < 0.15:  # negotiated (a demand's agreed price), to the peso
                        price = round(price * rng.uniform(0.94, 1.06) / 100) * 100
                    else:
                        price = round(price / 5000) * 5000
                    price = max(100, int(price))
                    received, quality, reason = None, "pending", None
                    if delivered:
                        quality = "accepted"
                        received = grams
                        q = rng.random()
                        if q < 0.10:
                            received = int(grams * rng.uniform(0.9, 0.999))
                        elif q < 0.12:
                            quality, reason = "rejected", "Humedad por encima de lo pactado"
                            outcome = "open" if age_days < 20 else rng.choice(("refunded", "released", "refunded"))
                            opened = placed + 6 * 86400
                            disputes.append((ids["line"], outcome, buyer["user_id"], w.ts(opened),
                                             None if outcome == "open" else "Revisado con fotos",
                                             None if outcome == "open" else people["admin_id"],
                                             None if outcome == "open" else w.ts(opened + 3 * 86400)))
                            stats["disputes"] += 1
                    part_goods += (grams * price + 500) // 1000
                    part_grams += grams
                    part_lines.append([ids["line"], part_id, listing_id_, pid, grade_id, coop["place"],
                                       coop["point_id"], kg_text(grams), "kg", "1", cop_text(price),
                                       None if received is None else kg_text(received), quality, reason, None])
                estimate = part_grams * rng.randint(120, 600) // 1000 * 100  # cents: 120..600 COP/kg
                actual_total = None
                if delivered and rng.random() < 0.4:  # the shipment's actual cost was recorded
                    actual_total = 0
                    for ln in part_lines:
                        share = round(estimate * int(ln[7].replace(".", "")) / part_grams * rng.uniform(0.8, 1.3)
                                      / 100) * 100
                        ln[14] = cop_text(share)
                        actual_total += share
                lines.extend(tuple(ln) for ln in part_lines)
                fee = part_goods * 3 // 100
                parts.append((part_id, order_id, coop_id, status, w.ts(placed + 48 * 3600), cop_text(part_goods),
                              cop_text(estimate), "road", f"{rng.randint(20, 900)}.000", cop_text(fee), "5.00", "0.00",
                              None if actual_total is None else cop_text(actual_total),
                              "paid" if status == "settled" else "none" if status in CLOSED else "pending",
                              w.ts(placed + min(age_days, 20) * 86400 / 2)))
                goods_total += part_goods
                logistics_total += estimate
                made += n_lines_part
                stats[status] += 1
            fee_total = goods_total * 3 // 100
            total = goods_total + logistics_total + fee_total
            paid = all(s in ("delivered", "settled") or s in CLOSED for s in statuses) and \
                any(s in ("delivered", "settled") for s in statuses)
            payment = "cancelled" if all(s in CLOSED for s in statuses) else "paid" if paid else "pending"
            placed_day = datetime.fromtimestamp(placed, UTC).date()
            orders.append((order_id, buyer["id"], buyer["site_id"], buyer["user_id"], w.ts(placed),
                           (placed_day + timedelta(days=3)).isoformat(), (placed_day + timedelta(days=10)).isoformat(),
                           "invoice", payment, "3.00", cop_text(goods_total), cop_text(logistics_total),
                           cop_text(fee_total), cop_text(total), cop_text(total if paid else 0), "0.00",
                           (placed_day + timedelta(days=30)).isoformat()))
        w.write("purchase_order", order_cols, orders)
        w.write("order_part", part_cols, parts)
        w.write("order_line", line_cols, lines)
        w.write("dispute", dispute_cols, disputes)
    # The audit trail such a history leaves: each order placed and every transition of its parts.
    db.session.execute(text(
        "INSERT INTO audit_event (occurred_at, organisation_id, action, object_type, object_id) "
        "SELECT placed_at, buyer_id, 'order.placed', 'order', CAST(id AS VARCHAR(20)) FROM purchase_order"))
    steps = " UNION ALL ".join(f"SELECT '{status}' AS status, '{action}' AS action"
                               for status, actions in TRANSITIONS.items() for action in actions)
    db.session.execute(text(
        "INSERT INTO audit_event (occurred_at, organisation_id, action, object_type, object_id) "
        "SELECT p.updated_at, p.cooperative_id, 'order_part.' || s.action, 'order_part', CAST(p.id AS VARCHAR(20)) "
        f"FROM order_part p JOIN ({steps}) s ON s.status = p.status"))
    if dialect == "postgresql":
        for table in ("purchase_order", "order_part", "order_line", "listing"):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) "
                                    f"FROM {table}))"))
    db.session.commit()
    audit_events = db.session.scalar(text("SELECT count(*) FROM audit_event"))
    return {"orders": ids["order"], "parts": ids["part"], "lines": ids["line"], "listings": listing_id,
            "first": first, "last": last, "audit_events": audit_events, **stats}


CLOSED = ("declined", "expired", "cancelled")
TRANSITIONS = {  # the transitions a part in each state went through (one audit event each)
    "accepted": ("accept",), "ready": ("accept", "ready"), "in_transit": ("accept", "ready", "ship"),
    "delivered": ("accept", "ready", "ship", "deliver"), "settled": ("accept", "ready", "ship", "deliver", "settle"),
    "declined": ("decline",), "expired": ("expire",), "cancelled": ("cancel",),
}


def part_status(rng: random.Random, age_days: float) -> str:
    if age_days < 2 and rng.random() < 0.4:
        return "placed"
    r = rng.random()
    if r < 0.04:
        return "declined"
    if r < 0.06:
        return "expired"
    if r < 0.08:
        return "cancelled"
    if age_days < 7:
        return rng.choice(("accepted", "accepted", "ready", "in_transit"))
    if age_days < 30:
        return rng.choice(("in_transit", "delivered", "delivered", "settled"))
    return "delivered" if rng.random() < 0.25 else "settled"


# ------------------------------------------------------------------- measuring


def timed(fn, runs: int, before=None) -> list[float]:
    """One warm-up, then `runs` timed calls (ms); `before` runs untimed before each call."""
    if before:
        before()
    fn()
    samples = []
    for _ in range(runs):
        if before:
            before()
        started = time.perf_counter()
        fn()
        samples.append(ms(time.perf_counter() - started))
    return samples


def settle(dialect: str) -> None:
    """Statistics (and on PostgreSQL the visibility map) as a database in use has them, so
    that autovacuum does not wake up on a million new rows in the middle of the timings."""
    if dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def python_rebuild_rate(sample: int) -> float:
    """Seconds per part of the old Python rebuild (`update_parts` in batches), on a sample; undone."""
    from marketplace.insights import rollups
    from marketplace.orders.models import OrderPart

    ids = list(db.session.scalars(select(OrderPart.id).where(OrderPart.status.in_(rollups.SALE_STATUSES))
                                  .order_by(func.random()).limit(sample)))
    started = time.perf_counter()
    for start in range(0, len(ids), rollups.BATCH):
        rollups.update_parts(ids[start:start + rollups.BATCH])
        db.session.flush()
        db.session.expunge_all()
    elapsed = time.perf_counter() - started
    db.session.rollback()
    return elapsed / max(1, len(ids))


def check_sample(sample: int) -> tuple[int, int, list]:
    """The SQL rebuild's facts of random parts against `facts_of` (the Python definition)."""
    from marketplace.insights import rollups
    from marketplace.insights.models import SaleFact
    from marketplace.orders.models import OrderPart

    ids = list(db.session.scalars(select(OrderPart.id).where(OrderPart.status.in_(rollups.SALE_STATUSES))
                                  .order_by(func.random()).limit(sample)))
    parts = rollups._load_parts(ids)
    expected = {f["line_id"]: f for f in rollups.facts_of(parts, *rollups._context(parts))}
    columns = [c.name for c in SaleFact.__table__.columns]
    stored = {f.line_id: {c: getattr(f, c) for c in columns}
              for f in db.session.scalars(select(SaleFact).where(SaleFact.part_id.in_(ids)))}
    different = [(k, expected.get(k), stored.get(k)) for k in set(expected) | set(stored)
                 if expected.get(k) != stored.get(k)]
    db.session.rollback()
    return len(ids), len(expected), different[:3]


RAW_SQL = {
    # Per sale line, straight from the order rows: billable grams and pesos in cents, rounded
    # half up (PostgreSQL's NUMERIC is exact; SQLite's floating point is turned into integers).
    "postgresql": {
        "month": "CAST(date_trunc('month', timezone('America/Bogota', o.placed_at)) AS DATE)",
        "grams": "({kg}) * 1000",
        "cents": "round(({kg}) * l.price_per_kg, 2) * 100",
    },
    "sqlite": {
        "month": "date(o.placed_at, '-5 hours', 'start of month')",
        "grams": "CAST(round(({kg}) * 1000) AS INTEGER)",
        "cents": "((CAST(round(({kg}) * 1000) AS INTEGER) * CAST(round(l.price_per_kg * 100) AS INTEGER) + 500)"
                 " / 1000)",
    },
}


def raw_statements(dialect: str) -> dict[str, str]:
    sql = RAW_SQL["postgresql" if dialect == "postgresql" else "sqlite"]
    kg = ("CASE WHEN l.quality = 'rejected' AND (d.status IS NULL OR d.status <> 'released') THEN 0 "
          "ELSE COALESCE(l.received_kg, l.quantity_kg) END")
    base = ("FROM order_line l JOIN order_part p ON p.id = l.part_id JOIN purchase_order o ON o.id = p.order_id "
            "JOIN municipality mu ON mu.code = l.municipality_code JOIN cooperative c ON c.id = p.cooperative_id "
            "LEFT JOIN dispute d ON d.line_id = l.id "
            "WHERE p.status IN ('accepted', 'ready', 'in_transit', 'delivered', 'settled') "
            "AND o.placed_at >= :since AND o.placed_at < :until {extra}")
    grams, cents, month = sql["grams"].format(kg=kg), sql["cents"].format(kg=kg), sql["month"]
    women = "(c.members_total > 0 AND c.members_women * 2 >= c.members_total)"
    youth = "(c.members_total > 0 AND c.members_youth * 2 >= c.members_total)"
    return {
        "indicators": (
            f"SELECT {month} AS month, SUM({cents}), SUM({grams}), "
            f"SUM(CASE WHEN {women} THEN {cents} ELSE 0 END), SUM(CASE WHEN {youth} THEN {cents} ELSE 0 END), "
            "COUNT(DISTINCT p.cooperative_id), "
            "COUNT(DISTINCT CASE WHEN mu.pdet_subregion IS NOT NULL THEN l.municipality_code END), "
            "COUNT(DISTINCT mu.pdet_subregion) " + base + " GROUP BY 1 ORDER BY 1"),
        "pairs": f"SELECT DISTINCT {month}, o.buyer_id, p.cooperative_id " + base,
        "trend": f"SELECT {month} AS month, SUM({grams}), SUM({cents}), COUNT(DISTINCT p.id), COUNT(*) "
                 + base + " GROUP BY 1 ORDER BY 1",
        "trend_prices": f"SELECT {month} AS month, l.price_per_kg, COUNT(*) " + base + " GROUP BY 1, 2",
    }


def period_bounds(first: date, last: date) -> dict:
    """UTC instants of the Bogotá months [first, last]."""
    since = datetime(first.year, first.month, 1, tzinfo=UTC) - BOGOTA
    after = month_add(last, 1)
    until = datetime(after.year, after.month, 1, tzinfo=UTC) - BOGOTA
    return {"since": since, "until": until}


def raw_figures(dialect: str, first: date, last: date, department: str | None = None,
                product_id: int | None = None) -> dict:
    from marketplace.insights import indicators

    stmts = raw_statements(dialect)
    params = period_bounds(first, last)
    extra = ""
    if department:
        extra += " AND mu.department_code = :department"
        params["department"] = department
    out = {}
    if product_id is None:
        rows = db.session.execute(text(stmts["indicators"].format(extra=extra)), params).all()
        pairs = db.session.execute(text(stmts["pairs"].format(extra=extra)), params).all()
        out["income"] = sum((Decimal(int(r[1])) / 100 for r in rows), Decimal(0))
        out["kg"] = sum((Decimal(int(r[2])) / 1000 for r in rows), Decimal(0))
        out["coops_by_month"] = [int(r[5]) for r in rows]
        out["alliances"] = len({(b, c) for _m, b, c in pairs})
        return out
    params["product"] = product_id
    extra += " AND l.product_id = :product"
    rows = db.session.execute(text(stmts["trend"].format(extra=extra)), params).all()
    prices = defaultdict(lambda: ([], []))
    for month, price, count in db.session.execute(text(stmts["trend_prices"].format(extra=extra)), params):
        prices[str(month)][0].append(Decimal(str(price)).quantize(Decimal("0.01")))
        prices[str(month)][1].append(int(count))
    out["kg_by_month"] = [Decimal(int(r[1])) / 1000 for r in rows]
    out["median_by_month"] = [indicators.weighted_median_iqr(*prices[str(r[0])]).median for r in rows]
    return out


def bench(label: str, url: str, args) -> dict:
    from marketplace.accounts.models import User
    from marketplace.insights import rollups, services
    from marketplace.insights.models import PriceMonth, SaleFact, SalesMonth
    from marketplace.orders import services as orders
    from marketplace.orders.models import OrderLine, OrderPart, PartStatus

    rng = random.Random(args.seed)
    uploads = tempfile.mkdtemp()
    app = create_app(overrides(url, uploads))
    result: dict = {"db": label, "pages": [], "raw": []}
    with app.app_context():
        dialect = db.engine.dialect.name
        upgrade()
        started = time.perf_counter()
        people = populate_people(rng)
        made = generate(people, args.lines, rng, dialect)
        settle(dialect)
        result["generate_s"] = time.perf_counter() - started
        result["made"] = made
        print(f"[{label}] generated {made['lines']:,} lines, {made['parts']:,} parts, {made['orders']:,} orders, "
              f"{made['listings']:,} listings, {made['disputes']:,} disputes, {made['audit_events']:,} audit events in "
              f"{result['generate_s']:.0f} s",
              flush=True)

        # (a) everything from the raw rows
        started = time.perf_counter()
        result["sale_parts"] = rollups.rebuild()
        db.session.commit()
        result["rebuild_s"] = time.perf_counter() - started
        result["facts"] = db.session.scalar(select(func.count()).select_from(SaleFact))
        result["sales_rows"] = db.session.scalar(select(func.count()).select_from(SalesMonth))
        result["price_rows"] = db.session.scalar(select(func.count()).select_from(PriceMonth))
        db.session.commit()
        settle(dialect)
        print(f"[{label}] rollups.rebuild(): {result['rebuild_s']:.1f} s -> {result['facts']:,} facts, "
              f"{result['sales_rows']:,} sales_month rows, {result['price_rows']:,} price_month rows", flush=True)
        result["python_per_part"] = python_rebuild_rate(args.sample)
        result["checked"] = check_sample(args.sample)

        # what to ask: the busiest product, its busiest department, the busiest department, the big buyer
        product_id, _n = db.session.execute(select(SalesMonth.product_id, func.sum(SalesMonth.lines))
                                            .group_by(SalesMonth.product_id)
                                            .order_by(func.sum(SalesMonth.lines).desc()).limit(1)).one()
        department = db.session.execute(select(SalesMonth.department_code).group_by(SalesMonth.department_code)
                                        .order_by(func.sum(SalesMonth.lines).desc()).limit(1)).scalar_one()
        product_department = db.session.execute(
            select(SalesMonth.department_code).where(SalesMonth.product_id == product_id)
            .group_by(SalesMonth.department_code).order_by(func.sum(SalesMonth.lines).desc()).limit(1)).scalar_one()
        big_buyer = people["buyers"][0]["id"]
        waiting = list(db.session.execute(select(OrderPart.id, OrderPart.cooperative_id)
                                          .where(OrderPart.status == PartStatus.PLACED).order_by(OrderPart.id)))
        accepted_recent = list(db.session.scalars(select(OrderPart.id).where(OrderPart.status == PartStatus.ACCEPTED)
                                                  .order_by(OrderPart.id.desc()).limit(2000)))
        managers = {c["id"]: c["manager_id"] for c in people["coops"]}
        db.session.commit()

    client = app.test_client()
    response = client.post("/entrar", data={"identifier": "auditora@bench.co", "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    changes = {"made": 0, "accepted": 0, "cancelled": 0}

    def change_some():
        """A few parts change through the order services (cooperatives accept new orders,
        staff cancel an accepted one), so the next request must refresh the rollups."""
        with app.app_context():
            admin = db.session.get(User, people["admin_id"])
            for _ in range(CHANGES_PER_REQUEST):
                if waiting and rng.random() < 0.8:
                    part_id, coop_id = waiting.pop()
                    orders.accept(db.session.get(User, managers[coop_id]), db.session.get(OrderPart, part_id))
                    changes["accepted"] += 1
                elif accepted_recent:
                    orders.cancel(admin, db.session.get(OrderPart, accepted_recent.pop()), "Cosecha perdida")
                    changes["cancelled"] += 1
                changes["made"] += 1
            db.session.commit()

    first, last = made["first"], made["last"]
    two_years = f"desde={first:%Y-%m}"
    pages = [
        ("indicators, last 12 months", "/seguimiento/indicadores"),
        ("indicators, 24 months", f"/seguimiento/indicadores?{two_years}"),
        (f"indicators, department {department}", f"/seguimiento/indicadores?departamento={department}"),
        ("trends, product", f"/seguimiento/tendencias?producto={product_id}"),
        (f"trends, product + dept {product_department}",
         f"/seguimiento/tendencias?producto={product_id}&departamento={product_department}"),
        ("anomalies, product", f"/seguimiento/anomalias?producto={product_id}"),
        ("audit trail", "/seguimiento/auditoria"),
        ("buyer report (big buyer)", f"/impacto?comprador={big_buyer}"),
    ]
    for name, path in pages:
        def get(path=path):
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
        samples = timed(get, args.runs, before=change_some)
        result["pages"].append({"name": name, "path": path, "median": statistics.median(samples),
                                "max": max(samples)})
        print(f"[{label}] {name:<34} median {statistics.median(samples):7.1f} ms   max {max(samples):7.1f} ms",
              flush=True)
    result["changes"] = dict(changes)

    # (c) the same figures straight from the raw rows, and whether the dashboards agree
    start12 = month_add(last, -11)
    with app.app_context():
        comparisons = [
            ("indicators, last 12 months", lambda: raw_figures(dialect, start12, last),
             lambda: services.impact(services.make_filters(start12, last))),
            ("indicators, 24 months", lambda: raw_figures(dialect, first, last),
             lambda: services.impact(services.make_filters(first, last, default_months=24))),
            (f"indicators, department {department}", lambda: raw_figures(dialect, start12, last, department),
             lambda: services.impact(services.make_filters(start12, last, department=department))),
            ("trends, product", lambda: raw_figures(dialect, start12, last, product_id=product_id),
             lambda: services.trends(services.make_filters(start12, last, product_id))),
        ]
        for name, raw, served in comparisons:
            raw_ms = timed(raw, max(1, args.runs // 2))
            service_ms = timed(served, max(1, args.runs // 2))
            figures, shown = raw(), served()
            if "income" in figures:
                by_code = {row.code: row for row in shown.rows}
                agree = (figures["income"] == by_code["income_cop"].value
                         and figures["kg"] == by_code["volume_kg"].value
                         and figures["alliances"] == by_code["alliances"].value
                         and [v for _m, v in by_code["cooperatives"].monthly if v] == figures["coops_by_month"])
                detail = (f"income {by_code['income_cop'].value:,.2f} vs raw {figures['income']:,.2f} COP, "
                          f"{by_code['volume_kg'].value:,.3f} vs {figures['kg']:,.3f} kg, alliances "
                          f"{by_code['alliances'].value} vs {figures['alliances']}")
            else:
                months = [m for m in shown.months if m.lines]
                agree = ([m.kg for m in months] == figures["kg_by_month"]
                         and [m.median for m in months] == figures["median_by_month"])
                detail = f"{len(months)} months of kg and median price"
            db.session.rollback()
            result["raw"].append({"name": name, "raw": statistics.median(raw_ms), "service": statistics.median(service_ms),
                                  "agree": agree, "detail": detail})
            print(f"[{label}] raw {name:<30} {statistics.median(raw_ms):8.1f} ms  (service "
                  f"{statistics.median(service_ms):6.1f} ms)  {'same figures' if agree else 'DIFFERENT'}: {detail}",
                  flush=True)
        result["lines"] = db.session.scalar(select(func.count()).select_from(OrderLine))
        db.session.remove()
        db.engine.dispose()
    return result


def report(r: dict, args) -> bool:
    made = r["made"]
    print()
    print(f"== {r['db']}: {r['lines']:,} order lines ({made['parts']:,} parts, {made['orders']:,} orders, "
          f"{made['first']:%Y-%m}..{made['last']:%Y-%m}), generated in {r['generate_s']:.0f} s")
    sold = sum(made.get(s, 0) for s in ("accepted", "ready", "in_transit", "delivered", "settled"))
    print(f"   parts: {sold:,} sold, {made.get('placed', 0):,} waiting, {made.get('declined', 0):,} declined, "
          f"{made.get('expired', 0):,} expired, {made.get('cancelled', 0):,} cancelled; {made['disputes']:,} disputes; "
          f"{made['audit_events']:,} audit events")
    python_s = r["python_per_part"] * r["sale_parts"]
    print(f"(a) rollups.rebuild() from raw rows: {r['rebuild_s']:.1f} s for {r['sale_parts']:,} sale parts -> "
          f"{r['facts']:,} facts, {r['sales_rows']:,} sales_month and {r['price_rows']:,} price_month rows")
    print(f"    old Python rebuild (update_parts in batches), timed on {args.sample:,} parts: "
          f"{r['python_per_part'] * 1000:.2f} ms/part -> about {python_s:,.0f} s for all "
          f"({python_s / r['rebuild_s']:.0f}x slower)")
    parts, lines, different = r["checked"]
    print(f"    sample check: the facts of {parts:,} random sale parts ({lines:,} lines) "
          f"{'equal' if not different else 'DIFFER FROM'} rollups.facts_of{'' if not different else f': {different}'}")
    print(f"(b) dashboards, {args.runs} requests after 1 warm-up, each after {CHANGES_PER_REQUEST} part changes "
          f"through the order services ({r['changes']['accepted']} accepted, {r['changes']['cancelled']} cancelled "
          "in all), so every request refreshes the rollups first")
    print(f"    {'page':<34} {'median':>9} {'max':>9}  goal <= {GOAL_MS} ms")
    ok = not different
    for page in r["pages"]:
        passed = page["max"] <= GOAL_MS
        ok &= passed
        print(f"    {page['name']:<34} {page['median']:6.1f} ms {page['max']:6.1f} ms  {'PASS' if passed else 'FAIL'}"
              f"   {page['path']}")
    print("(c) the same figures straight from the raw order rows (SQL over order_line/order_part/purchase_order)")
    print(f"    {'figures':<34} {'raw SQL':>10} {'service':>9} {'ratio':>7}  same figures as the dashboard")
    for raw in r["raw"]:
        ok &= raw["agree"]
        print(f"    {raw['name']:<34} {raw['raw']:7.1f} ms {raw['service']:6.1f} ms {raw['raw'] / raw['service']:6.1f}x"
              f"  {'yes' if raw['agree'] else 'NO'} ({raw['detail']})")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sample", type=int, default=2000, help="parts for the Python-rebuild timing and the check")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--postgres", nargs="?", const=PG_BASE, default=None, metavar="URL",
                        help=f"run on PostgreSQL (default URL {PG_BASE}) instead of SQLite")
    parser.add_argument("--keep", action="store_true",
                        help="keep the database afterwards (its SQLite file or PostgreSQL schema is printed)")
    args = parser.parse_args()
    before = machine_busy_seconds()
    time.sleep(1)
    busy = (machine_busy_seconds() - before) if before is not None else None
    if args.postgres is None:
        folder = tempfile.mkdtemp(prefix="bench_insights_")
        try:
            result = bench("SQLite", f"sqlite:///{folder}/bench.db", args)
        finally:
            if args.keep:
                print(f"kept: sqlite:///{folder}/bench.db")
            else:
                shutil.rmtree(folder, ignore_errors=True)
    else:
        schema = f"bench_insights_{os.getpid()}"
        try:
            engine = create_engine(args.postgres)
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:  # noqa: BLE001 - report why and stop
            print(f"PostgreSQL no disponible en {args.postgres} ({exc.__class__.__name__}).")
            return 2
        try:
            sep = "&" if "?" in args.postgres else "?"
            result = bench("PostgreSQL", f"{args.postgres}{sep}options=-csearch_path%3D{schema}", args)
        finally:
            if args.keep:
                print(f"kept: schema {schema} ({args.postgres}{sep}options=-csearch_path%3D{schema})")
            else:
                with engine.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()
    ok = report(result, args)
    if busy is not None and busy > 0.2:
        print(f"WARNING: the machine was {busy:.0%} of a CPU busy before the run; the times are high. "
              "Run it on an otherwise idle machine.")
    print(f"{'PASS' if ok else 'FAIL'}: every dashboard <= {GOAL_MS} ms (median and max) with figures equal to the "
          "raw rows'")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
