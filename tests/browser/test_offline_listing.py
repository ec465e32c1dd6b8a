"""On a 360 x 740 phone that loses its connection, a cooperative lists a harvest: the listing
is kept on the phone as "pendiente de enviar" and sent when the connection returns, once,
even when the same draft is sent again after a reload."""

from datetime import timedelta

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import func, select

from marketplace.catalog.catalogue import seed_catalogue
from marketplace.catalog.models import Listing, ListingPhoto, Product
from marketplace.core.models import bogota_date
from marketplace.extensions import db

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


def _log_in(p, login: str, password: str):
    p.goto("/entrar")
    p.page.get_by_label("Celular o correo").fill(login)
    p.page.get_by_label("Contraseña").fill(password)
    p.page.get_by_role("button", name="Entrar").click()


def _counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Listing)),
                db.session.scalar(select(func.count()).select_from(ListingPhoto)))


def test_a_listing_made_offline_is_sent_once_when_the_connection_returns(app, factory, phone, tmp_path):
    with app.app_context():
        seed_catalogue()
        db.session.commit()
        cacao = db.session.scalar(select(Product.id).where(Product.slug == "cacao-grano-seco"))
    _coop, manager = factory.cooperative()
    photo = tmp_path / "cacao.jpg"
    Image.new("RGB", (4000, 3000), (110, 62, 35)).save(photo, format="JPEG", quality=95)

    seller = phone()
    page = seller.page
    _log_in(seller, manager.login, manager.password)
    seller.goto(f"/ofertas/nueva?producto={cacao}")
    # The service worker installs and takes the page (the form is then kept for offline use).
    _wait_controlled(page)
    page.reload()

    seller.context.set_offline(True)
    page.get_by_label("Cantidad").fill("40")
    page.get_by_label("Unidad", exact=True).select_option("arroba")
    page.get_by_label("Precio por unidad (COP)").fill("150.000")
    page.get_by_label("Disponible hasta").fill((bogota_date() + timedelta(days=30)).isoformat())
    page.get_by_label("O un nuevo centro de acopio o vereda").fill("Vereda La Playa")
    page.locator("input[type=file][name=photos]").set_input_files(str(photo))
    page.get_by_role("button", name="Publicar").click()
    outbox = page.locator("[data-outbox]")
    expect(outbox).to_contain_text("pendiente de enviar")
    expect(outbox).to_contain_text("Cacao en grano seco · 40")
    seller.assert_fits_the_screen()
    assert _counts(app) == (0, 0)
    # The photo is kept on the phone already shrunk (at most 1,600 px, far below the original).
    kept = page.evaluate("""MercadoOutbox.all().then(function (drafts) {
        var photo = drafts[0].fields.filter(function (f) { return f[0] === 'photos'; })[0][1];
        // A second copy of the same draft, held back: sent later as a repeated sync would.
        var copy = Object.assign({}, drafts[0], {id: 'copy', status: 'held'});
        return MercadoOutbox.put(copy).then(function () { return createImageBitmap(photo); })
          .then(function (b) { return [drafts.length, b.width, photo.size]; });
    })""")
    assert kept[0] == 1 and kept[1] == 1600 and kept[2] < photo.stat().st_size

    # Offline, the listing form opens again from the phone's copy.
    page.goto(seller.base_url + f"/ofertas/nueva?producto={cacao}")
    expect(page.get_by_label("Cantidad")).to_be_visible()
    expect(page.locator("[data-outbox] .outbox-pending")).to_contain_text("pendiente de enviar")

    seller.context.set_offline(False)
    expect(page.locator("[data-outbox]")).to_contain_text("Enviado al volver la conexión: 1.")
    expect(page.locator("[data-outbox] .outbox-pending")).to_have_count(0)
    assert _counts(app) == (1, 1)

    # The same draft again after a reload (a second sync): asked first, it is not sent again.
    page.reload()
    left = page.evaluate("""user => MercadoOutbox.all().then(function (drafts) {
        var copy = drafts.filter(function (d) { return d.id === 'copy'; })[0];
        copy.status = 'pending';
        return MercadoOutbox.put(copy);
    }).then(function () { return MercadoOutbox.flush(user); })
      .then(function () { return MercadoOutbox.all(); })
      .then(function (drafts) { return drafts.length; })""", manager.user_id)
    assert left == 0
    assert _counts(app) == (1, 1)
    assert seller.errors == []


def test_a_draft_the_server_refuses_opens_with_its_errors(app, factory, phone):
    with app.app_context():
        seed_catalogue()
        db.session.commit()
        cacao = db.session.scalar(select(Product.id).where(Product.slug == "cacao-grano-seco"))
    _coop, manager = factory.cooperative()
    seller = phone()
    page = seller.page
    _log_in(seller, manager.login, manager.password)
    seller.goto(f"/ofertas/nueva?producto={cacao}")
    _wait_controlled(page)

    seller.context.set_offline(True)
    page.get_by_label("Cantidad").fill("0")
    page.get_by_label("Precio por unidad (COP)").fill("150.000")
    page.get_by_role("button", name="Publicar").click()
    expect(page.locator("[data-outbox] .outbox-pending")).to_contain_text("pendiente de enviar")
    seller.context.set_offline(False)
    refused = page.locator("[data-outbox] .outbox-review")
    expect(refused).to_contain_text("el servidor pidió una corrección")
    refused.get_by_role("button", name="Revisar").click()
    expect(page.get_by_role("alert")).to_contain_text("Disponible hasta: Escriba la fecha.")
    expect(page.get_by_label("Cantidad")).to_have_value("0")
    assert _counts(app) == (0, 0)
    # The browser logs the refused post (422) itself; nothing else went wrong.
    assert [e for e in seller.errors if "status of 422" not in e] == []
