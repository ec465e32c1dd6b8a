"""Demands, offers, proposals and accepting a proposal, through the services."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from marketplace.extensions import db
from marketplace.matching import services
from marketplace.matching.models import Demand, DemandStatus, Offer, OfferStatus
from marketplace.orders.models import Notification, Order
from tests.matching.conftest import offer, post_demand, user
from tests.orders.helpers import available

D = Decimal


def test_offers_and_listings_compete_and_acceptance_places_the_split_order(app, market):
    demand_id = post_demand(app, market)
    # Cooperative B offers below its listed price; A's listing stays at 10,000.
    offer_b = offer(app, market.manager_b, demand_id, market.listing_b, "500", "9000")
    with app.app_context():
        demand = db.session.get(Demand, demand_id)
        [proposal] = services.propose(user(market.buyer), [demand])
        db.session.commit()
        kg = {row["cooperative_id"]: D(row["kg"]) for row in proposal.allocations}
        assert kg == {market.coop_a: D("700"), market.coop_b: D("500")}
        priced = {row["supply"]: D(row["price_per_kg"]) for row in proposal.allocations}
        assert priced[f"o{offer_b}"] == D("9000")
        assert proposal.met_kg == D("1200")
        proposal_id = proposal.id
    with app.app_context():
        proposal = db.session.get(services.Proposal, proposal_id)
        accepted = services.accept(user(market.buyer), proposal, "invoice")
        db.session.commit()
        assert not accepted.reoptimised
        order = db.session.get(Order, accepted.order.id)
        assert {p.cooperative_id for p in order.parts} == {market.coop_a, market.coop_b}
        prices = {ln.listing_id: ln.price_per_kg for p in order.parts for ln in p.lines}
        assert prices == {market.listing_a: D("10000"), market.listing_b: D("9000")}
        assert available(market.listing_b) == D("0")
        assert available(market.listing_a) == D("300")
        demand = db.session.get(Demand, demand_id)
        assert demand.status == DemandStatus.ORDERED and demand.order_id == order.id
        assert db.session.get(Offer, offer_b).status == OfferStatus.CHOSEN
        kinds = set(db.session.scalars(select(Notification.kind)))
        assert kinds == {"offer_chosen"}
