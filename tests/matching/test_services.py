"""Demands, offers, proposals and accepting a proposal, through the services."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from marketplace.accounts.models import Cooperative
from marketplace.catalog.models import Grade, Product
from marketplace.core.errors import Conflict, DomainError, Forbidden, NotFound
from marketplace.core.models import AuditEvent
from marketplace.extensions import db
from marketplace.matching import services
from marketplace.matching.models import Demand, DemandStatus, Offer, OfferStatus, Proposal
from marketplace.messaging.models import Notice
from marketplace.orders import messages as order_messages
from marketplace.orders.models import Order
from tests.matching.conftest import (
    END,
    START,
    TODAY,
    demand_data,
    make_listing,
    offer,
    post_demand,
    user,
)
from tests.orders.helpers import available, place

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
        assert not accepted.changed
        order = db.session.get(Order, accepted.order.id)
        assert {p.cooperative_id for p in order.parts} == {market.coop_a, market.coop_b}
        prices = {ln.listing_id: ln.price_per_kg for p in order.parts for ln in p.lines}
        assert prices == {market.listing_a: D("10000"), market.listing_b: D("9000")}
        assert available(market.listing_b) == D("0")
        assert available(market.listing_a) == D("300")
        demand = db.session.get(Demand, demand_id)
        assert demand.status == DemandStatus.ORDERED and demand.order_id == order.id
        assert db.session.get(Offer, offer_b).status == OfferStatus.CHOSEN
        kinds = set(db.session.scalars(select(Notice.kind).where(Notice.kind.in_(order_messages.KINDS))))
        assert kinds == {"offer_chosen"}


# ------------------------------------------------------------------- helpers


def counts() -> dict[str, int]:
    """Rows that a refused request must not have written (the query flushes pending objects)."""
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Demand, Offer, Proposal, Order, AuditEvent)}


def refused_demand(app, market, actor=None, **changes) -> DomainError:
    """create_demand refuses the changed data and writes nothing."""
    with app.app_context():
        before = counts()
        with pytest.raises(DomainError) as error:
            services.create_demand(user(actor or market.buyer), demand_data(market, **changes))
        assert counts() == before
        return error.value


def refused_offer(app, person, demand_id, **changes) -> DomainError:
    values = dict(listing_id=None, quantity=D("100"), unit="kg", price_per_kg=D("9500"), ready_date=START)
    values.update(changes)
    with app.app_context():
        before = counts()
        with pytest.raises(DomainError) as error:
            services.make_offer(user(person), db.session.get(Demand, demand_id), services.OfferData(**values))
        assert counts() == before
        return error.value


def propose_one(app, market, demand_id: int) -> int:
    with app.app_context():
        [proposal] = services.propose(user(market.buyer), [db.session.get(Demand, demand_id)])
        db.session.commit()
        return proposal.id


def proposal(proposal_id: int) -> Proposal:
    return db.session.get(Proposal, proposal_id)


def kg_by_coop(rows: list[dict]) -> dict[int, Decimal]:
    out: dict[int, Decimal] = defaultdict(Decimal)
    for row in rows:
        out[row["cooperative_id"]] += D(row["kg"])
    return dict(out)


def kg_by_listing(rows: list[dict]) -> dict[int, Decimal]:
    out: dict[int, Decimal] = defaultdict(Decimal)
    for row in rows:
        out[row["listing_id"]] += D(row["kg"])
    return dict(out)


def order_lines(order_id: int) -> dict[int, tuple[Decimal, Decimal]]:
    """listing id -> (kg, price per kg) of an order as stored."""
    order = db.session.get(Order, order_id)
    return {ln.listing_id: (ln.quantity_kg, ln.price_per_kg) for p in order.parts for ln in p.lines}


def grade_of(slug: str) -> int:
    return db.session.scalar(select(Grade.id).join(Product).where(Product.slug == slug).limit(1))


def village_coop(app, factory, **overrides) -> tuple[int, int]:
    """A cacao cooperative near Bogotá (Fusagasugá: not PDET), 2,000 kg at 10,500 COP/kg, that is
    neither women- nor youth-led unless told: closer, so cheaper landed than A or B."""
    values = dict(name="Cacaoteros de Fusagasugá", municipality_code="25290", members_total=120,
                  members_women=10, members_youth=10)
    values.update(overrides)
    coop_id, manager = factory.cooperative(**values)
    return coop_id, make_listing(app, manager, "cacao-grano-seco", "2000", "10500")


def pref(attribute, share=None, weight=None) -> services.PreferenceData:
    return services.PreferenceData(attribute, None if share is None else D(share),
                                   None if weight is None else D(weight))


# ------------------------------------------------------------------- creating a demand


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quantity": D("0")}, "quantity"),
        ({"quantity": D("-5")}, "quantity"),
        ({"quantity": D("NaN")}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"unit": "bulto"}, "unit"),
        ({"window_end": START - timedelta(days=1)}, "window_end"),
        ({"window_start": TODAY - timedelta(days=2)}, "window_start"),
        ({"window_start": None}, "window_start"),
        ({"preferences": [pref("pdet", "0")]}, "preferences.0"),
        ({"preferences": [pref("pdet", "150")]}, "preferences.0"),
        ({"preferences": [pref("pdet", "-10")]}, "preferences.0"),
        ({"preferences": [pref("women_led", "30"), pref("organic", "20")]}, "preferences.1"),
        ({"preferences": [pref("cert:nope", "20")]}, "preferences.0"),
        ({"preferences": [pref("pdet", "20"), pref("pdet", None, "300")]}, "preferences.1"),
        ({"preferences": [pref("pdet")]}, "preferences.0"),
        ({"preferences": [pref("pdet", None, "-1")]}, "preferences.0"),
        ({"target_price_per_kg": D("12000"), "max_price_per_kg": D("11000")}, "target_price_per_kg"),
        ({"max_price_per_kg": D("0")}, "max_price_per_kg"),
        ({"min_lot_kg": D("1200.001")}, "min_lot_kg"),
        ({"quantity": D("1"), "unit": "tonelada", "min_lot_kg": D("1001")}, "min_lot_kg"),
        ({"min_lot_kg": D("0")}, "min_lot_kg"),
        ({"min_lot_kg": D("-1")}, "min_lot_kg"),
        ({"source_departments": ["00"]}, "source_departments"),  # no department 00
        ({"source_departments": ["60"]}, "source_departments"),
        ({"source_departments": ["52", "52835"]}, "source_departments"),
        ({"product_id": None}, "product_id"),
        ({"note": "x" * 1001}, "note"),
    ],
)
def test_bad_demand_input_changes_nothing_and_names_the_field(app, market, changes, field):
    error = refused_demand(app, market, **changes)
    assert type(error) is DomainError
    assert error.field == field


def test_another_buyers_delivery_site_is_refused(app, market, factory):
    other_id, _other = factory.buyer(name="Otra Empresa S.A.S.")
    with app.app_context():
        from marketplace.accounts.models import Buyer

        other_site = db.session.get(Buyer, other_id).delivery_sites[0].id
    error = refused_demand(app, market, delivery_site_id=other_site)
    assert type(error) is DomainError and error.field == "delivery_site"


def test_a_grade_of_another_product_is_refused(app, market):
    with app.app_context():
        coffee_grade = grade_of("cafe-pergamino-seco")
    error = refused_demand(app, market, min_grade_id=coffee_grade)
    assert type(error) is DomainError and error.field == "min_grade_id"


@pytest.mark.parametrize("status", ["pending", "suspended"])
def test_an_unverified_buyer_may_not_post_a_demand(app, market, factory, status):
    _buyer_id, person = factory.buyer(status=status)
    error = refused_demand(app, market, actor=person)
    assert isinstance(error, Forbidden)


def test_a_cooperative_may_not_post_a_demand(app, market):
    assert isinstance(refused_demand(app, market, actor=market.manager_a), Forbidden)


def test_a_good_demand_is_stored_in_kg_with_its_audit_event(app, market):
    with app.app_context():
        before = counts()
        demand = services.create_demand(user(market.buyer), demand_data(
            market, quantity=D("2"), unit="tonelada", min_lot_kg=D("300"), max_price_per_kg=D("13000.005"),
            preferences=[pref("pdet", "40"), pref("cert:organico", None, "250")], source_departments=["52", "18"]))
        db.session.commit()
        after = counts()
        assert after["Demand"] == before["Demand"] + 1 and after["AuditEvent"] == before["AuditEvent"] + 1
        assert demand.quantity_kg == D("2000") and demand.min_lot_kg == D("300")
        assert demand.max_price_per_kg == D("13000.01")
        assert demand.preferences == [{"attribute": "pdet", "min_share": "0.4000", "weight": None},
                                      {"attribute": "cert:organico", "min_share": None, "weight": "250.00"}]
        assert demand.source_departments == ["18", "52"]
        assert demand.status == DemandStatus.OPEN


def test_a_min_lot_that_rounds_to_zero_is_a_domain_error_not_a_broken_insert(app, market):
    # Stored to the gram: 0.0004 kg would be 0.000 and break ck_demand_min_lot_positive.
    error = refused_demand(app, market, min_lot_kg=D("0.0004"))
    assert type(error) is DomainError and error.field == "min_lot_kg"
    with app.app_context():
        demand = services.create_demand(user(market.buyer), demand_data(market, min_lot_kg=D("0.0005")))
        db.session.commit()
        assert db.session.get(Demand, demand.id).min_lot_kg == D("0.001")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"max_price_per_kg": D("0.004")}, "max_price_per_kg"),
        ({"target_price_per_kg": D("0.004")}, "target_price_per_kg"),
        ({"preferences": [pref("pdet", "0.004")]}, "preferences.0"),
        ({"preferences": [pref("pdet", None, "0.004")]}, "preferences.0"),
    ],
)
def test_a_price_share_or_weight_that_rounds_to_zero_is_refused(app, market, changes, field):
    # Each is stored rounded (centavos, hundredths of a percent): a positive value typed must
    # not become a stored zero.
    error = refused_demand(app, market, **changes)
    assert type(error) is DomainError and error.field == field


@pytest.mark.parametrize(("quantity", "unit"), [(D("1200.0001"), "kg"), (D("1.0000001"), "tonelada")])
def test_a_quantity_finer_than_stored_is_refused(app, market, quantity, unit):
    error = refused_demand(app, market, quantity=quantity, unit=unit)
    assert type(error) is DomainError and error.field == "quantity"


# ------------------------------------------------------------------- offers


def test_offering_more_than_the_listing_has_is_refused_and_writes_nothing(app, market):
    demand_id = post_demand(app, market)
    error = refused_offer(app, market.manager_b, demand_id, listing_id=market.listing_b, quantity=D("500.001"))
    assert type(error) is DomainError and error.field == "quantity"
    # 500 kg is exactly what B has.
    offer(app, market.manager_b, demand_id, market.listing_b, "500", "9500")


def test_offering_more_than_the_demand_asks_is_refused(app, market):
    demand_id = post_demand(app, market, quantity=D("300"))
    error = refused_offer(app, market.manager_a, demand_id, listing_id=market.listing_a, quantity=D("301"))
    assert type(error) is DomainError and error.field == "quantity"


@pytest.mark.parametrize(
    ("who", "listing", "field"),
    [
        ("manager_b", "listing_a", "listing_id"),  # another cooperative's listing
        ("manager_a", "listing_c", "listing_id"),  # café for a cacao demand
        ("manager_a", None, "listing_id"),
    ],
)
def test_offering_from_a_listing_that_is_not_the_cooperatives_or_not_the_product(app, market, who, listing, field):
    demand_id = post_demand(app, market)
    listing_id = getattr(market, listing) if listing else None
    error = refused_offer(app, getattr(market, who), demand_id, listing_id=listing_id)
    assert type(error) is DomainError and error.field == field


@pytest.mark.parametrize(
    ("ready", "field"),
    [(END + timedelta(days=1), "ready_date"), (TODAY - timedelta(days=2), "ready_date"), (None, "ready_date")],
)
def test_offer_ready_date_outside_the_window_is_refused(app, market, ready, field):
    demand_id = post_demand(app, market)
    error = refused_offer(app, market.manager_b, demand_id, listing_id=market.listing_b, ready_date=ready)
    assert type(error) is DomainError and error.field == field


@pytest.mark.parametrize(("price", "field"), [(D("0"), "price_per_kg"), (None, "price_per_kg"),
                                              (D("-1"), "price_per_kg"), (D("10000001"), "price_per_kg")])
def test_offer_price_must_be_positive_and_sane(app, market, price, field):
    demand_id = post_demand(app, market)
    error = refused_offer(app, market.manager_b, demand_id, listing_id=market.listing_b, price_per_kg=price)
    assert type(error) is DomainError and error.field == field


def test_an_offer_price_that_rounds_to_zero_is_refused(app, market):
    # 0.004 COP/kg is stored to the centavo: it must not become an offer at a price of zero.
    demand_id = post_demand(app, market)
    error = refused_offer(app, market.manager_b, demand_id, listing_id=market.listing_b, price_per_kg=D("0.004"))
    assert type(error) is DomainError and error.field == "price_per_kg"
    error = refused_offer(app, market.manager_b, demand_id, listing_id=market.listing_b, quantity=D("100.0001"))
    assert type(error) is DomainError and error.field == "quantity"


def test_no_offer_on_a_cancelled_demand(app, market):
    demand_id = post_demand(app, market)
    with app.app_context():
        services.cancel_demand(user(market.buyer), db.session.get(Demand, demand_id))
        db.session.commit()
    error = refused_offer(app, market.manager_b, demand_id, listing_id=market.listing_b)
    assert isinstance(error, Conflict)


def test_a_buyer_may_not_make_an_offer(app, market):
    demand_id = post_demand(app, market)
    error = refused_offer(app, market.buyer, demand_id, listing_id=market.listing_b)
    assert isinstance(error, Forbidden)


def test_offering_again_on_the_same_listing_updates_the_same_offer(app, market):
    demand_id = post_demand(app, market)
    first = offer(app, market.manager_b, demand_id, market.listing_b, "300", "9500")
    with app.app_context():
        services.withdraw_offer(user(market.manager_b), db.session.get(Offer, first))
        db.session.commit()
    again = offer(app, market.manager_b, demand_id, market.listing_b, "400", "9000")
    assert again == first
    with app.app_context():
        rows = list(db.session.scalars(select(Offer).where(Offer.demand_id == demand_id)))
        assert [(o.id, o.quantity_kg, o.price_per_kg, o.status) for o in rows] == [
            (first, D("400"), D("9000"), OfferStatus.OPEN)]
        saved = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "offer.saved")
                                        .order_by(AuditEvent.id)))
        assert len(saved) == 2
        assert saved[1].before["price_per_kg"] == "9500.00" and saved[1].before["status"] == "withdrawn"
        # The proposal sees the one offer at its new price, for its new kilos.
        [prop] = services.propose(user(market.buyer), [db.session.get(Demand, demand_id)])
        offered = [row for row in prop.allocations if row["offer_id"] == first]
        assert [(D(row["kg"]), D(row["price_per_kg"])) for row in offered] == [(D("400"), D("9000"))]


# ------------------------------------------------------------------- who sees a demand


def test_open_demands_are_listed_for_cooperatives_that_sell_the_product(app, market, factory):
    demand_id = post_demand(app, market)
    coffee_id, coffee_manager = factory.cooperative(name="Cafeteros del Cauca", municipality_code="19001")
    make_listing(app, coffee_manager, "cafe-pergamino-seco", "800", "16000")
    other_buyer_id, other_buyer = factory.buyer()
    with app.app_context():
        coop = db.session.get(Cooperative, market.coop_a)
        assert [d.id for d in services.open_demands_for(coop)] == [demand_id]
        assert [d.id for d in services.open_demands_for(db.session.get(Cooperative, coffee_id))] == []
        assert services.visible_demand(user(market.manager_a), demand_id).id == demand_id
        assert services.visible_demand(user(market.manager_b), demand_id).id == demand_id
        with pytest.raises(NotFound):
            services.visible_demand(user(coffee_manager), demand_id)
        with pytest.raises(NotFound):
            services.visible_demand(user(other_buyer), demand_id)
        with pytest.raises(NotFound):
            services.own_demand(user(other_buyer), demand_id)
        with pytest.raises(NotFound):
            services.own_demand(user(market.manager_a), demand_id)
        assert services.own_demand(user(market.buyer), demand_id).id == demand_id


def test_a_cooperative_that_offered_still_sees_the_demand_after_selling_out(app, market):
    demand_id = post_demand(app, market)
    offer(app, market.manager_b, demand_id, market.listing_b, "200", "9500")
    place(app, market, [(market.listing_b, "500", "kg")])
    with app.app_context():
        coop_b = db.session.get(Cooperative, market.coop_b)
        assert not services.concerns(coop_b, db.session.get(Demand, demand_id))
        assert services.open_demands_for(coop_b) == []
        assert services.visible_demand(user(market.manager_b), demand_id).id == demand_id


def test_source_departments_hide_the_demand_from_other_regions_and_the_optimiser_obeys(app, market):
    # Nariño only: A (Tumaco, 52) qualifies, B (San Vicente del Caguán, Caquetá 18) does not.
    demand_id = post_demand(app, market, source_departments=["52"])
    with app.app_context():
        coop_a, coop_b = db.session.get(Cooperative, market.coop_a), db.session.get(Cooperative, market.coop_b)
        assert [d.id for d in services.open_demands_for(coop_a)] == [demand_id]
        assert services.open_demands_for(coop_b) == []
        with pytest.raises(NotFound):
            services.visible_demand(user(market.manager_b), demand_id)
    error = refused_offer(app, market.manager_b, demand_id, listing_id=market.listing_b, price_per_kg=D("5000"))
    assert error.field == "listing_id"
    with app.app_context():
        [prop] = services.propose(user(market.buyer), [db.session.get(Demand, demand_id)])
        # 1,200 kg needs B's 500 kg as well, but B is outside Nariño: it is never taken.
        assert kg_by_coop(prop.allocations) == {market.coop_a: D("1000")}
        assert market.coop_b not in kg_by_coop(prop.greedy)
        assert prop.met_kg == D("1000") and prop.reasons == ["stock"]
    # The same demand without the restriction takes B's kilos.
    free_id = post_demand(app, market)
    with app.app_context():
        [prop] = services.propose(user(market.buyer), [db.session.get(Demand, free_id)])
        assert kg_by_coop(prop.allocations) == {market.coop_a: D("1000"), market.coop_b: D("200")}


def test_a_proposal_is_only_the_buyers(app, market, factory):
    demand_id = post_demand(app, market)
    proposal_id = propose_one(app, market, demand_id)
    _other_id, other_buyer = factory.buyer()
    staff = factory.staff()
    with app.app_context():
        assert services.own_proposal(user(market.buyer), proposal_id).id == proposal_id
        assert services.own_proposal(user(staff), proposal_id).id == proposal_id
        for person in (other_buyer, market.manager_a):
            with pytest.raises(NotFound):
                services.own_proposal(user(person), proposal_id)
        with pytest.raises(NotFound):
            services.own_proposal(user(market.buyer), proposal_id + 1000)


def test_another_buyer_may_neither_propose_nor_accept(app, market, factory):
    demand_id = post_demand(app, market)
    proposal_id = propose_one(app, market, demand_id)
    _other_id, other_buyer = factory.buyer()
    with app.app_context():
        with pytest.raises(NotFound):
            services.propose(user(other_buyer), [db.session.get(Demand, demand_id)])
        with pytest.raises(NotFound):
            services.accept(user(other_buyer), proposal(proposal_id), "invoice")
        db.session.rollback()
        assert counts()["Order"] == 0
        assert db.session.get(Demand, demand_id).status == DemandStatus.OPEN


# ------------------------------------------------------------------- preferences and limits


@pytest.mark.parametrize(
    ("attribute", "share", "minimum"),
    [("women_led", "50", D("0.5")), ("pdet", "40", D("0.4"))],
)
def test_a_minimum_share_changes_the_allocation_and_holds(app, market, factory, attribute, share, minimum):
    village_id, village_listing = village_coop(app, factory)
    free_id = post_demand(app, market)
    wanted_id = post_demand(app, market, preferences=[pref(attribute, share)])
    with app.app_context():
        village = db.session.get(Cooperative, village_id)
        assert not village.women_led and not village.youth_led
        [free] = services.propose(user(market.buyer), [db.session.get(Demand, free_id)])
        [wanted] = services.propose(user(market.buyer), [db.session.get(Demand, wanted_id)])
        # Without the preference everything comes from the near cooperative, which has neither.
        assert kg_by_coop(free.allocations) == {village_id: D("1200")}
        assert free.met_kg == wanted.met_kg == D("1200")
        assert kg_by_coop(wanted.allocations) != kg_by_coop(free.allocations)
        if attribute == "pdet":
            having = sum((D(r["kg"]) for r in wanted.allocations if r["pdet_subregion"]), D(0))
        else:
            having = sum((D(r["kg"]) for r in wanted.allocations if r[attribute]), D(0))
        assert having >= minimum * wanted.met_kg
        assert D(wanted.shares[attribute]) >= minimum
        # More than the share may come from the far cooperatives: the quote charges per trip,
        # so a truck that comes anyway carries its spare kilos cheaper than the near one sells.
        assert wanted.landed_cop > free.landed_cop
        assert wanted.reasons == []


def test_a_minimum_share_that_cannot_be_met_fully_limits_the_kg_and_says_why(app, market, factory):
    village_id, _listing = village_coop(app, factory)
    # A and B, both women-led, have 1,500 kg: 80 % of 2,000 kg cannot come from them.
    demand_id = post_demand(app, market, quantity=D("2000"), preferences=[pref("women_led", "80")])
    with app.app_context():
        [prop] = services.propose(user(market.buyer), [db.session.get(Demand, demand_id)])
        by_coop = kg_by_coop(prop.allocations)
        assert prop.met_kg < D("2000")
        assert prop.met_kg == D("1875")  # 1,500 kg is 80 % of it
        assert by_coop == {market.coop_a: D("1000"), market.coop_b: D("500"), village_id: D("375")}
        assert "min_share" in prop.reasons
        assert D(prop.shares["women_led"]) >= D("0.8")


def test_a_price_cap_below_every_landed_cost_allocates_nothing(app, market):
    demand_id = post_demand(app, market, max_price_per_kg=D("9000"))
    with app.app_context():
        [prop] = services.propose(user(market.buyer), [db.session.get(Demand, demand_id)])
        assert prop.allocations == [] and prop.met_kg == 0 and prop.landed_cop == 0
        assert prop.greedy == [] and prop.greedy_met_kg == 0
        assert "price_cap" in prop.reasons
        db.session.commit()
        # Accepting a proposal with nothing in it orders nothing.
        with pytest.raises(Conflict):
            services.accept(user(market.buyer), proposal(prop.id), "invoice")
        db.session.rollback()
        assert counts()["Order"] == 0
        assert db.session.get(Demand, demand_id).status == DemandStatus.OPEN


def test_a_price_cap_between_landed_costs_keeps_out_the_dearer_cooperative(app, market):
    # A lands at about 11,500 COP/kg in Bogotá, B at about 12,500: a cap of 12,000 keeps B out.
    demand_id = post_demand(app, market, max_price_per_kg=D("12000"))
    with app.app_context():
        [prop] = services.propose(user(market.buyer), [db.session.get(Demand, demand_id)])
        assert kg_by_coop(prop.allocations) == {market.coop_a: D("1000")}
        assert all(D(r["landed_per_kg"]) <= D("12000") for r in prop.allocations)
        assert prop.reasons == ["price_cap", "stock"]


def test_a_demand_min_lot_keeps_out_a_cooperative_with_less(app, market):
    demand_id = post_demand(app, market, min_lot_kg=D("600"))
    with app.app_context():
        [prop] = services.propose(user(market.buyer), [db.session.get(Demand, demand_id)])
        # B has only 500 kg: under the 600 kg lot it is left out, not asked for 200.
        assert kg_by_coop(prop.allocations) == {market.coop_a: D("1000")}
        assert prop.reasons == ["min_lot"]
        assert all(kg >= D("600") for kg in kg_by_coop(prop.greedy).values())


def test_an_offer_serves_only_its_demand_in_a_joint_run(app, market):
    first = post_demand(app, market, quantity=D("1000"))
    second = post_demand(app, market, quantity=D("1000"))
    # B answers the first demand with 300 of its 500 kg, well below every listed price.
    offer_id = offer(app, market.manager_b, first, market.listing_b, "300", "8000")
    with app.app_context():
        demands = [db.session.get(Demand, first), db.session.get(Demand, second)]
        one, two = services.propose(user(market.buyer), demands)
        offered = [r for r in one.allocations if r["offer_id"] == offer_id]
        assert [D(r["kg"]) for r in offered] == [D("300")]
        assert all(r["offer_id"] is None for r in two.allocations)
        # The listing's remainder answers only the demand B did not quote for.
        assert not [r for r in one.allocations if r["listing_id"] == market.listing_b and r["offer_id"] is None]
        # Together the two never take more than a listing holds.
        total = defaultdict(Decimal)
        for rows in (one.allocations, two.allocations):
            for listing_id, kg in kg_by_listing(rows).items():
                total[listing_id] += kg
        assert total == {market.listing_a: D("1000"), market.listing_b: D("500")}
        assert one.met_kg + two.met_kg == D("1500")


def test_the_optimiser_beats_the_cheapest_price_when_the_cheapest_is_far(app, market, factory):
    # Leticia, on the Amazon, sells cheaper than anyone but is about 1,000 km from Bogotá.
    _far_id, far_manager = factory.cooperative(name="Asociación Amazónica de Leticia", municipality_code="91001")
    far_listing = make_listing(app, far_manager, "cacao-grano-seco", "2000", "9800")
    demand_id = post_demand(app, market, quantity=D("1000"))
    with app.app_context():
        [prop] = services.propose(user(market.buyer), [db.session.get(Demand, demand_id)])
        assert kg_by_listing(prop.greedy) == {far_listing: D("1000")}
        # One truck from Tumaco lands cheaper than one from Leticia, whatever the price per kg.
        assert kg_by_listing(prop.allocations) == {market.listing_a: D("1000")}
        assert prop.met_kg == prop.greedy_met_kg == D("1000")
        assert prop.landed_cop < prop.greedy_landed_cop
        greedy_sum = sum((D(r["goods_cop"]) + D(r["logistics_cop"]) for r in prop.greedy), D(0))
        assert prop.greedy_landed_cop == greedy_sum
        for row in prop.allocations + prop.greedy:
            assert D(row["goods_cop"]) == D(row["kg"]) * D(row["price_per_kg"])
        assert prop.goods_cop == sum((D(r["goods_cop"]) for r in prop.allocations), D(0))
        assert prop.logistics_cop == sum((D(r["logistics_cop"]) for r in prop.allocations), D(0))


def test_a_small_remainder_from_afar_is_not_proposed_when_one_far_truck_is_cheaper(app, market, factory):
    """1,200 kg: Tumaco's 1,000 kg plus 200 kg from Leticia pays two long trips; the quote
    charges the 200 kg a whole truck. The proposal is the cheaper one as quoted, never above
    the cheapest-price-only choice."""
    _far_id, far_manager = factory.cooperative(name="Asociación Amazónica de Leticia", municipality_code="91001")
    far_listing = make_listing(app, far_manager, "cacao-grano-seco", "2000", "9800")
    demand_id = post_demand(app, market)
    with app.app_context():
        [prop] = services.propose(user(market.buyer), [db.session.get(Demand, demand_id)])
        assert prop.met_kg == prop.greedy_met_kg == D("1200")
        assert kg_by_listing(prop.allocations) == {far_listing: D("1200")}
        assert prop.landed_cop == prop.greedy_landed_cop


# ------------------------------------------------------------------- accepting


def test_accepting_after_stock_changed_orders_nothing_and_shows_the_new_proposal(app, market):
    demand_id = post_demand(app, market)
    old_id = propose_one(app, market, demand_id)
    with app.app_context():
        old = proposal(old_id)
        assert kg_by_listing(old.allocations) == {market.listing_a: D("1000"), market.listing_b: D("200")}
    # Another order takes 400 of B's 500 kg before the buyer accepts.
    other_order = place(app, market, [(market.listing_b, "400", "kg")])
    with app.app_context():
        accepted = services.accept(user(market.buyer), proposal(old_id), "invoice")
        db.session.commit()
        assert accepted.changed and accepted.order is None and accepted.previous.id == old_id
        new_id = accepted.proposal.id
        assert new_id != old_id
    with app.app_context():
        assert set(db.session.scalars(select(Order.id))) == {other_order}
        assert available(market.listing_a) == D("1000") and available(market.listing_b) == D("100")
        old, new = proposal(old_id), proposal(new_id)
        assert old.superseded and old.accepted_at is None
        assert not new.superseded and new.accepted_at is None
        assert new.met_kg == D("1100")
        assert kg_by_listing(new.allocations) == {market.listing_a: D("1000"), market.listing_b: D("100")}
        assert services.latest_proposal(db.session.get(Demand, demand_id)).id == new_id
        assert db.session.get(Demand, demand_id).status == DemandStatus.OPEN
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "demand.proposal_changed"))
        assert event.before["proposal"] == old_id and event.after["proposal"] == new_id
        # The old one can no longer be accepted; the new one orders exactly what it shows.
        with pytest.raises(Conflict):
            services.accept(user(market.buyer), proposal(old_id), "invoice")
        db.session.rollback()
        accepted = services.accept(user(market.buyer), proposal(new_id), "invoice")
        db.session.commit()
        order_id = accepted.order.id
    with app.app_context():
        new = proposal(new_id)
        assert new.accepted_at is not None
        assert db.session.get(Order, order_id).total == new.total_cop
        assert {lid: kg for lid, (kg, _price) in order_lines(order_id).items()} == {
            market.listing_a: D("1000"), market.listing_b: D("100")}
        demand = db.session.get(Demand, demand_id)
        assert demand.status == DemandStatus.ORDERED and demand.order_id == order_id
        assert available(market.listing_a) == D("0") and available(market.listing_b) == D("0")


def test_accepting_a_superseded_proposal_is_refused(app, market):
    demand_id = post_demand(app, market)
    first = propose_one(app, market, demand_id)
    second = propose_one(app, market, demand_id)
    with app.app_context():
        assert proposal(first).superseded and not proposal(second).superseded
        with pytest.raises(Conflict):
            services.accept(user(market.buyer), proposal(first), "invoice")
        db.session.rollback()
        assert counts()["Order"] == 0
        assert available(market.listing_a) == D("1000")
        accepted = services.accept(user(market.buyer), proposal(second), "invoice")
        db.session.commit()
        assert not accepted.changed and accepted.proposal.id == second


def test_accepting_twice_orders_once(app, market):
    demand_id = post_demand(app, market)
    proposal_id = propose_one(app, market, demand_id)
    with app.app_context():
        services.accept(user(market.buyer), proposal(proposal_id), "invoice")
        db.session.commit()
    with app.app_context():
        with pytest.raises(Conflict):
            services.accept(user(market.buyer), proposal(proposal_id), "invoice")
        db.session.rollback()
        assert counts()["Order"] == 1
        assert available(market.listing_a) == D("0") and available(market.listing_b) == D("300")


def test_accepting_needs_a_payment_method(app, market):
    demand_id = post_demand(app, market)
    proposal_id = propose_one(app, market, demand_id)
    with app.app_context():
        with pytest.raises(DomainError) as error:
            services.accept(user(market.buyer), proposal(proposal_id), "cash")
        assert error.value.field == "payment_method"
        db.session.rollback()
        assert counts()["Order"] == 0


def test_a_cancelled_demand_cannot_be_accepted_or_proposed(app, market):
    demand_id = post_demand(app, market)
    offer_id = offer(app, market.manager_b, demand_id, market.listing_b, "300", "9500")
    proposal_id = propose_one(app, market, demand_id)
    with app.app_context():
        services.cancel_demand(user(market.buyer), db.session.get(Demand, demand_id))
        db.session.commit()
    with app.app_context():
        assert db.session.get(Offer, offer_id).status == OfferStatus.NOT_CHOSEN
        with pytest.raises(Conflict):
            services.accept(user(market.buyer), proposal(proposal_id), "invoice")
        db.session.rollback()
        with pytest.raises(Conflict):
            services.propose(user(market.buyer), [db.session.get(Demand, demand_id)])
        db.session.rollback()
        with pytest.raises(Conflict):
            services.cancel_demand(user(market.buyer), db.session.get(Demand, demand_id))
        db.session.rollback()
        assert counts()["Order"] == 0
        assert available(market.listing_a) == D("1000") and available(market.listing_b) == D("500")
        assert db.session.get(Demand, demand_id).status == DemandStatus.CANCELLED


def test_expire_demands_expires_only_those_whose_window_ended(app, market):
    stale = post_demand(app, market)
    boundary = post_demand(app, market)
    fresh = post_demand(app, market)
    offer_id = offer(app, market.manager_b, stale, market.listing_b, "300", "9500")
    with app.app_context():
        db.session.execute(update(Demand).where(Demand.id == stale)
                           .values(window_start=TODAY - timedelta(days=10), window_end=TODAY - timedelta(days=3)))
        db.session.execute(update(Demand).where(Demand.id == boundary)
                           .values(window_start=TODAY + timedelta(days=1), window_end=TODAY + timedelta(days=5)))
        db.session.commit()
    with app.app_context():
        assert services.expire_demands() == 1
        db.session.commit()
    with app.app_context():
        statuses = {d: db.session.get(Demand, d).status for d in (stale, boundary, fresh)}
        assert statuses == {stale: DemandStatus.EXPIRED, boundary: DemandStatus.OPEN, fresh: DemandStatus.OPEN}
        assert db.session.get(Offer, offer_id).status == OfferStatus.NOT_CHOSEN
        # A window ending on the given day is still open that day, expired the day after.
        assert services.expire_demands(today=TODAY + timedelta(days=5)) == 0
        assert services.expire_demands(today=TODAY + timedelta(days=6)) == 1
        assert db.session.get(Demand, boundary).status == DemandStatus.EXPIRED
        assert db.session.get(Demand, fresh).status == DemandStatus.OPEN
        db.session.rollback()
        assert services.expire_demands() == 0
        with pytest.raises(Conflict):
            services.propose(user(market.buyer), [db.session.get(Demand, stale)])


def test_a_listing_that_ends_before_the_window_neither_sees_the_demand_nor_offers(app, market):
    # Listings end 30 days from today; this window starts after that, so the optimiser could
    # never allocate them (reason "window"): the cooperatives must not be asked for an offer.
    demand_id = post_demand(app, market, window_start=TODAY + timedelta(days=40),
                            window_end=TODAY + timedelta(days=50))
    with app.app_context():
        coop_b = db.session.get(Cooperative, market.coop_b)
        assert services.open_demands_for(coop_b) == []
        assert not services.concerns(coop_b, db.session.get(Demand, demand_id))
        with pytest.raises(NotFound):
            services.visible_demand(user(market.manager_b), demand_id)
    error = refused_offer(app, market.manager_b, demand_id, listing_id=market.listing_b, quantity=D("500"),
                          price_per_kg=D("5000"), ready_date=TODAY + timedelta(days=5))
    assert type(error) is DomainError and error.field == "listing_id"
    with app.app_context():
        [prop] = services.propose(user(market.buyer), [db.session.get(Demand, demand_id)])
        assert prop.allocations == [] and prop.met_kg == 0 and prop.reasons
