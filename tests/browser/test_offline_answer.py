"""On a 360 x 740 phone without a connection, a cooperative accepts a waiting order: the
answer waits on the phone as "pendiente de enviar" and is given once when it is back online."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.orders.models import PartEvent, PartStatus
from tests.orders.conftest import market  # noqa: F401 (the fixture: two cooperatives' listings, a buyer)
from tests.orders.helpers import part_of, place

pytestmark = pytest.mark.browser
# Resolves once the service worker has installed and controls the page.
# Resolves true once a service worker controls the page, or false after 15 s: a worker that
# activated without claiming this page controls it only after a reload, and an evaluate that
# awaits a promise has no timeout of its own.
CONTROLLED = """() => Promise.race([
    navigator.serviceWorker.ready.then(() => navigator.serviceWorker.controller ? true :
        new Promise(resolve => navigator.serviceWorker.addEventListener('controllerchange', () => resolve(true)))),
    new Promise(resolve => setTimeout(() => resolve(false), 15000))])"""


def _wait_controlled(page) -> None:
    if not page.evaluate(CONTROLLED):
        page.reload()
        assert page.evaluate(CONTROLLED), "no service worker took control of the page"


def test_an_answer_given_offline_is_sent_once(app, market, phone):  # noqa: F811
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    with app.app_context():
        part_id = part_of(order_id, market.coop_a).id

    seller = phone()
    page = seller.page
    seller.goto("/entrar")
    page.get_by_label("Celular o correo").fill(market.manager_a.login)
    page.get_by_label("Contraseña").fill(market.manager_a.password)
    page.get_by_role("button", name="Entrar").click()
    seller.goto(f"/ventas/{part_id}")
    _wait_controlled(page)

    seller.context.set_offline(True)
    page.get_by_role("button", name="Aceptar el pedido").click()
    waiting = page.locator("[data-outbox] .outbox-pending")
    expect(waiting).to_contain_text("Aceptar el pedido")
    expect(waiting).to_contain_text("pendiente de enviar")
    seller.assert_fits_the_screen()
    with app.app_context():
        assert part_of(order_id, market.coop_a).status == PartStatus.PLACED

    seller.context.set_offline(False)
    expect(page.locator("[data-outbox]")).to_contain_text("Enviado al volver la conexión: 1.")
    page.reload()
    expect(waiting).to_have_count(0)
    with app.app_context():
        assert part_of(order_id, market.coop_a).status == PartStatus.ACCEPTED
        assert db.session.scalar(select(func.count()).select_from(PartEvent).where(
            PartEvent.part_id == part_id, PartEvent.to_status == "accepted")) == 1
    # Logging out drops the pages the phone kept for offline use.
    assert page.evaluate("caches.has('mr-pages')")
    page.get_by_role("button", name="Salir").click()
    expect(page.get_by_role("link", name="Entrar")).to_be_visible()
    # The worker asked for the deletion before the logout reached the server; the cache
    # storage runs its operations in order, so this later question sees it.
    assert page.evaluate("() => caches.has('mr-pages')") is False
    assert seller.errors == []


def test_an_answer_waits_for_the_login_when_the_session_has_ended(app, market, phone):  # noqa: F811
    order_id = place(app, market, [(market.listing_a, "100", "kg")])
    with app.app_context():
        part_id = part_of(order_id, market.coop_a).id
    seller = phone()
    page = seller.page
    seller.goto(f"/entrar?next=/ventas/{part_id}")
    page.get_by_label("Celular o correo").fill(market.manager_a.login)
    page.get_by_label("Contraseña").fill(market.manager_a.password)
    page.get_by_role("button", name="Entrar").click()
    _wait_controlled(page)

    seller.context.set_offline(True)
    page.get_by_role("button", name="Rechazar").click()
    expect(page.locator("[data-outbox] .outbox-pending")).to_contain_text("pendiente de enviar")
    seller.context.clear_cookies()  # the session ends while the phone is offline
    seller.context.set_offline(False)
    waiting = page.locator("[data-outbox] .outbox-login")
    expect(waiting).to_contain_text("inicie sesión para enviarlo")
    with app.app_context():
        assert part_of(order_id, market.coop_a).status == PartStatus.PLACED

    waiting.get_by_role("link", name="Entrar").click()
    page.get_by_label("Celular o correo").fill(market.manager_a.login)
    page.get_by_label("Contraseña").fill(market.manager_a.password)
    page.get_by_role("button", name="Entrar").click()
    expect(page.locator("[data-outbox]")).to_contain_text("Enviado al volver la conexión: 1.")
    with app.app_context():
        assert part_of(order_id, market.coop_a).status == PartStatus.DECLINED
    assert seller.errors == []
