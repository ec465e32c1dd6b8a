"""On a phone, a listing with a photo and a wrong field is refused once; the photo is shown
back and the fix is sent without choosing it again. The phone shrank it before sending."""

import threading
from datetime import timedelta

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.serving import make_server

from marketplace.catalog.catalogue import seed_catalogue
from marketplace.catalog.models import Listing
from marketplace.core.models import bogota_date
from marketplace.extensions import db
from tests.browser.conftest import LOADED_WIDTH

pytestmark = pytest.mark.browser
POSTED: list[int] = []


@pytest.fixture
def live_server(make_app):
    """The conftest's live server, noting the size of each listing form posted to it (what
    crossed the link: the browser does not report multipart bodies with files)."""
    app = make_app()
    inner = app.wsgi_app

    def counting(environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ.get("PATH_INFO") == "/ofertas/nueva":
            POSTED.append(int(environ.get("CONTENT_LENGTH") or 0))
        return inner(environ, start_response)

    app.wsgi_app = counting
    POSTED.clear()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def _log_in(p, login: str, password: str):
    p.goto("/entrar")
    p.page.get_by_label("Celular o correo").fill(login)
    p.page.get_by_label("Contraseña").fill(password)
    p.page.get_by_role("button", name="Entrar").click()


def _phone_photo(path):
    """A 2,400 x 1,800 camera-like JPEG, stored sideways with EXIF orientation 6 (turn right)."""
    noise = Image.effect_noise((2400, 1800), 40)
    image = Image.merge("RGB", (noise, noise.point(lambda v: v // 2), Image.linear_gradient("L").resize((2400, 1800))))
    exif = Image.Exif()
    exif[0x0112] = 6
    image.save(path, format="JPEG", quality=95, exif=exif)


def test_a_refused_listing_keeps_its_photo_and_the_phone_shrinks_it(app, factory, phone, tmp_path):
    with app.app_context():
        seed_catalogue()
        db.session.commit()
    _coop, manager = factory.cooperative()
    photo = tmp_path / "camara.jpg"
    _phone_photo(photo)
    original = photo.stat().st_size

    seller = phone()
    page = seller.page
    _log_in(seller, manager.login, manager.password)
    page.get_by_role("link", name="Mis ofertas").click()
    page.get_by_role("link", name="Publicar una cosecha").click()
    page.get_by_role("link", name="Cacao en grano seco").click()
    page.get_by_label("Cantidad").fill("0")
    page.get_by_label("Unidad", exact=True).select_option("arroba")
    page.get_by_label("Precio por unidad (COP)").fill("150.000")
    page.get_by_label("Disponible hasta").fill((bogota_date() + timedelta(days=30)).isoformat())
    page.get_by_label("O un nuevo centro de acopio o vereda").fill("Vereda La Playa")
    page.get_by_label("Fotos (hasta 3; JPEG, PNG o WebP de hasta 8 MB)").set_input_files(str(photo))
    page.get_by_role("button", name="Publicar").click()

    # The phone shrinks a 4,000 x 3,000 photo before the upload: on a busy CI machine running
    # other browsers beside it that takes longer than expect()'s default 5 s.
    expect(page.locator("#quantity-error")).to_contain_text("mayor que cero", timeout=30_000)
    kept = page.get_by_role("img", name="Foto recibida 1")
    expect(kept).to_be_visible()
    assert kept.evaluate(LOADED_WIDTH) > 0
    seller.assert_fits_the_screen()

    page.get_by_label("Cantidad").fill("40")
    page.get_by_role("button", name="Publicar").click()
    expect(page.get_by_text("Oferta publicada.")).to_be_visible(timeout=30_000)

    assert len(POSTED) == 2
    assert 20_000 < POSTED[0] < original / 2, (POSTED, original)  # shrunk on the phone before sending
    assert POSTED[1] < 20_000, POSTED  # the fix carried a token, not the photo again
    with app.app_context():
        listing = db.session.scalar(select(Listing))
        (stored,) = listing.photos
        assert max(stored.width, stored.height) <= 1600
        assert stored.height > stored.width  # turned upright from its EXIF orientation
    # Chromium logs every 4xx answer of a request; the refused form's 422 is the expected one.
    assert [e for e in seller.errors if "status of 422" not in e] == []
