"""Inbound webhooks: Meta's WhatsApp Cloud API and Twilio (SMS and WhatsApp).

Each request is verified before anything is read: Meta's ``X-Hub-Signature-256`` (HMAC-SHA256
of the raw body with ``WHATSAPP_APP_SECRET``, checked by pywa's own validator) and Twilio's
``X-Twilio-Signature`` (the twilio SDK's ``RequestValidator`` over ``PUBLIC_URL`` + the path,
since the app runs behind proxies that change the scheme and host). A request that fails it
gets 403 and changes nothing; a malformed one 400; the handlers never answer 500.

Messages go to ``inbound.receive`` (recorded once, answered through the outbox); delivery
statuses update the message the worker sent (``record_status``), never backwards. The
request commits once. URLs to register with the providers:

- Meta: ``{PUBLIC_URL}/webhooks/whatsapp`` (GET for the verification challenge, POST for
  messages and statuses; subscribe to the "messages" field).
- Twilio: ``{PUBLIC_URL}/webhooks/twilio`` for incoming messages (the SMS number and the
  WhatsApp sender) and ``{PUBLIC_URL}/webhooks/twilio/status`` as the status callback.
"""

from __future__ import annotations

import hmac
import json
import logging
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request
from pywa.utils import webhook_updates_validator
from sqlalchemy import func, update
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from marketplace.core.models import utcnow
from marketplace.extensions import csrf, db
from marketplace.messaging import inbound
from marketplace.messaging.models import Channel, Message, MessageStatus

logger = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)  # no cookies: each request is verified by its provider's signature

META = "meta"
TWILIO = "twilio"
MAX_ID = 100  # Inbound.provider_message_id, Message.provider_id

# The statuses a message goes through, in order: an update never moves it back (a "delivered"
# that arrives after "read" changes nothing).
_RANK = {MessageStatus.QUEUED: 0, MessageStatus.SENT: 1, MessageStatus.DELIVERED: 2, MessageStatus.READ: 3}
_META_STATUSES = {"sent": MessageStatus.SENT, "delivered": MessageStatus.DELIVERED,
                  "read": MessageStatus.READ, "failed": MessageStatus.FAILED}
_TWILIO_STATUSES = {"sent": MessageStatus.SENT, "delivered": MessageStatus.DELIVERED,
                    "read": MessageStatus.READ, "undelivered": MessageStatus.FAILED,
                    "failed": MessageStatus.FAILED, "canceled": MessageStatus.FAILED}
# What Twilio's commonest error codes mean, for staff (the full list is in Twilio's docs).
_TWILIO_ERRORS = {
    "21610": "el número respondió STOP a Twilio",
    "21614": "no es un número móvil",
    "30003": "teléfono apagado o fuera de servicio",
    "30004": "mensaje bloqueado por el destinatario",
    "30005": "número desconocido o inexistente",
    "30006": "número fijo o no alcanzable",
    "30007": "filtrado por el operador",
    "30008": "error desconocido del operador",
    "63016": "fuera de la ventana de 24 horas de WhatsApp: hace falta una plantilla",
}


def rate_limit() -> str:
    """One budget per client address across the webhooks (the providers send from a few)."""
    return current_app.config["WEBHOOK_RATE_LIMIT"]


# ------------------------------------------------------------------------ Meta


@bp.get("/whatsapp")
def whatsapp_challenge():
    """Meta's verification of the callback URL: echo ``hub.challenge`` when the token matches."""
    expected = current_app.config.get("WHATSAPP_VERIFY_TOKEN") or ""
    token = request.args.get("hub.verify_token", "")
    if (request.args.get("hub.mode") != "subscribe" or not expected
            or not _same(token, expected)):
        return Response("forbidden", status=403, mimetype="text/plain")
    return Response(request.args.get("hub.challenge", ""), status=200, mimetype="text/plain")


