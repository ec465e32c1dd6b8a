"""On phones: a cooperative ships its accepted part (a mule trail to the road, then a truck),
types what each leg really cost, and the buyer sees the landed price per kg from that cost."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from marketplace.catalog.models import CollectionPoint, Listing
from marketplace.core.formatting import cop
from marketplace.extensions import db
from marketplace.logistics import services as logistics
from marketplace.logistics.models import Shipment
from marketplace.orders import services, shipping
from marketplace.orders.models import Order, OrderPart
from tests.orders.conftest import market  # noqa: F401  (fixture)
from tests.orders.helpers import place, user

pytestmark = pytest.mark.browser

ACTUAL = ("95000", "175369")  # the mule trail, the truck: 270,369 COP on 300 kg of 10,000 COP/kg cacao


def _log_in(p, login: str, password: str):
    p.goto("/entrar")
    p.page.get_by_label("Celular o correo").fill(login)
    p.page.get_by_label("Contraseña").fill(password)
    p.page.get_by_role("button", name="Entrar").click()


def _accepted_part_behind_a_trail(app, market) -> tuple[int, str, int]:  # noqa: F811
    order_id = place(app, market, [(market.listing_a, "300", "kg")])
    with app.app_context():
        point = db.session.get(CollectionPoint, db.session.get(Listing, market.listing_a).collection_point_id)
        logistics.set_access_legs(user(market.manager_a), point, [
            logistics.AccessLegData("trail", "mule", Decimal("6.5"), "mountainous", "Camino a la vía")])
        order = db.session.get(Order, order_id)
        part = order.parts[0]
        services.accept(user(market.manager_a), part)
        db.session.commit()
        return order_id, order.number, part.id


def test_cooperative_records_actual_leg_costs_and_buyer_sees_landed_price(app, market, phone):  # noqa: F811
    _order_id, number, part_id = _accepted_part_behind_a_trail(app, market)

    coop = phone()
    _log_in(coop, market.manager_a.login, market.manager_a.password)
    page = coop.page
    page.get_by_role("link", name="Envíos", exact=True).click()
    coop.assert_fits_the_screen()
    page.get_by_role("link", name="Crear un envío (1 pedido por despachar)").click()
    expect(page.get_by_role("checkbox", name=number, exact=False)).to_be_checked()
    coop.assert_fits_the_screen()
    page.get_by_role("button", name="Crear envío").click()
    expect(page.get_by_text("creado con su costo estimado")).to_be_visible()
    coop.assert_fits_the_screen()
    with app.app_context():
        shipment = db.session.scalars(db.select(Shipment)).one()
        assert [leg.kind for leg in shipment.legs] == ["trail", "road"]
        shipment_id = shipment.id
        db.session.remove()
    assert page.url.endswith(f"/envios/{shipment_id}")

    for n, value in enumerate(ACTUAL, start=1):
        page.get_by_label(f"Costo real del tramo {n}").fill(value)
    page.get_by_role("button", name="Guardar costos reales").click()
    expect(page.get_by_text("Costos registrados.")).to_be_visible()
    expect(page.locator("#actual-total")).to_have_text("$ 270.369")
    coop.assert_fits_the_screen()
    assert not coop.errors, coop.errors

    with app.app_context(), app.test_request_context(headers={"Accept-Language": "es-CO"}):
        part = db.session.get(OrderPart, part_id)
        mile = shipping.last_mile(part)
        assert mile.actual and mile.cost_cop == Decimal("270369")
        landed = cop(mile.landed_per_kg, decimals=True)
        db.session.remove()
    assert landed == "$ 10.901,23"

    buyer = phone()
    _log_in(buyer, market.buyer.login, market.buyer.password)
    buyer.page.get_by_role("link", name="Mis pedidos").click()
    buyer.page.get_by_role("link", name=number).click()
    expect(buyer.page.locator(f"#parte-{part_id} dd.landed")).to_have_text(landed)
    buyer.assert_fits_the_screen()
    assert not buyer.errors, buyer.errors
