"""Fixtures for demands and matching: the orders market (two cacao cooperatives, a buyer in
Bogotá) and helpers to post demands and offers through the services."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from marketplace.accounts.models import User
from marketplace.extensions import db
from marketplace.matching import services
from tests.orders.conftest import TODAY, Market, api_token, make_listing, market  # noqa: F401

D = Decimal
START = TODAY + timedelta(days=3)
END = TODAY + timedelta(days=20)


def user(person) -> User:
    return db.session.get(User, person.user_id)


def product_id(slug: str) -> int:
    from sqlalchemy import select

    from marketplace.catalog.models import Product

    return db.session.scalar(select(Product.id).where(Product.slug == slug))


def demand_data(mkt: Market, **changes) -> services.DemandData:
    values = dict(product_id=product_id("cacao-grano-seco"), quantity=D("1200"), unit="kg",
                  delivery_site_id=mkt.site_id, window_start=START, window_end=END)
    values.update(changes)
    return services.DemandData(**values)


def post_demand(app, mkt: Market, **changes) -> int:
    with app.app_context():
        demand = services.create_demand(user(mkt.buyer), demand_data(mkt, **changes))
        db.session.commit()
        return demand.id


def offer(app, person, demand_id: int, listing_id: int, kg: str, price: str, ready=None) -> int:
    with app.app_context():
        made = services.make_offer(user(person), db.session.get(services.Demand, demand_id), services.OfferData(
            listing_id=listing_id, quantity=D(kg), unit="kg", price_per_kg=D(price), ready_date=ready or START))
        db.session.commit()
        return made.id
