"""Card payments through Stripe, with the official ``stripe`` library.

Every call that creates something at Stripe carries our own deterministic idempotency key
(``order-<id>-payment-intent``, the refund's key), so a retry after a timeout or a crash
never charges or refunds twice. Calls happen at the edge, after the database commit: the
order exists before Stripe hears of it, and a failed call is retried by ``flask orders
sweep`` or the next visit to the payment page.

Webhooks are verified on the raw body with the endpoint's signing secret, recorded by
event id before anything else (the primary key makes a duplicate delivery, even a
concurrent one, change nothing), and never move a payment backwards: a late
``processing`` after ``succeeded`` is ignored.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

import stripe
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.orders import services
from marketplace.orders.models import Order, PaymentMethod, PaymentStatus, Refund, StripeEvent

log = logging.getLogger(__name__)
CURRENCY = "cop"  # a two-decimal currency at Stripe: amounts travel in centavos


class PaymentUnavailable(Exception):
    """Stripe could not be reached or refused; the order stays as it was."""


def minor_units(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def from_minor_units(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def client() -> stripe.StripeClient:
    config = current_app.config
    if not config["STRIPE_SECRET_KEY"]:
        raise PaymentUnavailable("Stripe is not configured")
    kwargs = {"max_network_retries": 2}
    if config.get("STRIPE_API_BASE"):
        kwargs["base_addresses"] = {"api": config["STRIPE_API_BASE"]}
    return stripe.StripeClient(config["STRIPE_SECRET_KEY"], **kwargs)


def ensure_payment_intent(order: Order) -> str:
    """The order's PaymentIntent client secret, creating the intent once. Commits nothing;
    the caller commits the id it stores."""
    if order.payment_method != PaymentMethod.CARD:
        raise ValueError("not a card order")
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


def cancel_payment_intent(order: Order) -> None:
    if not order.stripe_payment_intent_id:
        return
    try:
        client().v1.payment_intents.cancel(order.stripe_payment_intent_id)
    except (stripe.StripeError, PaymentUnavailable) as exc:
        log.info("Could not cancel intent %s: %s", order.stripe_payment_intent_id, exc)


def push_refunds(limit: int = 100) -> int:
    """Send pending refunds to Stripe; each is committed as soon as Stripe accepts it."""
    if not current_app.config["STRIPE_SECRET_KEY"]:
        return 0
    sent = 0
    # Only refunds Stripe has not accepted yet: one it reports "pending" already exists there,
    # and sending it again after its idempotency key expires (24 h) would refund twice.
    pending = db.session.scalars(
        select(Refund).where(Refund.status == "pending", Refund.stripe_refund_id.is_(None))
        .order_by(Refund.id).limit(limit)
    ).all()
    for refund in pending:
        order = refund.order
        if not order.stripe_payment_intent_id:
            continue
        try:
            result = client().v1.refunds.create(
                params={"payment_intent": order.stripe_payment_intent_id, "amount": minor_units(refund.amount),
                        "metadata": {"order_id": str(order.id), "refund_key": refund.idempotency_key}},
                options={"idempotency_key": refund.idempotency_key},
            )
        except (stripe.StripeError, PaymentUnavailable) as exc:
            log.warning("Refund %s not sent yet: %s", refund.idempotency_key, exc)
            db.session.rollback()
            continue
        refund.stripe_refund_id = result.id
        refund.status = result.status or "succeeded"
        db.session.commit()
        sent += 1
    return sent


# ------------------------------------------------------------------- webhooks


class BadSignature(Exception):
    pass


def verify(payload: bytes, signature: str | None) -> stripe.Event:
    secret = current_app.config["STRIPE_WEBHOOK_SECRET"]
    if not secret or not signature:
        raise BadSignature("missing secret or signature")
    try:
        return stripe.Webhook.construct_event(payload, signature, secret)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        raise BadSignature(str(exc)) from exc


def _order_for(intent) -> Order | None:
    intent_id = intent.get("id")
    if not intent_id:
        return None
    # Locked, and read as last committed: a sweep cancelling the order meanwhile is seen
    # (a late payment) instead of overwritten.
    return db.session.scalar(select(Order).where(Order.stripe_payment_intent_id == intent_id).with_for_update())


def handle_event(event: stripe.Event, now: datetime | None = None) -> str:
    """Apply one verified event. Returns what happened; the caller commits.

    The event id is inserted first: a second delivery of the same event fails on the
    primary key (on PostgreSQL it waits for the first transaction, then fails), and the
    caller answers 200 without doing anything again.
    """
    now = now or utcnow()
    # stripe>=15 objects are no longer dicts (no ``.get``): work on the event's plain JSON.
    if hasattr(event, "to_dict"):
        event = event.to_dict()
    event_type = event.get("type", "")
    obj = (event.get("data") or {}).get("object") or {}
    record = StripeEvent(id=event["id"], type=event_type[:80], outcome="received", received_at=now)
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
        if order is None:
            outcome = "unknown_order"
        elif (obj.get("currency") or "").lower() != CURRENCY:
            outcome = "wrong_currency"
        elif event_type == "payment_intent.succeeded":
            received = obj.get("amount_received", obj.get("amount"))
            if not isinstance(received, int):
                outcome = "amount_mismatch"
            else:
                outcome = services.card_paid(order, from_minor_units(received), now)
        elif event_type == "payment_intent.processing":
            outcome = services.card_processing(order)
        elif event_type == "payment_intent.payment_failed":
            outcome = services.card_failed(order)
        elif event_type == "payment_intent.canceled":
            outcome = "ignored"
    elif event_type in ("refund.updated", "refund.created", "charge.refund.updated"):
        refund = db.session.scalar(select(Refund).where(Refund.stripe_refund_id == obj.get("id"))) \
            if obj.get("id") else None
        if refund is not None and obj.get("status"):
            refund.status = str(obj["status"])[:20]
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
