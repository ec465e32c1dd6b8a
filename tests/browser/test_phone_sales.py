"""On a 360 × 740 phone: the cooperative opens its waiting orders from the home page and sees only
those; the cart and a sale page fit the screen with the price per kg and the totals in view."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from marketplace.extensions import db
from marketplace.orders import services
from tests.orders.conftest import market  # noqa: F401  (fixture)
from tests.orders.helpers import part_of, place, user

pytestmark = pytest.mark.browser

# Elements whose right edge passes the screen (hidden helpers, 1 px wide or inside a clipped
# table head kept for screen readers, do not count).
OVERFLOWING = """() => [...document.querySelectorAll('body *')].filter(e => {
  if (e.closest('thead')) return false;
  const r = e.getBoundingClientRect();
  return r.width > 1 && r.right > document.documentElement.clientWidth + 0.5;
}).map(e => e.tagName + '.' + e.className).slice(0, 5)"""


def _log_in(p, person):
    p.goto("/entrar")
    p.page.get_by_label("Celular o correo").fill(person.login)
    p.page.get_by_label("Contraseña").fill(person.password)
    p.page.get_by_role("button", name="Entrar").click()


def _fits(p):
    p.assert_fits_the_screen()
    assert p.page.evaluate(OVERFLOWING) == []


def _in_view(locator):
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360, box


def test_the_cooperative_opens_only_its_waiting_orders_from_home(app, market, phone):  # noqa: F811
    waiting = place(app, market, [(market.listing_a, "100", "kg")])
    accepted = place(app, market, [(market.listing_a, "50", "kg")])
    other = place(app, market, [(market.listing_b, "40", "kg")])  # another cooperative's order
    with app.app_context():
        services.accept(user(market.manager_a), part_of(accepted, market.coop_a))
        db.session.commit()
        waiting_part = part_of(waiting, market.coop_a).id
        other_part = part_of(other, market.coop_b).id
    p = phone()
    _log_in(p, market.manager_a)
    p.page.get_by_role("link", name="Responda 1 pedido nuevo").click()
    expect(p.page.get_by_role("link", name="Por responder 1")).to_have_attribute("aria-current", "page")
    cards = p.page.locator("li.sale-card")
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("id", f"venta-{waiting_part}")
    expect(cards.first).to_contain_text("Cacao en grano seco")
    expect(cards.first).to_contain_text("100 kg")
    expect(cards.first).to_contain_text("Chocolates Andinos S.A.S.")
    expect(cards.first).to_contain_text("Responda antes del")
    assert p.page.locator(f"#venta-{other_part}").count() == 0
    _fits(p)
    assert not p.errors, p.errors


def test_cart_and_sale_fit_a_phone_with_prices_and_totals_in_view(app, market, phone):  # noqa: F811
    buyer = phone()
    _log_in(buyer, market.buyer)
    buyer.goto(f"/ofertas/{market.listing_a}")
    buyer.page.get_by_label("Cantidad").fill("8")
    buyer.page.get_by_label("Unidad").select_option("arroba")
    buyer.page.get_by_role("button", name="Agregar al pedido").click()
    expect(buyer.page.get_by_text("Agregado a su pedido.")).to_be_visible()
    page = buyer.page
    buyer.goto("/pedido")
    _fits(buyer)
    _in_view(page.locator('td[data-label="Precio / kg"]').first)
    expect(page.locator('td[data-label="Precio / kg"]').first).to_contain_text("$ 10.000")
    unit = page.locator("select[id^=unit-]").first
    # The unit select shows its whole text ("arroba", not "arr").
    assert page.evaluate("""s => { const t = document.createElement('span');
        t.style.font = getComputedStyle(s).font; t.textContent = s.options[s.selectedIndex].text;
        document.body.appendChild(t); const w = t.getBoundingClientRect().width; t.remove();
        return w <= s.clientWidth; }""", unit.element_handle())
    page.get_by_role("button", name="Calcular costos").click()
    _in_view(page.locator("#order-total"))
    _fits(buyer)
    _in_view(page.locator('td[data-label="Puesto / kg"]').first)

    order = place(app, market, [(market.listing_a, "100", "kg")])
    with app.app_context():
        part = part_of(order, market.coop_a).id
        assert services.ledger(part_of(order, market.coop_a)).gross == Decimal("1000000")
    seller = phone()
    _log_in(seller, market.manager_a)
    seller.goto(f"/ventas/{part}")
    _fits(seller)
    _in_view(seller.page.locator('td[data-label="Precio / kg"]').first)
    _in_view(seller.page.locator("#gross"))
    _in_view(seller.page.locator("#net"))
    assert not buyer.errors and not seller.errors, (buyer.errors, seller.errors)
