"""Inbound messages: recorded once, the sender known only by a verified number, the built-in
commands (SALIR / ACTIVAR / AYUDA), conversations, reply handlers, the polite answers that
change nothing, and the per-number flood limit."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import Role, User
from marketplace.core.errors import DomainError
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.messaging import hooks, inbound, services
from marketplace.messaging.models import Channel, Conversation, Inbound, Message, MessageStatus

_ids = count(1)


def verify(app, person, *, whatsapp: bool = True, locale: str | None = None, active: bool | None = None) -> str:
    """Mark ``person``'s number verified (and opted in to WhatsApp); returns the number."""
    with app.app_context():
        user = db.session.get(User, person.user_id)
        user.phone_verified_at = utcnow()
        if whatsapp:
            user.whatsapp_opt_in_at = utcnow()
        if locale:
            user.locale = locale
        if active is not None:
            user.active = active
        db.session.commit()
        return user.phone


def send(number: str, text: str | None, *, channel=Channel.SMS, provider: str = "twilio", payload=None,
         media=None, message_id: str | None = None, now=None) -> inbound.Received:
    """``inbound.receive`` as a webhook calls it, then the webhook's single commit."""
    received = inbound.receive(channel, provider, message_id or f"SM{next(_ids):032d}", number, text,
                               button_payload=payload, media_id=media, now=now)
    db.session.commit()
    return received


def replies_to(number: str) -> list[Message]:
    return list(db.session.scalars(select(Message).where(Message.to_address == number, Message.kind == "reply")
                                   .order_by(Message.id)))


def fresh_user(user_id: int) -> User:
    db.session.expire_all()
    return db.session.get(User, user_id)


@pytest.fixture
def manager(app, factory):
    _org, person = factory.cooperative()
    verify(app, person)
    return person


# ----------------------------------------------------------------- who is writing


def test_unknown_number_gets_a_polite_answer_and_changes_nothing(app):
    with app.test_request_context():
        received = send("+573009998877", "SI 1842")
        assert not received.replayed
        assert received.inbound.user_id is None
        assert received.inbound.outcome == "remitente desconocido o sin verificar"
        reply = received.reply
        assert reply.status == MessageStatus.QUEUED and reply.channel == Channel.SMS
        assert reply.to_address == "+573009998877" and reply.user_id is None
        assert "no está registrado" in reply.body and "/registro" in reply.body
        assert received.inbound.reply_id == reply.id


def test_a_registered_but_unverified_number_is_not_trusted(app, factory):
    _org, person = factory.cooperative()
    with app.test_request_context():
        received = send(person.login, "PEDIDOS")
        assert received.inbound.user_id is None
        assert "no está verificado" in received.reply.body


def test_whatsapp_numbers_are_read_as_e164(app, manager):
    with app.test_request_context():
        received = send(manager.login.lstrip("+"), "AYUDA", channel=Channel.WHATSAPP, provider="meta")
        assert received.inbound.from_number == manager.login
        assert received.inbound.user_id == manager.user_id
        assert received.reply.channel == Channel.WHATSAPP and received.reply.to_address == manager.login
        received = send("whatsapp:" + manager.login, "AYUDA", channel=Channel.WHATSAPP)
        assert received.inbound.user_id == manager.user_id


def test_a_deactivated_account_is_told_so_and_acts_on_nothing(app, factory):
    org_id, _ = factory.cooperative()
    member = factory.member(org_id, Role.COOP_MEMBER)
    verify(app, member, active=False)
    with app.test_request_context():
        received = send(member.login, "PEDIDOS")
        assert received.inbound.outcome == "cuenta desactivada"
        assert "desactivada" in received.reply.body


def test_garbled_text_lists_the_commands(app, manager):
    with app.test_request_context():
        received = send(manager.login, "hola buenas, ¿cómo va todo?")
        assert received.inbound.outcome == "mensaje no entendido"
        body = received.reply.body
        assert body.startswith("No entendimos su mensaje.")
        assert "PEDIDOS" in body and "SALIR" in body and "ACTIVAR" in body


def test_help_lists_what_this_person_can_do(app, factory, manager):
    _buyer, buyer = factory.buyer()
    with app.app_context():
        db.session.get(User, buyer.user_id).phone = "+573104445566"
        db.session.commit()
    buyer_number = verify(app, buyer)
    with app.test_request_context():
        coop_help = send(manager.login, "ayuda").reply.body
        assert "PEDIDOS" in coop_help and "SI 1842" in coop_help
        buyer_help = send(buyer_number, "Help").reply.body
        assert "PEDIDOS" not in buyer_help and "SALIR" in buyer_help


