"""Replies that act on orders: "SI 1842", "NO 1842 motivo", the new-order notice's WhatsApp
buttons and "PEDIDOS", against every state of a part and every kind of sender. They act
through the web's own service, as the sender, and never tell about another organisation's
orders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from marketplace.accounts.models import OrgStatus, Role, User
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.messaging.models import Channel, Inbound, Message
from marketplace.orders import services
from marketplace.orders.models import OrderPart, PartEvent, PartStatus
from tests.conftest import login
from tests.messaging.test_inbound import send, verify
from tests.orders.helpers import available, part_of, place

STATES = ["accepted", "declined", "expired", "cancelled", "ready"]


@pytest.fixture
def phones(app, market, factory):
    """Both cooperatives' managers with verified numbers."""
    verify(app, market.manager_a)
    verify(app, market.manager_b)
    return market


def two_part_order(app, market) -> int:
    """An order with a part from each cooperative."""
    return place(app, market, [(market.listing_a, "100", "kg"), (market.listing_b, "50", "kg")])


def status(order_id: int, coop_id: int) -> PartStatus:
    db.session.expire_all()
    return part_of(order_id, coop_id).status


answer = send


def put_in_state(app, market, order_id: int, state: str) -> None:
    with app.app_context():
        manager = db.session.get(User, market.manager_a.user_id)
        buyer = db.session.get(User, market.buyer.user_id)
        part = part_of(order_id, market.coop_a)
        if state == "accepted":
            services.accept(manager, part)
        elif state == "declined":
            services.decline(manager, part, "sin cosecha")
        elif state == "cancelled":
            services.cancel(buyer, part, "cambio de planes")
        elif state == "ready":
            services.accept(manager, part)
            services.mark_ready(manager, part)
        elif state == "expired":
            services.sweep(now=part.respond_by + timedelta(minutes=1))
        db.session.commit()
        assert status(order_id, market.coop_a) == PartStatus(state)


# --------------------------------------------------------------------- accepting


@pytest.mark.parametrize("spelling", ["SI {n}", "sí {n}", "Si OC-{n:06d}", "si oc {n:06d}", "SI #{n}", "SÍ {n:07d}.",
                                      "  si   {n}  "])
def test_si_accepts_the_senders_part_only(app, phones, spelling):
    market = phones
    order_id = two_part_order(app, market)
    with app.test_request_context():
        received = answer(market.manager_a.login, spelling.format(n=order_id))
        assert status(order_id, market.coop_a) == PartStatus.ACCEPTED
        assert status(order_id, market.coop_b) == PartStatus.PLACED
        number = f"OC-{order_id:06d}"
        assert received.reply.body == f"Listo: pedido {number} aceptado. Le avisamos al comprador (Chocolates Andinos S.A.S.)."
        part = part_of(order_id, market.coop_a)
        assert received.inbound.outcome == f"aceptó la parte {part.id} ({number})"
        # The same event as the web's button: the manager accepted it.
        event = db.session.scalars(select(PartEvent).where(PartEvent.part_id == part.id)
                                   .order_by(PartEvent.id.desc())).first()
        assert (event.from_status, event.to_status, event.actor_id) == ("placed", "accepted", market.manager_a.user_id)


def test_no_declines_with_the_reason_and_gives_the_kilos_back(app, phones):
    market = phones
    order_id = two_part_order(app, market)
    with app.app_context():
        before = available(market.listing_a)
    with app.test_request_context():
        received = answer(market.manager_a.login, f"no {order_id} se nos mojó la cosecha")
        assert status(order_id, market.coop_a) == PartStatus.DECLINED
        part = part_of(order_id, market.coop_a)
        assert part.decline_reason == "se nos mojó la cosecha"
        assert available(market.listing_a) == before + 100
        assert received.reply.body.startswith(f"Listo: pedido OC-{order_id:06d} rechazado.")


@pytest.mark.parametrize("provider", ["meta", "twilio"])
def test_whatsapp_buttons_accept_and_decline(app, phones, provider):
    market = phones
    first, second = two_part_order(app, market), two_part_order(app, market)
    with app.app_context():
        part_one, part_two = part_of(first, market.coop_a).id, part_of(second, market.coop_a).id
    with app.test_request_context():
        accepted = answer(market.manager_a.login, "Aceptar", payload=f"accept:{part_one}", channel=Channel.WHATSAPP,
                          provider=provider)
        declined = answer(market.manager_a.login, "Rechazar", payload=f"decline:{part_two}",
                          channel=Channel.WHATSAPP, provider=provider)
        assert status(first, market.coop_a) == PartStatus.ACCEPTED
        assert status(second, market.coop_a) == PartStatus.DECLINED
        assert accepted.reply.channel == Channel.WHATSAPP and "aceptado" in accepted.reply.body
        assert "rechazado" in declined.reply.body


