"""Order notices through the messaging outbox: written with the change, expanded and sent by
the worker (``outbox.run_once``) on each person's own channel, in their language.

Without provider credentials (as here) messages go to the "log" provider, which records
what a real one would have done: whether WhatsApp went as the approved template (window
closed) or as free text (the person wrote in the last 24 hours), SMS parts, the e-mail.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from marketplace.accounts.models import Role, User
from marketplace.extensions import db
from marketplace.messaging import gsm, outbox
from marketplace.messaging.models import Channel, Inbound, Message, MessageStatus
from marketplace.orders import services, sweep
from marketplace.orders.models import Order
from tests.orders.helpers import part_of, place, user
from tests.orders.notice_helpers import PLACED_AT, fill, notices, render

BUYER = "Chocolates Andinos S.A.S."


def _reach(user_id: int, channel: str, *, locale: str = "es", email: str | None = None) -> None:
    """Give a person a verified number (and WhatsApp consent) or an e-mail, and make it their channel."""
    person = db.session.get(User, user_id)
    person.locale, person.preferred_channel = locale, channel
    if channel == "email":
        person.email = email or f"persona{user_id}@example.co"
        person.email_verified_at = PLACED_AT
    else:
        person.phone_verified_at = PLACED_AT
        if channel == "whatsapp":
            person.whatsapp_opt_in_at = PLACED_AT
    db.session.commit()


def _messages(kind: str | None = None) -> list[Message]:
    stmt = select(Message).order_by(Message.id)
    if kind is not None:
        stmt = stmt.where(Message.kind == kind)
    return list(db.session.scalars(stmt))


def _by_user(kind: str) -> dict[int, Message]:
    return {m.user_id: m for m in _messages(kind)}


@pytest.fixture
def people(app, market, factory):
    """Coop A: its manager on WhatsApp (Spanish) and a member by SMS (English); coop B's
    manager by e-mail (English); the buyer's admin by e-mail (Spanish)."""
    member = factory.member(market.coop_a, Role.COOP_MEMBER)
    with app.app_context():
        _reach(market.manager_a.user_id, "whatsapp")
        _reach(member.user_id, "sms", locale="en")
        _reach(market.manager_b.user_id, "email", locale="en", email="gerente.b@coop.co")
        _reach(market.buyer.user_id, "email")
    return member


def test_a_new_order_reaches_each_cooperative_on_its_own_channel(app, market, people):
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")], now=PLACED_AT)
    with app.app_context():
        assert _messages() == []  # placing wrote notices and waited on no provider
        counts = outbox.run_once(now=PLACED_AT + timedelta(seconds=5))
        assert counts["expanded"] >= 2 and counts["failed"] == 0
        order = db.session.get(Order, order_id)
        part_a, part_b = part_of(order_id, market.coop_a), part_of(order_id, market.coop_b)
        sent = _by_user("new_order")
        assert set(sent) == {market.manager_a.user_id, people.user_id, market.manager_b.user_id}
        assert market.buyer.user_id not in sent
        assert all(m.status == MessageStatus.SENT for m in sent.values())

        whatsapp = sent[market.manager_a.user_id]
        assert (whatsapp.channel, whatsapp.template_name, whatsapp.as_template) == (
            Channel.WHATSAPP, "nuevo_pedido", True)  # nobody wrote in the last 24 hours: the template
        assert whatsapp.organisation_id == market.coop_a
        assert whatsapp.buttons == [[f"accept:{part_a.id}", "Aceptar"], [f"decline:{part_a.id}", "Rechazar"]]
        assert whatsapp.template_params[:3] == [order.number, BUYER, "100 kg Cacao en grano seco"]
        assert fill("new_order", "es", whatsapp.template_params).endswith(
            "(hora de Colombia); si no responde, el pedido se rechaza solo.")
        assert "50 kg" not in whatsapp.body and "50 kg" not in " ".join(whatsapp.template_params)

        sms = sent[people.user_id]
        assert sms.channel == Channel.SMS and sms.locale == "en"
        assert sms.body.startswith(gsm.fit_gsm7(
            f"New order {order_id} from {BUYER}: 100 kg Dry cacao beans. Deadline: "))  # in English
        assert f"Reply SI {order_id} or NO {order_id}" in sms.body and gsm.is_gsm7(sms.body)

        email = sent[market.manager_b.user_id]
        assert (email.channel, email.to_address) == (Channel.EMAIL, "gerente.b@coop.co")
        assert email.subject == f"New order {order.number} from {BUYER}"
        assert f"/ventas/{part_b.id}" in email.body and "50 kg" in email.body and "100 kg" not in email.body
        assert outbox.run_once(now=PLACED_AT + timedelta(seconds=10))["sent"] == 0  # each is sent once


