"""The demand pages, used as a buyer, two cooperatives and staff would, without JavaScript."""

from __future__ import annotations

from decimal import Decimal

import pytest
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


@pytest.mark.parametrize(
    ("lang", "fee", "accept_label", "changed"),
    [("es", "Tarifa de la plataforma (3 %)", "Aceptar y hacer el pedido por", "no se hizo ningún pedido"),
     ("en", "Platform fee (3 %)", "Accept and place the order for", "no order was placed")],
)
def test_the_proposal_page_shows_the_fee_and_the_total_accepting_charges(app, market, lang, fee, accept_label,
                                                                         changed):
    from marketplace.core.formatting import cop
    from tests.orders.helpers import place

    buyer = app.test_client()
    login(buyer, market.buyer)
    assert buyer.post("/solicitudes/nueva", data=_demand_form(app, market)).status_code == 302
    with app.app_context():
        demand_id = db.session.scalars(select(Demand.id)).one()
    assert buyer.post(f"/solicitudes/{demand_id}/propuesta", data={}).status_code == 302
    with app.app_context():
        proposal = db.session.scalars(select(Proposal)).one()
        proposal_id, total, fee_cop = proposal.id, proposal.total_cop, proposal.fee_cop
    with app.test_request_context(f"/?lang={lang}"):
        total_text, fee_text = cop(total), cop(fee_cop)
    html = buyer.get(f"/solicitudes/{demand_id}?lang={lang}").get_data(as_text=True)
    assert fee in html and fee_text in html
    assert f'<strong id="proposal-total">{total_text}</strong>' in html
    assert f"{accept_label} {total_text}" in html

    # Another buyer takes stock the proposal counted on: accepting orders nothing and shows the new one.
    place(app, market, [(market.listing_b, "400", "kg")])
    response = buyer.post(f"/propuestas/{proposal_id}/aceptar?lang={lang}", data={"payment_method": "invoice"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#propuesta")
    html = buyer.get(f"/solicitudes/{demand_id}?lang={lang}").get_data(as_text=True)
    assert changed in html
    with app.app_context():
        assert _count(Order) == 1  # only the other buyer's
        new = db.session.scalars(select(Proposal).order_by(Proposal.id.desc())).first()
        assert new.id != proposal_id and not new.superseded
        new_id, new_total = new.id, new.total_cop
    with app.test_request_context(f"/?lang={lang}"):
        new_total_text = cop(new_total)
    assert f'<strong id="proposal-total">{new_total_text}</strong>' in html

    accepted = buyer.post(f"/propuestas/{new_id}/aceptar?lang={lang}", data={"payment_method": "invoice"})
    assert accepted.status_code == 302 and "/pedidos/" in accepted.headers["Location"]
    with app.app_context():
        order = db.session.scalars(select(Order).order_by(Order.id.desc())).first()
        assert order.total == new_total
    order_page = buyer.get(accepted.headers["Location"] + f"?lang={lang}").get_data(as_text=True)
    assert new_total_text in order_page
