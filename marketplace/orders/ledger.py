"""What a part earns the cooperative and costs the buyer as it stands, payouts, and the refunds
a card order deserves.

Functions take plain values and the acting user, flush, and leave the commit to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from marketplace.core.models import bogota_date, utcnow
from marketplace.extensions import db
from marketplace.orders.common import (
    CENTS,
    _config,
    _pct,
)
from marketplace.orders.models import (
    CLOSED_WITHOUT_SALE,
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
)

# -------------------------------------------------------------------- ledger


def billable_kg(line: OrderLine) -> Decimal:
    """Kilos the buyer pays for: what arrived, none of a rejected line unless staff released it."""
    if line.quality == Quality.REJECTED:
        dispute = line.dispute
        if dispute is None or dispute.status != DisputeStatus.RELEASED:
            return Decimal("0")
    return line.received_kg if line.received_kg is not None else line.quantity_kg


def line_amount(line: OrderLine) -> Decimal:
    return (billable_kg(line) * line.price_per_kg).quantize(CENTS, ROUND_HALF_UP)


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


def ledger(part: OrderPart) -> PartLedger:
    """What the cooperative earns from the part and what the buyer pays for it, now."""
    if part.status in CLOSED_WITHOUT_SALE:
        return ZERO_LEDGER
    gross = sum((line_amount(ln) for ln in part.lines), Decimal("0"))
    fee = _pct(gross, part.coop_fee_percent)
    buyer_fee = _pct(gross, part.order.fee_percent)
    net = gross - fee - part.logistics_borne
    return PartLedger(gross=gross, platform_fee=fee, logistics_borne=part.logistics_borne, net=net,
                      buyer_goods=gross, buyer_logistics=part.logistics_estimate, buyer_fee=buyer_fee)


def amount_due(order: Order) -> Decimal:
    """What the buyer owes for the order as it stands (declines, shortfalls, disputes)."""
    return sum((ledger(p).buyer_total for p in order.parts), Decimal("0"))


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


def refunds_owed(order: Order) -> dict[str, tuple[int | None, Decimal, str]]:
    """Every refund a card order deserves as it stands, under a deterministic key:
    whole parts that were declined, expired or cancelled, and each line's shortfall or
    refunded dispute (with its share of the fee)."""
    owed: dict[str, tuple[int | None, Decimal, str]] = {}
    if order.payment_method != PaymentMethod.CARD or order.payment_status != PaymentStatus.PAID:
        return owed
    for part in order.parts:
        if part.status in CLOSED_WITHOUT_SALE:
            amount = part.goods_amount + part.logistics_estimate + part.fee_amount
            if amount > 0:
                owed[f"order-{order.id}-part-{part.id}-{part.status.value}"] = (part.id, amount, part.status.value)
            continue
        for line in part.lines:
            if line.received_kg is None and line.quality == Quality.PENDING:
                continue
            if line.dispute is not None and line.dispute.status == DisputeStatus.OPEN:
                continue  # staff decide first; a released line is paid for
            ordered = (line.quantity_kg * line.price_per_kg).quantize(CENTS, ROUND_HALF_UP)
            missing = ordered - line_amount(line)
            if missing > 0:
                amount = missing + _pct(missing, order.fee_percent)
                owed[f"order-{order.id}-line-{line.id}-adjust"] = (part.id, amount, "shortfall")
    return owed


def plan_refunds(order: Order) -> list[Refund]:
    """Add a pending Refund for each one owed and not yet planned. Sent to Stripe at the edge."""
    if order.payment_method != PaymentMethod.CARD or order.payment_status != PaymentStatus.PAID:
        return []
    existing = {r.idempotency_key: r for r in db.session.scalars(select(Refund).where(Refund.order_id == order.id))}
    created = []
    for key, (part_id, amount, reason) in refunds_owed(order).items():
        if key in existing:
            continue
        refund = Refund(order_id=order.id, part_id=part_id, amount=amount, reason=reason, idempotency_key=key,
                        status="pending")
        db.session.add(refund)
        created.append(refund)
        order.refunded_total = (order.refunded_total or Decimal("0")) + amount
    if created:
        db.session.flush()
    return created