def test_inside_the_24_hour_window_whatsapp_goes_as_free_text_with_buttons(app, market, people):
    order_id = place(app, market, [(market.listing_a, "100", "kg")], now=PLACED_AT)
    with app.app_context():
        phone = db.session.get(User, market.manager_a.user_id).phone
        db.session.add(Inbound(provider="meta", provider_message_id="wamid.1", channel=Channel.WHATSAPP,
                               from_number=phone, text="Hola", received_at=PLACED_AT - timedelta(hours=3)))
        db.session.commit()
        outbox.run_once(now=PLACED_AT + timedelta(seconds=5))
        message = _by_user("new_order")[market.manager_a.user_id]
        part = part_of(order_id, market.coop_a)
        assert message.as_template is False
        assert message.body == render(app, notices("new_order")[0], market.manager_a.user_id).text
        assert message.body.startswith("Hola, ") and f"/ventas/{part.id}" in message.body
        assert message.buttons == [[f"accept:{part.id}", "Aceptar"], [f"decline:{part.id}", "Rechazar"]]


def test_the_buyer_hears_of_acceptance_and_decline_and_the_cooperatives_do_not(app, market, people):
    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")], now=PLACED_AT)
    with app.app_context():
        outbox.run_once(now=PLACED_AT)
        services.accept(user(market.manager_a), part_of(order_id, market.coop_a))
        services.decline(user(market.manager_b), part_of(order_id, market.coop_b), "Se dañó con la lluvia")
        db.session.commit()
        outbox.run_once(now=PLACED_AT + timedelta(minutes=1))
        accepted, declined = _messages("accept"), _messages("decline")
        assert [m.user_id for m in accepted] == [market.buyer.user_id] == [m.user_id for m in declined]
        assert accepted[0].subject == f"Asociación Cacaotera de Tumaco aceptó su pedido {Order(id=order_id).number}"
        assert "Se dañó con la lluvia" in declined[0].body and declined[0].channel == Channel.EMAIL


def test_reminders_reach_the_cooperative_with_the_answer_buttons(app, market, people):
    order_id = place(app, market, [(market.listing_a, "100", "kg")], now=PLACED_AT)
    with app.app_context():
        for hours in (36, 46):
            sweep.sweep(PLACED_AT + timedelta(hours=hours, minutes=1))
            db.session.commit()
        outbox.run_once(now=PLACED_AT + timedelta(hours=46, minutes=2))
        for kind in ("reminder_12h", "reminder_2h"):
            sent = _by_user(kind)
            assert set(sent) == {market.manager_a.user_id, people.user_id}, kind
            assert sent[market.manager_a.user_id].template_name == "recordatorio_pedido"
            assert sent[market.manager_a.user_id].buttons[0][0].startswith("accept:")
            assert f"SI {order_id}" in sent[people.user_id].body


def test_someone_who_cannot_be_reached_is_recorded_with_the_reason(app, market, people):
    with app.app_context():
        person = db.session.get(User, market.manager_b.user_id)
        person.email, person.phone_verified_at, person.preferred_channel = None, None, "whatsapp"
        db.session.commit()
    place(app, market, [(market.listing_b, "50", "kg")], now=PLACED_AT)
    with app.app_context():
        outbox.run_once(now=PLACED_AT)
        message = _by_user("new_order")[market.manager_b.user_id]
        assert message.status == MessageStatus.SKIPPED and "sin verificar" in message.status_reason


def test_migration_0015_moves_the_e_mails_still_owed_into_notices(app, market):
    """Unsent rows of the old e-mail outbox become notices about the same part, for the
    organisation that is told; sent ones are left behind; the old table goes."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import delete, inspect, text

    from marketplace.messaging.models import Notice

    order_id = place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")], now=PLACED_AT)
    with app.app_context():
        part_a, part_b = part_of(order_id, market.coop_a).id, part_of(order_id, market.coop_b).id
        db.session.execute(delete(Notice))
        db.session.commit()
        db.session.remove()
        downgrade(revision="0014")
        with db.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO notification (kind, part_id, created_at, sent_at, attempts) VALUES "
                "('new_order', :b, :at, NULL, 2), ('accept', :a, :at, NULL, 0), ('ready', :a, :at, :at, 1)"),
                {"a": part_a, "b": part_b, "at": PLACED_AT})
        upgrade()
        moved = db.session.execute(select(Notice.kind, Notice.subject_id, Notice.organisation_id, Notice.attempts,
                                          Notice.expanded_at).order_by(Notice.id)).all()
        assert [tuple(row) for row in moved] == [("new_order", part_b, market.coop_b, 0, None),
                                                 ("accept", part_a, market.buyer_id, 0, None)]
        db.session.commit()
        inspector = inspect(db.engine)
        assert "notification" not in inspector.get_table_names()
        assert {"reminded_12h_at", "reminded_2h_at"} <= {c["name"] for c in inspector.get_columns("order_part")}
        assert db.session.get(Order, order_id) is not None and len(db.session.get(Order, order_id).parts) == 2
