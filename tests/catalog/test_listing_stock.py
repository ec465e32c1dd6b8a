"""A lot's quantity edits and its stock: quantity = available + kilos held by live orders,
whatever runs beside an edit (placements, declines, other edits), on SQLite and PostgreSQL.

The race tests follow tests/orders/test_concurrency.py: each worker thread has its own app
context (its own session and connection) and commits, as concurrent requests would; a
refusal must be a ``Conflict``, anything else fails the test.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm.attributes import set_committed_value

from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import Listing, ListingChange
from marketplace.core.errors import Conflict
from marketplace.extensions import db
from marketplace.insights import invariants
from marketplace.orders import services as order_services
from marketplace.orders.models import CLOSED_WITHOUT_SALE, OrderLine, OrderPart
from tests.orders.conftest import market  # noqa: F401  (the fixture)
from tests.orders.helpers import D, order_request, place, user


def _held_kg(listing_id: int) -> Decimal:
    """Kilos held by order lines of parts not closed without a sale."""
    return db.session.scalar(
        select(func.coalesce(func.sum(OrderLine.quantity_kg), 0))
        .join(OrderPart, OrderPart.id == OrderLine.part_id)
        .where(OrderLine.listing_id == listing_id,
               OrderPart.status.not_in([s.value for s in CLOSED_WITHOUT_SALE]))
    )


def _stored(listing_id: int) -> tuple[Decimal, Decimal]:
    row = db.session.execute(select(Listing.quantity_kg, Listing.available_kg).where(Listing.id == listing_id)).one()
    return row.quantity_kg, row.available_kg


def _edit_data(listing: Listing, quantity_kg: str) -> catalog_services.ListingData:
    """The listing as it is, with another quantity in kg (the fixture's lots are sold by the kg)."""
    return catalog_services.ListingData(
        product_id=listing.product_id, grade_id=listing.grade_id, quantity=D(quantity_kg), unit="kg",
        unit_kg=None, price_per_unit=listing.price_per_unit, harvest_date=listing.harvest_date,
        available_from=listing.available_from, available_until=listing.available_until,
        collection_point_id=listing.collection_point_id, certifications=list(listing.certifications),
        description=listing.description, confirm_price=True,
    )


def _edit(app, person, listing_id: int, quantity_kg: str) -> None:
    with app.app_context():
        listing = db.session.get(Listing, listing_id)
        catalog_services.update_listing(user(person), listing, _edit_data(listing, quantity_kg))
        db.session.commit()


def _changes(listing_id: int) -> list[tuple[Decimal | None, Decimal | None]]:
    return [(c.quantity_kg_before, c.quantity_kg_after) for c in db.session.scalars(
        select(ListingChange).where(ListingChange.listing_id == listing_id).order_by(ListingChange.id))]


def test_raising_and_lowering_a_lot_moves_what_is_available_by_the_difference(app, market):  # noqa: F811
    place(app, market, [(market.listing_a, "300", "kg")])
    _edit(app, market.manager_a, market.listing_a, "1200")
    with app.app_context():
        assert _stored(market.listing_a) == (D("1200"), D("900"))
    _edit(app, market.manager_a, market.listing_a, "450")
    with app.app_context():
        assert _stored(market.listing_a) == (D("450"), D("150"))
    _edit(app, market.manager_a, market.listing_a, "300")  # exactly what orders hold
    with app.app_context():
        assert _stored(market.listing_a) == (D("300"), D("0"))
        assert _changes(market.listing_a) == [(None, D("1000")), (D("1000"), D("1200")), (D("1200"), D("450")),
                                              (D("450"), D("300"))]


def test_a_lot_cannot_go_below_the_kilos_orders_hold(app, market):  # noqa: F811
    place(app, market, [(market.listing_a, "300", "kg")])
    place(app, market, [(market.listing_a, "27.5", "kg")])
    with app.app_context():
        listing = db.session.get(Listing, market.listing_a)
        with pytest.raises(Conflict) as refused:
            catalog_services.update_listing(user(market.manager_a), listing, _edit_data(listing, "327.4"))
        db.session.rollback()
        assert refused.value.field == "quantity"
        assert str(refused.value.message) == "Ya hay pedidos por 327,5 kg: la cantidad no puede ser menor."
        assert _stored(market.listing_a) == (D("1000"), D("672.5"))
        assert _changes(market.listing_a) == [(None, D("1000"))]


def test_an_edit_from_a_stale_read_writes_the_difference_and_records_what_was_stored(app, market):  # noqa: F811
    """The form was filled in before another edit and two orders: the edit moves the stored
    numbers by its difference, and the history's "before" is the stored quantity."""
    place(app, market, [(market.listing_a, "100", "kg")])
    with app.app_context():
        listing = db.session.get(Listing, market.listing_a)
        data = _edit_data(listing, "800")
        # What a request that read the lot earlier would hold: the numbers before the
        # other edit (to 1,100 kg) and the second order (50 kg) below.
        stale = (listing.quantity_kg, listing.available_kg)
        db.session.rollback()
    _edit(app, market.manager_a, market.listing_a, "1100")
    place(app, market, [(market.listing_a, "50", "kg")])
    with app.app_context():
        listing = db.session.get(Listing, market.listing_a)
        set_committed_value(listing, "quantity_kg", stale[0])
        set_committed_value(listing, "available_kg", stale[1])
        catalog_services.update_listing(user(market.manager_a), listing, data)
        assert (listing.quantity_kg, listing.available_kg) == (D("800"), D("650"))
        db.session.commit()
    with app.app_context():
        assert _stored(market.listing_a) == (D("800"), D("650"))
        assert _changes(market.listing_a)[-1] == (D("1100"), D("800"))


def test_the_api_refuses_a_quantity_below_the_ordered_kilos_with_409(app, market):  # noqa: F811
    from tests.orders.conftest import api_token

    place(app, market, [(market.listing_c, "120", "kg")])
    headers = api_token(app, market.manager_a)
    client = app.test_client()
    refused = client.patch(f"/api/v1/listings/{market.listing_c}", json={"quantity": "100"}, headers=headers)
    assert refused.status_code == 409
    assert "Ya hay pedidos por 120 kg" in refused.get_json()["message"]
    lowered = client.patch(f"/api/v1/listings/{market.listing_c}", json={"quantity": "150"}, headers=headers)
    assert lowered.status_code == 200, lowered.get_json()
    assert (D(str(lowered.get_json()["quantity_kg"])), D(str(lowered.get_json()["available_kg"]))) == (
        D("150"), D("30"))


# ----------------------------------------------------------------------- races


def _run_concurrently(app, jobs):
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
        return [f.result(timeout=120) for f in futures]


def test_edits_racing_orders_and_declines_keep_quantity_equal_to_available_plus_held(app, market):  # noqa: F811
    """The incident: a 1,000 kg lot edited ten times while buyers order 20 kg each and
    a cooperative declines earlier orders. At the end the books balance and no more was
    sold than the lot holds."""
    to_decline = [place(app, market, [(market.listing_a, "20", "kg")]) for _ in range(6)]
    with app.app_context():
        parts = [db.session.scalar(select(OrderPart.id).where(OrderPart.order_id == o)) for o in to_decline]

    def buyer():
        return order_services.place_order(user(market.buyer),
                                          order_request(market, [(market.listing_a, "20", "kg")])).id

    def editor(quantity):
        def job():
            listing = catalog_services.own_listing(user(market.manager_a), market.listing_a)
            catalog_services.update_listing(user(market.manager_a), listing, _edit_data(listing, quantity))
            return quantity
        return job

    def decliner(part_id):
        def job():
            order_services.decline(user(market.manager_a), db.session.get(OrderPart, part_id), "Sin cosecha")
            return "declined"
        return job

    # Five edits up, five down to sizes that some orders may no longer fit under.
    edits = ["1001", "1002", "1003", "1004", "1005", "760", "740", "720", "700", "690"]
    jobs = [buyer] * 30 + [editor(q) for q in edits] + [decliner(p) for p in parts]
    results = _run_concurrently(app, jobs)
    assert results[-6:] == ["declined"] * 6
    with app.app_context():
        quantity, available = _stored(market.listing_a)
        held = _held_kg(market.listing_a)
        assert available >= 0
        assert quantity == available + held
        assert held <= quantity
        assert quantity in {D(q) for q, r in zip(edits, results[30:40], strict=True) if r != "conflict"}
        # Edits are serialised on the row: each starts from the quantity the one before wrote.
        history = _changes(market.listing_a)[1:]
        assert len(history) == sum(r != "conflict" for r in results[30:40])
        chain = [D("1000")] + [after for _before, after in history]
        assert [before for before, _after in history] == chain[:-1]
        assert history[-1][1] == quantity
        assert invariants.listing_stock() == []
