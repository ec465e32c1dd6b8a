"""Payout adjustments: a change to what a cooperative is owed for a part that was already
paid out. The paid part keeps the figures it was paid on; the difference waits, signed, for
the cooperative's next payout, which takes it in.

Functions flush and never commit. This module reads the ledger through ``services`` only
when called, so the lifecycle that settles parts can import it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.core import audit
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.orders.models import OrderPart, PayoutAdjustment, PayoutStatus

ZERO = Decimal("0")


def create(actor: User, part: OrderPart, amount: Decimal, reason: str, *, shipment_id: int | None = None,
           now: datetime | None = None) -> PayoutAdjustment:
    """Owe the part's cooperative ``amount`` more (negative: less) on its next payout."""
    adjustment = PayoutAdjustment(cooperative_id=part.cooperative_id, part_id=part.id, shipment_id=shipment_id,
                                  amount=amount, reason=reason, created_by_id=actor.id,
                                  created_at=now or utcnow())
    db.session.add(adjustment)
    db.session.flush()
    audit.record("payout_adjustment.created", "payout_adjustment", adjustment.id, actor=actor,
                 organisation_id=part.cooperative_id, note=reason,
                 after={"part": part.id, "amount": amount, "shipment": shipment_id})
    return adjustment


def from_part(part: OrderPart) -> list[PayoutAdjustment]:
    """Adjustments that corrections of this (paid) part gave rise to, oldest first."""
    return list(db.session.scalars(select(PayoutAdjustment).where(PayoutAdjustment.part_id == part.id)
                                   .order_by(PayoutAdjustment.id)))


def applied_to(part: OrderPart) -> list[PayoutAdjustment]:
    """Adjustments this part's payout took in."""
    return list(db.session.scalars(select(PayoutAdjustment).where(PayoutAdjustment.applied_part_id == part.id)
                                   .order_by(PayoutAdjustment.id)))


def pending(cooperative_id: int | None = None) -> list[PayoutAdjustment]:
    """Adjustments no payout has taken in yet, for one cooperative or all, oldest first."""
    stmt = select(PayoutAdjustment).where(PayoutAdjustment.applied_part_id.is_(None))
    if cooperative_id is not None:
        stmt = stmt.where(PayoutAdjustment.cooperative_id == cooperative_id)
    return list(db.session.scalars(stmt.order_by(PayoutAdjustment.id)))


def _fitting(candidates: list[PayoutAdjustment], start: Decimal) -> list[PayoutAdjustment]:
    """The adjustments a payout of ``start`` pesos takes in: what is owed to the cooperative
    first, then what is taken back while the transfer stays at zero or above (the rest waits
    for a later payout, so no payout is ever negative)."""
    total, chosen = start, []
    for adjustment in sorted(candidates, key=lambda a: (a.amount < 0, a.id)):
        if total + adjustment.amount >= 0:
            chosen.append(adjustment)
            total += adjustment.amount
    return chosen


def _net(part: OrderPart) -> Decimal:
    # Imported here: services gathers the lifecycle, which imports this module.
    from marketplace.orders import services

    return services.ledger(part).net


def transfer_amount(part: OrderPart) -> Decimal:
    """What the cooperative is (or was) transferred for the part: its ledger's net plus the
    adjustments its payout takes (or took) in."""
    net = _net(part)
    if part.payout_status == PayoutStatus.PAID:
        return net + sum((a.amount for a in applied_to(part)), ZERO)
    if part.payout_status == PayoutStatus.DUE:
        return net + sum((a.amount for a in _fitting(pending(part.cooperative_id), net)), ZERO)
    return net


def apply_to_payout(actor: User | None, part: OrderPart, now: datetime | None = None) -> list[PayoutAdjustment]:
    """The part was just paid out: it takes in its cooperative's pending adjustments (those
    that fit, see ``_fitting``). Holds the pending rows' locks, so two payouts of the same
    cooperative never take in the same adjustment; calling it again takes in nothing more."""
    if part.payout_status != PayoutStatus.PAID:
        return []
    now = now or utcnow()
    waiting = list(db.session.scalars(
        select(PayoutAdjustment)
        .where(PayoutAdjustment.cooperative_id == part.cooperative_id, PayoutAdjustment.applied_part_id.is_(None))
        .order_by(PayoutAdjustment.id).with_for_update()
        .execution_options(populate_existing=True)))
    start = _net(part) + sum((a.amount for a in applied_to(part)), ZERO)
    chosen = _fitting(waiting, start)
    for adjustment in chosen:
        adjustment.applied_part_id = part.id
        adjustment.applied_at = now
        audit.record("payout_adjustment.applied", "payout_adjustment", adjustment.id, actor=actor,
                     organisation_id=part.cooperative_id, after={"applied_part": part.id, "amount": adjustment.amount})
    db.session.flush()
    return chosen


@dataclass
class Summary:
    """A cooperative's adjustments for its sales page."""

    pending: list[PayoutAdjustment]
    applied: list[PayoutAdjustment]

    @property
    def pending_total(self) -> Decimal:
        return sum((a.amount for a in self.pending), ZERO)

    @property
    def applied_total(self) -> Decimal:
        return sum((a.amount for a in self.applied), ZERO)


def summary(cooperative_id: int) -> Summary:
    rows = list(db.session.scalars(select(PayoutAdjustment).where(PayoutAdjustment.cooperative_id == cooperative_id)
                                   .order_by(PayoutAdjustment.id.desc())))
    return Summary(pending=[a for a in rows if a.applied_part_id is None],
                   applied=[a for a in rows if a.applied_part_id is not None])
