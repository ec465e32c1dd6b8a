"""Read the books and report what does not balance: stock, order totals, parts' goods,
refunds and payments. Read-only; ``flask check-invariants`` prints what it finds.

Each kind of check is one function that runs one aggregate statement over the whole
database and returns its ``Violation``s; ``CHECKS`` lists them, so a new check is one more
function added there. Amounts and kilos are compared as whole cents and grams: SQLite
keeps NUMERIC values as floating point, where a sum of kilos need not equal its parts
exactly, so every figure is rounded to its own unit before it is added or compared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import BigInteger, and_, case, cast, exists, func, or_, select
from sqlalchemy.orm import aliased

from marketplace.catalog.models import Listing
from marketplace.extensions import db
from marketplace.orders.models import (
    CLOSED_WITHOUT_SALE,
    Order,
    OrderLine,
    OrderPart,
    PartEvent,
    PaymentStatus,
    PayoutAdjustment,
    PayoutStatus,
    Refund,
)

CLOSED = sorted(status.value for status in CLOSED_WITHOUT_SALE)
# Orders still waiting for money: with nothing left to sell they should have been cancelled.
AWAITING_PAYMENT = sorted(status.value for status in (PaymentStatus.PENDING, PaymentStatus.PROCESSING,
                                                       PaymentStatus.FAILED))


@dataclass(frozen=True)
class Violation:
    """One thing that does not balance: which check found it, on which row, and the numbers."""

    kind: str
    object_type: str
    object_id: int
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.object_type} {self.object_id}: {self.message}"


def _grams(column):
    """A kilogram column as whole grams (exact on SQLite too)."""
    return cast(func.round(column * 1000), BigInteger)


def _cents(column):
    """A COP column as whole cents (exact on SQLite too)."""
    return cast(func.round(column * 100), BigInteger)


def _line_cents():
    """An order line's amount, kilos times price per kg rounded half up to the cent, as the
    order services round it (``quantize(CENTS, ROUND_HALF_UP)``); amounts are never negative."""
    return (_grams(OrderLine.quantity_kg) * _cents(OrderLine.price_per_kg) + 500) // 1000


def _kg(grams: int | None) -> str:
    value = Decimal(grams or 0) / 1000
    return f"{value.normalize():f} kg"


def _cop(cents: int | None) -> str:
    value = Decimal(cents or 0) / 100
    return f"$ {value.quantize(Decimal('0.01')):f}"


# ------------------------------------------------------------------------- checks


def listing_stock() -> list[Violation]:
    """Every lot: quantity = available + kilos held by lines of parts not closed without a
    sale, and 0 <= available <= quantity."""
    held = (
        select(OrderLine.listing_id, func.sum(_grams(OrderLine.quantity_kg)).label("grams"))
        .join(OrderPart, OrderPart.id == OrderLine.part_id)
        .where(OrderPart.status.not_in(CLOSED))
        .group_by(OrderLine.listing_id)
        .subquery()
    )
    quantity, available = _grams(Listing.quantity_kg), _grams(Listing.available_kg)
    held_grams = func.coalesce(held.c.grams, 0)
    rows = db.session.execute(
        select(Listing.id, quantity.label("quantity"), available.label("available"), held_grams.label("held"))
        .outerjoin(held, held.c.listing_id == Listing.id)
        .where(or_(quantity != available + held_grams, available < 0, available > quantity))
        .order_by(Listing.id)
    )
    return [Violation(
        "listing_stock", "listing", row.id,
        f"cantidad {_kg(row.quantity)}, disponible {_kg(row.available)} y {_kg(row.held)} en pedidos vigentes: "
        f"disponible + pedidos = {_kg(row.available + row.held)}, "
        f"diferencia {_kg(row.quantity - row.available - row.held)}",
    ) for row in rows]


def order_totals() -> list[Violation]:
    """Every order: total = goods + logistics + platform fee."""
    goods, logistics, fee, total = (_cents(Order.goods_total), _cents(Order.logistics_total),
                                    _cents(Order.fee_total), _cents(Order.total))
    rows = db.session.execute(
        select(Order.id, goods.label("goods"), logistics.label("logistics"), fee.label("fee"), total.label("total"))
        .where(total != goods + logistics + fee)
        .order_by(Order.id)
    )
    return [Violation(
        "order_total", "order", row.id,
        f"total {_cop(row.total)}, pero productos {_cop(row.goods)} + logística {_cop(row.logistics)} "
        f"+ comisión {_cop(row.fee)} = {_cop(row.goods + row.logistics + row.fee)}",
    ) for row in rows]


def part_goods() -> list[Violation]:
    """Every order part: goods amount = the sum of its lines (kilos times price, each line
    rounded to the cent)."""
    lines = (
        select(OrderLine.part_id, func.sum(_line_cents()).label("cents"))
        .group_by(OrderLine.part_id)
        .subquery()
    )
    goods, summed = _cents(OrderPart.goods_amount), func.coalesce(lines.c.cents, 0)
    rows = db.session.execute(
        select(OrderPart.id, OrderPart.order_id, goods.label("goods"), summed.label("lines"))
        .outerjoin(lines, lines.c.part_id == OrderPart.id)
        .where(goods != summed)
        .order_by(OrderPart.id)
    )
    return [Violation(
        "part_goods", "order_part", row.id,
        f"pedido {row.order_id}: productos {_cop(row.goods)}, pero sus líneas suman {_cop(row.lines)}",
    ) for row in rows]


def refund_totals() -> list[Violation]:
    """Every order: its refunded total is the sum of the refunds of its payment, and neither
    is more than was paid.

    The refunds of an order's payment are those for one of its parts. A refund without a
    part gives back a charge that never paid the order (a stray or mismatched charge): it
    is neither in the refunded total nor bounded by the amount paid.
    """
    refunds = (
        select(Refund.order_id, func.sum(_cents(Refund.amount)).label("cents"), func.count().label("count"))
        .where(Refund.part_id.is_not(None))
        .group_by(Refund.order_id)
        .subquery()
    )
    recorded, paid = _cents(Order.refunded_total), _cents(Order.amount_paid)
    summed = func.coalesce(refunds.c.cents, 0)
    rows = db.session.execute(
        select(Order.id, recorded.label("recorded"), paid.label("paid"), summed.label("refunds"),
               func.coalesce(refunds.c.count, 0).label("count"))
        .outerjoin(refunds, refunds.c.order_id == Order.id)
        .where(or_(recorded != summed, recorded > paid, summed > paid))
        .order_by(Order.id)
    )
    found = []
    for row in rows:
        if row.recorded != row.refunds:
            found.append(Violation(
                "refunded_total", "order", row.id,
                f"reembolsado {_cop(row.recorded)}, pero sus {row.count} reembolsos suman {_cop(row.refunds)}"))
        if max(row.recorded, row.refunds) > row.paid:
            found.append(Violation(
                "refunded_over_paid", "order", row.id,
                f"reembolsado {_cop(max(row.recorded, row.refunds))}, más que lo pagado {_cop(row.paid)}"))
    return found


def refund_amounts() -> list[Violation]:
    """Every refund is more than zero, and one of a part is no more than its order's payment."""
    amount, paid = _cents(Refund.amount), _cents(Order.amount_paid)
    rows = db.session.execute(
        select(Refund.id, Refund.order_id, amount.label("amount"), paid.label("paid"))
        .join(Order, Order.id == Refund.order_id)
        .where(or_(amount <= 0, and_(Refund.part_id.is_not(None), amount > paid)))
        .order_by(Refund.id)
    )
    return [Violation(
        "refund_amount", "refund", row.id,
        f"pedido {row.order_id}: reembolso de {_cop(row.amount)}"
        + (" (debe ser mayor que cero)" if row.amount <= 0 else f", más que lo pagado {_cop(row.paid)}"),
    ) for row in rows]


