"""What a part earns the cooperative and costs the buyer as it stands, payouts, and what is
owed back to the buyer (card refunds, payments back of invoices).

Functions take plain values and the acting user, flush, and leave the commit to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from marketplace.core.models import bogota_date, utcnow
from marketplace.extensions import db
from marketplace.orders.common import (
    CENTS,
    _config,
    _pct,
)
from marketplace.orders.models import (
    ANOMALY_REASONS,
    CLOSED_WITHOUT_SALE,
    DisputeKind,
    DisputeStatus,
    Order,
    OrderLine,
    OrderPart,
    PartStatus,
    PaymentMethod,
    PaymentStatus,
    PayoutStatus,
    Quality,
    Refund,
    RefundMethod,
    RefundStatus,
)

# -------------------------------------------------------------------- ledger


def billable_kg(line: OrderLine, *, undecided_as_ordered: bool = False) -> Decimal:
    """Kilos the buyer pays for.

    Without a dispute, what arrived (a small shortfall is re-priced at once). A shortfall in
    dispute is paid as ordered until decided: for the buyer (or agreed by the cooperative)
    what arrived, for the cooperative what was ordered. A rejected line is not paid for unless
    staff release it (then what arrived); while its dispute is open it counts as ordered only
    with ``undecided_as_ordered``, which is how refunds wait for the decision."""
    dispute = line.dispute
    if dispute is not None and dispute.kind == DisputeKind.SHORTFALL:
        return line.received_kg if dispute.status == DisputeStatus.REFUNDED else line.quantity_kg
    if line.quality == Quality.REJECTED:
        if dispute is not None and dispute.status == DisputeStatus.OPEN and undecided_as_ordered:
            return line.quantity_kg
        if dispute is None or dispute.status != DisputeStatus.RELEASED:
            return Decimal("0")
    return line.received_kg if line.received_kg is not None else line.quantity_kg


def line_amount(line: OrderLine, *, undecided_as_ordered: bool = False) -> Decimal:
    kg = billable_kg(line, undecided_as_ordered=undecided_as_ordered)
    return (kg * line.price_per_kg).quantize(CENTS, ROUND_HALF_UP)


@dataclass
class PartLedger:
    gross: Decimal
    platform_fee: Decimal
    logistics_borne: Decimal
    net: Decimal
    buyer_goods: Decimal
    buyer_logistics: Decimal
    buyer_fee: Decimal

    @property
    def buyer_total(self) -> Decimal:
        return self.buyer_goods + self.buyer_logistics + self.buyer_fee


ZERO_LEDGER = PartLedger(*(Decimal("0"),) * 7)


def ledger(part: OrderPart, *, undecided_as_ordered: bool = False) -> PartLedger:
    """What the cooperative earns from the part and what the buyer pays for it, now (with
    ``undecided_as_ordered``, as if every open dispute went the cooperative's way)."""
    if part.status in CLOSED_WITHOUT_SALE:
        return ZERO_LEDGER
    gross = sum((line_amount(ln, undecided_as_ordered=undecided_as_ordered) for ln in part.lines), Decimal("0"))
    fee = _pct(gross, part.coop_fee_percent)
    buyer_fee = _pct(gross, part.order.fee_percent)
    net = gross - fee - part.logistics_borne
    return PartLedger(gross=gross, platform_fee=fee, logistics_borne=part.logistics_borne, net=net,
                      buyer_goods=gross, buyer_logistics=part.logistics_estimate, buyer_fee=buyer_fee)


def amount_due(order: Order) -> Decimal:
    """What the buyer owes for the order as it stands (declines, shortfalls, disputes)."""
    return sum((ledger(p).buyer_total for p in order.parts), Decimal("0"))


@dataclass(frozen=True)
class PaymentDue:
    """What the buyer pays and by when: an invoice by its due date, a card now.

    Every page and message showing the buyer's figure reads it here, so they agree."""

    amount: Decimal
    invoice: bool
    due_date: date | None
    settled: bool


def payment_due(order: Order) -> PaymentDue:
    invoice = order.payment_method == PaymentMethod.INVOICE
    return PaymentDue(amount=amount_due(order), invoice=invoice,
                      due_date=order.invoice_due_date if invoice else None,
                      settled=order.payment_status in (PaymentStatus.PAID, PaymentStatus.CANCELLED))


def has_open_dispute(part: OrderPart) -> bool:
    return any(ln.dispute is not None and ln.dispute.status == DisputeStatus.OPEN for ln in part.lines)


def refresh_payout(part: OrderPart, now: datetime | None = None) -> None:
    """A delivered part is due to the cooperative once the buyer has paid and no dispute is open."""
    if part.status in CLOSED_WITHOUT_SALE or part.payout_status == PayoutStatus.PAID:
        return
    if part.status not in (PartStatus.DELIVERED,):
        part.payout_status = PayoutStatus.PENDING
        return
    now = now or utcnow()
    paid = part.order.payment_status == PaymentStatus.PAID
    if paid and not has_open_dispute(part):
        part.payout_status = PayoutStatus.DUE
        if part.payout_due_date is None:
            part.payout_due_date = bogota_date(now) + timedelta(days=_config("PAYOUT_DAYS"))
    else:
        part.payout_status = PayoutStatus.PENDING


# ------------------------------------------------------------------- refunds


def planned_back(part: OrderPart) -> Decimal:
    """What was already planned to go back to the buyer for this part (anomalies aside)."""
    return db.session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0))
        .where(Refund.part_id == part.id, Refund.reason.not_in(ANOMALY_REASONS))) or Decimal("0")


