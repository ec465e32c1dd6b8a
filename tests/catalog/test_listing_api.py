"""The listings API: cooperatives manage their own, buyers search, nobody else writes."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.catalog.catalogue import seed_catalogue
from marketplace.catalog.models import Listing, Product
from marketplace.core.models import bogota_date
from marketplace.extensions import db
from tests.conftest import login

TODAY = bogota_date()


def _token(app, person) -> dict:
    client = app.test_client()
    login(client, person)
    page = client.post("/cuenta/tokens", data={"token-name": "ERP", "token-password": person.password})
    token = re.search(r'id="new-token">([^<]+)<', page.get_data(as_text=True)).group(1)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def cacao(app):
    with app.app_context():
        seed_catalogue()
        db.session.commit()
        product = db.session.scalar(select(Product).where(Product.slug == "cacao-grano-seco"))
        return product.id, product.grades[0].id


def _body(cacao, **changes):
    body = {"product_id": cacao[0], "grade_id": cacao[1], "quantity": "2", "unit": "tonelada",
            "price_per_unit": "12000000", "harvest_date": TODAY.isoformat(), "available_from": TODAY.isoformat(),
            "available_until": (TODAY + timedelta(days=20)).isoformat(),
            "new_collection_point": {"name": "Centro de acopio El Charco"}, "certifications": ["comercio_justo"]}
    body.update(changes)
    return body


def test_catalogue_is_public(client, cacao):
    products = client.get("/api/v1/products").get_json()
    assert len(products) >= 20
    cacao_product = next(p for p in products if p["id"] == cacao[0])
    assert cacao_product["grades"][0]["id"] == cacao[1] and "arroba" in cacao_product["usual_units"]
    units = {u["code"]: u["kg"] for u in client.get("/api/v1/units").get_json()}
    assert units["arroba"] == "12.5" and units["bulto"] is None


def test_a_cooperative_creates_changes_and_withdraws_through_the_api(app, factory, cacao):
    _coop, manager = factory.cooperative()
    headers = _token(app, manager)
    client = app.test_client()
    created = client.post("/api/v1/listings", json=_body(cacao), headers=headers)
    assert created.status_code == 201, created.get_json()
    listing = created.get_json()
    assert (listing["quantity_kg"], listing["price_per_kg"]) == ("2000.000", "12000.00")
    changed = client.patch(f"/api/v1/listings/{listing['id']}", json={"price_per_unit": "13000000"}, headers=headers)
    assert changed.status_code == 200 and changed.get_json()["price_per_kg"] == "13000.00"
    mine = client.get("/api/v1/listings", headers=headers).get_json()
    assert [item["id"] for item in mine["items"]] == [listing["id"]]
    paused = client.put(f"/api/v1/listings/{listing['id']}/status", json={"status": "withdrawn"}, headers=headers)
    assert paused.status_code == 200 and paused.get_json()["status"] == "withdrawn"


@pytest.mark.parametrize(("changes", "status"), [
    ({"quantity": "0"}, 422), ({"quantity": "-1"}, 422), ({"quantity": 5}, 422), ({"quantity": "1e3"}, 422),
    ({"unit": "bulto"}, 422), ({"price_per_unit": "NaN"}, 422),
    ({"available_until": (TODAY - timedelta(days=1)).isoformat()}, 422),
    ({"grade_id": 999999}, 422), ({"product_id": 999999}, 422), ({"certifications": ["inventada"]}, 422),
])
def test_bad_listings_are_refused_with_a_json_reason(app, factory, cacao, changes, status):
    _coop, manager = factory.cooperative()
    response = app.test_client().post("/api/v1/listings", json=_body(cacao, **changes), headers=_token(app, manager))
    assert response.status_code == status and response.is_json and response.get_json()["message"]
    with app.app_context():
        assert db.session.scalar(select(Listing.id)) is None


def test_others_cannot_write_and_buyers_search(app, factory, cacao):
    _coop, owner = factory.cooperative()
    _other_coop, other = factory.cooperative()
    _buyer, buyer = factory.buyer()
    owner_headers, other_headers, buyer_headers = _token(app, owner), _token(app, other), _token(app, buyer)
    client = app.test_client()
    listing_id = client.post("/api/v1/listings", json=_body(cacao), headers=owner_headers).get_json()["id"]
    assert client.patch(f"/api/v1/listings/{listing_id}", json={"price_per_unit": "1"}, headers=other_headers).status_code == 404
    assert client.get(f"/api/v1/listings/{listing_id}", headers=other_headers).status_code == 404
    assert client.put(f"/api/v1/listings/{listing_id}/status", json={"status": "paused"}, headers=buyer_headers).status_code == 404
    assert client.post("/api/v1/listings", json=_body(cacao), headers=buyer_headers).status_code == 403
    found = client.get(f"/api/v1/listings?product_id={cacao[0]}&department=52", headers=buyer_headers).get_json()
    assert [item["id"] for item in found["items"]] == [listing_id]
    assert found["items"][0]["pdet_subregion"] == "Pacífico y Frontera Nariñense"
    none = client.get(f"/api/v1/listings?product_id={cacao[0]}&department=05", headers=buyer_headers).get_json()
    assert none["total"] == 0
    with app.app_context():
        assert str(db.session.get(Listing, listing_id).price_per_kg) == "12000.00"  # untouched


def test_an_evening_listing_in_colombia_may_start_on_colombias_today(app, factory, cacao, monkeypatch):
    """At 23:30 in Bogotá it is already tomorrow in UTC: a listing available from the
    cooperative's today must still be accepted, and one from yesterday refused."""
    from datetime import UTC, datetime

    from marketplace.core import models as core_models

    _coop, manager = factory.cooperative()
    headers = _token(app, manager)
    evening = datetime(2026, 12, 8, 4, 30, tzinfo=UTC)  # 7 December, 23:30 in Bogotá
    monkeypatch.setattr(core_models, "utcnow", lambda: evening)
    day = "2026-12-07"
    client = app.test_client()
    body = _body(cacao, harvest_date=day, available_from=day, available_until="2026-12-27")
    created = client.post("/api/v1/listings", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    earlier = client.post("/api/v1/listings", json=_body(cacao, harvest_date=day, available_from="2026-12-06",
                                                         available_until="2026-12-27"), headers=headers)
    assert earlier.status_code == 422 and "pasado" in earlier.get_json()["message"]
