"""On a 360 px phone without JavaScript: a refused registration shows its errors at the top,
each a link that takes the person to the field; checkboxes are large enough to touch."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_refused_registration_leads_to_each_field_and_asks_for_the_password_again(phone):
    p = phone(javascript=False)
    p.goto("/registro/cooperativa")
    page = p.page
    page.get_by_label("Nombre de la asociación o cooperativa").fill("Asociación de Cacaoteros del Mira")
    page.get_by_label("Municipio").fill("tumaco")
    page.get_by_label("Número de asociados").fill("85")
    page.get_by_label("Su nombre completo").fill("Luz Marina Quiñones")
    page.get_by_label("Su celular (para iniciar sesión)").fill("311 555 0101")
    page.get_by_label("Contraseña", exact=True).fill("Cacao del Mira 2026")
    page.get_by_label("Repita la contraseña").fill("Cacao del Mira 2026")
    page.get_by_role("button", name="Registrar").click()  # consent left unchecked
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    assert summary.bounding_box()["y"] < 740  # on the first screen, where the page reloads
    expect(summary.get_by_role("link", name="Contraseña: Por seguridad, escriba de nuevo la contraseña.",
                                   exact=True)).to_be_visible()
    summary.get_by_role("link", name="Debe autorizar el tratamiento de datos", exact=False).click()
    assert page.evaluate("location.hash") == "#consent"
    consent = page.get_by_label("Autorizo el tratamiento")
    assert consent.get_attribute("aria-invalid") == "true"
    box = consent.bounding_box()
    assert 0 <= box["y"] < 740  # scrolled to the field
    expect(page.get_by_role("link", name="política de tratamiento de datos personales")).to_have_attribute(
        "href", "/privacidad")
    p.assert_fits_the_screen()
    # The second try with the passwords typed again and consent given goes through.
    page.get_by_label("Contraseña", exact=True).fill("Cacao del Mira 2026")
    page.get_by_label("Repita la contraseña").fill("Cacao del Mira 2026")
    consent.check()
    page.get_by_role("button", name="Registrar").click()
    expect(page.get_by_text("Verifique su celular").first).to_be_visible()


def test_certifications_are_a_labelled_group_of_large_targets_and_the_menu_marks_the_page(app, factory, phone):
    from marketplace.catalog.catalogue import seed_catalogue
    from marketplace.extensions import db

    with app.app_context():
        seed_catalogue()
        db.session.commit()
    _coop, manager = factory.cooperative()
    p = phone()
    p.goto("/entrar")
    p.page.get_by_label("Celular o correo").fill(manager.login)
    p.page.get_by_label("Contraseña").fill(manager.password)
    p.page.get_by_role("button", name="Entrar").click()
    page = p.page
    page.get_by_role("link", name="Mis ofertas").click()
    expect(page.locator('nav a[aria-current="page"]')).to_have_text("Mis ofertas")
    page.get_by_role("link", name="Publicar una cosecha").click()
    page.get_by_role("link", name="Cacao en grano seco").click()
    group = page.get_by_role("group", name="Certificaciones")
    expect(group).to_be_visible()
    labels = group.locator("label.check")
    assert labels.count() >= 3
    for i in range(labels.count()):
        box = labels.nth(i).bounding_box()
        assert box["height"] >= 44, box
    # A tap on the label's text checks the box.
    labels.first.click()
    assert labels.first.locator("input").is_checked()
    p.assert_fits_the_screen()
