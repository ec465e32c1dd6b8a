"""SMS, and WhatsApp as the alternative route, through Twilio with the ``twilio`` SDK.

SMS: the text as queued (the outbox already spelled it for GSM-7); the parts Twilio counts
(or, failing that, ``gsm.segments``) times ``SMS_COST_PER_SEGMENT``.

WhatsApp ("whatsapp:+57..." addresses): inside the 24-hour window, free text; outside it,
the Content API template configured for the notice kind in ``TWILIO_WHATSAPP_CONTENT_SIDS``
(``{"new_order": "HX...", "accept": {"es": "HX...", "en": "HX..."}}``), its variables
"1".."n" being the template parameters and the next ones the quick-reply payloads. When
the kind has a content template, it is also used inside the window, so its buttons show.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import httpx
import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from marketplace.messaging import gsm, services
from marketplace.messaging.models import Channel
from marketplace.messaging.providers import (
    PermanentFailure,
    Provider,
    SendResult,
    TemporaryFailure,
    decimal_setting,
)

if TYPE_CHECKING:
    from marketplace.messaging.models import Message

TWILIO_HOSTS = ("api.twilio.com",)


class _HttpClient(TwilioHttpClient):
    """Twilio's own HTTP client, pointed at ``TWILIO_API_BASE_URL`` when one is set (a local
    fake in tests and benchmarks)."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        return super().request(method, rebase(url, self.base_url), *args, **kwargs)


def rebase(url: str, base: str) -> str:
    if not base:
        return url
    target, parts = urlsplit(base), urlsplit(url)
    return urlunsplit((target.scheme, target.netloc, target.path.rstrip("/") + parts.path, parts.query, ""))


def whatsapp_address(number: str) -> str:
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