@bp.post("/whatsapp")
def whatsapp_update():
    body = request.get_data(cache=False)
    secret = current_app.config.get("WHATSAPP_APP_SECRET") or ""
    signature = request.headers.get("X-Hub-Signature-256", "")
    if not secret or not signature or not webhook_updates_validator(secret, body, signature):
        return {"error": "invalid signature"}, 403
    try:
        payload = json.loads(body)
    except ValueError:
        return {"error": "malformed JSON"}, 400
    if not isinstance(payload, dict):
        return {"error": "malformed update"}, 400
    messages, statuses = parse_meta(payload)

    def work():
        now = utcnow()
        for message in messages:
            inbound.receive(Channel.WHATSAPP, META, now=now, **message)
        for status in statuses:
            record_status(META, **status)

    return _commit_once(work, lambda: ({"received": len(messages), "statuses": len(statuses)}, 200))


def parse_meta(payload: dict) -> tuple[list[dict], list[dict]]:
    """The messages and statuses of a Cloud API update (``object``
    "whatsapp_business_account", ``entry[].changes[].value`` with ``messages`` and
    ``statuses``). Messages: text, interactive button and list replies, template quick-reply
    buttons, images (their media id, the caption as text); other kinds arrive with no text
    and are answered as not understood. Anything that is not the expected shape is skipped."""
    messages: list[dict] = []
    statuses: list[dict] = []
    for entry in _list(payload.get("entry")):
        for change in _list(_dict(entry).get("changes")):
            change = _dict(change)
            if change.get("field", "messages") != "messages":
                continue
            value = _dict(change.get("value"))
            for item in _list(value.get("messages")):
                parsed = _meta_message(_dict(item))
                if parsed is not None:
                    messages.append(parsed)
            for item in _list(value.get("statuses")):
                parsed = _meta_status(_dict(item))
                if parsed is not None:
                    statuses.append(parsed)
    return messages, statuses


def _meta_message(item: dict) -> dict | None:
    message_id, sender = _text(item.get("id")), _text(item.get("from"))
    if not message_id or not sender or len(message_id) > MAX_ID:
        return None
    kind = item.get("type")
    text = payload = media = None
    if kind == "text":
        text = _text(_dict(item.get("text")).get("body"))
    elif kind == "interactive":
        interactive = _dict(item.get("interactive"))
        reply = _dict(interactive.get(interactive.get("type") or "button_reply"))
        payload, text = _text(reply.get("id")), _text(reply.get("title"))
    elif kind == "button":  # a template's quick-reply button
        button = _dict(item.get("button"))
        payload, text = _text(button.get("payload")), _text(button.get("text"))
    elif kind == "image":
        image = _dict(item.get("image"))
        media, text = _text(image.get("id")), _text(image.get("caption"))
    return {"provider_message_id": message_id, "from_number": sender, "text": text,
            "button_payload": payload, "media_id": media}


def _meta_status(item: dict) -> dict | None:
    message_id = _text(item.get("id"))
    status = _META_STATUSES.get(_text(item.get("status")) or "")
    if not message_id or status is None:
        return None
    reason = None
    if status == MessageStatus.FAILED:
        reasons = []
        for error in _list(item.get("errors")):
            error = _dict(error)
            details = _text(_dict(error.get("error_data")).get("details")) or _text(error.get("message"))
            reasons.append(" ".join(filter(None, [_text(error.get("code")), _text(error.get("title")),
                                                  f"({details})" if details else None])))
        reason = "; ".join(reasons) or "WhatsApp no entregó el mensaje"
    return {"provider_id": message_id, "status": status, "reason": reason, "at": _timestamp(item.get("timestamp"))}


# ---------------------------------------------------------------------- Twilio


