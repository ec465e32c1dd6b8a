"""WhatsApp through Meta's Cloud API, with the ``pywa`` SDK.

Outside the 24-hour window (checked when the message is sent, not when it was queued) a
business may only start a conversation with an approved template: its name, language, body
parameters and quick-reply button payloads. Inside it, free text goes, with interactive
reply buttons when the message has any. A free text that Meta refuses because the window
closed meanwhile (error 131047) is sent again as the template.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx
from pywa import WhatsApp
from pywa import errors as wa_errors
from pywa.types import Button
from pywa.types.templates import (
    AuthenticationBody,
    BodyText,
    CopyCodeOTPButton,
    QuickReplyButton,
    TemplateLanguage,
)

from marketplace.messaging import hooks, services
from marketplace.messaging.providers import (
    PermanentFailure,
    Provider,
    SendResult,
    TemporaryFailure,
    decimal_setting,
)

if TYPE_CHECKING:
    from marketplace.messaging.models import Message

# Interactive reply buttons: at most three, titles of at most 20 characters.
MAX_BUTTONS, MAX_TITLE = 3, 20


def wa_number(number: str) -> str:
    """Meta's recipient id: the E.164 number without the plus sign."""
    return number.removeprefix("whatsapp:").lstrip("+")


class MetaWhatsApp(Provider):
    name = "meta"

    def __init__(self, config):
        if not config.get("WHATSAPP_ACCESS_TOKEN") or not config.get("WHATSAPP_PHONE_NUMBER_ID"):
            raise TemporaryFailure("WhatsApp (Meta) sin WHATSAPP_ACCESS_TOKEN o WHATSAPP_PHONE_NUMBER_ID")
        self.timeout = float(config["MESSAGING_TIMEOUT_SECONDS"])
        self.max_bytes = int(config["MESSAGING_MEDIA_MAX_BYTES"])
        # One retry of a failed connection, none of a request that reached Meta (the worker
        # retries with back-off and a new claim).
        session = httpx.Client(timeout=self.timeout, transport=httpx.HTTPTransport(retries=1))
        self.client = WhatsApp(phone_id=config["WHATSAPP_PHONE_NUMBER_ID"], token=config["WHATSAPP_ACCESS_TOKEN"],
                               session=session)
        base = (config.get("WHATSAPP_API_BASE_URL") or "").rstrip("/")
        if base:  # a local fake of the Graph API: keep pywa's version path
            session.base_url = base + session.base_url.raw_path.decode()

    # ------------------------------------------------------------------ sending

    def send(self, message: Message, *, window_open: bool | None = None) -> SendResult:
        if not message.to_address:
            raise PermanentFailure("sin celular")
        if window_open is None:
            window_open = services.window_open(message.to_address)
        if window_open:
            try:
                return self._guard(self._send_text, message)
            except _WindowClosed:
                pass  # Meta saw the window closed before our records did: send the template
        if not message.template_name:
            raise PermanentFailure("la ventana de 24 horas de WhatsApp está cerrada y este mensaje no tiene plantilla")
        return self._guard(self._send_template, message)

    def _send_text(self, message: Message) -> SendResult:
        buttons = [Button(title=str(title)[:MAX_TITLE], callback_data=str(payload))
                   for payload, title in (message.buttons or [])[:MAX_BUTTONS]]
        sent = self.client.send_message(to=wa_number(message.to_address), text=message.body[:4096],
                                        buttons=buttons or None)
        return SendResult(self.name, sent.id, cost=decimal_setting("WHATSAPP_COST_PER_SESSION_MESSAGE"),
                          as_template=False)

    def _send_template(self, message: Message) -> SendResult:
        params = []
        kind = hooks.NOTICE_KINDS.get(message.kind)
        if kind is not None and kind.template_category == "authentication" and message.template_params:
            # Meta's fixed code template: the code in the body and in the copy-code button.
            code = str(message.template_params[0])
            params = [AuthenticationBody.params(otp=code), CopyCodeOTPButton.params(otp=code)]
        else:
            if message.template_params:
                params.append(BodyText.params(*[str(p) for p in message.template_params]))
            for index, (payload, _title) in enumerate(message.buttons or []):
                params.append(QuickReplyButton.params(callback_data=str(payload), index=index))
        sent = self.client.send_template(
            to=wa_number(message.to_address), name=message.template_name,
            language=TemplateLanguage(message.template_language or "es"), params=params)
        return SendResult(self.name, sent.id, cost=decimal_setting("WHATSAPP_COST_PER_TEMPLATE"),
                          as_template=True)

    def _guard(self, call, message: Message) -> SendResult:
        try:
            return call(message)
        except wa_errors.ReEngagementMessage as exc:
            raise _WindowClosed() from exc
        except wa_errors.WhatsAppError as exc:
            raise classify(exc) from exc
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"WhatsApp no respondió: {exc.__class__.__name__} {exc}") from exc

    # ------------------------------------------------------------------ media

    def fetch_media(self, media: str) -> tuple[bytes, str]:
        """Look the media id up (its short-lived URL, type and size), then download it with
        the access token, stopping past ``MESSAGING_MEDIA_MAX_BYTES`` or the time limit."""
        try:
            info = self.client.get_media_url(media)
            if info.file_size and int(info.file_size) > self.max_bytes:
                raise PermanentFailure(f"la foto pesa {info.file_size} bytes, más de {self.max_bytes}")
            deadline = time.monotonic() + self.timeout
            chunks, size = [], 0
            with self.client.api.stream_media_bytes(media_url=info.url) as response:
                if response.status_code >= 400:
                    error = (TemporaryFailure if response.status_code >= 500 or response.status_code == 429
                             else PermanentFailure)
                    raise error(f"WhatsApp no entregó la foto: HTTP {response.status_code}")
                content_type = response.headers.get("Content-Type", info.mime_type or "application/octet-stream")
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PermanentFailure(f"la foto pesa más de {self.max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise TemporaryFailure("la foto tardó demasiado en descargarse")
                    chunks.append(chunk)
        except wa_errors.WhatsAppError as exc:
            raise classify(exc) from exc
        except httpx.HTTPError as exc:
            raise TemporaryFailure(f"WhatsApp no respondió: {exc.__class__.__name__} {exc}") from exc
        return b"".join(chunks), content_type.split(";")[0].strip()


class _WindowClosed(Exception):
    pass


def classify(exc: wa_errors.WhatsAppError) -> TemporaryFailure | PermanentFailure:
    """Meta's error as a temporary (5xx, rate limits, transient) or permanent failure."""
    reason = f"WhatsApp {exc.code}: {exc.message}" + (f" ({exc.details})" if exc.details else "")
    status = exc.status_code or 0
    if (status >= 500 or status == 429 or exc.is_transient or isinstance(exc, wa_errors.ThrottlingError)
            or exc.code in (1, 2, 131000, 131016)):  # unknown/service errors, service unavailable
        return TemporaryFailure(reason)
    return PermanentFailure(reason)
