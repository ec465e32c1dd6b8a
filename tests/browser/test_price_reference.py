"""On a phone, the listing form's reference price follows the unit being typed and the typed
price is compared with it while typing (static/js/price-reference.js)."""

import pytest
from sqlalchemy import select

from marketplace.catalog import sipsa
from marketplace.catalog.catalogue import seed_catalogue
from marketplace.catalog.models import Product
from marketplace.core import formatting
from marketplace.extensions import db

pytestmark = pytest.mark.browser


def test_the_reference_follows_the_unit_and_the_price_typed(app, factory, phone):
    with app.app_context():
        seed_catalogue()
        db.session.commit()
        plantain = db.session.scalar(select(Product.id).where(Product.slug == "platano-harton"))
    reference = sipsa.nearest_reference("Plátano hartón verde", 1.807399, -78.764073).latest.mean
    _coop, manager = factory.cooperative()
    seller = phone()
    seller.goto("/entrar")
    page = seller.page
    page.get_by_label("Celular o correo").fill(manager.login)
    page.get_by_label("Contraseña").fill(manager.password)
    page.get_by_role("button", name="Entrar").click()
    seller.goto(f"/ofertas/nueva?producto={plantain}")
    box = page.locator("#referencias")
    page.get_by_label("Unidad", exact=True).select_option("tonelada")
    with app.test_request_context():
        per_tonne = formatting.cop(reference * 1000)
    assert f"{per_tonne} por tonelada" in box.inner_text()
    # A price per tonne typed as if it were per kg: 1.000 $/t is 1 $/kg.
    page.get_by_label("Precio por unidad (COP)").fill(formatting.plain(reference))
    text = box.inner_text()
    assert "Su precio: $ 1 por kg" in text and "menos que la referencia" in text and "más del 40 %" in text
    page.get_by_label("Precio por unidad (COP)").fill(formatting.plain(reference * 1000))
    assert "más del 40 %" not in box.inner_text()
    seller.assert_fits_the_screen()
    assert seller.errors == []
