"""On phones: a buyer orders from two cooperatives, each accepts and ships, the buyer
records a delivery with a shortfall, and both cooperatives' ledgers show the right net."""

import pytest
from playwright.sync_api import expect

from marketplace.extensions import db
from marketplace.orders.models import Order
from tests.orders.conftest import market  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


def _log_in(p, login: str, password: str):
    p.goto("/entrar")
    p.page.get_by_label("Celular o correo").fill(login)
    p.page.get_by_label("Contraseña").fill(password)
    p.page.get_by_role("button", name="Entrar").click()


def _add(p, listing_id: int, quantity: str, unit: str):
    p.goto(f"/ofertas/{listing_id}")
    p.page.get_by_label("Cantidad").fill(quantity)
    p.page.get_by_label("Unidad").select_option(unit)
    p.page.get_by_role("button", name="Agregar al pedido").click()
    expect(p.page.get_by_text("Agregado a su pedido.")).to_be_visible()


def _accept_and_ship(p, person, order_number: str, transport: str):
    _log_in(p, person.login, person.password)
    page = p.page
    page.get_by_role("link", name="Ventas").click()
    page.get_by_role("link", name=order_number).click()
    accept = page.get_by_role("button", name="Aceptar el pedido")
    expect(accept).to_be_visible()  # the sale's page has loaded
    p.assert_fits_the_screen()
    accept.click()
    expect(page.locator("h1 .status")).to_have_text("Aceptado")
    page.get_by_role("button", name="Marcar listo para recoger").click()
    page.get_by_label("Transporte que pagó la cooperativa, en pesos (opcional)").fill(transport)
    page.get_by_role("button", name="Salió en camino").click()
    expect(page.locator("h1 .status")).to_have_text("En camino")


def test_order_from_two_cooperatives_deliver_short_and_see_both_ledgers(app, market, phone):  # noqa: F811
    buyer = phone()
    _log_in(buyer, market.buyer.login, market.buyer.password)
    _add(buyer, market.listing_a, "8", "arroba")  # 100 kg at 10,000 COP/kg
    _add(buyer, market.listing_b, "200", "kg")  # 200 kg at 11,000 COP/kg
    page = buyer.page
    expect(page.get_by_role("heading", name="Costo puesto en Planta Bogotá")).to_be_visible()
    buyer.assert_fits_the_screen()
    page.get_by_role("button", name="Hacer el pedido").click()
    expect(page.get_by_text("Asociación Cacaotera de Tumaco")).to_be_visible()
    with app.app_context():
        order = db.session.scalars(db.select(Order)).one()
        number = order.number
        part_a = next(p.id for p in order.parts if p.cooperative_id == market.coop_a)
        db.session.remove()

    _accept_and_ship(phone(), market.manager_a, number, "")
    _accept_and_ship(phone(), market.manager_b, number, "15000")

    page.reload()
    page.locator(f"#parte-{part_a}").get_by_role("link", name="Registrar la entrega").click()
    page.get_by_label("Kg recibidos").fill("90")
    page.get_by_role("button", name="Registrar la entrega").click()
    expect(page.get_by_text("Entrega registrada.")).to_be_visible()
    page.locator(".card", has_text="Cooperativa del Caguán").get_by_role("link", name="Registrar la entrega").click()
    page.get_by_role("button", name="Registrar la entrega").click()
    expect(page.get_by_text("Entrega registrada.")).to_be_visible()
    buyer.assert_fits_the_screen()

    for person, net in ((market.manager_a, "$ 900.000"), (market.manager_b, "$ 2.185.000")):
        seller = phone()
        _log_in(seller, person.login, person.password)
        seller.page.get_by_role("link", name="Ventas").click()
        seller.page.get_by_role("link", name=number).click()
        expect(seller.page.locator("#net")).to_have_text(net)
        assert not seller.errors, seller.errors
    assert not buyer.errors, buyer.errors