def test_a_member_of_the_cooperative_may_answer_as_on_the_web(app, phones, factory):
    market = phones
    member = factory.member(market.coop_a, Role.COOP_MEMBER)
    verify(app, member)
    order_id = two_part_order(app, market)
    with app.test_request_context():
        answer(member.login, f"SI {order_id}")
        assert status(order_id, market.coop_a) == PartStatus.ACCEPTED


# ---------------------------------------------------------- every state of a part


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("command", ["SI", "NO", "button-accept", "button-decline"])
def test_a_part_no_longer_waiting_is_not_changed(app, phones, state, command):
    market = phones
    order_id = two_part_order(app, market)
    put_in_state(app, market, order_id, state)
    with app.test_request_context():
        part_id = part_of(order_id, market.coop_a).id
        events_before = db.session.scalars(select(PartEvent.id).where(PartEvent.part_id == part_id)).all()
        if command.startswith("button"):
            action = command.removeprefix("button-")
            received = answer(market.manager_a.login, "Aceptar", payload=f"{action}:{part_id}",
                              channel=Channel.WHATSAPP, provider="meta")
        else:
            received = answer(market.manager_a.login, f"{command} {order_id}")
        assert status(order_id, market.coop_a) == PartStatus(state)
        assert db.session.scalars(select(PartEvent.id).where(PartEvent.part_id == part_id)).all() == events_before
        assert received.reply.body.startswith(f"El pedido OC-{order_id:06d} ya no espera respuesta:")
        assert received.reply.body.endswith("No cambió nada.")


# ------------------------------------------------------------ who may answer


def test_another_cooperatives_order_reads_as_unknown_and_changes_nothing(app, phones):
    market = phones
    only_a = place(app, market, [(market.listing_a, "100", "kg")])
    missing = only_a + 1000
    with app.test_request_context():
        part_a = part_of(only_a, market.coop_a).id
        foreign = answer(market.manager_b.login, f"SI {only_a}").reply.body
        unknown = answer(market.manager_b.login, f"SI {missing}").reply.body
        # Word for word the answer to an order that does not exist: nothing leaks.
        assert foreign.replace(f"{only_a:06d}", "N") == unknown.replace(f"{missing:06d}", "N")
        assert "Chocolates" not in foreign and "Tumaco" not in foreign
        button = answer(market.manager_b.login, "Aceptar", payload=f"accept:{part_a}", channel=Channel.WHATSAPP,
                        provider="meta").reply.body
        nothing = answer(market.manager_b.login, "Aceptar", payload="accept:999999", channel=Channel.WHATSAPP,
                         provider="meta").reply.body
        assert button == nothing
        assert answer(market.manager_b.login, f"NO {only_a} no").reply.body.startswith("No encontramos el pedido")
        assert status(only_a, market.coop_a) == PartStatus.PLACED


@pytest.mark.parametrize("who", ["buyer", "staff"])
def test_buyers_and_staff_cannot_answer_for_a_cooperative(app, phones, factory, who):
    market = phones
    order_id = two_part_order(app, market)
    person = market.buyer if who == "buyer" else factory.admin()
    with app.app_context():
        db.session.get(User, person.user_id).phone = "+573104440000"
        db.session.commit()
    number = verify(app, person)
    with app.test_request_context():
        part_id = part_of(order_id, market.coop_a).id
        for text, payload in ((f"SI {order_id}", None), (f"NO {order_id}", None), ("Aceptar", f"accept:{part_id}")):
            received = answer(number, text, payload=payload)
            assert received.reply.body == "Solo la cooperativa que recibió un pedido puede aceptarlo o rechazarlo."
        assert "no es de una cooperativa" in answer(number, "PEDIDOS").reply.body
        assert status(order_id, market.coop_a) == PartStatus.PLACED


def test_an_unknown_or_unverified_number_changes_nothing(app, market):
    order_id = two_part_order(app, market)  # the managers' numbers are not verified here
    with app.test_request_context():
        received = answer(market.manager_a.login, f"SI {order_id}")
        assert received.inbound.user_id is None and "no está verificado" in received.reply.body
        assert status(order_id, market.coop_a) == PartStatus.PLACED


def test_a_deactivated_member_changes_nothing(app, phones, factory):
    market = phones
    member = factory.member(market.coop_a, Role.COOP_MEMBER)
    verify(app, member, active=False)
    order_id = two_part_order(app, market)
    with app.test_request_context():
        assert "desactivada" in answer(member.login, f"SI {order_id}").reply.body
        assert status(order_id, market.coop_a) == PartStatus.PLACED