def unpaid_orders_without_sale() -> list[Violation]:
    """Every order still waiting for its payment has a part that may still sell; once every
    part is closed without a sale there is nothing to pay and the order is cancelled."""
    parts = (
        select(OrderPart.order_id, func.count().label("parts"),
               func.sum(case((OrderPart.status.in_(CLOSED), 0), else_=1)).label("live"))
        .group_by(OrderPart.order_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Order.id, Order.payment_status, parts.c.parts)
        .join(parts, parts.c.order_id == Order.id)
        .where(Order.payment_status.in_(AWAITING_PAYMENT), parts.c.parts > 0, parts.c.live == 0)
        .order_by(Order.id)
    )
    return [Violation(
        "unpaid_without_sale", "order", row.id,
        f"pago «{PaymentStatus(row.payment_status).value}» con sus {row.parts} partes cerradas sin venta "
        "(debería estar cancelado)",
    ) for row in rows]


def closed_parts_not_refunded() -> list[Violation]:
    """Every part closed without a sale after its order was paid has money owed back: a
    refund row for the part. A part closed before the payment was never charged for (an
    invoice is paid for what is sold)."""
    closed_at = (
        select(PartEvent.part_id, func.max(PartEvent.occurred_at).label("at"))
        .where(PartEvent.to_status.in_(CLOSED))
        .group_by(PartEvent.part_id)
        .subquery()
    )
    after_payment = or_(Order.paid_at.is_(None), closed_at.c.at.is_(None), closed_at.c.at >= Order.paid_at)
    rows = db.session.execute(
        select(OrderPart.id, OrderPart.order_id, OrderPart.status, Order.payment_method,
               _cents(Order.amount_paid).label("paid"))
        .join(Order, Order.id == OrderPart.order_id)
        .outerjoin(closed_at, closed_at.c.part_id == OrderPart.id)
        .where(Order.payment_status == PaymentStatus.PAID, Order.amount_paid > 0, OrderPart.status.in_(CLOSED),
               after_payment, ~exists().where(Refund.part_id == OrderPart.id))
        .order_by(OrderPart.id)
    )
    return [Violation(
        "closed_part_not_refunded", "order_part", row.id,
        f"pedido {row.order_id} pagado ({row.payment_method.value}, {_cop(row.paid)}): la parte quedó "
        f"«{row.status.value}» después del pago y no hay devolución registrada",
    ) for row in rows]