def refunds_owed(order: Order) -> dict[int, tuple[Decimal, str]]:
    """What each part owes the buyer back now, beyond what is already planned: what the
    payment covered for it less what it is worth now (declined, expired, cancelled, short or
    decided for the buyer). Empty unless the order's payment is recorded."""
    owed: dict[int, tuple[Decimal, str]] = {}
    if order.payment_status != PaymentStatus.PAID:
        return owed
    for part in order.parts:
        if part.billed_amount is None:
            continue
        # Nothing goes back while a dispute is open: staff or the cooperative decide first.
        worth = ledger(part, undecided_as_ordered=True).buyer_total
        amount = part.billed_amount - worth - planned_back(part)
        if amount > 0:
            reason = part.status.value if part.status in CLOSED_WITHOUT_SALE else "adjustment"
            owed[part.id] = (amount, reason)
    return owed


def plan_refunds(order: Order) -> list[Refund]:
    """Record what is owed back to the buyer as it stands, once: a card refund the worker sends
    to Stripe, or for an invoice paid by transfer a payment back that staff make. Call with
    the order's lock held (``lock_order``): the keys count the part's refunds so far."""
    created = []
    method = RefundMethod.CARD if order.payment_method == PaymentMethod.CARD else RefundMethod.BANK
    for part_id, (amount, reason) in refunds_owed(order).items():
        count = db.session.scalar(select(func.count(Refund.id)).where(Refund.part_id == part_id)) or 0
        refund = Refund(order_id=order.id, part_id=part_id, amount=amount, reason=reason, method=method,
                        idempotency_key=f"order-{order.id}-part-{part_id}-refund-{count + 1}",
                        status=RefundStatus.PENDING.value, attempts=0)
        db.session.add(refund)
        db.session.flush()
        created.append(refund)
        order.refunded_total = (order.refunded_total or Decimal("0")) + amount
    return created


def bill_parts(order: Order, method_covers_all: bool) -> Decimal:
    """Record what the payment covers for each part and return the sum: a card charge covers
    every part as placed (the order's total), an invoice what each part is worth now."""
    paid = Decimal("0")
    for part in order.parts:
        if method_covers_all:
            part.billed_amount = part.goods_amount + part.logistics_estimate + part.fee_amount
        else:
            part.billed_amount = ledger(part).buyer_total
        paid += part.billed_amount
    return paid
