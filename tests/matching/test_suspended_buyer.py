"""A suspended buyer's open demands are on hold: cooperatives no longer see them among the
demands to answer, and an answer to one is refused with the reason."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marketplace.accounts import services as accounts
from marketplace.accounts.models import Organisation, OrgStatus, User
from marketplace.core.errors import Conflict
from marketplace.extensions import db
from marketplace.matching import services
from tests.matching.conftest import START, D, offer, post_demand, user


def test_a_suspended_buyers_demand_cannot_be_answered(app, market, factory):
    demand_id = post_demand(app, market)
    offer(app, market.manager_a, demand_id, market.listing_a, "300", "10000")
    factory.admin()
    with app.app_context():
        assert demand_id in {d.id for d in services.open_demands_for(db.session.get(Organisation, market.coop_b))}
        admin = db.session.scalar(select(User).where(User.email == "root-admin@mercadorural.co"))
        accounts.set_organisation_status(admin, db.session.get(Organisation, market.buyer_id), OrgStatus.SUSPENDED,
                                         "Pagos devueltos")
        db.session.commit()
        coop_b = db.session.get(Organisation, market.coop_b)
        assert demand_id not in {d.id for d in services.open_demands_for(coop_b)}
        with pytest.raises(Conflict) as refused:
            services.make_offer(user(market.manager_b), db.session.get(services.Demand, demand_id), services.OfferData(
                listing_id=market.listing_b, quantity=D("200"), unit="kg", price_per_kg=D("11000"),
                ready_date=START))
        assert "Chocolates Andinos S.A.S. está suspendida" in str(refused.value.message)
