"""Buyers' demands (solicitudes de compra), cooperatives' offers answering them
(cotizaciones) and the optimiser's proposals (propuestas) for a demand."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
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
from marketplace.catalog.models import Grade, Listing, Product
from marketplace.core.models import utcnow
from marketplace.core.types import Kilograms, Money, UTCDateTime, str_enum
from marketplace.extensions import db


class DemandStatus(enum.StrEnum):
    OPEN = "open"  # cooperatives may answer; the buyer may run the optimiser
    ORDERED = "ordered"  # a proposal was accepted and became an order
    CANCELLED = "cancelled"  # withdrawn by the buyer
    EXPIRED = "expired"  # the delivery window ended with no order


class OfferStatus(enum.StrEnum):
    OPEN = "open"
    WITHDRAWN = "withdrawn"
    CHOSEN = "chosen"  # part of the accepted proposal's order
    NOT_CHOSEN = "not_chosen"  # the demand was ordered from others (or cancelled)


class Demand(db.Model):
    """What a buyer needs: a product of at least a grade, a quantity, delivered to one of its
    sites within a window, with an optional price ceiling and sourcing preferences.

    ``preferences`` is a list of ``{"attribute": "pdet" | "women_led" | "youth_led" |
    "cert:<code>", "min_share": "0.4" | null, "weight": "300" | null}``: a minimum share of
    the delivered kilos, or a weight in COP per kg the buyer would pay for it.
    ``source_departments`` (DANE codes), when not empty, limits where the supply may come from.
    """

    __tablename__ = "demand"
    __table_args__ = (
        CheckConstraint("quantity_kg > 0", name="quantity_positive"),
        CheckConstraint("window_end >= window_start", name="window_ordered"),
        CheckConstraint("max_price_per_kg IS NULL OR max_price_per_kg >= 0", name="max_price_nonnegative"),
        CheckConstraint("target_price_per_kg IS NULL OR target_price_per_kg >= 0", name="target_nonnegative"),
        CheckConstraint("min_lot_kg IS NULL OR min_lot_kg > 0", name="min_lot_positive"),
        Index("ix_demand_status_product", "status", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyer.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    min_grade_id: Mapped[int | None] = mapped_column(ForeignKey("grade.id"))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))  # as the buyer wrote it, in ``unit``
    unit: Mapped[str] = mapped_column(String(20))
    quantity_kg: Mapped[Decimal] = mapped_column(Kilograms)
    delivery_site_id: Mapped[int] = mapped_column(ForeignKey("delivery_site.id"))
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    target_price_per_kg: Mapped[Decimal | None] = mapped_column(Money)
    max_price_per_kg: Mapped[Decimal | None] = mapped_column(Money)  # landed: goods + logistics
    min_lot_kg: Mapped[Decimal | None] = mapped_column(Kilograms)  # smallest lot worth taking from one cooperative
    preferences: Mapped[list] = mapped_column(JSON, default=list)
    source_departments: Mapped[list] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[DemandStatus] = mapped_column(str_enum(DemandStatus, "demand_status"), default=DemandStatus.OPEN)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("purchase_order.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    buyer: Mapped[Buyer] = relationship()
    product: Mapped[Product] = relationship(lazy="joined")
    min_grade: Mapped[Grade | None] = relationship(lazy="joined")
    delivery_site: Mapped[DeliverySite] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship()
    offers: Mapped[list[Offer]] = relationship(back_populates="demand", order_by="Offer.id")

    @property
    def number(self) -> str:
        return f"S-{self.id:05d}"


class Offer(db.Model):
    """A cooperative's answer to a demand: kilos from one of its listings, at its own price
    per kg, ready from a date. The kilos stay in the listing until an order takes them."""

    __tablename__ = "demand_offer"
    __table_args__ = (
        CheckConstraint("quantity_kg > 0", name="quantity_positive"),
        CheckConstraint("price_per_kg >= 0", name="price_nonnegative"),
        UniqueConstraint("demand_id", "listing_id", name="one_per_listing"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demand.id", ondelete="CASCADE"), index=True)
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperative.id", ondelete="CASCADE"), index=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit: Mapped[str] = mapped_column(String(20))
    quantity_kg: Mapped[Decimal] = mapped_column(Kilograms)
    price_per_kg: Mapped[Decimal] = mapped_column(Money)
    ready_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[OfferStatus] = mapped_column(str_enum(OfferStatus, "offer_status"), default=OfferStatus.OPEN)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    demand: Mapped[Demand] = relationship(back_populates="offers")
    cooperative: Mapped[Cooperative] = relationship(lazy="joined")
    listing: Mapped[Listing] = relationship(lazy="joined")


class Proposal(db.Model):
    """One run of the optimiser for a demand, kept so the buyer can read it, come back to it
    and accept it. ``allocations`` holds, per supply chosen: listing id, offer id (or null),
    cooperative id, kg, price per kg, goods, its share of the cooperative's logistics;
    ``greedy`` the same figures for the cheapest-price-only choice; ``reasons`` why the
    demand is not fully met.

    Every money figure is the order's own quote (``orders.services.quote``) of exactly these
    lines: ``parts`` per cooperative (kg, goods, logistics, platform fee, total, landed price
    per kg), ``fee_cop`` and ``total_cop`` what accepting charges. Proposals made before
    proposals were priced that way have no parts, fee or total and can no longer be accepted.
    """

    __tablename__ = "demand_proposal"
    __table_args__ = (CheckConstraint("met_kg >= 0", name="met_nonnegative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    demand_id: Mapped[int] = mapped_column(ForeignKey("demand.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20))  # the solver's: optimal, feasible, infeasible
    met_kg: Mapped[Decimal] = mapped_column(Kilograms)
    goods_cop: Mapped[Decimal] = mapped_column(Money)
    logistics_cop: Mapped[Decimal] = mapped_column(Money)
    greedy_met_kg: Mapped[Decimal] = mapped_column(Kilograms)
    greedy_landed_cop: Mapped[Decimal] = mapped_column(Money)
    fee_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    fee_cop: Mapped[Decimal | None] = mapped_column(Money)
    total_cop: Mapped[Decimal | None] = mapped_column(Money)  # goods + logistics + fee: what accepting charges
    allocations: Mapped[list] = mapped_column(JSON, default=list)
    parts: Mapped[list | None] = mapped_column(JSON)
    greedy: Mapped[list] = mapped_column(JSON, default=list)
    greedy_parts: Mapped[list | None] = mapped_column(JSON)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    shares: Mapped[dict] = mapped_column(JSON, default=dict)
    solve_ms: Mapped[int] = mapped_column(Integer, default=0)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    superseded: Mapped[bool] = mapped_column(default=False)

    demand: Mapped[Demand] = relationship()

    @property
    def landed_cop(self) -> Decimal:
        return self.goods_cop + self.logistics_cop
