"""On a phone, a cooperative manager who forgot the password asks for a code from the login
page, reads it from the message the outbox sent to the verified number, chooses a new
password and logs in with it; the old one no longer works."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.messaging import outbox
from marketplace.messaging.models import Message
from tests.accounts import codes

pytestmark = pytest.mark.browser

NEW = "Cacao del Mira Nuevo 2027"


def _code_sent_to(app, number: str) -> str:
    """Run the outbox (no provider configured: the log provider) and read the code from the
    message it sent to ``number``."""
    with app.app_context():
        outbox.run_once()
        message = db.session.scalars(select(Message).where(
            Message.kind == "recovery_code", Message.to_address == number).order_by(Message.id.desc())).first()
        assert message is not None and message.status.value == "sent"
        return re.search(r"\b(\d{6})\b", message.body).group(1)


def _log_in(p, login: str, password: str):
    p.goto("/entrar")
    p.page.get_by_label("Celular o correo").fill(login)
    p.page.get_by_label("Contraseña").fill(password)
    p.page.get_by_role("button", name="Entrar").click()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_recover_a_password_by_code_on_a_phone(app, factory, phone, javascript):
    _coop, manager = factory.cooperative()
    codes.prove(app, manager.user_id)
    p = phone(javascript=javascript)
    page = p.page
    p.goto("/entrar")
    page.get_by_role("link", name="¿Olvidó su contraseña?").click()
    expect(page.get_by_role("heading", name="¿Olvidó su contraseña?")).to_be_visible()
    p.assert_fits_the_screen()
    page.get_by_label("Celular o correo").fill("315 000 0001")
    page.get_by_role("button", name="Enviarme un código").click()
    expect(page.get_by_role("heading", name="Escriba el código")).to_be_visible()
    expect(page.get_by_text("Si 315 000 0001 es el celular verificado de una cuenta")).to_be_visible()
    p.assert_fits_the_screen()

    code = _code_sent_to(app, manager.login)
    page.get_by_label("Código").fill(code)
    page.get_by_label("Nueva contraseña", exact=True).fill(NEW)
    page.get_by_label("Repita la nueva contraseña").fill(NEW)
    page.get_by_role("button", name="Cambiar la contraseña").click()
    expect(page.get_by_text("Contraseña cambiada. Cerramos todas las sesiones")).to_be_visible()
    expect(page.get_by_role("heading", name="Entrar")).to_be_visible()

    _log_in(p, manager.login, manager.password)
    expect(page.get_by_text("El celular, el correo o la contraseña no son correctos.")).to_be_visible()
    _log_in(p, manager.login, NEW)
    expect(page.get_by_role("button", name="Salir")).to_be_visible()
    expect(page.get_by_role("heading", name="Asociación de Prueba 1")).to_be_visible()
    p.assert_fits_the_screen()
    assert p.errors == []
