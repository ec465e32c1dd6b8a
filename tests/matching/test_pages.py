"""The demand pages, used as a buyer, two cooperatives and staff would, without JavaScript."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.matching.models import Demand, DemandStatus, Offer, Proposal
from marketplace.orders.models import Order
from tests.conftest import login
from tests.matching.conftest import END, START, product_id


def _demand_form(app, market, **changes) -> dict:
    with app.app_context():
        product = product_id("cacao-grano-seco")
    form = {"product": str(product), "min_grade": "0", "quantity": "1,2", "unit": "tonelada",
            "delivery_site": str(market.site_id), "window_start": START.isoformat(), "window_end": END.isoformat()}
    form.update(changes)
    return form


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_post_offer_propose_accept_through_the_pages(app, market):
    buyer = app.test_client()
    login(buyer, market.buyer)
    assert buyer.get("/solicitudes/nueva").status_code == 200
    response = buyer.post("/solicitudes/nueva", data=_demand_form(app, market, pdet_weight="100"))
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    with app.app_context():
        demand = db.session.scalars(select(Demand)).one()
        demand_id = demand.id
        assert demand.quantity_kg == Decimal("1200")

    coop_b = app.test_client()
    login(coop_b, market.manager_b)
    listed = coop_b.get("/cotizar").get_data(as_text=True)
    assert f"/solicitudes/{demand_id}" in listed
    page = coop_b.get(f"/solicitudes/{demand_id}")
    assert page.status_code == 200 and "Enviar la cotización" in page.get_data(as_text=True)
    # More than the listing holds: refused beside the field, nothing written.
    too_much = coop_b.post(f"/solicitudes/{demand_id}/cotizar", data={
        "listing": str(market.listing_b), "quantity": "600", "unit": "kg", "price": "9000",
        "ready_date": START.isoformat()})
    assert too_much.status_code == 422
    assert "no puede cotizar más" in too_much.get_data(as_text=True)
    with app.app_context():
        assert _count(Offer) == 0
    sent = coop_b.post(f"/solicitudes/{demand_id}/cotizar", data={
        "listing": str(market.listing_b), "quantity": "500", "unit": "kg", "price": "9000",
        "ready_date": START.isoformat()})
    assert sent.status_code == 302

    run = buyer.post(f"/solicitudes/{demand_id}/propuesta", data={})
    assert run.status_code == 302
    html = buyer.get(f"/solicitudes/{demand_id}").get_data(as_text=True)
    assert "Cooperativa del Caguán" in html and "Asociación Cacaotera de Tumaco" in html
    assert "Precio más bajo primero" in html and "según su cotización" in html
    with app.app_context():
        proposal_id = db.session.scalars(select(Proposal.id)).one()

    # Someone else's proposal, demand and pages are not found.
    other = app.test_client()
    login(other, market.manager_a)
    assert other.post(f"/propuestas/{proposal_id}/aceptar", data={"payment_method": "invoice"}).status_code == 403

    accepted = buyer.post(f"/propuestas/{proposal_id}/aceptar", data={"payment_method": "invoice"})
    assert accepted.status_code == 302 and "/pedidos/" in accepted.headers["Location"]
    with app.app_context():
        order = db.session.scalars(select(Order)).one()
        assert {p.cooperative_id for p in order.parts} == {market.coop_a, market.coop_b}
        assert db.session.get(Demand, demand_id).status == DemandStatus.ORDERED


def test_bad_demands_are_refused_beside_the_field_and_nothing_is_written(app, market):
    buyer = app.test_client()
    login(buyer, market.buyer)
    cases = [
        ({"quantity": "0"}, "mayor que cero"),
        ({"quantity": "-5"}, ""),
        ({"window_start": END.isoformat(), "window_end": START.isoformat()}, "posterior"),
        ({"pdet_share": "150"}, "100"),
        ({"max_price": "5000", "target_price": "9000"}, "precio objetivo"),
    ]
    for changes, message in cases:
        response = buyer.post("/solicitudes/nueva", data=_demand_form(app, market, **changes))
        assert response.status_code == 422, changes
        assert message in response.get_data(as_text=True), changes
    with app.app_context():
        assert _count(Demand) == 0


def test_pages_of_other_buyers_demands_are_not_found(app, market, factory):
    buyer = app.test_client()
    login(buyer, market.buyer)
    buyer.post("/solicitudes/nueva", data=_demand_form(app, market))
    with app.app_context():
        demand_id = db.session.scalars(select(Demand.id)).one()
    _other_id, other_person = factory.buyer()
    other = app.test_client()
    login(other, other_person)
    assert other.get(f"/solicitudes/{demand_id}").status_code == 404
    assert other.post(f"/solicitudes/{demand_id}/cancelar", data={}).status_code == 404
    assert other.post(f"/solicitudes/{demand_id}/propuesta", data={}).status_code == 404
    with app.app_context():
        assert db.session.get(Demand, demand_id).status == DemandStatus.OPEN
    # A café-only cooperative is not concerned by a cacao demand.
    _coop, cafe = factory.cooperative(name="Cafeteros del Cauca", municipality_code="19698")
    coffee = app.test_client()
    login(coffee, cafe)
    assert coffee.get(f"/solicitudes/{demand_id}").status_code == 404
