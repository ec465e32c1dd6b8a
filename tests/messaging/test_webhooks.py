"""The providers' webhooks: Meta's verification challenge and signed updates, Twilio's signed
messages and status callbacks, as the providers really send them (tests/messaging/fakes.py).
A request that fails its signature changes nothing; none answers 500."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.messaging import services
from marketplace.messaging.models import Channel, Inbound, Message, MessageStatus
from tests.messaging import fakes
from tests.messaging.test_inbound import verify

PUBLIC_URL = "https://mercadorural.example"
META_PATH = "/webhooks/whatsapp"
TWILIO_PATH = "/webhooks/twilio"
STATUS_PATH = "/webhooks/twilio/status"


@pytest.fixture
def configured(app):
    app.config.update(WHATSAPP_APP_SECRET=fakes.META_APP_SECRET, WHATSAPP_VERIFY_TOKEN=fakes.META_VERIFY_TOKEN,
                      TWILIO_AUTH_TOKEN=fakes.TWILIO_TOKEN, PUBLIC_URL=PUBLIC_URL)
    return app


@pytest.fixture
def manager(app, factory):
    _org, person = factory.cooperative()
    verify(app, person)
    return person


def post_meta(client, payload, *, signature: str | None = "good", secret: str = fakes.META_APP_SECRET):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "good":
        headers["X-Hub-Signature-256"] = fakes.meta_signature(body, secret)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post(META_PATH, data=body, headers=headers, csrf=False)


def post_twilio(client, params, *, path: str = TWILIO_PATH, signed_url: str | None = None, token=fakes.TWILIO_TOKEN,
                signature: str | None = "good"):
    headers = {}
    if signature == "good":
        headers["X-Twilio-Signature"] = fakes.twilio_signature(signed_url or PUBLIC_URL + path, params, token)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    return client.post(path, data=params, headers=headers, csrf=False)


def inbound_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Inbound))


def all_inbound() -> list[Inbound]:
    db.session.expire_all()
    return list(db.session.scalars(select(Inbound).order_by(Inbound.id)))


# ---------------------------------------------------------------- Meta: challenge


def test_meta_verification_challenge_echoes_the_challenge(configured, client):
    response = client.get(META_PATH, query_string={"hub.mode": "subscribe", "hub.verify_token": fakes.META_VERIFY_TOKEN,
                                                   "hub.challenge": "1158201444"})
    assert response.status_code == 200 and response.get_data(as_text=True) == "1158201444"


@pytest.mark.parametrize("args", [
    {"hub.mode": "subscribe", "hub.verify_token": "otro", "hub.challenge": "1"},
    {"hub.mode": "unsubscribe", "hub.verify_token": fakes.META_VERIFY_TOKEN, "hub.challenge": "1"},
    {"hub.challenge": "1"},
])
def test_meta_verification_challenge_refuses_a_wrong_token(configured, client, args):
    response = client.get(META_PATH, query_string=args)
    assert response.status_code == 403 and "1" not in response.get_data(as_text=True)


def test_meta_verification_challenge_refuses_everything_without_a_configured_token(app, client):
    app.config["WHATSAPP_VERIFY_TOKEN"] = ""
    response = client.get(META_PATH, query_string={"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"})
    assert response.status_code == 403


# -------------------------------------------------------------- Meta: signatures


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "garbage", "good-but-other-secret"])
def test_meta_update_with_a_wrong_or_missing_signature_is_refused_and_changes_nothing(configured, client, manager,
                                                                                      signature):
    payload = fakes.meta_inbound(manager.login, text="SALIR")
    if signature == "good-but-other-secret":
        response = post_meta(client, payload, secret="another-secret")
    else:
        response = post_meta(client, payload, signature=signature)
    assert response.status_code == 403
    with configured.app_context():
        assert inbound_count() == 0
        assert db.session.get(User, manager.user_id).whatsapp_opt_out_at is None


def test_a_body_changed_after_signing_is_refused(configured, client, manager):
    body = json.dumps(fakes.meta_inbound(manager.login, text="AYUDA")).encode()
    signature = fakes.meta_signature(body)
    response = post_meta(client, body.replace(b"AYUDA", b"SALIR"), signature=signature)
    assert response.status_code == 403


def test_meta_updates_are_refused_without_a_configured_app_secret(app, client, manager):
    app.config["WHATSAPP_APP_SECRET"] = ""
    response = post_meta(client, fakes.meta_inbound(manager.login, text="AYUDA"),
                         signature=fakes.meta_signature(b"x", ""))
    assert response.status_code == 403


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1, 2]", b"\xff\xfe"])
def test_malformed_meta_updates_get_400(configured, client, body):
    assert post_meta(client, body).status_code == 400


@pytest.mark.parametrize("payload", [
    {"object": "whatsapp_business_account", "entry": "x"},
    {"entry": [{"changes": [{"field": "messages", "value": {"messages": [1, {"id": 5}, {"from": "57"}],
                                                             "statuses": [{"id": ["x"], "status": {}}]}}]}]},
    {"entry": [{"changes": [{"field": "account_update", "value": {"messages": [{"id": "w", "from": "57300"}]}}]}]},
    {"entry": [{"changes": [{"field": "messages", "value": {"messages": [
        {"id": "wamid.x", "from": "573001112233", "type": "interactive", "interactive": "nonsense"}]}}]}]},
])
def test_unexpected_shapes_never_break_the_webhook(configured, client, payload):
    response = post_meta(client, payload)
    assert response.status_code == 200


# ---------------------------------------------------------------- Meta: messages


def test_a_signed_text_is_recorded_and_answered_through_the_outbox(configured, client, manager):
    payload = fakes.meta_inbound(manager.login, text="AYUDA", message_id="wamid.text1")
    response = post_meta(client, payload)
    assert response.status_code == 200 and response.get_json()["received"] == 1
    with configured.app_context():
        [row] = all_inbound()
        assert (row.provider, row.provider_message_id, row.channel) == ("meta", "wamid.text1", Channel.WHATSAPP)
        assert row.from_number == manager.login and row.user_id == manager.user_id and row.text == "AYUDA"
        reply = db.session.get(Message, row.reply_id)
        assert reply.status == MessageStatus.QUEUED and reply.channel == Channel.WHATSAPP
        assert reply.kind == "reply" and reply.to_address == manager.login and "SALIR" in reply.body
        # The person wrote: the 24-hour window is open for the free-text answer.
        assert services.window_open(manager.login)


def test_a_replayed_meta_update_acts_once(configured, client, manager):
    payload = fakes.meta_inbound(manager.login, text="SALIR", message_id="wamid.replay")
    assert post_meta(client, payload).status_code == 200
    assert post_meta(client, payload).status_code == 200
    with configured.app_context():
        assert inbound_count() == 1
        assert db.session.scalar(select(func.count()).select_from(Message)) == 1


def test_buttons_and_images_are_read_from_the_cloud_api_shapes(configured, client, manager):
    post_meta(client, fakes.meta_inbound(manager.login, button=("accept:999", "Aceptar"), message_id="wamid.b1"))
    post_meta(client, fakes.meta_inbound(manager.login, template_button=("decline:998", "Rechazar"),
                                         message_id="wamid.b2"))
    post_meta(client, fakes.meta_inbound(manager.login, image_id="1234567890", text="mi cacao", message_id="wamid.i1"))
    with configured.app_context():
        rows = {row.provider_message_id: row for row in all_inbound()}
        assert (rows["wamid.b1"].button_payload, rows["wamid.b1"].text) == ("accept:999", "Aceptar")
        assert (rows["wamid.b2"].button_payload, rows["wamid.b2"].text) == ("decline:998", "Rechazar")
        assert (rows["wamid.i1"].media_id, rows["wamid.i1"].text) == ("1234567890", "mi cacao")
        # accept:999 is nobody's part of this cooperative: a polite answer, nothing else.
        assert "No encontramos ese pedido" in db.session.get(Message, rows["wamid.b1"].reply_id).body


def test_meta_salir_opts_out_then_a_notice_skips_whatsapp(configured, client, manager):
    post_meta(client, fakes.meta_inbound(manager.login, text="SALIR"))
    with configured.app_context():
        user = db.session.get(User, manager.user_id)
        assert user.whatsapp_opt_out_at is not None
        assert services.channel_problem(user, Channel.WHATSAPP) == "salió de WhatsApp (SALIR)"
        channel, _reason = services.channel_for(user)
        assert channel == Channel.SMS


# ---------------------------------------------------------------- Meta: statuses


def _sent_message(app, provider: str, provider_id: str, status=MessageStatus.SENT) -> int:
    with app.app_context():
        message = services.queue("reply", channel=Channel.WHATSAPP, to_address="+573001112233", body="hola")
        message.provider, message.provider_id, message.status = provider, provider_id, status
        message.sent_at = utcnow()
        db.session.commit()
        return message.id


def _message(app, message_id: int) -> Message:
    with app.app_context():
        message = db.session.get(Message, message_id)
        db.session.expunge(message)
        return message


def test_meta_statuses_move_a_message_forward_only(configured, client):
    message_id = _sent_message(configured, "meta", "wamid.out1")
    assert post_meta(client, fakes.meta_status("wamid.out1", "delivered", "+573001112233")).status_code == 200
    message = _message(configured, message_id)
    assert message.status == MessageStatus.DELIVERED and message.delivered_at is not None
    post_meta(client, fakes.meta_status("wamid.out1", "read", "+573001112233"))
    read = _message(configured, message_id)
    assert read.status == MessageStatus.READ and read.read_at is not None
    # Late or repeated callbacks never move it back.
    for late in ("delivered", "sent", "failed"):
        post_meta(client, fakes.meta_status("wamid.out1", late, "+573001112233", error=(131026, "Undeliverable")))
    after = _message(configured, message_id)
    assert after.status == MessageStatus.READ and after.delivered_at == read.delivered_at
    assert after.status_reason is None


def test_a_read_receipt_before_the_delivery_receipt_counts_as_delivered_too(configured, client):
    message_id = _sent_message(configured, "meta", "wamid.out2")
    post_meta(client, fakes.meta_status("wamid.out2", "read", "+573001112233"))
    message = _message(configured, message_id)
    assert message.status == MessageStatus.READ and message.delivered_at is not None


def test_a_meta_failure_records_its_reason(configured, client):
    message_id = _sent_message(configured, "meta", "wamid.out3")
    post_meta(client, fakes.meta_status("wamid.out3", "failed", "+573001112233",
                                        error=(131047, "Re-engagement message")))
    message = _message(configured, message_id)
    assert message.status == MessageStatus.FAILED and message.failed_at is not None
    assert "131047" in message.status_reason and "Re-engagement message" in message.status_reason


def test_a_status_for_another_providers_message_changes_nothing(configured, client):
    message_id = _sent_message(configured, "twilio", "wamid.out4")
    post_meta(client, fakes.meta_status("wamid.out4", "delivered", "+573001112233"))
    assert _message(configured, message_id).status == MessageStatus.SENT


# ------------------------------------------------------------------------ Twilio


def test_a_signed_twilio_sms_is_recorded_and_answered_with_empty_twiml(configured, client, manager):
    params = fakes.twilio_inbound(manager.login, "Ayuda", message_sid="SM" + "1" * 32)
    response = post_twilio(client, params)
    assert response.status_code == 200 and response.mimetype == "text/xml"
    assert response.get_data(as_text=True).endswith("<Response />")
    with configured.app_context():
        [row] = all_inbound()
        assert (row.provider, row.channel, row.from_number, row.user_id) == ("twilio", Channel.SMS, manager.login,
                                                                             manager.user_id)
        reply = db.session.get(Message, row.reply_id)
        assert reply.channel == Channel.SMS and reply.to_address == manager.login


def test_a_twilio_whatsapp_message_with_a_button_and_a_photo(configured, client, manager):
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    params = fakes.twilio_inbound(manager.login, "Aceptar", whatsapp=True, button=("accept:77", "Aceptar"),
                                  media=[(url, "image/jpeg")])
    assert post_twilio(client, params).status_code == 200
    with configured.app_context():
        [row] = all_inbound()
        assert row.channel == Channel.WHATSAPP and row.from_number == manager.login
        assert row.button_payload == "accept:77" and row.media_id == url


@pytest.mark.parametrize("case", ["missing", "wrong", "other-token", "internal-url"])
def test_twilio_requests_with_a_bad_signature_are_refused(configured, client, manager, case):
    params = fakes.twilio_inbound(manager.login, "STOP")
    if case == "missing":
        response = post_twilio(client, params, signature=None)
    elif case == "wrong":
        response = post_twilio(client, params, signature="bm90IGEgc2lnbmF0dXJl")
    elif case == "other-token":
        response = post_twilio(client, params, token="another-token")
    else:  # signed for the address the app sees behind the proxy, not the public one
        response = post_twilio(client, params, signed_url="http://localhost" + TWILIO_PATH)
    assert response.status_code == 403
    with configured.app_context():
        assert inbound_count() == 0 and db.session.get(User, manager.user_id).sms_opt_out_at is None


def test_a_tampered_twilio_form_is_refused(configured, client, manager):
    params = fakes.twilio_inbound(manager.login, "AYUDA")
    signature = fakes.twilio_signature(PUBLIC_URL + TWILIO_PATH, params)
    response = post_twilio(client, {**params, "Body": "STOP"}, signature=signature)
    assert response.status_code == 403


def test_twilio_is_refused_without_a_configured_token(app, client, manager):
    app.config.update(TWILIO_AUTH_TOKEN="", PUBLIC_URL=PUBLIC_URL)
    assert post_twilio(client, fakes.twilio_inbound(manager.login, "AYUDA"), token="").status_code == 403


def test_a_twilio_message_without_a_sender_gets_400(configured, client):
    params = {"MessageSid": "SM" + "2" * 32, "Body": "hola"}
    assert post_twilio(client, params).status_code == 400


def test_a_replayed_twilio_message_acts_once(configured, client, manager):
    params = fakes.twilio_inbound(manager.login, "STOP", message_sid="SM" + "3" * 32)
    assert post_twilio(client, params).status_code == 200
    assert post_twilio(client, params).status_code == 200
    with configured.app_context():
        assert inbound_count() == 1
        assert db.session.scalar(select(func.count()).select_from(Message)) == 1


def test_twilio_status_callbacks(configured, client):
    delivered_id = _sent_message(configured, "twilio", "SM" + "a" * 32)
    failed_id = _sent_message(configured, "twilio", "SM" + "b" * 32)
    response = post_twilio(client, fakes.twilio_status("SM" + "a" * 32, "delivered"), path=STATUS_PATH)
    assert response.status_code == 200
    assert _message(configured, delivered_id).status == MessageStatus.DELIVERED
    post_twilio(client, fakes.twilio_status("SM" + "a" * 32, "sent"), path=STATUS_PATH)
    assert _message(configured, delivered_id).status == MessageStatus.DELIVERED
    post_twilio(client, fakes.twilio_status("SM" + "b" * 32, "undelivered", error_code="30003"), path=STATUS_PATH)
    failed = _message(configured, failed_id)
    assert failed.status == MessageStatus.FAILED and "30003" in failed.status_reason
    assert "apagado" in failed.status_reason
    # Statuses with nothing to record ("sending", "queued") are accepted and ignored.
    assert post_twilio(client, fakes.twilio_status("SM" + "a" * 32, "sending"), path=STATUS_PATH).status_code == 200


def test_a_status_callback_posted_to_the_message_url_is_taken_as_a_status(configured, client):
    message_id = _sent_message(configured, "twilio", "SM" + "c" * 32)
    post_twilio(client, fakes.twilio_status("SM" + "c" * 32, "read"))
    assert _message(configured, message_id).status == MessageStatus.READ
    with configured.app_context():
        assert inbound_count() == 0


def test_a_twilio_status_callback_with_a_bad_signature_is_refused(configured, client):
    message_id = _sent_message(configured, "twilio", "SM" + "d" * 32)
    response = post_twilio(client, fakes.twilio_status("SM" + "d" * 32, "failed", error_code="30005"),
                           path=STATUS_PATH, token="another-token")
    assert response.status_code == 403
    assert _message(configured, message_id).status == MessageStatus.SENT


# -------------------------------------------------------------------- abuse


def test_the_webhooks_are_rate_limited_per_address(configured, client, manager):
    configured.config["WEBHOOK_RATE_LIMIT"] = "2 per minute"
    statuses = [post_twilio(client, fakes.twilio_inbound(manager.login, "AYUDA")).status_code for _ in range(3)]
    assert statuses[-1] == 429
    with configured.app_context():
        assert inbound_count() == statuses.count(200) < 3


def test_an_unexpected_failure_answers_503_and_records_nothing(configured, client, manager, monkeypatch):
    from marketplace.messaging import inbound

    def broken(*args, **kwargs):
        db.session.add(Inbound(provider="meta", provider_message_id="half", channel=Channel.WHATSAPP,
                               from_number=manager.login))
        db.session.flush()
        raise RuntimeError("database went away")

    monkeypatch.setattr(inbound, "receive", broken)
    response = post_meta(client, fakes.meta_inbound(manager.login, text="AYUDA"))
    assert response.status_code == 503
    with configured.app_context():
        assert inbound_count() == 0
