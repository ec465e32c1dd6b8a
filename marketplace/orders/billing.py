"""Payments recorded in the database: invoices marked paid by staff, card outcomes from
verified webhooks.

Functions take plain values and the acting user, flush, and leave the commit to the caller.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from marketplace.accounts.models import User
from marketplace.core import audit
from marketplace.core.errors import Conflict, DomainError, Forbidden
from marketplace.core.models import utcnow
from marketplace.core.text import clean_text
from marketplace.orders.ledger import (
    amount_due,
    plan_refunds,
    refresh_payout,
)
from marketplace.orders.models import (
    Order,
    PaymentMethod,
    PaymentStatus,
)

# -------------------------------------------------------------- payments (db)


def mark_invoice_paid(actor: User, order: Order, bank_reference: str | None, now: datetime | None = None) -> None:
    if not actor.is_admin:
        raise Forbidden(_l("Solo el equipo del programa registra pagos de facturas."))
    if order.payment_method != PaymentMethod.INVOICE:
        raise Conflict(_l("Este pedido se paga con tarjeta, no con factura."))
    if order.payment_status == PaymentStatus.PAID:
        raise Conflict(_l("Esta factura ya está pagada."))
    if order.payment_status == PaymentStatus.CANCELLED:
        raise Conflict(_l("Este pedido fue cancelado; no hay nada que pagar."))
    reference = clean_text(bank_reference)
    if not reference:
        raise DomainError(_l("Escriba la referencia bancaria del pago."), "bank_reference")
    if len(reference) > 80:
        raise DomainError(_l("Máximo %(max)d caracteres.", max=80), "bank_reference")
    now = now or utcnow()
    order.payment_status = PaymentStatus.PAID
    order.paid_at = now
    order.bank_reference = reference
    order.marked_paid_by_id = actor.id
    order.amount_paid = amount_due(order)
    audit.record("invoice.paid", "order", order.id, actor=actor, organisation_id=order.buyer_id,
                 before={"payment_status": "pending"},
                 after={"payment_status": "paid", "bank_reference": reference, "amount": str(order.amount_paid)})
    for part in order.parts:
        refresh_payout(part, now)


def card_paid(order: Order, amount: Decimal, now: datetime) -> str:
    """Record a successful card payment (from a verified webhook). Returns the outcome."""
    if order.payment_status == PaymentStatus.PAID:
        return "already_paid"
    if amount != order.total:
        audit.record("payment.amount_mismatch", "order", order.id, organisation_id=order.buyer_id,
                     after={"expected": str(order.total), "received": str(amount)})
        return "amount_mismatch"
    late = order.payment_status == PaymentStatus.CANCELLED
    order.payment_status = PaymentStatus.PAID
    order.amount_paid = amount
    order.paid_at = now
    audit.record("payment.card_paid", "order", order.id, organisation_id=order.buyer_id,
                 after={"amount": str(amount), "late": late})
    for part in order.parts:
        refresh_payout(part, now)
    plan_refunds(order)
    return "paid_after_cancel" if late else "paid"


def card_failed(order: Order) -> str:
    if order.payment_status in (PaymentStatus.PENDING, PaymentStatus.PROCESSING):
        order.payment_status = PaymentStatus.FAILED
        audit.record("payment.card_failed", "order", order.id, organisation_id=order.buyer_id)
        return "failed"
    return "ignored"


def card_processing(order: Order) -> str:
    if order.payment_status == PaymentStatus.PENDING:
        order.payment_status = PaymentStatus.PROCESSING
        return "processing"
    return "ignored"
