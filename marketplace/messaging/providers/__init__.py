"""The providers that carry messages: e-mail (SMTP), WhatsApp (Meta's Cloud API through
``pywa``, or Twilio) and SMS (Twilio), chosen by configuration; a channel without
credentials writes its messages to the log instead (provider "log").

Every provider has ``send(message) -> SendResult`` and raises ``TemporaryFailure`` (try
again later: a time-out, a 5xx, a rate limit) or ``PermanentFailure`` (never: an invalid
number, a refused template) with a reason staff can read. Every call has a time limit
(``MESSAGING_TIMEOUT_SECONDS``) below the worker's claim on the message, and the SDKs retry
at most once. Providers are built once per application and configuration.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from flask import current_app

from marketplace.messaging.models import Channel

if TYPE_CHECKING:
    from marketplace.messaging.models import Message


@dataclass(frozen=True)
class SendResult:
    """What the provider made of a message: its id there, the SMS parts billed, the cost
    (in COP) and whether a WhatsApp message went as a template (None for other channels)."""

    provider: str
    provider_id: str | None
    segments: int | None = None
    cost: Decimal = Decimal(0)
    as_template: bool | None = None


class ProviderFailure(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason[:1000]


class TemporaryFailure(ProviderFailure):
    """The provider could not take the message now; the worker tries again later."""


class PermanentFailure(ProviderFailure):
    """The provider refused the message for good (invalid number, unknown template...)."""


class Provider:
    """A message carrier. ``name`` is recorded on each message it sends."""

    name = "base"

    def send(self, message: Message, *, window_open: bool | None = None) -> SendResult:  # pragma: no cover
        """Send ``message`` (possibly detached from its session). ``window_open`` says
        whether the WhatsApp 24-hour window is open (None: the provider looks it up)."""
        raise NotImplementedError

    def fetch_media(self, media: str) -> tuple[bytes, str]:
        """The bytes and content type of an inbound message's media (a WhatsApp media id,
        or Twilio's MediaUrl)."""
        raise PermanentFailure(f"{self.name}: no hay fotos que descargar por este medio")


def decimal_setting(name: str) -> Decimal:
    return Decimal(str(current_app.config[name]))


def whatsapp_provider_name(config) -> str:
    """"meta", "twilio" or "log": ``WHATSAPP_PROVIDER``, or the route whose credentials exist."""
    name = config.get("WHATSAPP_PROVIDER") or ""
    if name:
        return name
    if config.get("WHATSAPP_ACCESS_TOKEN") and config.get("WHATSAPP_PHONE_NUMBER_ID"):
        return "meta"
    if config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN") and config.get("TWILIO_WHATSAPP_FROM"):
        return "twilio"
    return "log"


def sms_provider_name(config) -> str:
    name = config.get("SMS_PROVIDER") or ""
    if name:
        return name
    if config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN") and (
            config.get("TWILIO_SMS_FROM") or config.get("TWILIO_MESSAGING_SERVICE_SID")):
        return "twilio"
    return "log"


def email_provider_name(config) -> str:
    return "smtp" if config.get("SMTP_HOST") else "log"


_KEYS = {
    "meta": ("WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID", "WHATSAPP_API_BASE_URL",
             "MESSAGING_TIMEOUT_SECONDS", "MESSAGING_MEDIA_MAX_BYTES"),
    "twilio": ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_SMS_FROM", "TWILIO_MESSAGING_SERVICE_SID",
               "TWILIO_WHATSAPP_FROM", "TWILIO_API_BASE_URL", "MESSAGING_TIMEOUT_SECONDS",
               "MESSAGING_MEDIA_MAX_BYTES"),
    "smtp": ("SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_STARTTLS", "MAIL_FROM",
             "MESSAGING_TIMEOUT_SECONDS"),
    "log": (),
}
_lock = threading.Lock()


def provider_name(channel: Channel | str, config=None) -> str:
    config = config if config is not None else current_app.config
    channel = Channel(channel)
    if channel == Channel.WHATSAPP:
        return whatsapp_provider_name(config)
    if channel == Channel.SMS:
        return sms_provider_name(config)
    return email_provider_name(config)


def _build(channel: Channel, name: str) -> Provider:
    if name == "log":
        from marketplace.messaging.providers.log import LogProvider

        return LogProvider()
    if channel == Channel.EMAIL and name == "smtp":
        from marketplace.messaging.providers.email import SmtpProvider

        return SmtpProvider(current_app.config)
    if channel == Channel.WHATSAPP and name == "meta":
        from marketplace.messaging.providers.meta import MetaWhatsApp

        return MetaWhatsApp(current_app.config)
    if channel in (Channel.WHATSAPP, Channel.SMS) and name == "twilio":
        from marketplace.messaging.providers.twilio import TwilioProvider

        return TwilioProvider(current_app.config, channel)
    raise TemporaryFailure(f"proveedor «{name}» desconocido para {channel.value}: revise la configuración")


def for_channel(channel: Channel | str) -> Provider:
    """The provider configured for ``channel`` (built once per application and settings)."""
    channel = Channel(channel)
    config = current_app.config
    name = provider_name(channel, config)
    key = (channel, name, tuple(repr(config.get(k)) for k in _KEYS.get(name, ())))
    cache = current_app.extensions.setdefault("messaging_providers", {})
    provider = cache.get(key)
    if provider is None:
        with _lock:
            provider = cache.get(key)
            if provider is None:
                provider = cache[key] = _build(channel, name)
    return provider


def fetch_media(channel: Channel | str, media: str) -> tuple[bytes, str]:
    """(bytes, content type) of a photo someone sent us on ``channel``: a WhatsApp media id
    (Meta) or MediaUrl (Twilio). Size-capped (``MESSAGING_MEDIA_MAX_BYTES``) and timed;
    raises ``TemporaryFailure`` / ``PermanentFailure`` like ``send``."""
    return for_channel(channel).fetch_media(media)
