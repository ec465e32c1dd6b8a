"""Kilos stay exact on SQLite too, where NUMERIC columns are floating point: a lot's last
fractional kilos can be ordered, returned and edited to the gram."""

from __future__ import annotations

from sqlalchemy import select

from marketplace.catalog.models import Listing
from marketplace.extensions import db
from marketplace.orders import services
from tests.orders.conftest import make_listing
from tests.orders.helpers import D, available, part_of, place, user


def test_the_last_fractional_kilos_of_a_lot_can_be_ordered_and_returned_exactly(app, market):
    lot = make_listing(app, market.manager_a, "cacao-grano-seco", "12000", "10000")
    first = place(app, market, [(lot, "7922.961", "kg")])
    with app.app_context():
        assert available(lot) == D("4077.039")
    last = place(app, market, [(lot, "4077.039", "kg")])
    with app.app_context():
        assert available(lot) == 0
        services.decline(user(market.manager_a), part_of(first, market.coop_a), None)
        db.session.commit()
        assert available(lot) == D("7922.961")
        services.decline(user(market.manager_a), part_of(last, market.coop_a), None)
        db.session.commit()
        listing = db.session.scalar(select(Listing).where(Listing.id == lot))
        assert (listing.available_kg, listing.quantity_kg) == (D("12000"), D("12000"))
