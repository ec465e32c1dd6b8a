"""Sale facts and monthly rollups follow every change of an order part, and a rebuild from
the raw rows gives the same figures."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.insights import rollups
from marketplace.insights.models import PriceMonth, SaleFact, SalesMonth
from marketplace.orders import services
from marketplace.orders.models import OrderPart
from tests.orders.conftest import market  # noqa: F401  (fixture)
from tests.orders.helpers import place, user

D = Decimal


def _snapshot():
    sales = sorted((r.month, r.product_id, r.municipality_code, r.cooperative_id, r.buyer_id, r.kg, r.cop,
                    r.logistics_cop, r.lines, r.parts) for r in db.session.scalars(select(SalesMonth)))
    prices = sorted((r.month, r.product_id, r.municipality_code, r.price_per_kg, r.lines, r.kg)
                    for r in db.session.scalars(select(PriceMonth)))
    facts = sorted((f.line_id, f.kg, f.cop, f.logistics_cop) for f in db.session.scalars(select(SaleFact)))
    return sales, prices, facts


def test_rollups_follow_accept_delivery_and_decline_and_match_a_rebuild(app, market):  # noqa: F811
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")])
    with app.app_context():
        rollups.refresh()
        db.session.commit()
        assert rollups.count_facts() == 0  # placed is not yet a sale
        parts = {p.cooperative_id: p for p in db.session.scalars(select(OrderPart).where(OrderPart.order_id == order_id))}
        services.accept(user(market.manager_a), parts[market.coop_a])
        services.accept(user(market.manager_b), parts[market.coop_b])
        db.session.commit()
        rollups.refresh()
        db.session.commit()
        [row_a] = db.session.scalars(select(SalesMonth).where(SalesMonth.cooperative_id == market.coop_a)).all()
        assert (row_a.kg, row_a.cop, row_a.lines, row_a.parts) == (D("100"), D("1000000"), 1, 1)
        services.cancel(user(market.buyer), parts[market.coop_b], "Ya no lo necesitamos")
        db.session.commit()
        rollups.refresh()
        db.session.commit()
        assert db.session.scalars(select(SalesMonth).where(SalesMonth.cooperative_id == market.coop_b)).all() == []
        incremental = _snapshot()
        rollups.rebuild()
        db.session.commit()
        assert _snapshot() == incremental