def test_answers_are_in_the_senders_language(app, factory):
    _org, person = factory.cooperative()
    verify(app, person, locale="en")
    with app.test_request_context():
        received = send(person.login, "gibberish")
        assert received.reply.locale == "en"
        assert received.reply.body.startswith("We did not understand your message.")


# -------------------------------------------------------------------------- replays


def test_a_replayed_message_acts_once(app, manager):
    with app.test_request_context():
        first = send(manager.login, "SALIR", message_id="SMreplayed")
        again = send(manager.login, "SALIR", message_id="SMreplayed")
        assert again.replayed and again.reply is None and again.inbound.id == first.inbound.id
        assert db.session.scalar(select(func.count()).select_from(Inbound)) == 1
        assert len(replies_to(manager.login)) == 1
        # The same id from another provider is another message.
        other = send(manager.login, "AYUDA", provider="meta", channel=Channel.WHATSAPP, message_id="SMreplayed")
        assert not other.replayed


def test_a_concurrent_replay_that_committed_first_is_caught_by_the_unique_key(app, manager, monkeypatch):
    """Two deliveries of one message at the same moment: both look and find nothing, the
    second insert fails on the unique key inside its savepoint, and the rest of its
    transaction (here an earlier change in the same request) stands."""
    with app.test_request_context():
        send(manager.login, "AYUDA", message_id="SMrace")
        real_find, looked = inbound._find, []

        def blind_first_look(provider, message_id):
            if not looked:
                looked.append(message_id)
                return None
            return real_find(provider, message_id)

        monkeypatch.setattr(inbound, "_find", blind_first_look)
        user = db.session.get(User, manager.user_id)
        user.full_name = "Cambio en la misma petición"
        received = inbound.receive(Channel.SMS, "twilio", "SMrace", manager.login, "AYUDA")
        db.session.commit()
        assert received.replayed and received.reply is None
        assert db.session.scalar(select(func.count()).select_from(Inbound)) == 1
        assert len(replies_to(manager.login)) == 1
        assert fresh_user(manager.user_id).full_name == "Cambio en la misma petición"


# ------------------------------------------------------------------ SALIR / ACTIVAR


def test_salir_on_whatsapp_opts_out_of_whatsapp_only_at_once(app, manager):
    with app.test_request_context():
        user = fresh_user(manager.user_id)
        assert services.channel_for(user) == (Channel.WHATSAPP, None)
        received = send(manager.login, "Salir", channel=Channel.WHATSAPP, provider="meta")
        user = fresh_user(manager.user_id)
        assert user.whatsapp_opt_out_at is not None and user.sms_opt_out_at is None
        assert services.channel_problem(user, Channel.WHATSAPP) == "salió de WhatsApp (SALIR)"
        assert services.channel_for(user)[0] == Channel.SMS
        assert received.inbound.outcome == "salida de whatsapp"
        assert "ACTIVAR" in received.reply.body and "WhatsApp" in received.reply.body


@pytest.mark.parametrize("word", ["STOP", "stop", "BAJA", "Cancelar suscripción", "CANCELAR SUSCRIPCION", "salir."])
def test_stop_words_by_sms_opt_out_of_sms(app, manager, word):
    with app.test_request_context():
        received = send(manager.login, word)
        user = fresh_user(manager.user_id)
        assert user.sms_opt_out_at is not None and user.whatsapp_opt_out_at is None
        assert services.channel_problem(user, Channel.SMS) == "salió de SMS (STOP)"
        assert "mensajes de texto" in received.reply.body


def test_a_word_inside_a_sentence_does_not_opt_out(app, manager):
    with app.test_request_context():
        send(manager.login, "no quiero salir de la lista")
        assert fresh_user(manager.user_id).sms_opt_out_at is None


def test_opt_out_is_honoured_for_a_number_not_yet_verified(app, factory):
    _org, person = factory.cooperative()
    with app.test_request_context():
        send(person.login, "STOP")
        assert fresh_user(person.user_id).sms_opt_out_at is not None


def test_activar_opts_back_in(app, manager):
    with app.test_request_context():
        send(manager.login, "SALIR", channel=Channel.WHATSAPP, provider="meta")
        send(manager.login, "STOP")
        later = utcnow() + timedelta(seconds=5)
        received = send(manager.login, "Activar", channel=Channel.WHATSAPP, provider="meta", now=later)
        user = fresh_user(manager.user_id)
        assert user.whatsapp_opt_in_at == later
        assert services.channel_problem(user, Channel.WHATSAPP) is None
        assert services.channel_problem(user, Channel.SMS) == "salió de SMS (STOP)"
        assert received.inbound.outcome == "entrada a whatsapp"
        send(manager.login, "START")
        assert services.channel_problem(fresh_user(manager.user_id), Channel.SMS) is None