class TwilioProvider(Provider):
    name = "twilio"

    def __init__(self, config, channel: Channel):
        self.channel = channel
        self.sid, self.token = config.get("TWILIO_ACCOUNT_SID"), config.get("TWILIO_AUTH_TOKEN")
        if not self.sid or not self.token:
            raise TemporaryFailure("Twilio sin TWILIO_ACCOUNT_SID o TWILIO_AUTH_TOKEN")
        self.sms_from = config.get("TWILIO_SMS_FROM") or None
        self.service_sid = config.get("TWILIO_MESSAGING_SERVICE_SID") or None
        self.whatsapp_from = config.get("TWILIO_WHATSAPP_FROM") or None
        if channel == Channel.SMS and not (self.sms_from or self.service_sid):
            raise TemporaryFailure("Twilio sin TWILIO_SMS_FROM ni TWILIO_MESSAGING_SERVICE_SID")
        if channel == Channel.WHATSAPP and not self.whatsapp_from:
            raise TemporaryFailure("Twilio sin TWILIO_WHATSAPP_FROM")
        self.content_sids = config.get("TWILIO_WHATSAPP_CONTENT_SIDS") or {}
        self.status_callback = config.get("TWILIO_STATUS_CALLBACK_URL") or None
        self.timeout = float(config["MESSAGING_TIMEOUT_SECONDS"])
        self.max_bytes = int(config["MESSAGING_MEDIA_MAX_BYTES"])
        self.base_url = (config.get("TWILIO_API_BASE_URL") or "").rstrip("/")
        # At most one retry, and only of a connection that failed before reaching Twilio.
        self.client = Client(self.sid, self.token, http_client=_HttpClient(
            self.base_url, timeout=self.timeout, max_retries=1))

    # ------------------------------------------------------------------ sending

    def send(self, message: Message, *, window_open: bool | None = None) -> SendResult:
        if not message.to_address:
            raise PermanentFailure("sin celular")
        if self.channel == Channel.SMS:
            return self._send_sms(message)
        return self._send_whatsapp(message, window_open)

    def _create(self, **params):
        if self.status_callback:
            params["status_callback"] = self.status_callback
        try:
            return self.client.messages.create(**params)
        except TwilioRestException as exc:
            raise classify(exc) from exc
        except (TwilioException, requests.RequestException) as exc:
            raise TemporaryFailure(f"Twilio no respondió: {exc.__class__.__name__} {exc}") from exc

    def _send_sms(self, message: Message) -> SendResult:
        sender = {"messaging_service_sid": self.service_sid} if self.service_sid else {"from_": self.sms_from}
        sent = self._create(to=message.to_address.removeprefix("whatsapp:"), body=message.body, **sender)
        try:
            segments = int(sent.num_segments)
        except (TypeError, ValueError):
            segments = gsm.segments(message.body)[1]
        return SendResult(self.name, sent.sid, segments=segments,
                          cost=segments * decimal_setting("SMS_COST_PER_SEGMENT"))

    def content_sid(self, message: Message) -> str | None:
        configured = self.content_sids.get(message.kind)
        if isinstance(configured, dict):
            return configured.get(message.locale) or configured.get("es")
        return configured or None

    def _send_whatsapp(self, message: Message, window: bool | None) -> SendResult:
        to, sender = whatsapp_address(message.to_address), whatsapp_address(self.whatsapp_from)
        if window is None:
            window = services.window_open(message.to_address.removeprefix("whatsapp:"))
        content_sid = self.content_sid(message)
        if content_sid:
            values = [str(p) for p in (message.template_params or [])]
            values += [str(payload) for payload, _title in (message.buttons or [])]
            sent = self._create(to=to, from_=sender, content_sid=content_sid,
                                content_variables=json.dumps({str(i): v for i, v in enumerate(values, 1)}))
        elif window:
            sent = self._create(to=to, from_=sender, body=message.body[:1600])
        else:
            raise PermanentFailure("la ventana de 24 horas de WhatsApp está cerrada y no hay plantilla de Twilio "
                                   f"(TWILIO_WHATSAPP_CONTENT_SIDS) para «{message.kind}»")
        cost = decimal_setting("WHATSAPP_COST_PER_SESSION_MESSAGE" if window else "WHATSAPP_COST_PER_TEMPLATE")
        return SendResult(self.name, sent.sid, cost=cost, as_template=not window)

    # ------------------------------------------------------------------ media

    def fetch_media(self, media: str) -> tuple[bytes, str]:
        """Download a MediaUrl from an inbound Twilio message (only from Twilio's API host),
        with the account's credentials, following Twilio's redirect to the file."""
        parts = urlsplit(media)
        if parts.scheme != "https" or parts.hostname not in TWILIO_HOSTS:
            raise PermanentFailure("dirección de foto que no es de Twilio")
        deadline = time.monotonic() + self.timeout
        chunks, size = [], 0
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=True, auth=(self.sid, self.token)) as http, \
                    http.stream("GET", rebase(media, self.base_url)) as response:
                if response.status_code >= 400:
                    error = (TemporaryFailure if response.status_code >= 500 or response.status_code == 429
                             else PermanentFailure)
                    raise error(f"Twilio no entregó la foto: HTTP {response.status_code}")
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise PermanentFailure(f"la foto pesa {declared} bytes, más de {self.max_bytes}")
                content_type = response.headers.get("Content-Type", "application/octet-stream")
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PermanentFailure(f"la foto pesa más de {self.max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise TemporaryFailure("la foto tardó demasiado en descargarse")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"Twilio no respondió: {exc.__class__.__name__} {exc}") from exc
        return b"".join(chunks), content_type.split(";")[0].strip()


# Twilio error codes that a later try may get past: queue overflow, rate limits.
TEMPORARY_CODES = frozenset({20429, 30001, 20500, 20503})


def classify(exc: TwilioRestException) -> TemporaryFailure | PermanentFailure:
    """Twilio's error as temporary (5xx, 429, queue overflow) or permanent (invalid number,
    unsubscribed recipient, an unknown template...)."""
    reason = f"Twilio {exc.code or exc.status}: {exc.msg}"
    if (exc.status or 0) >= 500 or exc.status == 429 or exc.code in TEMPORARY_CODES:
        return TemporaryFailure(reason)
    return PermanentFailure(reason)
