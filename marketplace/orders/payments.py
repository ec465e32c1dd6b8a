"""Card payments through Stripe, with the official ``stripe`` library.

Every call that creates something at Stripe carries our own deterministic idempotency key
(``order-<id>-payment-intent``, the refund's key), so a retry after a timeout or a crash
never charges or refunds twice. The payment page is the only request that calls Stripe (the
buyer waits for exactly that); refunds are sent by the worker alone (``push_refunds``, run by
``flask orders work`` and ``flask orders sweep``), each claimed by one process. Every call has
a timeout well under a gunicorn worker's and a bounded number of retries.

Webhooks are verified on the raw body with the endpoint's signing secret; anything signed
but malformed is refused with 400 before it is read. Events are recorded by id before
anything else (the primary key makes a duplicate delivery, even a concurrent one, change
nothing), and never move a payment backwards: a late ``processing`` after ``succeeded`` is
ignored, and a charge that does not pay its order is given back.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta
from decimal import Decimal

import stripe
from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from marketplace.core import audit, retry
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.orders import services
from marketplace.orders.models import (
    Order,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundMethod,
    RefundStatus,
    StripeEvent,
)

log = logging.getLogger(__name__)
CURRENCY = "cop"  # a two-decimal currency at Stripe: amounts travel in centavos


class PaymentUnavailable(Exception):
    """Stripe could not be reached or refused; the order stays as it was."""


def minor_units(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def from_minor_units(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def client() -> stripe.StripeClient:
    """A Stripe client whose every call gives up after ``STRIPE_TIMEOUT_SECONDS``, retried at
    most ``STRIPE_MAX_RETRIES`` times: a slow Stripe never holds a request or the worker long."""
    config = current_app.config
    if not config["STRIPE_SECRET_KEY"]:
        raise PaymentUnavailable("Stripe is not configured")
    timeout = float(config["STRIPE_TIMEOUT_SECONDS"])
    kwargs = {"max_network_retries": int(config["STRIPE_MAX_RETRIES"]),
              "http_client": stripe.RequestsClient(timeout=(min(timeout, 5.0), timeout))}
    if config.get("STRIPE_API_BASE"):
        kwargs["base_addresses"] = {"api": config["STRIPE_API_BASE"]}
    return stripe.StripeClient(config["STRIPE_SECRET_KEY"], **kwargs)


def ensure_payment_intent(order: Order) -> str:
    """The order's PaymentIntent client secret, creating the intent once. Commits nothing;
    the caller commits the id it stores.

    The order's lock is taken first, so payment pages loaded at the same moment wait for the
    first to store its intent and then reuse it: one PaymentIntent per order. The buyer is
    waiting for exactly this call (the one place a request calls Stripe)."""
    if order.payment_method != PaymentMethod.CARD:
        raise ValueError("not a card order")
    order = services.lock_order(order.id)
    if order.stripe_payment_intent_id and order.stripe_client_secret:
        return order.stripe_client_secret
    try:
        intent = client().v1.payment_intents.create(
            params={
                "amount": minor_units(order.total),
                "currency": CURRENCY,
                "payment_method_types": ["card"],
                "metadata": {"order_id": str(order.id)},
            },
            options={"idempotency_key": f"order-{order.id}-payment-intent"},
        )
    except stripe.StripeError as exc:
        log.warning("Stripe refused or failed creating the intent of order %s: %s", order.id, exc)
        raise PaymentUnavailable(str(exc)) from exc
    order.stripe_payment_intent_id = intent.id
    order.stripe_client_secret = intent.client_secret
    return intent.client_secret


# Refused for good: sending the same request again cannot succeed.
PERMANENT_ERRORS = (stripe.InvalidRequestError, stripe.CardError, stripe.PermissionError,
                    stripe.IdempotencyError)
CLAIM_SECONDS = 120  # longer than a call's timeout times its tries


def backoff(attempts: int) -> timedelta:
    """Wait before the next try: 1, 2, 4, 8... minutes, at most six hours."""
    return retry.backoff(attempts)


def push_refunds(limit: int = 100, now: datetime | None = None) -> int:
    """Send refunds owed to Stripe from the worker; returns how many Stripe accepted.

    Each refund is first claimed with a guarded UPDATE (pending, not sent, not claimed by a
    live worker, its next try due) and committed, so of several workers exactly one sends
    it. Each try is counted; a failure records the error and the next try with back-off;
    a permanent refusal, or ``REFUND_MAX_ATTEMPTS`` tries, leaves it ``failed`` for staff.
    Commits as it goes: it runs in the worker, never inside a user's request."""
    if not current_app.config["STRIPE_SECRET_KEY"]:
        return 0
    now = now or utcnow()
    due = (Refund.status == RefundStatus.PENDING.value, Refund.stripe_refund_id.is_(None),
           Refund.method.in_([RefundMethod.CARD, RefundMethod.VOID]),
           or_(Refund.next_attempt_at.is_(None), Refund.next_attempt_at <= now),
           or_(Refund.claimed_until.is_(None), Refund.claimed_until < now))
    ids = list(db.session.scalars(select(Refund.id).where(*due).order_by(Refund.id).limit(limit)))
    db.session.commit()
    sent = 0
    for refund_id in ids:
        claimed = db.session.execute(
            update(Refund).where(Refund.id == refund_id, *due)
            .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS), attempts=Refund.attempts + 1)
            .execution_options(synchronize_session=False))
        db.session.commit()
        if claimed.rowcount != 1:
            continue  # another worker has it
        refund = db.session.get(Refund, refund_id)
        db.session.refresh(refund)
        if _send(refund, now):
            sent += 1
        refund.claimed_until = None
        db.session.commit()
    return sent