def refund_states() -> list[Violation]:
    """Every refund's state says how the money went back: a card refund Stripe took has its
    Stripe id, one paid by transfer its bank reference; a failed one says why."""
    card_done = and_(Refund.method != "bank", Refund.status.in_(["sent", "succeeded"]),
                     Refund.stripe_refund_id.is_(None), Refund.bank_reference.is_(None))
    bank_done = and_(Refund.method == "bank", Refund.status == "succeeded", Refund.bank_reference.is_(None))
    failed_silent = and_(Refund.status == "failed", Refund.last_error.is_(None), Refund.bank_reference.is_(None))
    unknown = Refund.status.not_in(["pending", "sent", "succeeded", "failed"])
    rows = db.session.execute(
        select(Refund.id, Refund.order_id, Refund.method, Refund.status)
        .where(or_(card_done, bank_done, failed_silent, unknown)).order_by(Refund.id))
    return [Violation(
        "refund_state", "refund", row.id,
        f"pedido {row.order_id}: devolución {row.method.value} «{row.status}» sin el dato que la respalda "
        "(id de Stripe, referencia bancaria o motivo del fallo)",
    ) for row in rows]


def payout_adjustments() -> list[Violation]:
    """Every payout adjustment taken into a payout names a part that was paid out, to the same
    cooperative it belongs to."""
    applied = aliased(OrderPart)
    rows = db.session.execute(
        select(PayoutAdjustment.id, PayoutAdjustment.applied_part_id)
        .join(applied, applied.id == PayoutAdjustment.applied_part_id)
        .where(or_(applied.payout_status != PayoutStatus.PAID,
                   applied.cooperative_id != PayoutAdjustment.cooperative_id))
        .order_by(PayoutAdjustment.id))
    return [Violation(
        "payout_adjustment", "payout_adjustment", row.id,
        f"aplicado al pago de la parte {row.applied_part_id}, que no está pagada a esa cooperativa",
    ) for row in rows]


CHECKS: list[Callable[[], list[Violation]]] = [
    listing_stock,
    order_totals,
    part_goods,
    refund_totals,
    refund_amounts,
    unpaid_orders_without_sale,
    closed_parts_not_refunded,
    refund_states,
    payout_adjustments,
]


def check() -> list[Violation]:
    """Run every check over the whole database; what does not balance, check by check."""
    return [violation for run in CHECKS for violation in run()]


def summary(violations: list[Violation]) -> str:
    if not violations:
        return f"Invariantes: todo cuadra ({len(CHECKS)} revisiones)."
    counts: dict[str, int] = {}
    for violation in violations:
        counts[violation.kind] = counts.get(violation.kind, 0) + 1
    detail = ", ".join(f"{kind}: {count}" for kind, count in counts.items())
    return f"Invariantes: {len(violations)} inconsistencias ({detail})."