@pytest.mark.parametrize("org_status", ["suspended", "rejected"])
def test_a_suspended_or_rejected_cooperative_gets_exactly_the_webs_answer(app, phones, factory, org_status):
    """The reply goes through the same service as the web's button, so what the web lets
    such a cooperative do (or refuses) is what a reply does."""
    market = phones
    by_web, by_sms = two_part_order(app, market), two_part_order(app, market)
    with app.app_context():
        from marketplace.accounts import services as accounts
        from marketplace.accounts.models import Organisation

        admin = db.session.scalar(select(User).where(User.email == "root-admin@mercadorural.co"))
        coop = db.session.get(Organisation, market.coop_a)
        if org_status == "rejected":
            coop.status = OrgStatus.REJECTED  # (staff cannot reject a verified one; as if before)
        else:
            accounts.set_organisation_status(admin, coop, OrgStatus.SUSPENDED, "Documentos vencidos")
        db.session.commit()
        web_part = part_of(by_web, market.coop_a).id
    client = app.test_client()
    login(client, market.manager_a)
    client.post(f"/pedidos/partes/{web_part}/accept")
    with app.test_request_context():
        answer(market.manager_a.login, f"SI {by_sms}")
        assert status(by_sms, market.coop_a) == status(by_web, market.coop_a)


# ---------------------------------------------------------------- other answers


def test_si_without_an_order_number_asks_for_it(app, phones):
    market = phones
    order_id = two_part_order(app, market)
    with app.test_request_context():
        for text in ("SI", "si por favor", "Sí, claro"):
            received = answer(market.manager_a.login, text)
            assert received.reply.body.startswith("Escriba SI seguido del número del pedido")
        assert answer(market.manager_a.login, "no sé").reply.body.startswith("Escriba NO seguido")
        assert status(order_id, market.coop_a) == PartStatus.PLACED


def test_pedidos_lists_the_parts_waiting_for_this_cooperative(app, phones):
    market = phones
    waiting = two_part_order(app, market)
    answered = two_part_order(app, market)
    put_in_state(app, market, answered, "accepted")
    only_b = place(app, market, [(market.listing_b, "10", "kg")])
    with app.test_request_context():
        body = answer(market.manager_a.login, "Pedidos").reply.body
        assert body.startswith("Pedidos por responder:")
        assert f"{waiting}: Chocolates Andinos S.A.S., 100 kg, responder antes de" in body
        assert f"\n{answered}:" not in body and f"\n{only_b}:" not in body
        assert f"SI {waiting}" in body
        other = answer(market.manager_b.login, "PEDIDOS").reply.body
        assert f"{only_b}:" in other and f"{waiting}:" in other and f"\n{answered}:" in other


def test_pedidos_with_nothing_waiting(app, phones):
    with app.test_request_context():
        assert answer(phones.manager_a.login, "PEDIDOS").reply.body == "No hay pedidos esperando su respuesta."


def test_a_replayed_answer_acts_once(app, phones):
    market = phones
    order_id = two_part_order(app, market)
    with app.test_request_context():
        first = answer(market.manager_a.login, f"SI {order_id}", message_id="SMonce")
        again = answer(market.manager_a.login, f"SI {order_id}", message_id="SMonce")
        assert again.replayed and again.reply is None
        part_id = part_of(order_id, market.coop_a).id
        accepted = db.session.scalars(select(PartEvent).where(PartEvent.part_id == part_id,
                                                              PartEvent.to_status == "accepted")).all()
        assert len(accepted) == 1
        assert db.session.scalars(select(Inbound)).all() == [first.inbound]
        assert len(db.session.scalars(select(Message).where(Message.kind == "reply")).all()) == 1


def test_a_race_lost_to_the_web_is_answered_and_changes_nothing(app, phones, monkeypatch):
    """The part was still waiting when read, but the web's button took it first: the
    service's guarded update refuses, the reply's savepoint is undone, and the answer says
    nothing changed."""
    market = phones
    order_id = two_part_order(app, market)
    real_transition = services.transition

    def web_first(actor, part, action, **kwargs):
        # What the web's committed decline looks like from here: the row changed under us,
        # the part read a moment ago still says "placed".
        db.session.execute(update(OrderPart).where(OrderPart.id == part.id)
                           .values(status=PartStatus.DECLINED).execution_options(synchronize_session=False))
        return real_transition(actor, part, action, **kwargs)

    monkeypatch.setattr(services, "transition", web_first)
    with app.test_request_context():
        received = answer(market.manager_a.login, f"SI {order_id}")
        assert received.reply.body == (f"Pedido OC-{order_id:06d}: Solo se puede aceptar un pedido recién recibido. "
                                       "No cambió nada.")
        # (The savepoint took the stand-in for the web's decline back with it.)
        assert status(order_id, market.coop_a) != PartStatus.ACCEPTED


def test_the_answer_by_time_is_shown_in_bogota(app, phones):
    market = phones
    order_id = place(app, market, [(market.listing_a, "100", "kg")], now=utcnow())
    with app.test_request_context():
        part = part_of(order_id, market.coop_a)
        from marketplace.core.formatting import moment

        assert moment(part.respond_by) in answer(market.manager_a.login, "PEDIDOS").reply.body
