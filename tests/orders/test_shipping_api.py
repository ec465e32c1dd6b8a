"""The logistics and shipments API: quotes for what a user may see, shipments created and
costed by those concerned, and 4xx (never 500) for anything else."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from marketplace.catalog.models import Listing
from marketplace.extensions import db
from marketplace.orders import services
from marketplace.orders.models import Order
from tests.orders.conftest import TODAY, api_token
from tests.orders.helpers import place, user


def _point(app, listing_id):
    with app.app_context():
        return db.session.get(Listing, listing_id).collection_point_id


def test_quotes_for_own_sites_and_points_only(app, client, market, login_as):
    buyer = api_token(app, market.buyer)
    body = {"collection_point_id": _point(app, market.listing_a), "delivery_site_id": market.site_id,
            "quantity_kg": "1500"}
    answer = client.post("/api/v1/logistics/quotes", json=body, headers=buyer)
    assert answer.status_code == 200, answer.get_json()
    quote = answer.get_json()
    assert quote["legs"][-1]["kind"] == "road"
    assert Decimal(quote["total_cop"]) == sum(Decimal(leg["total_cop"]) for leg in quote["legs"])
    assert Decimal(quote["per_kg_cop"]) == (Decimal(quote["total_cop"]) / 1500).quantize(Decimal("0.01"))
    coop_b = api_token(app, market.manager_b)
    assert client.post("/api/v1/logistics/quotes", json=body, headers=coop_b).status_code == 404
    coop_a = api_token(app, market.manager_a)
    # A cooperative quotes to a buyer's site only once it serves an order or demand there.
    assert client.post("/api/v1/logistics/quotes", json=body, headers=coop_a).status_code == 404
    place(app, market, [(market.listing_a, "100", "kg")])
    assert client.post("/api/v1/logistics/quotes", json=body, headers=coop_a).status_code == 200
    for bad in ({**body, "quantity_kg": "0"}, {**body, "quantity_kg": "-4"}, {**body, "quantity_kg": 12},
                {**body, "delivery_site_id": 999999}, {"collection_point_id": "x"}):
        assert client.post("/api/v1/logistics/quotes", json=bad, headers=buyer).status_code in (404, 422)
    modes = client.get("/api/v1/logistics/modes", headers=buyer).get_json()
    assert {m["code"] for m in modes} >= {"mule", "motorbike", "small_truck", "truck_c2", "river_boat"}


def test_a_cooperative_ships_and_records_costs_through_the_api(app, client, market):
    order_id = place(app, market, [(market.listing_a, "200", "kg")])
    with app.app_context():
        part = db.session.get(Order, order_id).parts[0]
        services.accept(user(market.manager_a), part)
        db.session.commit()
        part_id = part.id
    coop = api_token(app, market.manager_a)
    dates = {"planned_pickup": (TODAY + timedelta(days=1)).isoformat(),
             "planned_delivery": (TODAY + timedelta(days=2)).isoformat()}
    created = client.post("/api/v1/shipments", json={"part_ids": [part_id], **dates}, headers=coop)
    assert created.status_code == 201, created.get_json()
    shipment = created.get_json()
    again = client.post("/api/v1/shipments", json={"part_ids": [part_id], **dates}, headers=coop)
    assert again.status_code == 409
    other = api_token(app, market.manager_b)
    assert client.post("/api/v1/shipments", json={"part_ids": [part_id], **dates}, headers=other).status_code == 404
    legs = [{"leg_id": leg["id"], "actual_cop": "250000"} for leg in shipment["legs"]]
    url = f"/api/v1/shipments/{shipment['id']}/costs"
    assert client.post(url, json={"legs": legs}, headers=other).status_code == 404
    assert client.post(url, json={"legs": [{**legs[0], "actual_cop": "-1"}]}, headers=coop).status_code == 422
    assert client.post(url, json={"legs": [{"leg_id": 999999, "actual_cop": "1"}]}, headers=coop).status_code == 422
    recorded = client.post(url, json={"legs": legs}, headers=coop)
    assert recorded.status_code == 200
    assert recorded.get_json()["actual_cop"] == f"{250000 * len(legs)}.00"
    buyer = api_token(app, market.buyer)
    assert client.get(f"/api/v1/shipments/{shipment['id']}", headers=buyer).status_code == 404
    assert client.get("/api/v1/shipments", headers=buyer).get_json() == []
    assert client.post(f"/api/v1/shipments/{shipment['id']}/dispatch", headers=coop).status_code == 409  # not ready
