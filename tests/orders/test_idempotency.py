"""An idempotent retry of POST /api/v1/orders is recognised by what it asks, not by how its
numbers are spelt: "100.000" kg is the same request as "100" kg."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from marketplace.catalog.models import Listing
from marketplace.extensions import db
from marketplace.orders.models import Order
from tests.orders.conftest import api_token, order_body


def _post(client, headers, market, quantity, key="retry-1"):
    body = order_body(market, [(market.listing_a, quantity, "kg"), (market.listing_b, "50", "kg")])
    return client.post("/api/v1/orders", json=body, headers={**headers, "Idempotency-Key": key})


def _orders_and_stock(app, market):
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Order)),
                db.session.scalar(select(Listing.available_kg).where(Listing.id == market.listing_a)))


@pytest.mark.parametrize("retry", ["100.000", "100.0", "0100", "100.000000"])
def test_the_same_quantity_spelt_otherwise_gets_the_same_order(app, client, market, retry):
    headers = api_token(app, market.buyer)
    first = _post(client, headers, market, "100")
    assert first.status_code == 201, first.get_json()
    again = _post(client, headers, market, retry)
    assert again.status_code in (200, 201), again.get_json()
    assert again.get_json()["id"] == first.get_json()["id"]
    assert _orders_and_stock(app, market) == (1, Decimal("900"))  # stock taken once


def test_a_different_quantity_with_the_same_key_is_refused(app, client, market):
    headers = api_token(app, market.buyer)
    assert _post(client, headers, market, "100.000").status_code == 201
    for other in ("100.001", "10", "1000"):
        refused = _post(client, headers, market, other)
        assert refused.status_code == 409, (other, refused.get_json())
        assert refused.mimetype == "application/json" and refused.get_json()["message"]
    assert _orders_and_stock(app, market) == (1, Decimal("900"))


def test_the_exact_same_request_gets_the_same_order(app, client, market):
    headers = api_token(app, market.buyer)
    first = _post(client, headers, market, "100.000")
    again = _post(client, headers, market, "100.000")
    assert first.status_code == 201 and again.status_code in (200, 201)
    assert again.get_json()["id"] == first.get_json()["id"]
    # Another key is another order.
    assert _post(client, headers, market, "100", key="retry-2").get_json()["id"] != first.get_json()["id"]
