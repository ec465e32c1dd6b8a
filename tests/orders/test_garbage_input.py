"""Every page of the application, fed garbage by each kind of user, answers with a message
or a refusal, never a server error."""

from __future__ import annotations

from datetime import timedelta

import pytest
from werkzeug.routing import IntegerConverter

from marketplace.extensions import db
from marketplace.orders import services, shipping
from marketplace.orders.models import Order
from tests.conftest import login
from tests.orders.conftest import TODAY
from tests.orders.helpers import place, user

GARBAGE = {
    "quantity": "abc", "unit": "zz", "price": "-1", "parts": ["x", "99999999999", "-3"],
    "planned_pickup": "2020-13-45", "planned_delivery": "mañana", "actual_pickup": "0000-00-00",
    "actual_delivery": "2026-02-30", "reason": "x" * 5000, "reference": "", "bank_reference": "x" * 300,
    "outcome": "zzz", "note": "", "point": "999999999999", "site": "-1", "road_km": "NaN", "terrain": "lava",
    "kind-0": "air", "mode-0": "rocket", "km-0": "1e400", "delivery_site": "abc", "window_start": "ayer",
    "window_end": "", "payment_method": "bitcoin", "action": "place", "logistics_borne": "-5", "department": "99",
    "depot": "<script>alert(1)</script>", "mode": "x", "day": "2026-02-30", "carrier": "1" * 30,
    "carrier_name": "y" * 500, "name": "", "nit": "123", "municipality": "Narnia", "contact": "", "phone": "12",
    "email": "no-at", "password": "1", "qty-1": "1,2,3", "unit-1": "", "received-1": "-1", "quality-1": "maybe",
    "reason-1": "", "actual-1": "-9", "small_truck-fixed_cop": "-1", "small_truck-per_km_cop": "abc",
    "small_truck-capacity_kg": "0", "product": "x", "min_grade": "-1", "listing": "abc", "ready_date": "ayer",
    "target_price": "1e9", "max_price": "NaN", "min_lot": "-4", "pdet_share": "150", "women_weight": "abc",
    "certification": "falsa", "cert_share": "50", "departments": ["99", "<x>"],
}


@pytest.fixture
def busy_market(app, market):
    """An order of two parts, one in a shipment, so the ids in URLs exist."""
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")])
    with app.app_context():
        order = db.session.get(Order, order_id)
        part = next(p for p in order.parts if p.cooperative_id == market.coop_a)
        services.accept(user(market.manager_a), part)
        shipment = shipping.create_shipment(user(market.manager_a), shipping.ShipmentData(
            [part.id], TODAY, TODAY + timedelta(days=1)))
        from marketplace.matching import services as matching
        from tests.matching.conftest import demand_data

        demand = matching.create_demand(user(market.buyer), demand_data(market))
        matching.propose(user(market.buyer), [demand])
        db.session.commit()
        return {"demand_id": demand.id, "proposal_id": 1, "offer_id": 1, "order_id": order_id, "part_id": part.id, "shipment_id": shipment.id, "listing_id": market.listing_a,
                "item_id": 1, "dispute_id": 1, "plan_id": 1, "product_id": 1, "org_id": market.coop_a,
                "site_id": market.site_id}


def _url(rule, ids):
    url = rule.rule
    for name, converter in rule._converters.items():
        value = ids.get(name) or ("1" if isinstance(converter, IntegerConverter) else "x")
        url = url.replace(f"<{'int:' if isinstance(converter, IntegerConverter) else ''}{name}>", str(value))
        url = url.replace(f"<{name}>", str(value))
    return url


@pytest.mark.parametrize("who", ["buyer", "coop", "admin"])
def test_garbage_posts_never_cause_a_server_error(app, market, busy_market, factory, who):
    client = app.test_client()
    person = {"buyer": market.buyer, "coop": market.manager_a, "admin": None}[who] or factory.admin()
    login(client, person)
    skipped = {"/salir", "/idioma", "/webhooks/stripe"}
    checked, statuses = 0, []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.rule.startswith("/api/") or rule.rule in skipped:
            continue
        for action in ("accept", "ship", "settle", "cancel", "zz") if "<action>" in rule.rule else (None,):
            ids = dict(busy_market, action=action) if action else busy_market
            response = client.post(_url(rule, ids), data=GARBAGE)
            assert response.status_code < 500, (rule.rule, action, response.status_code)
            statuses.append(response.status_code)
            checked += 1
    assert checked > 30
    # The forms were really read (a CSRF refusal would be a 400 for all of them).
    assert any(status not in (400, 403) for status in statuses), statuses


@pytest.mark.parametrize("who", ["buyer", "coop", "admin"])
def test_garbage_queries_never_cause_a_server_error(app, market, busy_market, factory, who):
    client = app.test_client()
    person = {"buyer": market.buyer, "coop": market.manager_a, "admin": None}[who] or factory.admin()
    login(client, person)
    query = "?estado=zzz&desde=2026-99-99&hasta=ayer&page=-1&producto=abc&departamento=%00&q=%27%22<"
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/api/", "/static", "/media")):
            continue
        response = client.get(_url(rule, busy_market) + query)
        assert response.status_code < 500, (rule.rule, response.status_code)
