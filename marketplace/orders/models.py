"""Orders, their per-cooperative parts and lines, the parts' transitions, payments,
refunds, Stripe events seen, disputes and the buyer's cart."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import Buyer, Cooperative, DeliverySite, User
from marketplace.catalog.models import CollectionPoint, Grade, Listing, Product
from marketplace.core.audit import append_only
from marketplace.core.models import Municipality, utcnow
from marketplace.core.types import Kilograms, Money, UTCDateTime, str_enum
from marketplace.extensions import db


class PartStatus(enum.StrEnum):
    PLACED = "placed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    READY = "ready"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    SETTLED = "settled"
    CANCELLED = "cancelled"


# Parts in these states hold no stock and owe nothing.
CLOSED_WITHOUT_SALE = frozenset({PartStatus.DECLINED, PartStatus.EXPIRED, PartStatus.CANCELLED})


class PaymentMethod(enum.StrEnum):
    CARD = "card"
    INVOICE = "invoice"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"  # card: waiting for the buyer; invoice: issued, not yet paid
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"  # nothing left to pay (every part declined or cancelled)


class Quality(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class DisputeStatus(enum.StrEnum):
    OPEN = "open"
    REFUNDED = "refunded"  # sided with the buyer: the rejected line, or the kilos missing, are not paid for
    RELEASED = "released"  # sided with the cooperative: the line is paid for as ordered


class DisputeKind(enum.StrEnum):
    QUALITY = "quality"  # the buyer rejected the line
    SHORTFALL = "shortfall"  # fewer kilos arrived than SHORTFALL_DISPUTE_PERCENT allows


class RefundMethod(enum.StrEnum):
    CARD = "card"  # refunded at Stripe by the worker
    BANK = "bank"  # an invoice paid by transfer: staff pay it back and record the reference
    VOID = "void"  # an uncaptured charge that must not be taken: its PaymentIntent is cancelled


class RefundStatus(enum.StrEnum):
    PENDING = "pending"  # to send to Stripe (card, void), or for staff to pay back (bank)
    SENT = "sent"  # Stripe accepted it and is processing it
    SUCCEEDED = "succeeded"  # Stripe refunded it, or staff paid it back
    FAILED = "failed"  # refused for good or out of attempts: staff see why and settle it by hand


class PayoutStatus(enum.StrEnum):
    PENDING = "pending"  # not delivered yet, or the buyer has not paid
    DUE = "due"
    PAID = "paid"
    NONE = "none"  # nothing to pay (declined, cancelled)


class Order(db.Model):
    """A buyer's order. Amounts are in COP; ``total`` is what the buyer is charged."""

    __tablename__ = "purchase_order"
    __table_args__ = (
        UniqueConstraint("buyer_id", "idempotency_key"),
        CheckConstraint("total >= 0", name="total_nonnegative"),
        CheckConstraint("window_end >= window_start", name="window_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyer.id"), index=True)
    delivery_site_id: Mapped[int] = mapped_column(ForeignKey("delivery_site.id"))
    placed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    payment_method: Mapped[PaymentMethod] = mapped_column(str_enum(PaymentMethod, "payment_method"))
    payment_status: Mapped[PaymentStatus] = mapped_column(str_enum(PaymentStatus, "payment_status"),
                                                          default=PaymentStatus.PENDING, index=True)
    fee_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    goods_total: Mapped[Decimal] = mapped_column(Money)
    logistics_total: Mapped[Decimal] = mapped_column(Money)
    fee_total: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    amount_paid: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    refunded_total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    # A card order not paid by this time is cancelled and its stock returned.
    pay_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # API clients' Idempotency-Key and a hash of the request it came with.
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    stripe_client_secret: Mapped[str | None] = mapped_column(String(200))
    invoice_due_date: Mapped[date | None] = mapped_column(Date, index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bank_reference: Mapped[str | None] = mapped_column(String(80))
    marked_paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    buyer: Mapped[Buyer] = relationship()
    delivery_site: Mapped[DeliverySite] = relationship()
    placed_by: Mapped[User | None] = relationship(foreign_keys=[placed_by_id])
    parts: Mapped[list[OrderPart]] = relationship(back_populates="order", order_by="OrderPart.id")
    refunds: Mapped[list[Refund]] = relationship(back_populates="order", order_by="Refund.id")

    @property
    def number(self) -> str:
        return f"OC-{self.id:06d}"

    @property
    def invoice_number(self) -> str | None:
        """Invoices are numbered like their orders, so the sequence has no gaps of its own."""
        return f"FV-{self.id:06d}" if self.payment_method == PaymentMethod.INVOICE else None


class OrderPart(db.Model):
    """What one cooperative supplies in an order: its own lifecycle and ledger."""

    __tablename__ = "order_part"
    __table_args__ = (
        UniqueConstraint("order_id", "cooperative_id"),
        Index("ix_order_part_coop_status", "cooperative_id", "status"),
        CheckConstraint("logistics_borne >= 0", name="logistics_borne_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("purchase_order.id", ondelete="CASCADE"), index=True)
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperative.id"))
    status: Mapped[PartStatus] = mapped_column(str_enum(PartStatus, "part_status"), default=PartStatus.PLACED)
    respond_by: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    goods_amount: Mapped[Decimal] = mapped_column(Money)  # at ordering
    logistics_estimate: Mapped[Decimal] = mapped_column(Money)
    logistics_mode: Mapped[str | None] = mapped_column(String(20))
    road_km: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    fee_amount: Mapped[Decimal] = mapped_column(Money)  # the buyer's platform fee on this part
    coop_fee_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    # Transport the cooperative paid itself (for example mules to the road).
    logistics_borne: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    # What moving this part really cost, from its shipment (allocated by weight).
    logistics_actual: Mapped[Decimal | None] = mapped_column(Money)
    # What the buyer's payment covered for this part when it was recorded (a card charge
    # covers every part as placed; an invoice what was due when it was paid). What is owed
    # back is this less what the part is worth now (see ledger.refunds_owed).
    billed_amount: Mapped[Decimal | None] = mapped_column(Money)
    payout_status: Mapped[PayoutStatus] = mapped_column(str_enum(PayoutStatus, "payout_status"),
                                                        default=PayoutStatus.PENDING)
    payout_due_date: Mapped[date | None] = mapped_column(Date)
    payout_reference: Mapped[str | None] = mapped_column(String(80))
    decline_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When the sweep reminded the cooperative that the part is still unanswered, 12 hours and
    # 2 hours before it declines itself: set by a guarded UPDATE, so each is written once.
    reminded_12h_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_2h_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    order: Mapped[Order] = relationship(back_populates="parts")
    cooperative: Mapped[Cooperative] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(back_populates="part", order_by="OrderLine.id")
    events: Mapped[list[PartEvent]] = relationship(order_by="PartEvent.id", viewonly=True)


class OrderLine(db.Model):
    """A quantity from one listing (lot), with its origin and the price when ordered."""

    __tablename__ = "order_line"
    __table_args__ = (
        CheckConstraint("quantity_kg > 0", name="quantity_positive"),
        CheckConstraint("received_kg IS NULL OR (received_kg >= 0 AND received_kg <= quantity_kg)",
                        name="received_within_quantity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("order_part.id", ondelete="CASCADE"), index=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    grade_id: Mapped[int] = mapped_column(ForeignKey("grade.id"))
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    collection_point_id: Mapped[int] = mapped_column(ForeignKey("collection_point.id"))
    quantity_kg: Mapped[Decimal] = mapped_column(Kilograms)
    unit: Mapped[str] = mapped_column(String(20))
    unit_kg: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    price_per_kg: Mapped[Decimal] = mapped_column(Money)
    received_kg: Mapped[Decimal | None] = mapped_column(Kilograms)
    quality: Mapped[Quality] = mapped_column(str_enum(Quality, "line_quality"), default=Quality.PENDING)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    rejection_photo_key: Mapped[str | None] = mapped_column(String(80))
    logistics_actual: Mapped[Decimal | None] = mapped_column(Money)  # its share of the shipment's cost

    part: Mapped[OrderPart] = relationship(back_populates="lines")
    listing: Mapped[Listing] = relationship()
    product: Mapped[Product] = relationship(lazy="joined")
    grade: Mapped[Grade] = relationship(lazy="joined")
    municipality: Mapped[Municipality] = relationship(lazy="joined")
    collection_point: Mapped[CollectionPoint] = relationship()
    dispute: Mapped[Dispute | None] = relationship(back_populates="line", uselist=False)


@append_only
class PartEvent(db.Model):
    """One transition of an order part: from, to, who, when. Append-only."""

    __tablename__ = "order_part_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("order_part.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)

    actor: Mapped[User | None] = relationship()


class Refund(db.Model):
    """Money owed back to a buyer: for a declined, cancelled or short part, a dispute decided for
    the buyer, or a charge that did not match its order (wrong amount, late, an intent the
    order does not use). Card refunds are sent to Stripe by the worker alone, which claims
    each one (``claimed_until``) so no two processes send it, retries with back-off and
    gives up into ``failed`` with the reason; bank paybacks are settled by staff with the
    transfer's reference."""

    __tablename__ = "refund"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),
                      Index("ix_refund_status_next_attempt", "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("purchase_order.id", ondelete="CASCADE"), index=True)
    part_id: Mapped[int | None] = mapped_column(ForeignKey("order_part.id", ondelete="SET NULL"))
    amount: Mapped[Decimal] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(String(40))
    method: Mapped[RefundMethod] = mapped_column(str_enum(RefundMethod, "refund_method"), default=RefundMethod.CARD,
                                                 server_default=RefundMethod.CARD.value)
    # Deterministic: the same refund is never created twice at Stripe.
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    # The charge to refund when it is not the order's own PaymentIntent (a stray one).
    payment_intent_id: Mapped[str | None] = mapped_column(String(100))
    stripe_refund_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=RefundStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bank_reference: Mapped[str | None] = mapped_column(String(80))
    settled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    order: Mapped[Order] = relationship(back_populates="refunds")

    @property
    def is_anomaly(self) -> bool:
        """A charge returned whole because it did not match its order; not part of what the
        order's payment covered."""
        return self.reason in ANOMALY_REASONS


# Refunds of charges that never counted as the order's payment.
ANOMALY_REASONS = frozenset({"amount_mismatch", "paid_after_cancel", "stray_intent"})


class StripeEvent(db.Model):
    """A Stripe webhook event already processed; its id is the key, so each is handled once."""

    __tablename__ = "stripe_event"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(80))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("purchase_order.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Dispute(db.Model):
    """A line in question: rejected for quality, or short by more than the allowed share. Staff
    resolve either; the cooperative may agree to a shortfall itself."""

    __tablename__ = "dispute"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[DisputeKind] = mapped_column(str_enum(DisputeKind, "dispute_kind"), default=DisputeKind.QUALITY,
                                              server_default=DisputeKind.QUALITY.value)
    status: Mapped[DisputeStatus] = mapped_column(str_enum(DisputeStatus, "dispute_status"),
                                                  default=DisputeStatus.OPEN, index=True)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    line: Mapped[OrderLine] = relationship(back_populates="dispute")


class CartItem(db.Model):
    """A quantity a buyer's user intends to order, in one of the listing's units."""

    __tablename__ = "cart_item"
    __table_args__ = (UniqueConstraint("user_id", "listing_id"),
                      CheckConstraint("quantity > 0", name="quantity_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"))
    quantity: Mapped[Decimal] = mapped_column(Kilograms)
    unit: Mapped[str] = mapped_column(String(20))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    listing: Mapped[Listing] = relationship()


class SaleChange(db.Model):
    """A part whose sale figures changed (status, kilos received, quality, actual logistics),
    written in the same transaction as the change, for readers that keep derived figures
    (the insights' rollups drain it)."""

    __tablename__ = "sale_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("order_part.id", ondelete="CASCADE"), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PayoutAdjustment(db.Model):
    """A correction to what a cooperative is owed for a part already paid out (a shipment's
    cost corrected by staff after the payout). The paid part's figures stay as they were
    paid; the signed amount (positive: owed to the cooperative, negative: to be taken back)
    is added to the cooperative's next payout, which records itself as ``applied_part``."""

    __tablename__ = "payout_adjustment"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_nonzero"),
        CheckConstraint("(applied_part_id IS NULL) = (applied_at IS NULL)", name="applied_together"),
        Index("ix_payout_adjustment_coop_applied", "cooperative_id", "applied_part_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperative.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("order_part.id"), index=True)  # the part it came from
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipment.id", ondelete="SET NULL"))
    amount: Mapped[Decimal] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    applied_part_id: Mapped[int | None] = mapped_column(ForeignKey("order_part.id"), index=True)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    part: Mapped[OrderPart] = relationship(foreign_keys=[part_id])
    applied_part: Mapped[OrderPart | None] = relationship(foreign_keys=[applied_part_id])
    created_by: Mapped[User | None] = relationship()
