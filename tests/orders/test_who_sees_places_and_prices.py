"""Who may learn which places and prices: quotes are scoped to the caller's own places (any
other id is "not found", without its name), carriers see listings only through their
shipments, pending buyers browse without quoting or filling a cart, and cooperatives see a
demand's target price, never the buyer's maximum."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from marketplace.accounts import services as accounts
from marketplace.accounts.models import Buyer
from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import Listing
from marketplace.extensions import db
from marketplace.orders import services, shipping
from marketplace.orders.models import CartItem, Order
from tests.conftest import PASSWORD, Person, login
from tests.matching.conftest import post_demand
from tests.orders.conftest import TODAY, api_token
from tests.orders.helpers import D, place, user

QUOTES = "/api/v1/logistics/quotes"


def _point(app, listing_id):
    with app.app_context():
        return db.session.get(Listing, listing_id).collection_point_id


def _site(app, buyer_id):
    with app.app_context():
        site = db.session.get(Buyer, buyer_id).delivery_sites[0]
        return site.id, site.name


def _body(point_id, site_id):
    return {"collection_point_id": point_id, "delivery_site_id": site_id, "quantity_kg": "500"}


def test_a_cooperative_quotes_only_to_sites_it_serves_and_never_learns_another_sites_name(app, client, market):
    site_id, site_name = _site(app, market.buyer_id)
    coop_a = api_token(app, market.manager_a)
    body = _body(_point(app, market.listing_a), site_id)
    refused = client.post(QUOTES, json=body, headers=coop_a)
    assert refused.status_code == 404
    assert site_name not in refused.get_data(as_text=True)
    # The same answer as an id that does not exist: existence does not leak.
    missing = client.post(QUOTES, json={**body, "delivery_site_id": 999999}, headers=coop_a)
    assert missing.status_code == 404 and missing.get_json()["message"] == refused.get_json()["message"]
    # Once it serves an order to that site, it may quote there.
    place(app, market, [(market.listing_a, "100", "kg")])
    allowed = client.post(QUOTES, json=body, headers=coop_a)
    assert allowed.status_code == 200, allowed.get_json()
    # Cooperative B has no order there: still not found.
    coop_b = api_token(app, market.manager_b)
    assert client.post(QUOTES, json=_body(_point(app, market.listing_b), site_id), headers=coop_b).status_code == 404


def test_a_pending_buyers_site_cannot_be_located_by_a_cooperative(app, client, market, factory):
    pending_id, _person = factory.buyer(status="pending", name="Planta Pendiente S.A.S.")
    site_id, site_name = _site(app, pending_id)
    answer = client.post(QUOTES, json=_body(_point(app, market.listing_a), site_id),
                         headers=api_token(app, market.manager_a))
    assert answer.status_code == 404
    assert site_name not in answer.get_data(as_text=True)


def test_a_cooperative_served_through_a_demand_may_quote_to_its_site(app, client, market):
    site_id, _name = _site(app, market.buyer_id)
    coop_a = api_token(app, market.manager_a)
    body = _body(_point(app, market.listing_a), site_id)
    assert client.post(QUOTES, json=body, headers=coop_a).status_code == 404
    post_demand(app, market)  # cacao at the buyer's site: it concerns cooperative A's live cacao listing
    assert client.post(QUOTES, json=body, headers=coop_a).status_code == 200


def test_a_buyer_quotes_only_from_points_behind_listings_and_to_its_own_sites(app, client, market, factory):
    buyer = api_token(app, market.buyer)
    site_id, _name = _site(app, market.buyer_id)
    assert client.post(QUOTES, json=_body(_point(app, market.listing_a), site_id), headers=buyer).status_code == 200
    with app.app_context():
        hidden = catalog_services.add_collection_point(user(market.manager_a).organisation, "Bodega Secreta",
                                                       D("1.80"), D("-78.76"), "52835")
        db.session.commit()
        hidden_id = hidden.id
    refused = client.post(QUOTES, json=_body(hidden_id, site_id), headers=buyer)
    assert refused.status_code == 404
    assert "Bodega Secreta" not in refused.get_data(as_text=True)
    other_id, _other = factory.buyer(name="Otra Compradora S.A.S.")
    other_site, other_name = _site(app, other_id)
    answer = client.post(QUOTES, json=_body(_point(app, market.listing_a), other_site), headers=buyer)
    assert answer.status_code == 404 and other_name not in answer.get_data(as_text=True)


def test_a_cooperative_cannot_quote_from_another_cooperatives_point_and_staff_quote_anything(
        app, client, market, factory):
    site_id, _name = _site(app, market.buyer_id)
    place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "100", "kg")])
    coop_b = api_token(app, market.manager_b)
    assert client.post(QUOTES, json=_body(_point(app, market.listing_a), site_id), headers=coop_b).status_code == 404
    assert client.post(QUOTES, json=_body(_point(app, market.listing_b), site_id), headers=coop_b).status_code == 200
    staff = api_token(app, factory.staff())
    assert client.post(QUOTES, json=_body(_point(app, market.listing_a), site_id), headers=staff).status_code == 200


def test_a_pending_buyer_browses_but_neither_quotes_nor_fills_a_cart(app, client, market, factory):
    pending_id, pending = factory.buyer(status="pending", name="Compradora Nueva S.A.S.")
    site_id, _name = _site(app, pending_id)
    token = api_token(app, pending)
    answer = client.post(QUOTES, json=_body(_point(app, market.listing_a), site_id), headers=token)
    assert answer.status_code == 403
    assert "verificada" in answer.get_json()["message"]
    order_quote = client.post("/api/v1/orders/quote", headers=token, json={
        "lines": [{"listing_id": market.listing_a, "quantity": "100", "unit": "kg"}], "delivery_site_id": site_id,
        "window_start": (TODAY + timedelta(days=2)).isoformat(),
        "window_end": (TODAY + timedelta(days=9)).isoformat(), "payment_method": "invoice"})
    assert order_quote.status_code == 403
    assert order_quote.headers["Content-Type"].startswith("application/problem+json") or order_quote.is_json
    assert "verificación" in order_quote.get_json()["message"]
    login(client, pending)
    assert client.get("/buscar").status_code == 200  # browsing stays open
    added = client.post(f"/pedido/agregar/{market.listing_a}", data={"quantity": "100", "unit": "kg"},
                        follow_redirects=True)
    assert "verificada para cotizar" in added.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CartItem)) == 0


def _carrier(app, factory) -> Person:
    admin = factory.admin()
    with app.app_context():
        org, person = accounts.create_carrier(
            user(admin), "Transportes del Pacífico", None, "52835",
            accounts.UserData("Conductor Uno", PASSWORD, phone="+573209998877"))
        person.must_change_password = False
        db.session.commit()
        return Person(person.id, person.login_name, PASSWORD, org.id)


def test_carriers_see_listings_only_through_the_shipments_they_drive(app, client, market, factory):
    carrier = _carrier(app, factory)
    token = api_token(app, carrier)
    api = client.get("/api/v1/listings", headers=token)
    assert api.status_code == 403 and "envíos" in api.get_json()["message"]
    login(client, carrier)
    search = client.get("/buscar")
    assert search.status_code == 403
    assert "a través de los envíos" in search.get_data(as_text=True)
    assert client.get(f"/ofertas/{market.listing_a}").status_code == 404
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    with app.app_context():
        part = db.session.get(Order, order_id).parts[0]
        services.accept(user(market.manager_a), part)
        shipping.create_shipment(user(market.manager_a), shipping.ShipmentData(
            [part.id], TODAY + timedelta(days=1), TODAY + timedelta(days=3), carrier_id=carrier.organisation_id))
        db.session.commit()
    assert client.get(f"/ofertas/{market.listing_a}").status_code == 200
    assert client.get(f"/ofertas/{market.listing_b}").status_code == 404


def test_cooperatives_see_the_target_price_never_the_maximum(app, client, market):
    demand_id = post_demand(app, market, target_price_per_kg=D("9100"), max_price_per_kg=D("12345"))
    coop = api_token(app, market.manager_a)
    seen = client.get(f"/api/v1/demands/{demand_id}", headers=coop).get_json()
    assert seen["max_price_per_kg"] is None and seen["target_price_per_kg"] is not None
    listed = client.get("/api/v1/demands", headers=coop).get_json()["items"]
    assert [d["max_price_per_kg"] for d in listed if d["id"] == demand_id] == [None]
    login(client, market.manager_a)
    page = client.get(f"/solicitudes/{demand_id}").get_data(as_text=True)
    assert "9.100" in page and "12.345" not in page
    open_page = client.get("/cotizar")
    assert open_page.status_code == 200 and "12.345" not in open_page.get_data(as_text=True)
    # The buyer still sees its maximum.
    buyer = api_token(app, market.buyer)
    assert D(client.get(f"/api/v1/demands/{demand_id}", headers=buyer).get_json()["max_price_per_kg"]) == D("12345")
    other = app.test_client()
    login(other, market.buyer)
    assert "12.345" in other.get(f"/solicitudes/{demand_id}").get_data(as_text=True)
