"""Fixtures for orders: a market with two cooperatives' listings and a buyer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.catalog import services as catalog_services
from marketplace.catalog.catalogue import seed_catalogue
from marketplace.catalog.models import Product
from marketplace.core.models import bogota_date
from marketplace.extensions import db
from tests.conftest import Person, login

TODAY = bogota_date()


@dataclass
class Market:
    buyer_id: int
    buyer: Person
    site_id: int
    coop_a: int
    manager_a: Person
    coop_b: int
    manager_b: Person
    listing_a: int  # cacao, 1,000 kg at 10,000 COP/kg, Tumaco
    listing_b: int  # cacao, 500 kg at 11,000 COP/kg, San Vicente del Caguán
    listing_c: int  # café, 300 kg, cooperative A


def make_listing(app, person: Person, slug: str, quantity_kg: str, price_per_kg: str, *, unit: str = "kg",
                 unit_kg: str | None = None, min_order: str | None = None, municipality: str | None = None) -> int:
    with app.app_context():
        actor = db.session.get(User, person.user_id)
        product = db.session.scalar(select(Product).where(Product.slug == slug))
        grade = product.grades[0]
        coop = actor.organisation
        point = catalog_services.add_collection_point(coop, f"Acopio {slug}", None, None,
                                                      municipality or coop.municipality_code)
        weight = Decimal(unit_kg) if unit_kg else Decimal("1")
        listing = catalog_services.create_listing(actor, catalog_services.ListingData(
            product_id=product.id, grade_id=grade.id, quantity=Decimal(quantity_kg) / weight, unit=unit,
            unit_kg=Decimal(unit_kg) if unit_kg else None, price_per_unit=Decimal(price_per_kg) * weight,
            harvest_date=TODAY, available_from=TODAY, available_until=TODAY + timedelta(days=30),
            collection_point_id=point.id, confirm_price=True,
            min_order=Decimal(min_order) / weight if min_order else None,
        ))
        db.session.commit()
        return listing.id


@pytest.fixture
def market(app, factory) -> Market:
    with app.app_context():
        seed_catalogue()
        db.session.commit()
    coop_a, manager_a = factory.cooperative(name="Asociación Cacaotera de Tumaco", municipality_code="52835")
    coop_b, manager_b = factory.cooperative(name="Cooperativa del Caguán", municipality_code="18753")
    buyer_id, buyer = factory.buyer(name="Chocolates Andinos S.A.S.")
    with app.app_context():
        from marketplace.accounts.models import Buyer

        site_id = db.session.get(Buyer, buyer_id).delivery_sites[0].id
    return Market(
        buyer_id=buyer_id, buyer=buyer, site_id=site_id, coop_a=coop_a, manager_a=manager_a, coop_b=coop_b,
        manager_b=manager_b,
        listing_a=make_listing(app, manager_a, "cacao-grano-seco", "1000", "10000"),
        listing_b=make_listing(app, manager_b, "cacao-grano-seco", "500", "11000"),
        listing_c=make_listing(app, manager_a, "cafe-pergamino-seco", "300", "15000"),
    )


def api_token(app, person: Person) -> dict:
    client = app.test_client()
    login(client, person)
    page = client.post("/cuenta/tokens", data={"token-name": "ERP", "token-password": person.password})
    token = re.search(r'id="new-token">([^<]+)<', page.get_data(as_text=True)).group(1)
    return {"Authorization": f"Bearer {token}"}


def order_body(market: Market, lines: list[tuple[int, str, str]], **changes) -> dict:
    body = {"lines": [{"listing_id": lid, "quantity": q, "unit": u} for lid, q, u in lines],
            "delivery_site_id": market.site_id, "window_start": (TODAY + timedelta(days=2)).isoformat(),
            "window_end": (TODAY + timedelta(days=9)).isoformat(), "payment_method": "invoice"}
    body.update(changes)
    return body