def test_a_whatsapp_message_alone_is_not_an_opt_in(app, factory):
    _org, person = factory.cooperative()
    verify(app, person, whatsapp=False)
    with app.test_request_context():
        send(person.login, "hola", channel=Channel.WHATSAPP, provider="meta")
        assert fresh_user(person.user_id).whatsapp_opt_in_at is None


def test_activar_from_an_unknown_number_changes_nothing(app):
    with app.test_request_context():
        received = send("+573001112233", "ACTIVAR", channel=Channel.WHATSAPP, provider="meta")
        assert received.inbound.outcome.startswith("activar: remitente desconocido")
        assert "no está registrado" in received.reply.body


# ------------------------------------------------------------------ flood limit


def test_a_flood_from_one_number_is_recorded_but_not_answered(app, manager):
    app.config["INBOUND_PER_NUMBER_PER_HOUR"] = 3
    with app.test_request_context():
        received = [send(manager.login, f"mensaje {i}") for i in range(5)]
        assert [r.reply is not None for r in received] == [True, True, True, False, False]
        assert received[4].inbound.outcome.startswith("demasiados mensajes")
        # Opting out is still honoured at once, without an answer.
        stop = send(manager.login, "STOP")
        assert stop.reply is None and fresh_user(manager.user_id).sms_opt_out_at is not None
        # Other numbers are not held back.
        assert send("+573001230000", "hola").reply is not None
        # An hour later the number is answered again.
        assert send(manager.login, "AYUDA", now=utcnow() + timedelta(hours=1, minutes=1)).reply is not None


# ------------------------------------------------------------- reply handlers


def test_reply_handlers_run_in_order_and_the_first_answer_wins(app, manager, monkeypatch):
    calls = []

    def first(context):
        calls.append("first")
        return None

    def second(context):
        calls.append(("second", context.command, context.args, context.user.id))
        return hooks.Reply("segunda", "segunda respuesta", buttons=[("ok:1", "Bien")])

    def third(context):  # pragma: no cover - must not be reached
        calls.append("third")
        return hooks.Reply("tercera", "tercera")

    monkeypatch.setattr(hooks, "REPLY_HANDLERS", [first, second, third])
    with app.test_request_context():
        received = send(manager.login, "  Éxito   uno dos ")
        assert calls == ["first", ("second", "EXITO", ["uno", "dos"], manager.user_id)]
        assert received.reply.body == "segunda" and received.reply.buttons == [["ok:1", "Bien"]]
        assert received.inbound.outcome == "segunda respuesta"


def test_a_handler_refused_by_a_rule_undoes_only_its_own_changes(app, manager, monkeypatch):
    def refuse(context):
        context.user.full_name = "Cambio a deshacer"
        db.session.flush()
        raise DomainError("No se puede.")

    monkeypatch.setattr(hooks, "REPLY_HANDLERS", [refuse])
    with app.test_request_context():
        received = send(manager.login, "algo")
        assert received.reply.body == "No se puede." and received.inbound.outcome == "rechazado: No se puede."
        assert fresh_user(manager.user_id).full_name != "Cambio a deshacer"
        assert db.session.get(Inbound, received.inbound.id) is not None


def test_a_broken_handler_gets_a_polite_answer_and_the_message_stays_recorded(app, manager, monkeypatch):
    def broken(context):
        raise RuntimeError("bug")

    monkeypatch.setattr(hooks, "REPLY_HANDLERS", [broken])
    with app.test_request_context():
        received = send(manager.login, "algo", message_id="SMbroken")
        assert received.inbound.outcome == "error al atender"
        assert "No pudimos atender" in received.reply.body
        assert send(manager.login, "algo", message_id="SMbroken").replayed


# ----------------------------------------------------------------- conversations


@pytest.fixture
def echo_conversation(monkeypatch):
    """A two-question conversation started by "PROBAR", that only managers may start."""
    def start(conversation, context):
        conversation.step = "name"
        return hooks.Reply("¿Nombre?", "probar: empezó")

    def step(conversation, context):
        if conversation.step == "name":
            conversation.state = {"name": context.text}
            conversation.step = "age"
            return hooks.Reply("¿Edad?", "probar: nombre"), False
        return hooks.Reply(f"Gracias, {conversation.state['name']} ({context.text})", "probar: terminó"), True

    def expired(conversation, context):
        return hooks.Reply(f"Se venció {conversation.kind} en el paso {conversation.step}", "probar: vencida")

    kind = hooks.ConversationKind(kind="probar", start_words=("PROBAR",), can_start=lambda u: u.role == Role.COOP_MANAGER,
                                  start=start, step=step, expired=expired)
    monkeypatch.setitem(hooks.CONVERSATIONS, "probar", kind)
    return kind


