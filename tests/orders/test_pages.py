"""The order pages, used as a buyer, two cooperatives and staff would, without JavaScript."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from marketplace.catalog.models import Listing
from marketplace.extensions import db
from marketplace.orders.models import Order, OrderPart, PartStatus
from tests.conftest import login
from tests.orders.conftest import TODAY


def _place_from_pages(app, market, lines):
    client = app.test_client()
    login(client, market.buyer)
    for listing_id, quantity, unit in lines:
        response = client.post(f"/pedido/agregar/{listing_id}", data={"quantity": quantity, "unit": unit})
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
    page = client.get("/pedido")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Costo puesto en" in html  # the landed cost is shown before placing
    with app.app_context():
        from marketplace.orders.models import CartItem

        items = db.session.scalars(select(CartItem)).all()
        form = {f"qty-{i.id}": format(i.quantity.normalize(), "f") for i in items} | {f"unit-{i.id}": i.unit for i in items}
    form |= {"delivery_site": str(market.site_id), "window_start": (TODAY + timedelta(days=2)).isoformat(),
             "window_end": (TODAY + timedelta(days=9)).isoformat(), "payment_method": "invoice", "action": "place"}
    response = client.post("/pedido", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with app.app_context():
        order = db.session.scalars(select(Order).order_by(Order.id.desc())).first()
        return client, order.id


def test_a_buyer_orders_from_two_cooperatives_and_each_sees_only_its_part(app, market):
    client, order_id = _place_from_pages(app, market, [(market.listing_a, "8", "arroba"),
                                                       (market.listing_b, "200", "kg")])
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert {p.cooperative_id for p in order.parts} == {market.coop_a, market.coop_b}
        assert db.session.get(Listing, market.listing_a).available_kg == Decimal("900")
        part_a = next(p.id for p in order.parts if p.cooperative_id == market.coop_a)
        part_b = next(p.id for p in order.parts if p.cooperative_id == market.coop_b)
    page = client.get(f"/pedidos/{order_id}").get_data(as_text=True)
    assert "Asociación Cacaotera de Tumaco" in page and "Cooperativa del Caguán" in page

    coop_a = app.test_client()
    login(coop_a, market.manager_a)
    assert coop_a.get(f"/ventas/{part_a}").status_code == 200
    assert coop_a.get(f"/ventas/{part_b}").status_code == 404  # another cooperative's part
    assert coop_a.get(f"/pedidos/{order_id}").status_code == 404  # the whole order is the buyer's
    accept = coop_a.post(f"/pedidos/partes/{part_b}/accept", data={})
    assert accept.status_code == 404
    assert coop_a.post(f"/pedidos/partes/{part_a}/accept", data={}).status_code == 303
    with app.app_context():
        assert db.session.get(OrderPart, part_b).status == PartStatus.PLACED
        assert db.session.get(OrderPart, part_a).status == PartStatus.ACCEPTED


def test_out_of_order_steps_are_refused_with_a_message(app, market):
    _client, order_id = _place_from_pages(app, market, [(market.listing_a, "100", "kg")])
    coop = app.test_client()
    login(coop, market.manager_a)
    with app.app_context():
        part_id = db.session.get(Order, order_id).parts[0].id
    response = coop.post(f"/pedidos/partes/{part_id}/ship", data={}, follow_redirects=True)
    assert "Solo sale en camino un pedido listo para recoger." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(OrderPart, part_id).status == PartStatus.PLACED
    assert coop.post(f"/pedidos/partes/{part_id}/settle", data={}, follow_redirects=True).status_code == 200
    with app.app_context():
        assert db.session.get(OrderPart, part_id).status == PartStatus.PLACED


def test_delivery_with_a_shortfall_reprices_and_staff_settle(app, market, factory):
    buyer, order_id = _place_from_pages(app, market, [(market.listing_a, "100", "kg")])
    coop = app.test_client()
    login(coop, market.manager_a)
    with app.app_context():
        part = db.session.get(Order, order_id).parts[0]
        part_id, line_id = part.id, part.lines[0].id
    for action in ("accept", "ready"):
        assert coop.post(f"/pedidos/partes/{part_id}/{action}", data={}).status_code == 303
    assert coop.post(f"/pedidos/partes/{part_id}/ship", data={"logistics_borne": "20.000"}).status_code == 303
    form = buyer.get(f"/pedidos/partes/{part_id}/recibir")
    assert form.status_code == 200
    bad = buyer.post(f"/pedidos/partes/{part_id}/recibir", data={f"received-{line_id}": "150",
                                                                f"quality-{line_id}": "accepted"})
    assert bad.status_code == 422 and "entre 0 y" in bad.get_data(as_text=True)
    done = buyer.post(f"/pedidos/partes/{part_id}/recibir", data={f"received-{line_id}": "90",
                                                                 f"quality-{line_id}": "accepted"})
    assert done.status_code == 302
    sale = coop.get(f"/ventas/{part_id}").get_data(as_text=True)
    # 90 kg at 10,000 COP/kg, minus 20,000 of transport the cooperative paid.
    assert "$ 900.000" in sale and "$ 880.000" in sale

    admin = app.test_client()
    login(admin, factory.admin())
    assert admin.post(f"/pedidos/partes/{part_id}/settle", data={"reference": "TR-1"}).status_code == 303
    with app.app_context():
        assert db.session.get(OrderPart, part_id).status == PartStatus.DELIVERED  # buyer has not paid yet
    assert admin.post(f"/admin/pedidos/{order_id}/factura-pagada", data={"bank_reference": "BANCO-77"}).status_code == 303
    assert admin.post(f"/pedidos/partes/{part_id}/settle", data={"reference": "TR-1"}).status_code == 303
    with app.app_context():
        part = db.session.get(OrderPart, part_id)
        assert part.status == PartStatus.SETTLED and part.payout_reference == "TR-1"
        assert db.session.get(Order, order_id).amount_paid == Decimal("900000") + part.logistics_estimate + Decimal("27000")


def test_pages_refuse_other_roles(app, market, login_as):
    _buyer, order_id = _place_from_pages(app, market, [(market.listing_a, "100", "kg")])
    other_buyer, _ = login_as("buyer_admin")
    assert other_buyer.get(f"/pedidos/{order_id}").status_code == 404
    auditor, _ = login_as("staff_auditor")
    assert auditor.get(f"/pedidos/{order_id}").status_code == 200
    assert auditor.get("/admin/pedidos").status_code == 200
    assert auditor.post(f"/admin/pedidos/{order_id}/factura-pagada", data={"bank_reference": "X"}).status_code == 403
    coop, _ = login_as("coop_manager")
    assert coop.get("/pedido").status_code == 403
    assert coop.get("/admin/pedidos").status_code == 403
