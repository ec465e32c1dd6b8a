"""Quotes to a municipality, from points behind listings the buyer can see, and naming no place
the caller may not see (logistics/policy.py). The site-to-site scoping is proven in
tests/orders/test_who_sees_places_and_prices.py."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from marketplace.accounts.models import Buyer, User
from marketplace.catalog import services as catalog_services
from marketplace.catalog.models import CollectionPoint, Listing
from marketplace.core import geography
from marketplace.extensions import db
from marketplace.logistics import costing
from marketplace.logistics import services as logistics
from tests.orders.conftest import TODAY, api_token, market  # noqa: F401

QUOTES = "/api/v1/logistics/quotes"
D = Decimal


def _point(app, listing_id: int) -> tuple[int, str]:
    with app.app_context():
        point = db.session.get(Listing, listing_id).collection_point
        return point.id, point.name


def _to_town(point_id: int, code: str = "11001", kg: str = "500") -> dict:
    return {"collection_point_id": point_id, "municipality_code": code, "quantity_kg": kg}


def test_a_cooperative_quotes_from_its_own_point_to_any_municipality(app, client, market):  # noqa: F811
    point_id, point_name = _point(app, market.listing_a)
    coop_a = api_token(app, market.manager_a)
    answer = client.post(QUOTES, json=_to_town(point_id), headers=coop_a)
    assert answer.status_code == 200, answer.get_json()
    quote = answer.get_json()
    road = quote["legs"][-1]
    assert road["kind"] == "road" and road["from_label"] == point_name
    with app.app_context():
        town = geography.get_municipality("11001")
        point = db.session.get(CollectionPoint, point_id)
        assert road["to_label"] == town.label
        # The road distance of the same costing as a site without a staff-set distance.
        expected_km = costing.road_km(costing.great_circle_km(point.latitude, point.longitude,
                                                              town.latitude, town.longitude))
    assert D(road["km"]) == expected_km and road["terrain"] == "rolling"
    assert D(quote["total_cop"]) == sum(D(leg["total_cop"]) for leg in quote["legs"]) > 0
    # Another cooperative's point stays unknown, with the answer of an id that does not exist.
    coop_b = api_token(app, market.manager_b)
    refused = client.post(QUOTES, json=_to_town(point_id), headers=coop_b)
    assert refused.status_code == 404 and point_name not in refused.get_data(as_text=True)
    missing = client.post(QUOTES, json=_to_town(999999), headers=coop_b)
    assert missing.status_code == 404 and missing.get_json()["message"] == refused.get_json()["message"]
    # A code that is no municipality.
    unknown = client.post(QUOTES, json=_to_town(point_id, "99999"), headers=coop_a)
    assert unknown.status_code == 404 and "municipio" in unknown.get_json()["message"]


def test_exactly_one_destination_with_a_clear_message(app, client, market):  # noqa: F811
    point_id, _name = _point(app, market.listing_a)
    coop_a = api_token(app, market.manager_a)
    both = client.post(QUOTES, json={**_to_town(point_id), "delivery_site_id": market.site_id}, headers=coop_a)
    neither = client.post(QUOTES, json={"collection_point_id": point_id, "quantity_kg": "500"}, headers=coop_a)
    for answer in (both, neither):
        assert answer.status_code == 422
        assert "uno de los dos" in answer.get_data(as_text=True)
    for code in ("1100", "110011", "bogota", 11001):
        bad = client.post(QUOTES, json=_to_town(point_id, code), headers=coop_a)
        assert bad.status_code == 422, code
    assert "DIVIPOLA" in client.post(QUOTES, json=_to_town(point_id, "1100"), headers=coop_a).get_data(as_text=True)
    assert client.post(QUOTES, json=_to_town(point_id, kg="0"), headers=coop_a).status_code == 422


def test_buyers_quote_to_a_municipality_only_from_listed_points_and_only_when_verified(
        app, client, market, factory):  # noqa: F811
    point_id, _name = _point(app, market.listing_a)
    buyer = api_token(app, market.buyer)
    assert client.post(QUOTES, json=_to_town(point_id, "05001"), headers=buyer).status_code == 200
    with app.app_context():
        hidden = catalog_services.add_collection_point(
            db.session.get(User, market.manager_a.user_id).organisation, "Bodega Escondida", D("1.80"), D("-78.76"),
            "52835")
        db.session.commit()
        hidden_id = hidden.id
    refused = client.post(QUOTES, json=_to_town(hidden_id), headers=buyer)
    assert refused.status_code == 404 and "Bodega Escondida" not in refused.get_data(as_text=True)
    _pending_id, pending = factory.buyer(status="pending", name="Compradora en Trámite S.A.S.")
    assert client.post(QUOTES, json=_to_town(point_id), headers=api_token(app, pending)).status_code == 403
    staff = api_token(app, factory.staff())
    assert client.post(QUOTES, json=_to_town(hidden_id), headers=staff).status_code == 200


def test_a_buyer_cannot_quote_from_the_point_of_a_withdrawn_or_expired_listing(app, client, market):  # noqa: F811
    point_id, point_name = _point(app, market.listing_a)
    buyer = api_token(app, market.buyer)
    to_site = {"collection_point_id": point_id, "delivery_site_id": market.site_id, "quantity_kg": "500"}
    assert client.post(QUOTES, json=to_site, headers=buyer).status_code == 200
    with app.app_context():
        catalog_services.change_status(db.session.get(User, market.manager_a.user_id),
                                       db.session.get(Listing, market.listing_a), "withdraw")
        db.session.commit()
    for body in (to_site, _to_town(point_id)):
        refused = client.post(QUOTES, json=body, headers=buyer)
        assert refused.status_code == 404 and point_name not in refused.get_data(as_text=True)
    # Expired: its last day has passed, though it was never withdrawn.
    point_b, _name_b = _point(app, market.listing_b)
    assert client.post(QUOTES, json={**to_site, "collection_point_id": point_b}, headers=buyer).status_code == 200
    with app.app_context():
        listing = db.session.get(Listing, market.listing_b)
        listing.available_from = listing.harvest_date = TODAY - timedelta(days=10)
        listing.available_until = TODAY - timedelta(days=1)
        db.session.commit()
    assert client.post(QUOTES, json={**to_site, "collection_point_id": point_b}, headers=buyer).status_code == 404


def test_only_the_cooperative_and_staff_read_its_first_mile_descriptions(app, client, market, factory):  # noqa: F811
    point_id, point_name = _point(app, market.listing_a)
    with app.app_context():
        manager = db.session.get(User, market.manager_a.user_id)
        logistics.set_access_legs(manager, db.session.get(CollectionPoint, point_id), [
            logistics.AccessLegData("trail", "mule", D("6"), "mountainous", "Finca de Don Ernesto, vereda El Secreto")])
        db.session.commit()
        site_name = db.session.get(Buyer, market.buyer_id).delivery_sites[0].name
    to_site = {"collection_point_id": point_id, "delivery_site_id": market.site_id, "quantity_kg": "500"}
    buyer = client.post(QUOTES, json=to_site, headers=api_token(app, market.buyer))
    assert buyer.status_code == 200
    text = buyer.get_data(as_text=True)
    assert "Don Ernesto" not in text and "El Secreto" not in text
    first, road = buyer.get_json()["legs"]
    assert (first["kind"], first["from_label"], first["to_label"]) == ("trail", point_name, "Camino de herradura")
    assert (road["from_label"], road["to_label"]) == ("Camino de herradura", site_name)
    to_town = client.post(QUOTES, json=_to_town(point_id), headers=api_token(app, market.buyer))
    assert to_town.status_code == 200 and "El Secreto" not in to_town.get_data(as_text=True)
    # The cooperative that wrote it, and staff, read it (and the cost is the same).
    for headers in (api_token(app, market.manager_a), api_token(app, factory.staff())):
        own = client.post(QUOTES, json=_to_town(point_id), headers=headers).get_json()
        assert own["legs"][0]["to_label"] == "Finca de Don Ernesto, vereda El Secreto"
        assert own["legs"][1]["from_label"] == "Finca de Don Ernesto, vereda El Secreto"
        assert own["total_cop"] == to_town.get_json()["total_cop"]