def _conversation(user_id: int) -> Conversation | None:
    db.session.expire_all()
    return db.session.scalar(select(Conversation).where(Conversation.user_id == user_id))


def test_a_start_word_starts_a_conversation_that_takes_the_next_messages(app, manager, echo_conversation):
    with app.test_request_context():
        assert send(manager.login, "probar", channel=Channel.WHATSAPP, provider="meta").reply.body == "¿Nombre?"
        conversation = _conversation(manager.user_id)
        assert conversation.kind == "probar" and conversation.channel == Channel.WHATSAPP
        assert conversation.expires_at > utcnow()
        # "SI 12" would be an order command; inside a conversation it is an answer.
        assert send(manager.login, "SI 12").reply.body == "¿Edad?"
        assert _conversation(manager.user_id).state == {"name": "SI 12"}
        assert send(manager.login, "40").reply.body == "Gracias, SI 12 (40)"
        assert _conversation(manager.user_id) is None


def test_cancelar_ends_a_conversation(app, manager, echo_conversation):
    with app.test_request_context():
        send(manager.login, "PROBAR")
        received = send(manager.login, "cancelar")
        assert "cancelado" in received.reply.body and received.inbound.outcome == "conversación probar cancelada"
        assert _conversation(manager.user_id) is None
        assert send(manager.login, "CANCELAR").inbound.outcome == "cancelar sin conversación"


def test_an_expired_conversation_is_forgotten(app, manager, echo_conversation):
    with app.test_request_context():
        send(manager.login, "PROBAR")
        later = utcnow() + timedelta(hours=5)
        received = send(manager.login, "Ana", now=later)
        assert received.reply.body == "Se venció probar en el paso name"
        assert _conversation(manager.user_id) is None
        # A start word after the time-out starts afresh.
        send(manager.login, "PROBAR", now=later)
        assert send(manager.login, "PROBAR", now=later + timedelta(hours=5)).reply.body == "¿Nombre?"


def test_who_may_not_start_a_conversation_is_told_and_nothing_starts(app, factory, echo_conversation):
    org_id, _ = factory.cooperative()
    member = factory.member(org_id, Role.COOP_MEMBER)
    verify(app, member)
    with app.test_request_context():
        received = send(member.login, "PROBAR")
        assert "no puede usar PROBAR" in received.reply.body
        assert _conversation(member.user_id) is None


def test_builtin_commands_come_before_a_conversation(app, manager, echo_conversation):
    with app.test_request_context():
        send(manager.login, "PROBAR", channel=Channel.WHATSAPP, provider="meta")
        send(manager.login, "SALIR", channel=Channel.WHATSAPP, provider="meta")
        assert fresh_user(manager.user_id).whatsapp_opt_out_at is not None
        assert _conversation(manager.user_id).step == "name"


def test_simultaneous_deliveries_of_one_message_act_once(app, manager):
    """Providers deliver a webhook again when an answer is slow: several deliveries of one
    message start at the same moment, each in its own request (app context, session and
    connection). However they interleave (on PostgreSQL the later inserts wait on the unique
    key, then fail inside their savepoint), one acts and the others find it."""
    import threading

    deliveries = 4
    barrier = threading.Barrier(deliveries)
    results, errors = [], []

    def deliver():
        try:
            with app.test_request_context():
                barrier.wait(timeout=30)
                received = inbound.receive(Channel.SMS, "twilio", "SMsimultaneous", manager.login, "STOP")
                db.session.commit()
                results.append(received.replayed)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, daemon=True) for _ in range(deliveries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(results) == [False] + [True] * (deliveries - 1)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Inbound)) == 1
        assert len(replies_to(manager.login)) == 1


def test_a_conversation_step_that_answers_nothing_leaves_the_message_unanswered(app, manager, monkeypatch):
    kind = hooks.ConversationKind(kind="muda", start_words=("MUDA",), can_start=lambda u: True,
                                  start=lambda c, ctx: hooks.Reply("¿Algo?", "muda: empezó"),
                                  step=lambda c, ctx: (None, False))
    monkeypatch.setitem(hooks.CONVERSATIONS, "muda", kind)
    with app.test_request_context():
        send(manager.login, "MUDA")
        received = send(manager.login, "algo")
        assert received.reply is None and received.inbound.outcome == "sin respuesta"
