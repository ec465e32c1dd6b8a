"""Stock under concurrency: many buyers racing for the last kilos, on SQLite and PostgreSQL.

Each worker thread has its own app context (so its own session and connection), places
an order and commits, as concurrent requests would. A refusal must be a ``Conflict``; any
other exception (a deadlock, "database is locked", a CHECK violation) fails the test.
The test thread holds no transaction while the workers run: on SQLite a write
transaction begins with BEGIN IMMEDIATE and would block them all.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from marketplace.catalog.models import Listing
from marketplace.core.errors import Conflict
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.orders import services
from marketplace.orders.models import (
    CLOSED_WITHOUT_SALE,
    Order,
    OrderLine,
    OrderPart,
    PartEvent,
    PartStatus,
)
from tests.orders.helpers import D, order_request, place, user

THREADS = 12


def _run_concurrently(app, jobs):
    """Run each job in its own thread and app context, all released at once; return their
    results. A job returns a value or raises ``Conflict`` (returned as the string "conflict")."""
    barrier = threading.Barrier(len(jobs))

    def run(job):
        barrier.wait(timeout=30)
        with app.app_context():
            try:
                result = job()
                db.session.commit()
                return result
            except Conflict:
                db.session.rollback()
                return "conflict"
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(run, job) for job in jobs]
        # .result() re-raises anything that is not a Conflict, failing the test.
        return [f.result(timeout=120) for f in futures]


def _placer(market, lines):
    def job():
        order = services.place_order(user(market.buyer), order_request(market, lines))
        return order.id
    return job


def _sold_kg(listing_id: int) -> Decimal:
    """Kilos held by order lines of parts that were not closed without a sale."""
    return db.session.scalar(
        select(func.coalesce(func.sum(OrderLine.quantity_kg), 0))
        .join(OrderPart, OrderPart.id == OrderLine.part_id)
        .where(OrderLine.listing_id == listing_id,
               OrderPart.status.not_in([s.value for s in CLOSED_WITHOUT_SALE]))
    )


def _check_books(listing_id: int) -> Listing:
    listing = db.session.get(Listing, listing_id)
    assert listing.available_kg >= 0
    assert listing.available_kg == listing.quantity_kg - _sold_kg(listing_id)
    return listing


def test_buyers_racing_for_the_last_kilos_never_oversell(app, market):
    place(app, market, [(market.listing_a, "950", "kg")])  # 50 kg left
    results = _run_concurrently(app, [_placer(market, [(market.listing_a, "10", "kg")])] * THREADS)
    placed = [r for r in results if r != "conflict"]
    assert len(placed) == 5
    assert results.count("conflict") == THREADS - 5
    with app.app_context():
        assert _check_books(market.listing_a).available_kg == 0
        assert db.session.scalar(select(func.count()).select_from(Order)) == 1 + 5
        assert sorted(placed) == sorted(set(placed))


def test_buyers_racing_for_the_whole_remainder_only_one_wins(app, market):
    place(app, market, [(market.listing_b, "437.5", "kg")])  # 62.5 kg left
    results = _run_concurrently(app, [_placer(market, [(market.listing_b, "5", "arroba")])] * THREADS)
    assert results.count("conflict") == THREADS - 1
    with app.app_context():
        assert _check_books(market.listing_b).available_kg == 0


def test_overlapping_multi_listing_orders_neither_deadlock_nor_oversell(app, market):
    place(app, market, [(market.listing_a, "700", "kg"), (market.listing_b, "200", "kg")])  # 300 kg left of each
    forward = [(market.listing_a, "60", "kg"), (market.listing_b, "60", "kg")]
    backward = list(reversed(forward))
    jobs = [_placer(market, forward if i % 2 == 0 else backward) for i in range(THREADS)]
    results = _run_concurrently(app, jobs)
    placed = [r for r in results if r != "conflict"]
    assert len(placed) == 5
    with app.app_context():
        assert _check_books(market.listing_a).available_kg == 0
        assert _check_books(market.listing_b).available_kg == 0
        for order_id in placed:
            order = db.session.get(Order, order_id)
            assert sorted(ln.listing_id for p in order.parts for ln in p.lines) == sorted(
                [market.listing_a, market.listing_b])


def test_mixed_sizes_sell_no_more_than_the_lot(app, market):
    place(app, market, [(market.listing_c, "200", "kg")])  # 100 kg of coffee left
    sizes = ["7", "13", "25", "40", "3", "60", "11", "9", "30", "17", "5", "45"]
    results = _run_concurrently(app, [_placer(market, [(market.listing_c, q, "kg")]) for q in sizes])
    sold = sum((D(q) for q, r in zip(sizes, results, strict=True) if r != "conflict"), D("0"))
    with app.app_context():
        listing = _check_books(market.listing_c)
        assert listing.available_kg == D("100") - sold
        assert sold <= D("100")
        # Whoever lost asked for more than was left when it was its turn.
        assert all(D(q) > listing.available_kg for q, r in zip(sizes, results, strict=True) if r == "conflict")


def test_a_decline_racing_the_expiry_sweep_returns_stock_exactly_once(app, market):
    placed_at = utcnow() - timedelta(hours=49)  # every part is already overdue
    orders = [place(app, market, [(market.listing_a, "100", "kg"), (market.listing_c, "10", "kg")], now=placed_at)
              for _ in range(6)]
    with app.app_context():
        parts = [db.session.scalar(select(OrderPart.id).where(OrderPart.order_id == o)) for o in orders]

    def decliner(part_id):
        def job():
            services.decline(user(market.manager_a), db.session.get(OrderPart, part_id), "Sin cosecha")
            return "declined"
        return job

    def sweeper():
        return services.sweep()["expired"]

    jobs = [decliner(p) for p in parts] + [sweeper] * 6
    results = _run_concurrently(app, jobs)
    declined = results[:6].count("declined")
    expired = sum(r for r in results[6:])
    assert declined + expired == 6
    assert results[:6].count("conflict") == 6 - declined
    with app.app_context():
        assert _check_books(market.listing_a).available_kg == D("1000")
        assert _check_books(market.listing_c).available_kg == D("300")
        for part_id in parts:
            part = db.session.get(OrderPart, part_id)
            assert part.status in (PartStatus.DECLINED, PartStatus.EXPIRED)
            assert db.session.scalar(select(func.count()).select_from(PartEvent)
                                     .where(PartEvent.part_id == part_id)) == 2


def test_the_same_idempotency_key_sent_at_once_places_one_order(app, market):
    """A client retrying before its first request answered: both get the same order and
    the stock is taken once."""
    def job():
        order = services.place_order(user(market.buyer), order_request(market, [(market.listing_a, "100", "kg")]),
                                     idempotency_key="erp-retry-7")
        return order.id

    results = _run_concurrently(app, [job for _ in range(6)])
    assert "conflict" not in results
    assert len(set(results)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Order)) == 1
        assert db.session.get(Listing, market.listing_a).available_kg == D("900")