def _send(refund: Refund, now: datetime) -> bool:
    order = refund.order
    intent_id = refund.payment_intent_id or order.stripe_payment_intent_id
    if not intent_id:
        _give_up(refund, "La orden no tiene un cobro con tarjeta que devolver.")
        return False
    try:
        if refund.method == RefundMethod.VOID:
            client().v1.payment_intents.cancel(intent_id, options={"idempotency_key": refund.idempotency_key})
            refund.status = RefundStatus.SUCCEEDED.value
            return True
        result = client().v1.refunds.create(
            params={"payment_intent": intent_id, "amount": minor_units(refund.amount),
                    "metadata": {"order_id": str(order.id), "refund_key": refund.idempotency_key}},
            options={"idempotency_key": refund.idempotency_key},
        )
    except PERMANENT_ERRORS as exc:
        log.warning("Stripe refused refund %s for good: %s", refund.idempotency_key, exc)
        _give_up(refund, _error_text(exc))
        return False
    except (stripe.StripeError, PaymentUnavailable) as exc:
        log.warning("Refund %s not sent yet: %s", refund.idempotency_key, exc)
        refund.last_error = _error_text(exc)
        if refund.attempts >= current_app.config["REFUND_MAX_ATTEMPTS"]:
            _give_up(refund, refund.last_error)
        else:
            refund.next_attempt_at = now + backoff(refund.attempts)
        return False
    refund.stripe_refund_id = result.id
    refund.status = refund_status(result.status)
    refund.last_error = None
    return True


def _error_text(exc: Exception) -> str:
    code = getattr(exc, "http_status", None)
    message = getattr(exc, "user_message", None) or str(exc) or exc.__class__.__name__
    return (f"{code}: {message}" if code else message)[:1000]


def _give_up(refund: Refund, reason: str) -> None:
    refund.status = RefundStatus.FAILED.value
    refund.last_error = reason[:1000]
    refund.next_attempt_at = None
    audit.record("refund.failed", "refund", refund.id, organisation_id=refund.order.buyer_id,
                 after={"amount": str(refund.amount), "reason": refund.last_error, "attempts": refund.attempts})


def refund_status(stripe_status: str | None) -> str:
    """Stripe's word for a refund in ours."""
    if stripe_status == "succeeded" or stripe_status is None:
        return RefundStatus.SUCCEEDED.value
    if stripe_status in ("failed", "canceled"):
        return RefundStatus.FAILED.value
    return RefundStatus.SENT.value  # pending, requires_action


# ------------------------------------------------------------------- webhooks


class BadSignature(Exception):
    pass


class MalformedEvent(Exception):
    """Signed, but not an event this endpoint can read: answered 400, nothing changes."""


def verify(payload: bytes, signature: str | None) -> dict:
    """Check the signature on the raw body, then read it as a Stripe event. Raises
    ``BadSignature`` or ``MalformedEvent``; returns the event as plain, checked JSON."""
    secret = current_app.config["STRIPE_WEBHOOK_SECRET"]
    if not secret or not signature:
        raise BadSignature("missing secret or signature")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, signature, secret, stripe.Webhook.DEFAULT_TOLERANCE)
    except (UnicodeDecodeError, ValueError, stripe.SignatureVerificationError) as exc:
        raise BadSignature(str(exc)) from exc
    try:
        event = json.loads(text)
    except ValueError as exc:
        raise MalformedEvent("not JSON") from exc
    return checked_event(event)


