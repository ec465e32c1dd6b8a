"""Order placement through the JSON API under gunicorn on PostgreSQL: throughput and no overselling.

    .venv/bin/python benchmarks/order_placement.py [--clients 50] [--listings 20] [--seconds 15]

Builds a private schema in PostgreSQL's `test` database (dropped at the end) with the
migrations, then with the app's own services: the catalogue, verified cooperatives with
their listings, verified buyer companies and an API token for each. Starts gunicorn
(`wsgi:app`, 2 sync workers) on a free port and lets many client threads (each with its own
HTTP connection) place single- and two-line orders (`POST /api/v1/orders` with an
Idempotency-Key) on random listings for --seconds or until every listing is sold out.

A quarter of the listings are scarce and sell out in the first seconds, so buyers race for
their last kilos and the "not enough stock" path runs under contention; the others hold
twice what the run could ask of them, so the supply does not cap the rate measured. Clients
stop choosing a listing once the database shows it sold out, as the search page would stop
showing it.

Prints orders per second (201s over the wall time up to the last one), errors (anything other
than 201 Created or a 409 "no hay suficiente cantidad"), the number of such 409s, and what
the database holds afterwards: oversold kilos (sum over listings of max(0, ordered kg -
quantity)) and whether available_kg + ordered kg == quantity_kg for each listing.
Also prints the CPU the gunicorn processes spent per order created (the app's cost of an
order), PostgreSQL's, and how much of the machine anything else took during the run.
Goal: >= 150 orders/s with 0 errors and 0 oversold kg.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("APP_ENV", "testing")
os.environ.setdefault("SECRET_KEY", "benchmark-only")

from _machine import machine_busy_seconds  # noqa: E402  (beside this script)
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from marketplace import create_app  # noqa: E402
from marketplace.core.models import bogota_date  # noqa: E402
from marketplace.extensions import db  # noqa: E402

PG_BASE = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
GOAL_RATE = 150  # orders per second
PASSWORD = "Clave-de-Bench-2026"  # noqa: S105 - throwaway accounts in a schema dropped at the end
# A clean "not enough stock" is a 409 with one of two messages: the conditional UPDATE found too
# little ("No hay suficiente cantidad de ...: otro comprador la tomó"), or the quote read too
# little before trying ("De <producto> quedan <n> kg."; a 422 before 2026-11-26, counted as an error).
STOCK_409 = "No hay suficiente cantidad"
QUEDAN = re.compile(r"^De .+ quedan [\d.,]+ kg\.$")
LINE_KG = list(range(10, 201, 10))  # each line asks 10..200 kg
TWO_LINE_SHARE = 0.3
SCARCE_SECONDS = 2.0  # a scarce listing's stock lasts about this long at the goal rate
PLENTY = 2.0  # the other listings hold twice what the whole run could ask of them
# PDET municipalities for the cooperatives (Tumaco, San Vicente del Caguán, Caucasia, Ataco, Tibú)
COOP_TOWNS = ["52835", "18753", "05154", "73067", "54810"]


# --------------------------------------------------------------------- data


def populate(n_listings: int, n_buyers: int, stock: list[int]) -> tuple[list[int], list[tuple[str, int]]]:
    """Cooperatives, listings and buyers through the services. Returns listing ids and
    (token, delivery site id) per buyer."""
    from marketplace.accounts import services as accounts
    from marketplace.accounts.identity import nit_check_digit
    from marketplace.accounts.models import OrgStatus, Role
    from marketplace.catalog import services as catalog
    from marketplace.catalog.catalogue import seed_catalogue
    from marketplace.catalog.models import Product

    seed_catalogue()
    db.session.commit()
    admin = accounts.create_staff_user(None, accounts.UserData("Admin Bench", PASSWORD, email="admin@bench.co"),
                                       Role.PLATFORM_ADMIN)
    managers = []
    for n, town in enumerate(COOP_TOWNS):
        coop, manager = accounts.register_cooperative(
            accounts.CooperativeData(name=f"Cooperativa Bench {n}", legal_form="asociacion", municipality_code=town,
                                     members_total=100, members_women=50, members_youth=20, members_victims=30,
                                     substitution_families=10),
            # With an e-mail the manager is told of each new order, as in production.
            accounts.UserData(f"Gerente {n}", PASSWORD, phone=f"+57315{n:07d}", email=f"gerente{n}@bench.co"))
        accounts.set_organisation_status(admin, coop, OrgStatus.VERIFIED, None)
        managers.append(manager)
    db.session.flush()
    products = db.session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.id)).all()
    today = bogota_date()
    points = {}
    listing_ids = []
    for i in range(n_listings):
        manager = managers[i % len(managers)]
        coop = manager.organisation
        if coop.id not in points:
            points[coop.id] = catalog.add_collection_point(coop, f"Acopio Bench {coop.id}", None, None)
        product = products[i % len(products)]
        listing = catalog.create_listing(manager, catalog.ListingData(
            product_id=product.id, grade_id=product.grades[0].id, quantity=Decimal(stock[i]), unit="kg",
            price_per_unit=Decimal(2000 + 500 * (i % 17)), harvest_date=today, available_from=today,
            available_until=today + timedelta(days=30), collection_point_id=points[coop.id].id, confirm_price=True))
        listing_ids.append(listing.id)
    buyers = []
    for n in range(n_buyers):
        base = str(900_100_000 + n)
        buyer, user = accounts.register_buyer(
            accounts.BuyerData(name=f"Compras Bench {n} S.A.S.", nit=f"{base}-{nit_check_digit(base)}",
                               municipality_code="11001"),
            accounts.SiteData(name="Planta", address="Calle 13 # 68-50", municipality_code="11001"),
            accounts.UserData(f"Compras {n}", PASSWORD, email=f"compras{n}@bench.co"))
        accounts.set_organisation_status(admin, buyer, OrgStatus.VERIFIED, None)
        _token, plain = accounts.create_api_token(user, "Benchmark", PASSWORD)
        buyers.append((plain, buyer.delivery_sites[0].id))
    db.session.commit()
    return listing_ids, buyers


def stock_plan(n_listings: int, seconds: float, rng: random.Random) -> list[int]:
    """Kilos per listing. A quarter of the listings are scarce: at the goal rate they sell out
    within about SCARCE_SECONDS, so buyers race for their last kilos and the "not enough
    stock" path runs under contention. The others hold PLENTY times what the run can ask of
    them, so the throughput measured is the application's, not the size of the supply."""
    mean_order_kg = statistics.mean(LINE_KG) * (1 + TWO_LINE_SHARE)
    per_listing_per_second = GOAL_RATE * mean_order_kg / n_listings
    scarce = set(rng.sample(range(n_listings), max(1, n_listings // 4)))
    plan = []
    for i in range(n_listings):
        seconds_of_stock = SCARCE_SECONDS if i in scarce else seconds * PLENTY
        plan.append(max(10, int(per_listing_per_second * seconds_of_stock * rng.uniform(0.7, 1.3)) // 10 * 10))
    return plan


# ------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(url: str, port: int, workers: int, log) -> subprocess.Popen:
    env = {**os.environ, "APP_ENV": "testing", "SECRET_KEY": "benchmark-only", "DATABASE_URL": url,
           "RATELIMIT_ENABLED": "false"}
    env.pop("SMTP_HOST", None)
    command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
               "--log-level", "warning", "wsgi:app"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)  # noqa: S603 - fixed command
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/salud")
            if conn.getresponse().status == 200:
                conn.close()
                return server
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /salud within 30 s")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process and its children still alive (Linux /proc), else None."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total = 0
        for p in [pid, *map(int, children)]:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / tick
    except (OSError, ValueError, IndexError):
        return None


def postgres_cpu() -> dict[int, float]:
    """User + system CPU of each local PostgreSQL process (Linux /proc; empty elsewhere)."""
    found = {}
    for entry in Path("/proc").iterdir() if Path("/proc/stat").exists() else ():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "postgres":
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue
    return found


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# ------------------------------------------------------------------- clients


class Run:
    """State shared by the client threads and the stock monitor."""

    def __init__(self, listing_ids: list[int], deadline: float):
        self.listing_ids = listing_ids
        self.sold_out: frozenset[int] = frozenset()
        self.deadline = deadline
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.results: list[tuple[float, int, str, float, dict]] = []  # (done at, status, kind, seconds, order)


def classify(status: int, body: bytes) -> tuple[str, dict]:
    try:
        data = json.loads(body)
    except ValueError:
        return f"{status} non-JSON: {body[:80]!r}", {}
    if status == 201 and isinstance(data.get("id"), int):
        return "created", data
    message = str(data.get("message", ""))
    if status == 409 and message.startswith(STOCK_409):
        return "stock409", data
    if QUEDAN.match(message):  # the quote's read of available_kg found too little, before the UPDATE
        return ("stock409_read", data) if status == 409 else (f"{status} De <producto> quedan <n> kg.", data)
    return f"{status} {message[:90]}", data


def client(run: Run, token: str, site_id: int, port: int, seed: int, start: threading.Barrier) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    today = bogota_date()
    window = {"delivery_site_id": site_id, "window_start": (today + timedelta(days=2)).isoformat(),
              "window_end": (today + timedelta(days=9)).isoformat(), "payment_method": "invoice"}
    results = []
    start.wait()
    while not run.stop.is_set() and time.perf_counter() < run.deadline:
        open_ids = [i for i in run.listing_ids if i not in run.sold_out]
        if not open_ids:
            break
        chosen = rng.sample(open_ids, 2 if len(open_ids) > 1 and rng.random() < TWO_LINE_SHARE else 1)
        body = {"lines": [{"listing_id": i, "quantity": str(rng.choice(LINE_KG)), "unit": "kg"} for i in chosen],
                **window}
        sent = time.perf_counter()
        try:
            conn.request("POST", "/api/v1/orders", body=json.dumps(body),
                         headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
            response = conn.getresponse()
            status, payload = response.status, response.read()
            kind, data = classify(status, payload)
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            status, kind, data = 0, f"connection {exc.__class__.__name__}: {exc}"[:100], {}
        done = time.perf_counter()
        kg = {ln["listing_id"]: Decimal(ln["quantity_kg"]) for p in data.get("parts", []) for ln in p["lines"]}
        results.append((done, status, kind, done - sent, {"id": data.get("id"), "kg": kg} if kind == "created" else {}))
    conn.close()
    with run.lock:
        run.results.extend(results)


def monitor(run: Run, url: str, min_kg: int) -> None:
    """Every 0.2 s, which listings are sold out (less than the smallest line left)."""
    engine = create_engine(url)
    try:
        while not run.stop.is_set():
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT id, available_kg FROM listing")).all()
            run.sold_out = frozenset(i for i, kg in rows if kg < min_kg)
            if len(run.sold_out) == len(run.listing_ids):
                run.stop.set()
            run.stop.wait(0.2)
    finally:
        engine.dispose()


# -------------------------------------------------------------------- checks


def database_totals(url: str) -> dict:
    from marketplace.catalog.models import Listing
    from marketplace.orders.models import Order, OrderLine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ordered = dict(conn.execute(select(OrderLine.listing_id, func.sum(OrderLine.quantity_kg))
                                        .group_by(OrderLine.listing_id)).all())
            listings = conn.execute(select(Listing.id, Listing.quantity_kg, Listing.available_kg)).all()
            orders = conn.execute(select(func.count()).select_from(Order)).scalar_one()
    finally:
        engine.dispose()
    oversold = sum((max(Decimal(0), ordered.get(i, Decimal(0)) - q) for i, q, _a in listings), Decimal(0))
    unbalanced = [i for i, q, a in listings if a + ordered.get(i, Decimal(0)) != q]
    return {"orders": orders, "ordered_kg": sum(ordered.values(), Decimal(0)), "oversold": oversold,
            "unbalanced": unbalanced, "listings": len(listings), "supply": sum(q for _i, q, _a in listings),
            "sold_out": sum(1 for _i, _q, a in listings if a < min(LINE_KG)), "ordered_by_listing": ordered}


# ---------------------------------------------------------------------- main


def bench(url: str, args) -> dict:
    rng = random.Random(2026)
    stock = stock_plan(args.listings, args.seconds, rng)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False, "ARGON2_TIME_COST": 1,
                      "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1})
    with app.app_context():
        upgrade()
        listing_ids, buyers = populate(args.listings, args.buyers, stock)
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    port = free_port()
    with tempfile.NamedTemporaryFile("w+", prefix="order_placement_gunicorn_", suffix=".log", delete=False) as log:
        log_path = log.name
        server = start_gunicorn(url, port, args.workers, log)
        try:
            for token, _site in buyers:  # warm both workers up (imports, templates, pools); not counted
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
                assert conn.getresponse().status == 200
                conn.close()
            barrier = threading.Barrier(args.clients + 1)
            run = Run(listing_ids, deadline=float("inf"))
            watcher = threading.Thread(target=monitor, args=(run, url, min(LINE_KG)), daemon=True)
            watcher.start()
            threads = [threading.Thread(target=client, args=(run, *buyers[n % len(buyers)], port, 1000 + n, barrier))
                       for n in range(args.clients)]
            for t in threads:
                t.start()
            pg_before = postgres_cpu()
            cpu_before = (cpu_seconds(server.pid), resource.getrusage(resource.RUSAGE_SELF), machine_busy_seconds())
            run.deadline = time.perf_counter() + args.seconds
            started = time.perf_counter()
            barrier.wait()
            for t in threads:
                t.join()
            ended = time.perf_counter()
            cpu_after = (cpu_seconds(server.pid), resource.getrusage(resource.RUSAGE_SELF), machine_busy_seconds())
            pg_cpu = sum(t - pg_before.get(pid, 0.0) for pid, t in postgres_cpu().items())
            run.stop.set()
            watcher.join()
        finally:
            stop(server)
        log.seek(0)
        server_log = log.read()
    os.unlink(log_path)
    totals = database_totals(url)
    results = run.results
    kinds = Counter(kind for _d, _s, kind, _l, _o in results)
    created = [r for r in results if r[2] == "created"]
    last_created = max((r[0] for r in created), default=started)
    errors = {k: n for k, n in kinds.items() if k not in ("created", "stock409", "stock409_read")}
    client_kg: dict[int, Decimal] = Counter()
    for _d, _s, _k, _l, order in created:
        for listing_id, kg in order["kg"].items():
            client_kg[listing_id] += kg
    cpu = None
    if None not in (*cpu_before, *cpu_after):
        server_cpu = cpu_after[0] - cpu_before[0]
        client_cpu = sum(getattr(cpu_after[1], f) - getattr(cpu_before[1], f) for f in ("ru_utime", "ru_stime"))
        busy = cpu_after[2] - cpu_before[2]
        cpu = {"server": server_cpu, "clients": client_cpu, "postgres": pg_cpu,
               "rest": busy - server_cpu - client_cpu - pg_cpu,
               "available": (ended - started) * (os.cpu_count() or 1)}
    return {
        "cpu": cpu, "requests": len(results), "created": len(created), "stock409": kinds["stock409"], "stock409_read": kinds["stock409_read"], "errors": errors,
        "elapsed": ended - started, "created_window": last_created - started,
        "rate": len(created) / (last_created - started) if created else 0.0,
        "latency_created": sorted(r[3] for r in created), "latency_all": sorted(r[3] for r in results),
        "distinct_ids": len({r[4]["id"] for r in created}), "client_kg_matches": dict(client_kg) == {
            k: v for k, v in totals["ordered_by_listing"].items()}, "db": totals, "stock": stock,
        "server_errors": [ln for ln in server_log.splitlines() if "Traceback" in ln or "[ERROR]" in ln
                          or "[CRITICAL]" in ln][:10],
    }


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--listings", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--buyers", type=int, default=10, help="buyer companies, one token each, shared by clients")
    parser.add_argument("--seconds", type=float, default=15, help="at most this long (less if stock runs out)")
    args = parser.parse_args()
    before = machine_busy_seconds()
    time.sleep(1)
    busy = (machine_busy_seconds() - before) if before is not None else None
    schema = f"bench_orders_{os.getpid()}"
    engine = create_engine(PG_BASE)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - this benchmark needs PostgreSQL
        print(f"PostgreSQL no disponible en {PG_BASE} ({exc.__class__.__name__}); este benchmark lo necesita.")
        return 2
    try:
        r = bench(f"{PG_BASE}?options=-csearch_path%3D{schema}", args)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()

    d = r["db"]
    n_errors = sum(r["errors"].values())
    balanced = d["listings"] - len(d["unbalanced"])
    passed = r["rate"] >= GOAL_RATE and n_errors == 0 and d["oversold"] == 0 and not d["unbalanced"]
    print()
    if busy is not None and busy > 0.2:
        print(f"WARNING: the machine was {busy:.0%} of a CPU busy before the run; the figures are low. "
              "Run it on an otherwise idle machine.")
    print(f"{args.clients} clients, {d['listings']} listings ({d['supply']:,.0f} kg, {min(r['stock']):,}.."
          f"{max(r['stock']):,} kg each), {args.buyers} buyers, gunicorn {args.workers} sync workers, PostgreSQL")
    print(f"run: {r['elapsed']:.1f} s (cap {args.seconds:g} s), {r['requests']:,} requests "
          f"({r['requests'] / r['elapsed']:.1f}/s), {d['sold_out']}/{d['listings']} listings sold out at the end")
    print(f"orders/s        {r['rate']:8.1f}   ({r['created']:,} created in {r['created_window']:.1f} s; "
          f"latency p50 {pct(r['latency_created'], 0.5):.0f} ms, p95 {pct(r['latency_created'], 0.95):.0f} ms)"
          f"   goal >= {GOAL_RATE}")
    print(f"errors          {n_errors:8,}   goal 0")
    for kind, count in sorted(r["errors"].items(), key=lambda kv: -kv[1])[:8]:
        print(f"    {count:6,} x {kind}")
    print(f"409 no stock    {r['stock409'] + r['stock409_read']:8,}   ({r['stock409_read']:,} refused on reading "
          f"available_kg, {r['stock409']:,} by the conditional UPDATE)")
    print(f"oversold kg     {d['oversold']:8,.0f}   goal 0")
    print(f"stock balances  {balanced:5}/{d['listings']}   available_kg + ordered kg == quantity_kg")
    print(f"database: {d['orders']:,} orders ({r['distinct_ids']:,} distinct ids answered 201), "
          f"{d['ordered_kg']:,.0f} kg ordered; kg per listing in the 201 answers "
          f"{'match' if r['client_kg_matches'] else 'DO NOT match'} the database")
    if r["cpu"]:
        c = r["cpu"]
        per_order = 1000 / max(1, r["created"])
        print(f"CPU during the run: gunicorn {c['server']:.1f} s ({c['server'] * per_order:.1f} ms per order created), "
              f"PostgreSQL {c['postgres']:.1f} s ({c['postgres'] * per_order:.1f} ms per order), client threads "
              f"{c['clients']:.1f} s, anything else {c['rest']:.1f} s; of {c['available']:.1f} s on {os.cpu_count()} CPUs")
        if c["rest"] > 0.1 * c["available"]:
            print(f"WARNING: other processes took {c['rest'] / c['available']:.0%} of the machine during the run; "
                  "the figures are low. Run it again on an otherwise idle machine.")
    for line in r["server_errors"]:
        print(f"gunicorn: {line}")
    print(f"{'PASS' if passed else 'FAIL'}: goal >= {GOAL_RATE} orders/s with 0 errors and 0 oversold")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
