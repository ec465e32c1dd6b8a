"""The development message page: readable in full outside production (a local run without
provider credentials shows the verification code), never reachable in production with real
providers, and only for staff, with secrets masked, in production without them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketplace.extensions import db
from tests.conftest import login


def _seed(app):
    from marketplace.messaging.models import Channel, Message, MessageStatus

    now = datetime(2026, 12, 7, 15, tzinfo=UTC)
    with app.app_context():
        db.session.add_all([
            Message(kind="verify_phone", channel=Channel.SMS, to_address="+573209876543", locale="es",
                    body="Mercado Rural: su codigo es 493817. Vence en 10 minutos.", secret=True,
                    status=MessageStatus.SENT, provider="log", attempts=1, created_at=now, updated_at=now),
            Message(kind="new_order", channel=Channel.WHATSAPP, to_address="+573101234567", locale="es",
                    body="Nuevo pedido 1842 de Chocolates Andinos: 300 kg de cacao.", template_name="pedido_nuevo",
                    template_language="es", template_params=["1842"], as_template=True,
                    buttons=[["accept:1842", "Aceptar"], ["decline:1842", "Rechazar"]],
                    status=MessageStatus.SENT, provider="log", attempts=1, created_at=now, updated_at=now),
            Message(kind="accept", channel=Channel.EMAIL, to_address="compras@empresa.co", locale="en",
                    subject="Order 1842 accepted", body="The cooperative accepted your order.",
                    status=MessageStatus.QUEUED, attempts=0, created_at=now, updated_at=now),
        ])
        db.session.commit()


def test_in_development_anyone_reads_every_message_in_full(make_app):
    app = make_app(APP_ENV="development")
    _seed(app)
    page = app.test_client().get("/dev/mensajes").get_data(as_text=True)
    assert "493817" in page  # the code a developer needs to finish registering
    assert "Nuevo pedido 1842" in page and "Aceptar" in page and "Rechazar" in page and "pedido_nuevo" in page
    assert "Order 1842 accepted" in page
    assert "GSM-7" in page and "1 parte" in page  # the SMS with its encoding and parts


def test_a_template_shows_its_approved_text_with_the_parameters(make_app):
    """What the phone shows for a template is the text submitted to Meta, filled in; a
    secret's parameters are masked where secrets are."""
    from marketplace.messaging import hooks
    from marketplace.messaging.models import Channel, Message, MessageStatus

    app = make_app(APP_ENV="development")
    kind = next(k for k in hooks.NOTICE_KINDS.values() if k.template and k.template_text.get("es")
                and "{{2}}" in k.template_text["es"] and not k.secret)
    params = [f"valor-{n}" for n in range(1, 7)]
    now = datetime(2026, 12, 7, 15, tzinfo=UTC)
    with app.app_context():
        db.session.add(Message(kind=kind.kind, channel=Channel.WHATSAPP, to_address="+573101234567", locale="es",
                               body="el texto libre", template_name=kind.template, template_language="es",
                               template_params=params, as_template=True, status=MessageStatus.SENT,
                               provider="log", attempts=1, created_at=now, updated_at=now))
        db.session.commit()
        expected = kind.template_text["es"]
        for n, value in enumerate(params, start=1):
            expected = expected.replace("{{" + str(n) + "}}", value)
    page = app.test_client().get("/dev/mensajes").get_data(as_text=True)
    from markupsafe import escape

    assert str(escape(expected)) in page and "valor-2" in page and "el texto libre" in page


def test_filter_by_number_or_address(make_app):
    app = make_app(APP_ENV="development")
    _seed(app)
    client = app.test_client()
    page = client.get("/dev/mensajes?para=320+987+6543").get_data(as_text=True)
    assert "493817" in page and "Nuevo pedido" not in page
    page = client.get("/dev/mensajes?para=compras@empresa.co").get_data(as_text=True)
    assert "Order 1842 accepted" in page and "493817" not in page


def test_in_production_with_real_providers_nobody_reaches_it(make_app, factory):
    app = make_app(APP_ENV="production", WHATSAPP_ACCESS_TOKEN="EAAG-secret", WHATSAPP_PHONE_NUMBER_ID="123")
    _seed(app)
    assert app.test_client().get("/dev/mensajes").status_code == 404
    client = app.test_client()
    login(client, factory.admin())
    assert client.get("/dev/mensajes").status_code == 404


@pytest.mark.parametrize("setting", [{"SMTP_HOST": "smtp.example.org"}, {"TWILIO_AUTH_TOKEN": "x"},
                                     {"SMS_PROVIDER": "twilio"}])
def test_any_real_provider_closes_it_in_production(make_app, factory, setting):
    app = make_app(APP_ENV="production", **setting)
    client = app.test_client()
    login(client, factory.admin())
    assert client.get("/dev/mensajes").status_code == 404


def test_in_production_without_providers_only_staff_and_secrets_masked(make_app, factory):
    app = make_app(APP_ENV="production")
    _seed(app)
    assert app.test_client().get("/dev/mensajes").status_code == 404
    _coop, manager = factory.cooperative()
    client = app.test_client()
    login(client, manager)
    assert client.get("/dev/mensajes").status_code == 404
    staff = app.test_client()
    login(staff, factory.staff())
    page = staff.get("/dev/mensajes").get_data(as_text=True)
    assert "Nuevo pedido 1842" in page and "493817" not in page and "(contenido secreto)" in page


def test_the_footer_links_to_it_outside_production_only(make_app):
    assert 'href="/dev/mensajes"' in make_app(APP_ENV="development").test_client().get("/entrar").get_data(as_text=True)
    production = make_app(APP_ENV="production").test_client().get("/entrar").get_data(as_text=True)
    assert "/dev/mensajes" not in production