@bp.post("/twilio")
def twilio_message():
    """An incoming SMS or WhatsApp message through Twilio (a status callback sent here is
    taken as one)."""
    if not _twilio_signed():
        return {"error": "invalid signature"}, 403
    form = request.form
    if "Body" not in form and "NumMedia" not in form and form.get("MessageStatus"):
        return _twilio_status(form)
    message_id = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    sender = form.get("From") or ""
    if not message_id or not sender or len(message_id) > MAX_ID:
        return {"error": "missing MessageSid or From"}, 400
    channel = Channel.WHATSAPP if sender.lower().startswith("whatsapp:") else Channel.SMS
    media = form.get("MediaUrl0") if _int(form.get("NumMedia")) > 0 else None

    def work():
        inbound.receive(channel, TWILIO, message_id, sender, form.get("Body"),
                        button_payload=form.get("ButtonPayload"), media_id=media, now=utcnow())

    return _commit_once(work, _empty_twiml)


@bp.post("/twilio/status")
def twilio_status():
    if not _twilio_signed():
        return {"error": "invalid signature"}, 403
    return _twilio_status(request.form)


def _twilio_status(form) -> tuple:
    message_id = form.get("MessageSid") or form.get("SmsSid") or ""
    status = _TWILIO_STATUSES.get((form.get("MessageStatus") or form.get("SmsStatus") or "").lower())
    if not message_id or len(message_id) > MAX_ID:
        return {"error": "missing MessageSid"}, 400
    if status is None:  # queued, sending, accepted...: nothing to record
        return _empty_twiml()
    reason = None
    if status == MessageStatus.FAILED:
        code = (form.get("ErrorCode") or "").strip()
        reason = " ".join(filter(None, [f"Twilio {code}" if code else "Twilio",
                                        _TWILIO_ERRORS.get(code), form.get("ErrorMessage")]))
        reason = f"{reason} ({form.get('MessageStatus')})"

    def work():
        record_status(TWILIO, message_id, status, reason, utcnow())

    return _commit_once(work, _empty_twiml)


def _twilio_signed() -> bool:
    token = current_app.config.get("TWILIO_AUTH_TOKEN") or ""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    url = current_app.config["PUBLIC_URL"].rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    return RequestValidator(token).validate(url, request.form, signature)


def _empty_twiml():
    # Answers go through the outbox, never inline.
    return Response(str(MessagingResponse()), status=200, mimetype="text/xml")


# -------------------------------------------------------------------- statuses


def record_status(provider: str, provider_id: str, status: MessageStatus, reason: str | None = None,
                  at: datetime | None = None) -> bool:
    """Move the message the provider knows as ``provider_id`` to ``status``, never backwards
    (read > delivered > sent; "failed" only before delivery, with its reason). One guarded
    UPDATE, so two callbacks that race cannot undo each other. Whether a message changed."""
    at = at or utcnow()
    values: dict = {"status": status, "updated_at": at}
    if status == MessageStatus.FAILED:
        allowed = (MessageStatus.QUEUED, MessageStatus.SENT)
        values.update(failed_at=at, status_reason=(reason or "")[:1000] or None)
    else:
        allowed = tuple(s for s, rank in _RANK.items() if rank < _RANK[status])
        values["sent_at"] = func.coalesce(Message.sent_at, at)
        if status in (MessageStatus.DELIVERED, MessageStatus.READ):
            values["delivered_at"] = func.coalesce(Message.delivered_at, at)
        if status == MessageStatus.READ:
            values["read_at"] = func.coalesce(Message.read_at, at)
    result = db.session.execute(
        update(Message)
        .where(Message.provider == provider, Message.provider_id == provider_id, Message.status.in_(allowed))
        .values(**values)
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)


# ---------------------------------------------------------------------- helpers


def _commit_once(work, answer):
    """Run the request's work and commit once; an unexpected failure is logged and answered
    503 (the provider tries again later, and the replay finds nothing recorded), never 500."""
    try:
        work()
        db.session.commit()
    except Exception:
        db.session.rollback()
        logger.exception("webhook %s failed", request.path)
        return {"error": "temporarily unavailable"}, 503
    return answer()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _text(value) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        return str(value).strip() or None
    return None


def _int(value) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _timestamp(value) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return utcnow()
