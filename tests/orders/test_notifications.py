"""E-mails about orders go through an outbox: written with the change, sent afterwards,
each in its recipient's language, kept for another try when the mail server is down."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from marketplace.extensions import db
from marketplace.orders import notifications, services
from marketplace.orders.models import Notification, Order
from tests.orders.helpers import place, user


@pytest.fixture
def outbox(app):
    sent = []
    app.extensions["marketplace_outbox"] = sent
    yield sent
    app.extensions.pop("marketplace_outbox", None)


def _give_email(app, person, email, locale="es"):
    with app.app_context():
        account = user(person)
        account.email, account.locale = email, locale
        db.session.commit()


def test_a_new_order_is_told_to_each_cooperative_in_its_language(app, market, outbox):
    _give_email(app, market.manager_a, "gerente.a@coop.co", "en")
    _give_email(app, market.manager_b, "gerente.b@coop.co", "es")
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")])
    assert outbox == []  # placing an order waits on no mail server
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(Notification)) == 2
        assert notifications.deliver() == 2
        number = db.session.get(Order, order_id).number
        assert db.session.scalars(select(Notification.sent_at)).all() and all(
            n.sent_at is not None for n in db.session.scalars(select(Notification)))
    by_recipient = {message["To"]: message for message in outbox}
    english, spanish = by_recipient["gerente.a@coop.co"], by_recipient["gerente.b@coop.co"]
    assert english["Subject"].startswith(f"New order {number}")
    assert "Answer before" in english.get_content()
    assert spanish["Subject"].startswith(f"Nuevo pedido {number}")
    assert "Responda antes del" in spanish.get_content()
    with app.app_context():
        assert notifications.deliver() == 0  # each is sent once
    assert len(outbox) == 2


def test_the_buyer_hears_of_acceptance_and_decline(app, market, outbox):
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")])
    with app.app_context():
        notifications.deliver()
        outbox.clear()
        order = db.session.get(Order, order_id)
        part_a, part_b = sorted(order.parts, key=lambda p: p.cooperative_id != market.coop_a)
        services.accept(user(market.manager_a), part_a)
        services.decline(user(market.manager_b), part_b, "Se dañó con la lluvia")
        db.session.commit()
        assert notifications.deliver() == 2
    subjects = sorted(m["Subject"] for m in outbox)
    assert all(m["To"] == market.buyer.login for m in outbox)
    assert any("aceptó su pedido" in s for s in subjects)
    assert any("no puede atender su pedido" in s for s in subjects)
    decline = next(m for m in outbox if "no puede atender" in m["Subject"])
    assert "Se dañó con la lluvia" in decline.get_content()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_mail_server_that_is_down_keeps_the_notification_for_later(make_app, market, outbox):
    app = make_app(SMTP_HOST="127.0.0.1", SMTP_PORT=_closed_port(), SMTP_STARTTLS=False)
    app.extensions["marketplace_outbox"] = outbox
    _give_email(app, market.manager_a, "gerente.a@coop.co")
    place(app, market, [(market.listing_a, "100", "kg")])
    with app.app_context():
        assert notifications.deliver() == 0
        note = db.session.scalars(select(Notification)).one()
        assert note.sent_at is None and note.attempts == 1
        for _ in range(notifications.MAX_ATTEMPTS - 1):
            notifications.deliver()
        db.session.refresh(note)
        assert note.sent_at is not None and note.attempts == notifications.MAX_ATTEMPTS
        assert "gave up" in note.last_error


def test_the_sweep_command_sends_what_is_owed(app, market, outbox):
    _give_email(app, market.manager_a, "gerente.a@coop.co")
    place(app, market, [(market.listing_a, "100", "kg")])
    result = app.test_cli_runner().invoke(args=["orders", "sweep"])
    assert result.exit_code == 0, result.output
    assert "1 avisos por correo enviados" in result.output
    assert [m["To"] for m in outbox] == ["gerente.a@coop.co"]