def _text(value, name: str, max_length: int, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > max_length or "\x00" in value:
        raise MalformedEvent(f"{name} must be text of 1 to {max_length} characters")
    return value


# The largest charge in centavos that an order's money column (NUMERIC(16, 2)) can hold.
MAX_MINOR_UNITS = 10**16 - 1
ORDER_REF = re.compile(r"[0-9]{1,12}")


def _amount(value, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MINOR_UNITS:
        raise MalformedEvent(f"{name} must be a whole number of centavos from 0 to {MAX_MINOR_UNITS}")
    return value


def checked_event(event) -> dict:
    """The fields this endpoint reads, each of the right kind, or ``MalformedEvent``."""
    if not isinstance(event, dict):
        raise MalformedEvent("the event must be an object")
    checked = {"id": _text(event.get("id"), "id", 100), "type": _text(event.get("type"), "type", 80)}
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise MalformedEvent("data.object must be an object")
    event_type = checked["type"]
    if event_type.startswith("payment_intent."):
        metadata = obj.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise MalformedEvent("metadata must be an object")
        order_ref = (metadata or {}).get("order_id")
        if order_ref is not None and not (isinstance(order_ref, str) and ORDER_REF.fullmatch(order_ref)):
            raise MalformedEvent("metadata.order_id must be our order number")
        checked["object"] = {
            "id": _text(obj.get("id"), "data.object.id", 100),
            "currency": _text(obj.get("currency"), "currency", 10, required=False),
            "amount": _amount(obj.get("amount"), "amount"),
            "amount_received": _amount(obj.get("amount_received"), "amount_received"),
            "amount_capturable": _amount(obj.get("amount_capturable"), "amount_capturable"),
            "order_id": int(order_ref) if order_ref is not None else None,
        }
    elif event_type.startswith("refund.") or event_type == "charge.refund.updated":
        checked["object"] = {"id": _text(obj.get("id"), "data.object.id", 100),
                             "status": _text(obj.get("status"), "status", 20, required=False)}
    else:
        checked["object"] = {}
    return checked


def _order_for(intent: dict) -> Order | None:
    """The order paid by this intent: the one that stores it, or the one its metadata names
    (an intent of ours the order does not use: a stray)."""
    order = db.session.scalar(select(Order).where(Order.stripe_payment_intent_id == intent["id"]))
    if order is None and intent["order_id"] is not None:
        order = db.session.get(Order, intent["order_id"])
        if order is not None and order.payment_method != PaymentMethod.CARD:
            order = None
    return order


def handle_event(event: dict, now: datetime | None = None) -> str:
    """Apply one verified, checked event (see ``verify``). Returns what happened; the caller
    commits.

    The event id is inserted first: a second delivery of the same event fails on the
    primary key (on PostgreSQL it waits for the first transaction, then fails), and the
    caller answers 200 without doing anything again. Every change to the order is made
    under its lock (see ``billing``).
    """
    now = now or utcnow()
    event_type = event["type"]
    obj = event["object"]
    record = StripeEvent(id=event["id"], type=event_type, outcome="received", received_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(record)
            db.session.flush()
    except IntegrityError:
        return "duplicate"

    outcome = "ignored"
    order = None
    if event_type.startswith("payment_intent."):
        order = _order_for(obj)
        own = order is not None and order.stripe_payment_intent_id == obj["id"]
        if order is None:
            outcome = "unknown_order"
        elif (obj["currency"] or "").lower() != CURRENCY:
            outcome = "wrong_currency"
            audit.record("payment.wrong_currency", "order", order.id, organisation_id=order.buyer_id,
                         after={"intent": obj["id"], "currency": obj["currency"]})
        elif event_type == "payment_intent.succeeded":
            received = obj["amount_received"] if obj["amount_received"] is not None else obj["amount"]
            outcome = services.card_succeeded(order, obj["id"], from_minor_units(received or 0), now)
        elif event_type == "payment_intent.amount_capturable_updated":
            held = obj["amount_capturable"] if obj["amount_capturable"] is not None else obj["amount"]
            outcome = services.card_succeeded(order, obj["id"], from_minor_units(held or 0), now, captured=False)
        elif not own:
            outcome = "stray_intent"
        elif event_type == "payment_intent.processing":
            outcome = services.card_processing(order)
        elif event_type == "payment_intent.payment_failed":
            outcome = services.card_failed(order)
    elif obj.get("id") and "status" in obj:
        refund = db.session.scalar(select(Refund).where(Refund.stripe_refund_id == obj["id"]))
        if refund is not None and obj["status"]:
            services.lock_order(refund.order_id)
            db.session.refresh(refund)
            refund.status = refund_status(obj["status"])
            outcome = "refund_" + refund.status
    record.order_id = order.id if order is not None else None
    record.outcome = outcome[:40]
    db.session.flush()
    return outcome


def order_status_label(order: Order) -> str:
    return {
        PaymentStatus.PENDING: "pending",
        PaymentStatus.PROCESSING: "processing",
        PaymentStatus.PAID: "paid",
        PaymentStatus.FAILED: "failed",
        PaymentStatus.CANCELLED: "cancelled",
    }[order.payment_status]
