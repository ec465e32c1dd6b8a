"""A cooperative manager registers from a phone, an admin verifies the cooperative, and the
manager logs in and sees the home page."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _register(p, municipality: str, choose: str | None = None):
    p.goto("/registro")
    p.page.get_by_role("link", name="Soy una asociación o cooperativa").click()
    p.assert_fits_the_screen()
    page = p.page
    page.get_by_label("Nombre de la asociación o cooperativa").fill("Asociación de Cacaoteros del Mira")
    page.get_by_label("Forma jurídica").select_option("asociacion")
    page.get_by_label("Municipio").fill(municipality)
    page.get_by_label("Número de asociados").fill("85")
    page.get_by_label("Mujeres").fill("40")
    page.get_by_label("Jóvenes (14 a 28 años)").fill("20")
    page.get_by_label("Su nombre completo").fill("Luz Marina Quiñones")
    page.get_by_label("Su celular (para iniciar sesión)").fill("311 555 0101")
    page.get_by_label("Contraseña", exact=True).fill("Cacao del Mira 2026")
    page.get_by_label("Repita la contraseña").fill("Cacao del Mira 2026")
    page.get_by_label("Autorizo el tratamiento").check()
    page.get_by_role("button", name="Registrar").click()
    if choose:
        expect(page.get_by_text("Varios municipios coinciden").last).to_be_visible()  # the field; the first is the summary
        page.get_by_label(choose).check()
        page.get_by_label("Contraseña", exact=True).fill("Cacao del Mira 2026")
        page.get_by_label("Repita la contraseña").fill("Cacao del Mira 2026")
        page.get_by_role("button", name="Registrar").click()
    expect(page.get_by_text("pendiente de verificación").first).to_be_visible()
    p.assert_fits_the_screen()


def _log_in(p, login: str, password: str):
    p.goto("/entrar")
    p.page.get_by_label("Celular o correo").fill(login)
    p.page.get_by_label("Contraseña").fill(password)
    p.page.get_by_role("button", name="Entrar").click()


def test_register_verify_and_log_in_on_a_phone(phone, factory, tmp_path):
    admin = factory.admin()
    manager = phone()
    _register(manager, "tumaco")
    manager.page.get_by_role("button", name="Salir").click()
    expect(manager.page.get_by_text("Cerró la sesión.")).to_be_visible()

    staff = phone()
    _log_in(staff, admin.login, admin.password)
    staff.page.get_by_role("link", name="Organizaciones").click()
    staff.page.get_by_role("link", name="Asociación de Cacaoteros del Mira").click()
    staff.page.get_by_label("Nuevo estado").select_option(label="Verificada")
    staff.page.get_by_role("button", name="Aplicar").click()
    expect(staff.page.get_by_text("Estado actualizado: Verificada.")).to_be_visible()

    _log_in(manager, "+57 311-555-0101", "Cacao del Mira 2026")
    page = manager.page
    expect(page.get_by_role("heading", name="Asociación de Cacaoteros del Mira")).to_be_visible()
    expect(page.get_by_text("Verificada", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Qué sigue")).to_be_visible()
    expect(page.get_by_text("San Andrés de Tumaco, Nariño · PDET")).to_be_visible()
    manager.assert_fits_the_screen()
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)
    assert manager.errors == [] and staff.errors == []


def test_registration_works_without_javascript(phone):
    no_js = phone(javascript=False)
    _register(no_js, "san vicente", choose="San Vicente del Caguán, Caquetá")
    # Registration lands on the code sent to the new number; the site is usable meanwhile.
    expect(no_js.page.get_by_role("heading", name="Verifique su celular")).to_be_visible()
    no_js.page.get_by_role("link", name="Hacerlo después").click()
    expect(no_js.page.get_by_text("San Vicente del Caguán, Caquetá · PDET")).to_be_visible()
