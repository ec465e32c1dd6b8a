"""Shared fixtures for messaging tests: the local fakes of Meta's and Twilio's APIs, with
the app pointed at them. Servers live for the session; each test starts them empty."""

from __future__ import annotations

import pytest

from tests.messaging import fakes


@pytest.fixture(scope="session")
def _meta_server():
    server = fakes.MetaFake().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _twilio_server():
    server = fakes.TwilioFake().start()
    yield server
    server.stop()


@pytest.fixture
def whatsapp_fake(app, _meta_server) -> fakes.MetaFake:
    """WhatsApp through Meta's Cloud API (the real ``pywa`` client) against the local fake."""
    _meta_server.reset()
    app.config.update(
        WHATSAPP_PROVIDER="meta", WHATSAPP_ACCESS_TOKEN=fakes.META_TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=fakes.META_PHONE_ID, WHATSAPP_APP_SECRET=fakes.META_APP_SECRET,
        WHATSAPP_VERIFY_TOKEN=fakes.META_VERIFY_TOKEN, WHATSAPP_API_BASE_URL=_meta_server.base_url,
        MESSAGING_TIMEOUT_SECONDS=5)
    yield _meta_server
    _meta_server.reset()


@pytest.fixture
def twilio_fake(app, _twilio_server) -> fakes.TwilioFake:
    """SMS through Twilio (the real ``twilio`` client) against the local fake. WhatsApp
    goes through Twilio too unless ``whatsapp_fake`` (or ``WHATSAPP_PROVIDER``) says otherwise."""
    _twilio_server.reset()
    app.config.update(
        SMS_PROVIDER="twilio", TWILIO_ACCOUNT_SID=fakes.TWILIO_SID, TWILIO_AUTH_TOKEN=fakes.TWILIO_TOKEN,
        TWILIO_SMS_FROM=fakes.TWILIO_SMS_FROM, TWILIO_WHATSAPP_FROM=fakes.TWILIO_WHATSAPP_FROM,
        TWILIO_API_BASE_URL=_twilio_server.base_url, MESSAGING_TIMEOUT_SECONDS=5)
    yield _twilio_server
    _twilio_server.reset()
