"""Placing an order through the API splits it per cooperative and takes the stock."""

from decimal import Decimal

from marketplace.catalog.models import Listing
from marketplace.extensions import db
from tests.orders.conftest import api_token, order_body


def test_an_order_is_split_per_cooperative_and_takes_stock(app, client, market):
    headers = api_token(app, market.buyer)
    body = order_body(market, [(market.listing_a, "8", "arroba"), (market.listing_b, "200", "kg")])
    response = client.post("/api/v1/orders", json=body, headers={**headers, "Idempotency-Key": "k-1"})
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert len(order["parts"]) == 2
    assert Decimal(order["goods_total"]) == Decimal("100") * 10000 + 200 * 11000
    with app.app_context():
        assert db.session.get(Listing, market.listing_a).available_kg == Decimal("900")
        assert db.session.get(Listing, market.listing_b).available_kg == Decimal("300")
    again = client.post("/api/v1/orders", json=body, headers={**headers, "Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.get_json()["id"] == order["id"]
    other = order_body(market, [(market.listing_a, "1", "kg")])
    assert client.post("/api/v1/orders", json=other, headers={**headers, "Idempotency-Key": "k-1"}).status_code == 409
