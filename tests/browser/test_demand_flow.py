"""On phones: a buyer posts a demand for 20 t of cacao to Bogotá, two cooperatives answer
with offers, the buyer reads the proposal and accepts it, and the order is split across them."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from marketplace.extensions import db
from marketplace.matching.models import Demand
from marketplace.orders.models import Order
from tests.matching.conftest import END, START
from tests.orders.conftest import make_listing, market  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


def _log_in(p, login: str, password: str):
    p.goto("/entrar")
    p.page.get_by_label("Celular o correo").fill(login)
    p.page.get_by_label("Contraseña").fill(password)
    p.page.get_by_role("button", name="Entrar").click()


def _answer(p, person, number: str, listing_id: int, kg: str, price: str):
    _log_in(p, person.login, person.password)
    page = p.page
    page.get_by_role("link", name="Solicitudes").click()
    page.get_by_role("link", name="Cacao en grano seco: 20.000 kg").click()
    expect(page.get_by_role("heading", name=f"Solicitud {number}")).to_be_visible()
    p.assert_fits_the_screen()
    page.get_by_label("De cuál de sus ofertas").select_option(str(listing_id))
    page.get_by_label("Cantidad").fill(kg)
    page.get_by_label("Su precio por kg (COP)").fill(price)
    page.get_by_role("button", name="Enviar la cotización").click()
    expect(page.get_by_text("Cotización enviada.")).to_be_visible()
    assert not p.errors, p.errors


def test_demand_for_20_tonnes_answered_by_two_cooperatives_becomes_a_split_order(app, market, phone):  # noqa: F811
    big_a = make_listing(app, market.manager_a, "cacao-grano-seco", "12000", "10000")
    big_b = make_listing(app, market.manager_b, "cacao-grano-seco", "9000", "10500")

    buyer = phone(javascript=False)  # the whole journey works without JavaScript
    _log_in(buyer, market.buyer.login, market.buyer.password)
    page = buyer.page
    page.get_by_role("link", name="Solicitudes").click()
    page.get_by_role("link", name="Nueva solicitud").click()
    page.get_by_label("Producto").select_option(label="Cacao en grano seco")
    page.get_by_label("Cantidad").fill("20")
    page.get_by_label("Unidad").select_option("tonelada")
    page.get_by_label("Entregar desde").fill(START.isoformat())
    page.get_by_label("Entregar hasta").fill(END.isoformat())
    buyer.assert_fits_the_screen()
    page.get_by_role("button", name="Publicar la solicitud").click()
    expect(page.get_by_text("Solicitud S-00001 publicada.", exact=False)).to_be_visible()
    with app.app_context():
        demand = db.session.scalars(db.select(Demand)).one()
        number, demand_id = demand.number, demand.id
        assert demand.quantity_kg == Decimal("20000")
        db.session.remove()

    _answer(phone(), market.manager_a, number, big_a, "12000", "9800")
    _answer(phone(), market.manager_b, number, big_b, "8000", "10200")

    page.reload()
    expect(page.locator("table").first).to_contain_text("Cooperativa del Caguán")
    page.get_by_role("button", name="Calcular la propuesta de menor costo").click()
    proposal = page.locator("#propuesta")
    expect(proposal).to_contain_text("Asociación Cacaotera de Tumaco")
    expect(proposal).to_contain_text("Cooperativa del Caguán")
    expect(proposal).to_contain_text("Precio más bajo primero")
    buyer.assert_fits_the_screen()
    page.get_by_role("button", name="Aceptar y hacer el pedido").click()
    expect(page.get_by_role("heading", name="Pedido OC-")).to_be_visible()
    expect(page.get_by_role("heading", name="Asociación Cacaotera de Tumaco")).to_be_visible()
    expect(page.get_by_role("heading", name="Cooperativa del Caguán")).to_be_visible()

    with app.app_context():
        order = db.session.scalars(db.select(Order)).one()
        kg = {p.cooperative_id: sum(ln.quantity_kg for ln in p.lines) for p in order.parts}
        assert kg == {market.coop_a: Decimal("12000"), market.coop_b: Decimal("8000")}
        prices = {ln.listing_id: ln.price_per_kg for p in order.parts for ln in p.lines}
        assert prices == {big_a: Decimal("9800"), big_b: Decimal("10200")}
        assert db.session.get(Demand, demand_id).order_id == order.id
    assert not buyer.errors, buyer.errors
