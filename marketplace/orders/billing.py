"""Payments recorded in the database: invoices marked paid by staff, card outcomes from
verified webhooks, charges given back, and the money staff pay back by transfer.

Every function here takes the order's lock first (``lock_order``): one writer per order.

Functions take plain values and the acting user, flush, and leave the commit to the caller.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.core import audit
from marketplace.core.errors import Conflict, DomainError, Forbidden
from marketplace.core.models import utcnow
from marketplace.core.text import clean_text
from marketplace.extensions import db
from marketplace.orders.common import lock_order
from marketplace.orders.ledger import bill_parts, plan_refunds, refresh_payout
from marketplace.orders.models import (
    ANOMALY_REASONS,
    Order,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundMethod,
    RefundStatus,
)

# -------------------------------------------------------------- payments (db)


def mark_invoice_paid(actor: User, order: Order, bank_reference: str | None, now: datetime | None = None) -> None:
    """Staff record the buyer's transfer for an invoice: it covers what each part is worth now.
    Under the order's lock, so a decline at the same moment is either seen here (and not
    invoiced) or comes after (and is owed back)."""
    if not actor.is_admin:
        raise Forbidden(_l("Solo el equipo del programa registra pagos de facturas."))
    reference = clean_text(bank_reference)
    if not reference:
        raise DomainError(_l("Escriba la referencia bancaria del pago."), "bank_reference")
    if len(reference) > 80:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=80), "bank_reference")
    order = lock_order(order.id)
    if order.payment_method != PaymentMethod.INVOICE:
        raise Conflict(_l("Este pedido se paga con tarjeta, no con factura."))
    if order.payment_status == PaymentStatus.PAID:
        raise Conflict(_l("Esta factura ya está pagada."))
    if order.payment_status == PaymentStatus.CANCELLED:
        raise Conflict(_l("Este pedido fue cancelado; no hay nada que pagar."))
    now = now or utcnow()
    amount = bill_parts(order, method_covers_all=False)
    if amount <= 0:
        raise Conflict(_l("Este pedido ya no tiene nada que pagar."))
    order.payment_status = PaymentStatus.PAID
    order.paid_at = now
    order.bank_reference = reference
    order.marked_paid_by_id = actor.id
    order.amount_paid = amount
    audit.record("invoice.paid", "order", order.id, actor=actor, organisation_id=order.buyer_id,
                 before={"payment_status": "pending"},
                 after={"payment_status": "paid", "bank_reference": reference, "amount": str(order.amount_paid)})
    for part in order.parts:
        refresh_payout(part, now)


def card_succeeded(order: Order, intent_id: str, amount: Decimal, now: datetime, *, captured: bool = True) -> str:
    """Record a successful card charge (from a verified webhook). Returns what happened.

    Only a charge of the order's own PaymentIntent, for its total, on an order still waiting
    for it, pays the order. Any other (a stray intent, a wrong amount, an order already
    cancelled) is given back whole, or voided if not yet captured, and shown to staff."""
    order = lock_order(order.id)
    if intent_id != order.stripe_payment_intent_id:
        return charge_back(order, intent_id, amount, "stray_intent", now, captured=captured)
    if order.payment_status == PaymentStatus.PAID:
        return "already_paid"
    if amount != order.total:
        return charge_back(order, intent_id, amount, "amount_mismatch", now, captured=captured)
    if order.payment_status == PaymentStatus.CANCELLED:
        return charge_back(order, intent_id, amount, "paid_after_cancel", now, captured=captured)
    if not captured:
        return "ignored"  # charges are captured automatically; the succeeded event follows
    order.payment_status = PaymentStatus.PAID
    order.amount_paid = bill_parts(order, method_covers_all=True)
    order.paid_at = now
    audit.record("payment.card_paid", "order", order.id, organisation_id=order.buyer_id,
                 after={"amount": str(amount)})
    for part in order.parts:
        refresh_payout(part, now)
    plan_refunds(order)  # parts declined before the buyer paid are owed back at once
    return "paid"


def charge_back(order: Order, intent_id: str, amount: Decimal, reason: str, now: datetime, *,
                captured: bool = True) -> str:
    """Give back a charge that does not pay the order, once per intent and reason."""
    key = f"intent-{intent_id}-{reason}"[:100]
    if amount > 0 and db.session.scalar(select(Refund.id).where(Refund.idempotency_key == key)) is None:
        db.session.add(Refund(order_id=order.id, part_id=None, amount=amount, reason=reason,
                              method=RefundMethod.CARD if captured else RefundMethod.VOID,
                              payment_intent_id=intent_id, idempotency_key=key,
                              status=RefundStatus.PENDING.value, attempts=0, created_at=now))
        audit.record("payment.charge_back", "order", order.id, organisation_id=order.buyer_id,
                     after={"reason": reason, "intent": intent_id, "amount": str(amount),
                            "expected": str(order.total), "captured": captured})
        db.session.flush()
    return reason


def card_failed(order: Order) -> str:
    order = lock_order(order.id)
    if order.payment_status in (PaymentStatus.PENDING, PaymentStatus.PROCESSING):
        order.payment_status = PaymentStatus.FAILED
        audit.record("payment.card_failed", "order", order.id, organisation_id=order.buyer_id)
        return "failed"
    return "ignored"


def card_processing(order: Order) -> str:
    order = lock_order(order.id)
    if order.payment_status == PaymentStatus.PENDING:
        order.payment_status = PaymentStatus.PROCESSING
        return "processing"
    return "ignored"


# ------------------------------------------------------------ money owed back


def settle_payback(actor: User, refund: Refund, bank_reference: str | None, now: datetime | None = None) -> None:
    """Staff record the transfer that paid money back: a bank payback of an invoice, or a card
    refund Stripe would not take (failed), paid by other means."""
    if not actor.is_admin:
        raise Forbidden(_l("Solo el equipo del programa registra devoluciones."))
    reference = clean_text(bank_reference)
    if not reference:
        raise DomainError(_l("Escriba la referencia bancaria de la devolución."), "bank_reference")
    if len(reference) > 80:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=80), "bank_reference")
    lock_order(refund.order_id)
    db.session.refresh(refund)
    settleable = (refund.method == RefundMethod.BANK and refund.status == RefundStatus.PENDING) or \
        refund.status == RefundStatus.FAILED
    if not settleable:
        raise Conflict(_l("Esta devolución no está esperando una transferencia."))
    before = refund.status
    refund.status = RefundStatus.SUCCEEDED.value
    refund.bank_reference = reference
    refund.settled_by_id = actor.id
    refund.settled_at = now or utcnow()
    audit.record("refund.settled", "refund", refund.id, actor=actor, organisation_id=refund.order.buyer_id,
                 before={"status": before}, after={"status": refund.status, "bank_reference": reference,
                                                   "amount": str(refund.amount)})


def retry_refund(actor: User, refund: Refund, now: datetime | None = None) -> None:
    """Staff send a failed card refund to Stripe again (after fixing what made it fail)."""
    if not actor.is_admin:
        raise Forbidden(_l("Solo el equipo del programa registra devoluciones."))
    lock_order(refund.order_id)
    db.session.refresh(refund)
    if refund.status != RefundStatus.FAILED or refund.method == RefundMethod.BANK or refund.stripe_refund_id:
        raise Conflict(_l("Solo se reintenta una devolución con tarjeta que falló."))
    refund.status = RefundStatus.PENDING.value
    refund.attempts = 0
    refund.next_attempt_at = None
    refund.claimed_until = None
    audit.record("refund.retried", "refund", refund.id, actor=actor, organisation_id=refund.order.buyer_id,
                 before={"status": "failed", "last_error": refund.last_error}, after={"status": "pending"})


def money_owed_back() -> list[Refund]:
    """What staff must act on: bank paybacks to make and refunds that failed, oldest first."""
    return list(db.session.scalars(
        select(Refund).where((Refund.status == RefundStatus.FAILED.value)
                             | ((Refund.method == RefundMethod.BANK) & (Refund.status == RefundStatus.PENDING.value)))
        .order_by(Refund.created_at, Refund.id)))


def recent_charge_backs(limit: int = 50) -> list[Refund]:
    """Charges given back because they did not pay their order, newest first."""
    return list(db.session.scalars(
        select(Refund).where(Refund.reason.in_(ANOMALY_REASONS)).order_by(Refund.id.desc()).limit(limit)))
