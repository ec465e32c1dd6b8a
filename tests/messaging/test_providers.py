"""Providers chosen by configuration; the real SDKs against the local fakes: errors
classified, time limits, media downloads; SMTP refusals told apart from outages."""

from __future__ import annotations

import smtplib

import pytest

from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.messaging import hooks, providers
from marketplace.messaging.models import Channel, Message, MessageStatus
from marketplace.messaging.providers import PermanentFailure, TemporaryFailure
from tests.messaging import fakes


def _message(channel=Channel.WHATSAPP, **values) -> Message:
    """A message as the worker hands it to a provider (detached, never flushed)."""
    defaults = dict(id=1, kind="test_kind", channel=channel, to_address="+573151234567", locale="es",
                    body="Nuevo pedido 1842", status=MessageStatus.QUEUED, attempts=1, created_at=utcnow())
    defaults.update(values)
    return Message(**defaults)


# ---------------------------------------------------------------------------- choosing


@pytest.mark.parametrize(("config", "expected"), [
    ({}, {"whatsapp": "log", "sms": "log", "email": "log"}),
    ({"WHATSAPP_ACCESS_TOKEN": "t", "WHATSAPP_PHONE_NUMBER_ID": "1"}, {"whatsapp": "meta", "sms": "log"}),
    ({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_SMS_FROM": "+1500"},
     {"whatsapp": "log", "sms": "twilio"}),
    ({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_MESSAGING_SERVICE_SID": "MG1",
      "TWILIO_WHATSAPP_FROM": "+1415"}, {"whatsapp": "twilio", "sms": "twilio"}),
    ({"WHATSAPP_ACCESS_TOKEN": "t", "WHATSAPP_PHONE_NUMBER_ID": "1", "TWILIO_ACCOUNT_SID": "AC1",
      "TWILIO_AUTH_TOKEN": "t", "TWILIO_WHATSAPP_FROM": "+1415"}, {"whatsapp": "meta"}),
    ({"WHATSAPP_PROVIDER": "twilio", "WHATSAPP_ACCESS_TOKEN": "t", "WHATSAPP_PHONE_NUMBER_ID": "1"},
     {"whatsapp": "twilio"}),
    ({"SMS_PROVIDER": "log", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_SMS_FROM": "+1"},
     {"sms": "log"}),
    ({"SMTP_HOST": "smtp.example.org"}, {"email": "smtp"}),
])
def test_provider_chosen_by_configuration(config, expected):
    base = {"WHATSAPP_PROVIDER": "", "SMS_PROVIDER": ""}
    for channel, name in expected.items():
        assert providers.provider_name(channel, {**base, **config}) == name


def test_built_once_per_configuration(app, whatsapp_fake):
    with app.app_context():
        first = providers.for_channel(Channel.WHATSAPP)
        assert first.name == "meta" and providers.for_channel("whatsapp") is first
        app.config["WHATSAPP_PROVIDER"] = "log"
        assert providers.for_channel(Channel.WHATSAPP).name == "log"


def test_a_named_provider_without_credentials_is_a_temporary_failure(app):
    app.config.update(WHATSAPP_PROVIDER="meta", SMS_PROVIDER="twilio")
    with app.app_context():
        with pytest.raises(TemporaryFailure, match="WHATSAPP_ACCESS_TOKEN"):
            providers.for_channel(Channel.WHATSAPP)
        with pytest.raises(TemporaryFailure, match="TWILIO_ACCOUNT_SID"):
            providers.for_channel(Channel.SMS)


# ---------------------------------------------------------------------------- Meta


def test_meta_errors_are_classified(app, whatsapp_fake):
    with app.app_context():
        provider = providers.for_channel(Channel.WHATSAPP)
        message = _message(template_name="pedido_nuevo", template_language="es", template_params=["1842"])
        whatsapp_fake.fail(500, 131000, "Something went wrong")
        with pytest.raises(TemporaryFailure, match="131000"):
            provider.send(message, window_open=False)
        whatsapp_fake.fail(429, 130429, "Rate limit hit")
        with pytest.raises(TemporaryFailure, match="130429"):
            provider.send(message, window_open=False)
        whatsapp_fake.fail(400, 132001, "Template name does not exist in the translation")
        with pytest.raises(PermanentFailure, match="132001"):
            provider.send(message, window_open=False)
        result = provider.send(message, window_open=False)
    assert result.provider_id.startswith("wamid.") and result.as_template is True
    # Each call reached the fake once: no retries of a request Meta answered.
    assert len(whatsapp_fake.messages) == 4


def test_meta_without_a_template_outside_the_window_is_refused(app, whatsapp_fake):
    with app.app_context(), pytest.raises(PermanentFailure, match="ventana de 24 horas"):
        providers.for_channel(Channel.WHATSAPP).send(_message(), window_open=False)
    assert whatsapp_fake.messages == []


def test_meta_wrong_token_is_permanent(app, whatsapp_fake):
    app.config["WHATSAPP_ACCESS_TOKEN"] = "EAAexpired"
    with app.app_context(), pytest.raises(PermanentFailure, match="190"):
        providers.for_channel(Channel.WHATSAPP).send(_message(), window_open=True)


def test_meta_time_limit(app, whatsapp_fake):
    app.config["MESSAGING_TIMEOUT_SECONDS"] = 0.2
    whatsapp_fake.delay = 1
    with app.app_context(), pytest.raises(TemporaryFailure, match="Timeout"):
        providers.for_channel(Channel.WHATSAPP).send(_message(), window_open=True)


def test_meta_authentication_template_carries_the_code_in_its_button(app, whatsapp_fake):
    hooks.register_notice(hooks.NoticeKind("test_auth_code", lambda n: [], lambda n, u: None,
                                           template="codigo_verificacion", secret=True,
                                           template_category="authentication"))
    try:
        with app.app_context():
            providers.for_channel(Channel.WHATSAPP).send(
                _message(kind="test_auth_code", template_name="codigo_verificacion", template_language="es",
                         template_params=["482913"]), window_open=False)
    finally:
        hooks.NOTICE_KINDS.pop("test_auth_code")
    body, button = whatsapp_fake.messages[0]["template"]["components"]
    assert body["type"].lower() == "body" and body["parameters"] == [{"type": "text", "text": "482913"}]
    assert button["sub_type"].lower() == "url" and button["parameters"] == [{"type": "text", "text": "482913"}]


def test_meta_fetch_media(app, whatsapp_fake):
    photo = b"\xff\xd8\xff\xe0" + b"x" * 5000
    whatsapp_fake.add_media("1234567890", photo, "image/jpeg")
    with app.app_context():
        assert providers.fetch_media(Channel.WHATSAPP, "1234567890") == (photo, "image/jpeg")
        with pytest.raises(PermanentFailure):
            providers.fetch_media(Channel.WHATSAPP, "999")  # unknown media id
        app.config["MESSAGING_MEDIA_MAX_BYTES"] = 1000
        with pytest.raises(PermanentFailure, match="1000"):
            providers.fetch_media(Channel.WHATSAPP, "1234567890")
    downloads = [r for r in whatsapp_fake.requests if r.path.startswith("/media-download/")]
    assert downloads and downloads[0].headers["Authorization"] == f"Bearer {fakes.META_TOKEN}"


def test_log_provider_has_no_media(app):
    with app.app_context(), pytest.raises(PermanentFailure):
        providers.fetch_media(Channel.WHATSAPP, "1234567890")


# ---------------------------------------------------------------------------- Twilio


def test_twilio_sms_through_a_messaging_service(app, twilio_fake):
    app.config.update(TWILIO_SMS_FROM="", TWILIO_MESSAGING_SERVICE_SID="MG" + "1" * 32,
                      TWILIO_STATUS_CALLBACK_URL="https://mercadorural.co/webhooks/twilio/status")
    with app.app_context():
        result = providers.for_channel(Channel.SMS).send(_message(Channel.SMS, body="Pedido 1842: ¿lo acepta?"))
    [form] = twilio_fake.messages
    assert form["MessagingServiceSid"] == "MG" + "1" * 32 and "From" not in form
    assert form["StatusCallback"] == "https://mercadorural.co/webhooks/twilio/status"
    assert form["Body"] == "Pedido 1842: ¿lo acepta?" and result.segments == 1


def test_twilio_errors_are_classified(app, twilio_fake):
    with app.app_context():
        provider = providers.for_channel(Channel.SMS)
        twilio_fake.fail(429, 20429, "Too Many Requests")
        with pytest.raises(TemporaryFailure, match="20429"):
            provider.send(_message(Channel.SMS))
        twilio_fake.fail(400, 21610, "Attempt to send to unsubscribed recipient")
        with pytest.raises(PermanentFailure, match="21610"):
            provider.send(_message(Channel.SMS))
    app.config["TWILIO_AUTH_TOKEN"] = "wrong"
    with app.app_context(), pytest.raises(PermanentFailure, match="20003"):
        providers.for_channel(Channel.SMS).send(_message(Channel.SMS))


def test_twilio_time_limit(app, twilio_fake):
    app.config["MESSAGING_TIMEOUT_SECONDS"] = 0.2
    twilio_fake.delay = 1
    with app.app_context(), pytest.raises(TemporaryFailure, match="Twilio no respondió"):
        providers.for_channel(Channel.SMS).send(_message(Channel.SMS))


def test_twilio_whatsapp_free_text_inside_the_window(app, twilio_fake):
    app.config["WHATSAPP_PROVIDER"] = "twilio"
    with app.app_context():
        result = providers.for_channel(Channel.WHATSAPP).send(_message(body="Listo: pedido aceptado."),
                                                              window_open=True)
    [form] = twilio_fake.messages
    assert form["To"] == "whatsapp:+573151234567" and form["Body"] == "Listo: pedido aceptado."
    assert result.as_template is False and result.provider_id.startswith("SM")


def test_twilio_fetch_media_with_credentials_follows_the_redirect(app, twilio_fake):
    photo = b"\x89PNG" + b"y" * 3000
    url = twilio_fake.add_media(photo, "image/png")
    app.config["WHATSAPP_PROVIDER"] = "twilio"
    with app.app_context():
        assert providers.fetch_media(Channel.WHATSAPP, url) == (photo, "image/png")
        with pytest.raises(PermanentFailure, match="no es de Twilio"):
            providers.fetch_media(Channel.WHATSAPP, "https://evil.example.com/x.jpg")
        app.config["MESSAGING_MEDIA_MAX_BYTES"] = 100
        with pytest.raises(PermanentFailure, match="100"):
            providers.fetch_media(Channel.WHATSAPP, url)
    media_request = next(r for r in twilio_fake.requests if "/Media/" in r.path)
    assert media_request.headers["Authorization"].startswith("Basic ")
    assert any(r.path.startswith("/files/") for r in twilio_fake.requests)  # the redirect was followed


# ---------------------------------------------------------------------------- e-mail


class FakeSMTP:
    """Stands in for smtplib.SMTP: records what would be sent, or refuses as told."""

    sent: list = []
    refuse: Exception | None = None

    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def starttls(self):
        pass

    def login(self, username, password):
        pass

    def send_message(self, mail):
        if FakeSMTP.refuse is not None:
            raise FakeSMTP.refuse
        FakeSMTP.sent.append((self.host, self.timeout, mail))
        return {}


def test_smtp(app, monkeypatch):
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    FakeSMTP.sent, FakeSMTP.refuse = [], None
    app.config.update(SMTP_HOST="smtp.example.org", MESSAGING_TIMEOUT_SECONDS=8)
    message = _message(Channel.EMAIL, to_address="gerente@coop.co", subject="Nuevo pedido 1842")
    with app.app_context():
        provider = providers.for_channel(Channel.EMAIL)
        result = provider.send(message)
        [(host, timeout, mail)] = FakeSMTP.sent
        assert (host, timeout, mail["To"], mail["Subject"]) == ("smtp.example.org", 8.0, "gerente@coop.co",
                                                                 "Nuevo pedido 1842")
        assert result.provider == "smtp" and result.provider_id in mail["Message-ID"]
        FakeSMTP.refuse = smtplib.SMTPRecipientsRefused({"gerente@coop.co": (550, b"5.1.1 No such user")})
        with pytest.raises(PermanentFailure, match="550"):
            provider.send(message)
        FakeSMTP.refuse = smtplib.SMTPRecipientsRefused({"gerente@coop.co": (451, b"4.7.1 Try again later")})
        with pytest.raises(TemporaryFailure, match="451"):
            provider.send(message)
        FakeSMTP.refuse = ConnectionRefusedError(111, "Connection refused")
        with pytest.raises(TemporaryFailure, match="no disponible"):
            provider.send(message)


def test_message_is_detached_safe(app, whatsapp_fake):
    """Providers only read the message's own columns: the worker hands them a detached row."""
    with app.app_context():
        message = _message(template_name="pedido_nuevo", template_language="en_US", template_params=["7"])
        assert message not in db.session
        providers.for_channel(Channel.WHATSAPP).send(message, window_open=False)
    assert whatsapp_fake.messages[0]["template"]["language"] == {"code": "en_US"}
