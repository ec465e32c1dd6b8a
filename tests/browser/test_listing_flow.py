"""On a phone, a cooperative lists a harvest in arrobas with a photo; a buyer finds it by
product and department and sees its price per kg."""

from datetime import timedelta

import pytest
from PIL import Image
from playwright.sync_api import expect

from marketplace.catalog.catalogue import seed_catalogue
from marketplace.core.models import bogota_date
from marketplace.extensions import db
from tests.browser.conftest import LOADED_WIDTH

pytestmark = pytest.mark.browser


def _log_in(p, login: str, password: str):
    p.goto("/entrar")
    p.page.get_by_label("Celular o correo").fill(login)
    p.page.get_by_label("Contraseña").fill(password)
    p.page.get_by_role("button", name="Entrar").click()


def test_list_in_arrobas_with_a_photo_and_find_it(app, factory, phone, tmp_path):
    with app.app_context():
        seed_catalogue()
        db.session.commit()
    _coop, manager = factory.cooperative()
    _buyer, buyer = factory.buyer()
    photo = tmp_path / "cacao.jpg"
    Image.new("RGB", (1600, 1200), (110, 62, 35)).save(photo, format="JPEG")

    seller = phone()
    _log_in(seller, manager.login, manager.password)
    page = seller.page
    page.get_by_role("link", name="Mis ofertas").click()
    page.get_by_role("link", name="Publicar una cosecha").click()
    page.get_by_role("link", name="Cacao en grano seco").click()
    seller.assert_fits_the_screen()
    page.get_by_label("Cantidad").fill("40")
    page.get_by_label("Unidad", exact=True).select_option("arroba")
    page.get_by_label("Precio por unidad (COP)").fill("150.000")
    page.get_by_label("Disponible hasta").fill((bogota_date() + timedelta(days=30)).isoformat())
    page.get_by_label("O un nuevo centro de acopio o vereda").fill("Vereda La Playa")
    page.get_by_label("Orgánico").check()
    page.get_by_label("Fotos (hasta 3; JPEG, PNG o WebP de hasta 8 MB)").set_input_files(str(photo))
    page.get_by_role("button", name="Publicar").click()
    expect(page.get_by_text("Oferta publicada.")).to_be_visible()
    expect(page.get_by_text("$ 150.000 / arroba")).to_be_visible()
    expect(page.get_by_text("40 arrobas (500 kg) disponibles de 40 arrobas (500 kg)")).to_be_visible()
    seller.assert_fits_the_screen()

    shopper = phone()
    _log_in(shopper, buyer.login, buyer.password)
    page = shopper.page
    page.get_by_role("link", name="Buscar cosechas").first.click()
    page.get_by_label("Producto").select_option(label="Cacao en grano seco")
    page.get_by_text("Más filtros").click()  # folded away so that results come first
    page.get_by_label("Departamento").select_option(label="Nariño")
    page.get_by_role("button", name="Buscar").click()
    result = page.locator(".results li").first
    expect(result).to_contain_text("$ 12.000 / kg")
    expect(result).to_contain_text("San Andrés de Tumaco, Nariño")
    expect(result).to_contain_text("PDET Pacífico y Frontera Nariñense")
    expect(result).to_contain_text("/ kg puesto en")
    shopper.assert_fits_the_screen()
    result.get_by_role("link").click()
    image = page.get_by_role("img", name="Foto de la cosecha")
    expect(image).to_be_visible()
    assert image.evaluate(LOADED_WIDTH) == 1280
    expect(page.get_by_role("heading", name="Historial de precio y cantidad")).to_be_visible()
    assert seller.errors == [] and shopper.errors == []
