"""The outbox worker: notices expanded per recipient and channel, messages claimed once and
sent through the real SDKs to the local fakes, with back-off, failures, opt-outs and secrets."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import url_for
from flask_babel import get_locale
from sqlalchemy import delete, select

from marketplace.accounts.models import User
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.messaging import hooks, outbox, services
from marketplace.messaging.models import Channel, Inbound, Message, MessageStatus, Notice
from tests.conftest import USING_PG

KIND = "test_order_notice"
SECRET_KIND = "test_code"


def _render(notice, user):
    n = notice.subject_id
    link = url_for("home.index", _external=True)
    return hooks.Rendered(
        subject=f"Nuevo pedido {n}",
        text=f"Nuevo pedido {n} de Chocolates del Pacífico ({get_locale()}). Véalo en {link}",
        short=f"Mercado Rural: pedido {n}, 500 kg cacao. Acepte antes del jueves.",
        template_params=[str(n), "Chocolates del Pacífico", "500 kg cacao"],
        buttons=[(f"SI {n}", "Aceptar"), (f"NO {n}", "Rechazar")],
    )


def _recipients(notice):
    return list(db.session.scalars(select(User).where(User.id.in_(notice.payload["users"]))))


@pytest.fixture
def kinds():
    hooks.register_notice(hooks.NoticeKind(KIND, _recipients, _render, template="pedido_nuevo"))
    hooks.register_notice(hooks.NoticeKind(
        SECRET_KIND, _recipients,
        lambda notice, user: hooks.Rendered(subject="Su código", text="Su código es 482913.",
                                            short="Su codigo es 482913.", template_params=["482913"]),
        template="codigo", secret=True))
    yield
    hooks.NOTICE_KINDS.pop(KIND, None)
    hooks.NOTICE_KINDS.pop(SECRET_KIND, None)


def _person(app, factory, channel="whatsapp", *, verified=True, opt_in=True, locale="es", email=None) -> int:
    _org, person = factory.cooperative()
    with app.app_context():
        user = db.session.get(User, person.user_id)
        user.preferred_channel, user.locale = channel, locale
        if email:
            user.email = email
        now = utcnow()
        user.phone_verified_at = now if verified else None
        user.whatsapp_opt_in_at = now if opt_in else None
        # The notices registration wrote (verification results...) are not under test here.
        db.session.execute(delete(Message))
        db.session.execute(delete(Notice))
        db.session.commit()
        return user.id


def _notify(app, users, kind=KIND, subject_id=1842):
    with app.app_context():
        services.notify(kind, subject_id=subject_id, payload={"users": list(users)})
        db.session.commit()


def _messages(app) -> list[Message]:
    with app.app_context():
        rows = list(db.session.scalars(select(Message).order_by(Message.id)))
        db.session.expunge_all()
        return rows


def _phone(app, user_id) -> str:
    with app.app_context():
        return db.session.get(User, user_id).phone


# ---------------------------------------------------------------------------- expanding


def test_expand_writes_one_message_per_recipient_on_their_channel(app, factory, kinds):
    app.config.update(PUBLIC_URL="https://mercadorural.co", WHATSAPP_TEMPLATES={KIND: "pedido_nuevo_v2"})
    wa = _person(app, factory, "whatsapp")
    sms = _person(app, factory, "sms", locale="en")
    mail = _person(app, factory, "email", verified=False, opt_in=False, email="gerente@coop.co")
    nobody = _person(app, factory, "whatsapp", verified=False, opt_in=False)
    _notify(app, [wa, sms, mail, nobody, wa])  # a person listed twice is told once
    with app.app_context():
        assert outbox.expand() == 1
        notice = db.session.scalar(select(Notice))
        assert notice.expanded_at is not None and notice.attempts == 1 and notice.last_error is None
    by_user = {m.user_id: m for m in _messages(app)}
    assert len(by_user) == 4

    w = by_user[wa]
    assert (w.channel, w.status, w.to_address) == (Channel.WHATSAPP, MessageStatus.QUEUED, _phone(app, wa))
    assert w.template_name == "pedido_nuevo_v2" and w.template_language == "es"
    assert w.template_params == ["1842", "Chocolates del Pacífico", "500 kg cacao"]
    assert w.buttons == [["SI 1842", "Aceptar"], ["NO 1842", "Rechazar"]]
    assert "https://mercadorural.co/" in w.body and "(es)" in w.body

    s = by_user[sms]
    assert s.channel == Channel.SMS and s.locale == "en" and s.template_name is None and s.buttons is None
    # Fitted to GSM-7, the buttons spelled as the words to answer (in the recipient's language).
    assert s.body == ("Mercado Rural: pedido 1842, 500 kg cacao. Acepte antes del jueves.\n"
                      "Reply SI 1842 (Aceptar) or NO 1842 (Rechazar)")

    e = by_user[mail]
    assert (e.channel, e.to_address, e.subject) == (Channel.EMAIL, "gerente@coop.co", "Nuevo pedido 1842")

    skipped = by_user[nobody]
    assert skipped.status == MessageStatus.SKIPPED and skipped.next_attempt_at is None
    assert "celular sin verificar" in skipped.status_reason


def test_sms_keeps_short_text_that_already_names_the_answers(app, factory):
    def render(notice, user):
        return hooks.Rendered(subject="s", text="t", short="Pedido 7: responda SI 7 o NO 7. Ubicación: Tumaco",
                              buttons=[("SI 7", "Aceptar"), ("NO 7", "Rechazar")])

    hooks.register_notice(hooks.NoticeKind("test_named", _recipients, render, template="x"))
    try:
        user = _person(app, factory, "sms")
        _notify(app, [user], kind="test_named")
        with app.app_context():
            outbox.expand()
        assert _messages(app)[0].body == "Pedido 7: responda SI 7 o NO 7. Ubicacion: Tumaco"
    finally:
        hooks.NOTICE_KINDS.pop("test_named")


def test_unknown_kind_or_broken_render_does_not_stop_the_others(app, factory, kinds):
    def broken(notice, user):
        raise RuntimeError("plantilla rota")

    hooks.register_notice(hooks.NoticeKind("test_broken", _recipients, broken, template="x"))
    app.config["MESSAGING_MAX_ATTEMPTS"] = 2
    try:
        user = _person(app, factory)
        _notify(app, [user], kind="test_nobody_knows")
        _notify(app, [user], kind="test_broken")
        _notify(app, [user])
        now = utcnow()
        with app.app_context():
            assert outbox.expand(now=now) == 1
            unknown, broken_notice, good = db.session.scalars(select(Notice).order_by(Notice.id))
            assert good.expanded_at is not None
            assert unknown.expanded_at is None and unknown.attempts == 1
            assert "desconocido" in unknown.last_error
            assert broken_notice.expanded_at is None and "plantilla rota" in broken_notice.last_error
            assert broken_notice.next_attempt_at == now + timedelta(minutes=1)
            assert outbox.expand(now=now + timedelta(seconds=30)) == 0  # not due yet
            assert outbox.expand(now=now + timedelta(minutes=1)) == 2  # second try: given up
            assert broken_notice.expanded_at is not None and broken_notice.attempts == 2
            assert "plantilla rota" in broken_notice.last_error
        assert len(_messages(app)) == 1  # the broken render wrote nothing
    finally:
        hooks.NOTICE_KINDS.pop("test_broken")


# ---------------------------------------------------------------------------- WhatsApp


def test_window_closed_sends_the_template_with_buttons(app, factory, kinds, whatsapp_fake):
    user = _person(app, factory)
    _notify(app, [user])
    with app.app_context():
        counts = outbox.run_once()
    assert counts["expanded"] == 1 and counts["sent"] == 1
    [payload] = whatsapp_fake.messages
    assert payload["to"] == _phone(app, user).lstrip("+") and payload["type"] == "template"
    template = payload["template"]
    assert template["name"] == "pedido_nuevo" and template["language"] == {"code": "es"}
    body, yes, no = template["components"]
    assert body["type"].lower() == "body"
    assert [p["text"] for p in body["parameters"]] == ["1842", "Chocolates del Pacífico", "500 kg cacao"]
    assert (yes["sub_type"].lower(), yes["index"], yes["parameters"]) == (
        "quick_reply", 0, [{"type": "payload", "payload": "SI 1842"}])
    assert no["index"] == 1 and no["parameters"][0]["payload"] == "NO 1842"
    [message] = _messages(app)
    assert message.status == MessageStatus.SENT and message.provider == "meta"
    assert message.provider_id.startswith("wamid.") and message.as_template is True
    assert message.cost == Decimal(app.config["WHATSAPP_COST_PER_TEMPLATE"]) and message.attempts == 1
    assert message.sent_at is not None and message.claimed_until is None


def test_window_open_sends_free_text_with_reply_buttons(app, factory, kinds, whatsapp_fake):
    user = _person(app, factory)
    phone = _phone(app, user)
    with app.app_context():
        db.session.add(Inbound(provider="meta", provider_message_id="wamid.in1", channel=Channel.WHATSAPP,
                               from_number=phone, user_id=user, text="Hola",
                               received_at=utcnow() - timedelta(hours=23)))
        db.session.commit()
    _notify(app, [user])
    with app.app_context():
        outbox.run_once()
    [payload] = whatsapp_fake.messages
    assert payload["type"] == "interactive"
    interactive = payload["interactive"]
    assert interactive["type"] == "button" and "Nuevo pedido 1842" in interactive["body"]["text"]
    assert [b["reply"] for b in interactive["action"]["buttons"]] == [
        {"id": "SI 1842", "title": "Aceptar"}, {"id": "NO 1842", "title": "Rechazar"}]
    [message] = _messages(app)
    assert message.as_template is False and message.status == MessageStatus.SENT
    assert message.cost == Decimal(app.config["WHATSAPP_COST_PER_SESSION_MESSAGE"])


def test_window_decided_at_send_time_not_at_queue_time(app, factory, kinds, whatsapp_fake):
    user = _person(app, factory)
    _notify(app, [user])
    with app.app_context():
        outbox.expand()  # queued while the window was closed
        db.session.add(Inbound(provider="meta", provider_message_id="wamid.in2", channel=Channel.WHATSAPP,
                               from_number=_phone(app, user), user_id=user, text="Hola", received_at=utcnow()))
        db.session.commit()
        outbox.send_due()
    assert [m["type"] for m in whatsapp_fake.messages] == ["interactive"]


def test_window_closed_at_meta_falls_back_to_the_template(app, factory, kinds, whatsapp_fake):
    user = _person(app, factory)
    phone = _phone(app, user)
    with app.app_context():
        db.session.add(Inbound(provider="meta", provider_message_id="wamid.in3", channel=Channel.WHATSAPP,
                               from_number=phone, user_id=user, text="Hola", received_at=utcnow()))
        db.session.commit()
    whatsapp_fake.close_window(phone)
    _notify(app, [user])
    with app.app_context():
        outbox.run_once()
    assert [m["type"] for m in whatsapp_fake.messages] == ["interactive", "template"]
    [message] = _messages(app)
    assert message.status == MessageStatus.SENT and message.as_template is True


def test_permanent_failure_fails_at_once_with_the_reason(app, factory, kinds, whatsapp_fake):
    user = _person(app, factory)
    whatsapp_fake.fail(400, 131026, "Message Undeliverable.", to=_phone(app, user))
    _notify(app, [user])
    with app.app_context():
        assert outbox.run_once()["failed"] == 1
    [message] = _messages(app)
    assert message.status == MessageStatus.FAILED and message.attempts == 1
    assert message.status_reason == "WhatsApp 131026: Message Undeliverable."
    assert message.failed_at is not None and message.next_attempt_at is None and message.provider == "meta"


def test_temporary_failures_back_off_then_fail(app, factory, kinds, twilio_fake):
    app.config["MESSAGING_MAX_ATTEMPTS"] = 3
    user = _person(app, factory, "sms")
    twilio_fake.fail(503, 20503, "Service Unavailable", count=10)
    _notify(app, [user])
    start = utcnow()
    with app.app_context():
        outbox.expand(now=start)
        assert outbox.send_due(now=start)["retry"] == 1
        message = db.session.scalar(select(Message))
        assert message.status == MessageStatus.QUEUED and message.attempts == 1
        assert message.next_attempt_at == start + timedelta(minutes=1)
        assert message.status_reason == "Twilio 20503: Unable to create record: Service Unavailable"
        assert outbox.send_due(now=start + timedelta(seconds=59))["retry"] == 0  # not due yet
        assert outbox.send_due(now=start + timedelta(minutes=1))["retry"] == 1
        message = db.session.scalar(select(Message))
        assert message.attempts == 2 and message.next_attempt_at == start + timedelta(minutes=3)
        assert outbox.send_due(now=start + timedelta(minutes=3))["failed"] == 1
        message = db.session.scalar(select(Message))
        assert message.status == MessageStatus.FAILED and message.attempts == 3
        assert message.status_reason == "Twilio 20503: Unable to create record: Service Unavailable"
    assert len(twilio_fake.messages) == 3


def test_a_temporary_failure_then_success(app, factory, kinds, twilio_fake):
    user = _person(app, factory, "sms")
    twilio_fake.fail(500, 20500, "Internal Server Error")
    _notify(app, [user])
    start = utcnow()
    with app.app_context():
        outbox.run_once(now=start)
        counts = outbox.send_due(now=start + timedelta(minutes=1))
    assert counts["sent"] == 1
    [message] = _messages(app)
    assert message.status == MessageStatus.SENT and message.attempts == 2 and message.status_reason is None


def test_opt_out_is_honoured_at_send_time(app, factory, kinds, whatsapp_fake):
    user = _person(app, factory)
    _notify(app, [user])
    with app.app_context():
        outbox.expand()
        db.session.get(User, user).whatsapp_opt_out_at = utcnow()  # SALIR after the notice was queued
        db.session.commit()
        assert outbox.send_due()["skipped"] == 1
    assert whatsapp_fake.messages == []
    [message] = _messages(app)
    assert message.status == MessageStatus.SKIPPED and message.status_reason == "salió de WhatsApp (SALIR)"


def test_a_reply_to_someone_who_wrote_is_not_checked_against_notice_rules(app, factory, whatsapp_fake):
    # Replies (no notice) go to whoever wrote, inside the window, opted in or not.
    user = _person(app, factory, opt_in=False)
    phone = _phone(app, user)
    with app.app_context():
        db.session.add(Inbound(provider="meta", provider_message_id="wamid.in4", channel=Channel.WHATSAPP,
                               from_number=phone, user_id=user, text="AYUDA", received_at=utcnow()))
        services.queue("reply", channel=Channel.WHATSAPP, to_address=phone, body="Escriba PEDIDOS.",
                       user=db.session.get(User, user))
        db.session.commit()
        assert outbox.send_due()["sent"] == 1
    assert whatsapp_fake.messages[0]["text"]["body"] == "Escriba PEDIDOS."


# ---------------------------------------------------------------------------- SMS


def test_sms_segments_and_cost(app, factory, kinds, twilio_fake):
    app.config["SMS_COST_PER_SEGMENT"] = "175.5"
    short_user = _person(app, factory, "sms")
    _notify(app, [short_user])
    with app.app_context():
        outbox.run_once()
        long = services.queue("reply", channel=Channel.SMS, to_address="+573001112233",
                              body="Pedidos por responder: " + "; ".join(f"pedido {n} cacao 500 kg" for n in range(9)))
        db.session.commit()
        long_id = long.id
        outbox.send_due()
    sent = twilio_fake.messages
    assert sent[0]["To"] == _phone(app, short_user) and sent[0]["From"] == app.config["TWILIO_SMS_FROM"]
    assert sent[0]["Body"].endswith("Responda SI 1842 (Aceptar) o NO 1842 (Rechazar)")
    first, second = _messages(app)
    assert first.provider == "twilio" and first.provider_id.startswith("SM") and len(first.provider_id) == 34
    assert (first.segments, first.cost) == (1, Decimal("175.5"))
    assert second.id == long_id and (second.segments, second.cost) == (2, Decimal("351.0"))


def test_whatsapp_through_twilio(app, factory, kinds, twilio_fake):
    app.config.update(WHATSAPP_PROVIDER="twilio", TWILIO_WHATSAPP_CONTENT_SIDS={KIND: {"es": "HX" + "a" * 32}})
    user = _person(app, factory)
    _notify(app, [user])
    with app.app_context():
        outbox.run_once()
    [form] = twilio_fake.messages
    assert form["To"] == "whatsapp:" + _phone(app, user) and form["From"] == "whatsapp:" + app.config[
        "TWILIO_WHATSAPP_FROM"]
    assert form["ContentSid"] == "HX" + "a" * 32
    import json

    assert json.loads(form["ContentVariables"]) == {
        "1": "1842", "2": "Chocolates del Pacífico", "3": "500 kg cacao", "4": "SI 1842", "5": "NO 1842"}
    [message] = _messages(app)
    assert message.status == MessageStatus.SENT and message.as_template is True and message.provider == "twilio"


def test_whatsapp_through_twilio_without_a_template_fails_when_the_window_is_closed(app, factory, kinds,
                                                                                    twilio_fake):
    app.config.update(WHATSAPP_PROVIDER="twilio")
    user = _person(app, factory)
    _notify(app, [user])
    with app.app_context():
        outbox.run_once()
    assert twilio_fake.messages == []
    [message] = _messages(app)
    assert message.status == MessageStatus.FAILED and "ventana de 24 horas" in message.status_reason


def test_invalid_number_is_a_permanent_failure(app, factory, kinds, twilio_fake):
    user = _person(app, factory, "sms")
    phone = _phone(app, user)
    twilio_fake.fail(400, 21211, f"Invalid 'To' Phone Number: {phone}", to=phone)
    _notify(app, [user])
    with app.app_context():
        assert outbox.run_once()["failed"] == 1
    [message] = _messages(app)
    assert message.status == MessageStatus.FAILED and message.status_reason.startswith("Twilio 21211: Unable to create record: Invalid 'To'")


# ---------------------------------------------------------------------------- secrets, log, e-mail


def test_secret_digits_are_masked_once_sent(app, factory, kinds, whatsapp_fake):
    user = _person(app, factory)
    _notify(app, [user], kind=SECRET_KIND)
    with app.app_context():
        outbox.run_once()
    assert whatsapp_fake.messages[0]["template"]["components"][0]["parameters"][0]["text"] == "482913"
    [message] = _messages(app)
    assert message.status == MessageStatus.SENT
    assert message.body == "Su código es ••••••." and message.template_params == ["••••••"]


def test_a_secret_is_forgotten_by_its_notice_once_it_is_a_message(app, factory, kinds):
    user = _person(app, factory)
    _notify(app, [user], kind=SECRET_KIND)
    _notify(app, [user], kind=KIND)
    with app.app_context():
        outbox.expand()
        payloads = dict(db.session.execute(select(Notice.kind, Notice.payload)).all())
    assert payloads[SECRET_KIND] is None  # the code is only in the message now
    assert payloads[KIND] == {"users": [user]}


def test_log_provider_keeps_the_secret_for_the_development_page(app, factory, kinds):
    user = _person(app, factory)
    _notify(app, [user], kind=SECRET_KIND)
    with app.app_context():
        assert outbox.run_once()["sent"] == 1
    [message] = _messages(app)
    assert message.provider == "log" and message.provider_id == f"log-{message.id}"
    assert message.body == "Su código es 482913." and message.as_template is True and message.cost == 0


def test_email_through_the_log_is_captured(app, factory, kinds):
    user = _person(app, factory, "email", verified=False, opt_in=False, email="gerente@coop.co")
    sent = []
    app.extensions["marketplace_outbox"] = sent
    try:
        _notify(app, [user])
        with app.app_context():
            outbox.run_once()
    finally:
        app.extensions.pop("marketplace_outbox")
    [mail] = sent
    assert mail["To"] == "gerente@coop.co" and mail["Subject"] == "Nuevo pedido 1842"
    assert "Nuevo pedido 1842" in mail.get_content()
    [message] = _messages(app)
    assert message.status == MessageStatus.SENT and message.cost == 0 and message.segments is None


# ---------------------------------------------------------------------------- exactly once


def test_a_message_claimed_by_another_worker_is_not_sent_again(app, factory, kinds, whatsapp_fake, monkeypatch):
    """Worker A lists the due messages and claims them one at a time; while it sends the
    first, worker B runs a whole round. Each message reaches the provider once."""
    monkeypatch.setattr(outbox, "CLAIM_BATCH", 1)
    users = [_person(app, factory) for _ in range(3)]
    _notify(app, users)
    with app.app_context():
        outbox.expand()
    from marketplace.messaging import providers

    original = providers.for_channel
    nested = []

    def for_channel_with_rival(channel):
        provider = original(channel)
        if not nested:
            nested.append(True)
            with app.app_context():  # worker B: its own session and transactions
                nested.append(outbox.send_due())
        return provider

    with app.app_context():
        providers.for_channel = for_channel_with_rival
        try:
            counts_a = outbox.send_due()
        finally:
            providers.for_channel = original
    assert len(nested) == 2, [m.status_reason for m in _messages(app)]
    assert nested[1]["sent"] == 2 and counts_a["sent"] == 1
    assert sorted(m["to"] for m in whatsapp_fake.messages) == sorted(_phone(app, u).lstrip("+") for u in users)
    assert all(m.status == MessageStatus.SENT and m.attempts == 1 for m in _messages(app))


def test_a_batch_claimed_by_one_worker_is_left_to_it(app, factory, kinds, whatsapp_fake):
    users = [_person(app, factory) for _ in range(3)]
    _notify(app, users)
    with app.app_context():
        outbox.expand()
    from marketplace.messaging import providers

    original = providers.for_channel
    rival = []

    def for_channel_with_rival(channel):
        if not rival:
            with app.app_context():
                rival.append(outbox.send_due())
        return original(channel)

    with app.app_context():
        providers.for_channel = for_channel_with_rival
        try:
            assert outbox.send_due()["sent"] == 3
        finally:
            providers.for_channel = original
    assert rival == [{"sent": 0, "retry": 0, "failed": 0, "skipped": 0}]
    assert len(whatsapp_fake.messages) == 3


def test_a_slow_batch_gives_back_what_its_claim_may_not_cover(app, factory, kinds, whatsapp_fake, monkeypatch):
    monkeypatch.setattr(outbox, "CLAIM_SECONDS", 0)
    monkeypatch.setattr(outbox, "CLAIM_MARGIN", 0)
    users = [_person(app, factory) for _ in range(3)]
    _notify(app, users)
    with app.app_context():
        outbox.expand()
        assert outbox.send_due()["sent"] == 1  # the first is always sent; the others given back
    first, *rest = _messages(app)
    assert first.status == MessageStatus.SENT
    assert all(m.status == MessageStatus.QUEUED and m.claimed_until is None and m.attempts == 0 for m in rest)
    with app.app_context():
        assert outbox.send_due()["sent"] == 1
    assert len(whatsapp_fake.messages) == 2


@pytest.mark.skipif(not USING_PG, reason="concurrent workers are proven on PostgreSQL")
def test_two_workers_at_once_send_each_message_once(app, factory, kinds, whatsapp_fake):
    users = [_person(app, factory) for _ in range(12)]
    _notify(app, users[:6])
    _notify(app, users[6:])
    whatsapp_fake.delay = 0.01
    # Werkzeug compiles a rule's URL builder with ``ast`` on first use, and CPython 3.11 keeps
    # the AST constructor's depth per interpreter, not per thread: two threads compiling at once
    # can leave it inconsistent and fail a later test ("AST constructor recursion depth
    # mismatch"). The builder the notices use is compiled here first, in one thread.
    with app.test_request_context():
        url_for("home.index", _external=True)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            with app.app_context():
                barrier.wait()
                results.append(outbox.run_once())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sum(r["expanded"] for r in results) == 2
    assert sum(r["sent"] for r in results) == 12
    assert len(whatsapp_fake.messages) == 12
    assert len({m["to"] for m in whatsapp_fake.messages}) == 12
    assert all(m.attempts == 1 for m in _messages(app))


def test_sms_does_not_spell_machine_payloads(app, factory):
    def render(notice, user):
        return hooks.Rendered(subject="s", text="t", short="Pedido 7. Responda SI 7 o NO 7",
                              buttons=[("accept:7", "Aceptar"), ("decline:7", "Rechazar")])

    hooks.register_notice(hooks.NoticeKind("test_machine", _recipients, render, template="x"))
    try:
        user = _person(app, factory, "sms")
        _notify(app, [user], kind="test_machine")
        with app.app_context():
            outbox.expand()
        assert _messages(app)[0].body == "Pedido 7. Responda SI 7 o NO 7"
    finally:
        hooks.NOTICE_KINDS.pop("test_machine")


# ---------------------------------------------------------------------------- the worker commands


def test_flask_messaging_send_runs_one_round(app, factory, kinds, twilio_fake):
    user = _person(app, factory, "sms")
    _notify(app, [user])
    result = app.test_cli_runner().invoke(args=["messaging", "send"])
    assert result.exit_code == 0, result.output
    assert "1 avisos preparados, 1 mensajes enviados" in result.output
    assert len(twilio_fake.messages) == 1


def test_flask_orders_sweep_also_sends_messages(app, factory, kinds, twilio_fake):
    user = _person(app, factory, "sms")
    _notify(app, [user])
    result = app.test_cli_runner().invoke(args=["orders", "sweep"])
    assert result.exit_code == 0, result.output
    assert "reembolsos enviados" in result.output and "1 mensajes enviados" in result.output
    assert len(twilio_fake.messages) == 1


def test_work_loop_runs_messaging_every_few_seconds_and_the_sweep_every_interval(app, monkeypatch):
    import time

    from marketplace import cli

    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    runs = {"sweep": [], "messaging": []}

    def sleep(seconds):
        clock[0] += seconds

    def task(name):
        def run():
            runs[name].append(clock[0] - 1000)
            if name == "sweep" and len(runs[name]) == 2:
                raise RuntimeError("base de datos caída")  # reported; the loop goes on
            return ""
        return run

    with app.app_context():
        cli._work_loop({"sweep": (15.0, task("sweep")), "messaging": (2.0, task("messaging"))}, rounds=16,
                       sleep=sleep)
    # Each round wakes for whichever is due next: messaging every 2 s, the sweep every 15 s,
    # the sweep's failure at 15 s changing neither.
    assert runs["messaging"] == [2.0 * n for n in range(15)]
    assert runs["sweep"] == [0.0, 15.0]


def test_flask_orders_work_uses_the_messaging_interval(app, monkeypatch):
    from marketplace import cli

    seen = {}
    monkeypatch.setattr(cli, "_work_loop", lambda tasks, **kw: seen.update(
        {name: every for name, (every, _task) in tasks.items()}))
    app.config["MESSAGING_INTERVAL_SECONDS"] = 2
    assert app.test_cli_runner().invoke(args=["orders", "work"]).exit_code == 0
    assert seen == {"sweep": 15.0, "messaging": 2.0}
    assert app.test_cli_runner().invoke(args=["messaging", "work", "--interval", "0.5"]).exit_code == 0
    assert seen["messaging"] == 0.5


def test_a_round_also_fetches_photos_through_the_provider(app, whatsapp_fake):
    from marketplace.messaging import media

    photo = b"\xff\xd8\xff\xe0" + b"z" * 2000
    whatsapp_fake.add_media("778899", photo, "image/jpeg")
    received = []
    media.register_media_handler("test_photo", lambda fetch, data, content_type: received.append(
        (fetch.subject_id, data, content_type)))
    try:
        with app.app_context():
            media.request_fetch("test_photo", 42, "778899", channel=Channel.WHATSAPP, provider="meta")
            db.session.commit()
            assert outbox.run_once()["photos"] == 1
    finally:
        media.MEDIA_HANDLERS.pop("test_photo")
    assert received == [(42, photo, "image/jpeg")]
