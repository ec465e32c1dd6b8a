"""What the insights read fast: one fact row per order line that is a sale, monthly rollups
of those facts, staff reviews of flagged transactions and indicator targets.

A sale is an order line whose part a cooperative accepted (accepted, ready, in transit,
delivered or settled); its kilos and pesos are what the buyer pays for (after delivery:
what was received and accepted). Facts and rollups are derived: ``insights.rollups``
keeps them up to date from the orders' change log, and can rebuild them from the raw rows.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.core.models import utcnow
from marketplace.core.types import Kilograms, Money, UTCDateTime
from marketplace.extensions import db


class SaleFact(db.Model):
    """One order line that is a sale, with everything a report filters or groups by."""

    __tablename__ = "sale_fact"
    __table_args__ = (
        # Covers trends (order parts a month) and anomalies (prices far from the median) for a product.
        Index("ix_sale_fact_product_month", "product_id", "month", "price_per_kg", "part_id"),
        Index("ix_sale_fact_buyer_month", "buyer_id", "month"),
        Index("ix_sale_fact_month", "month"),
    )

    line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id", ondelete="CASCADE"), primary_key=True)
    part_id: Mapped[int] = mapped_column(Integer, index=True)
    order_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)  # the order's date in Bogotá
    month: Mapped[date] = mapped_column(Date)  # first day of that month
    product_id: Mapped[int] = mapped_column(Integer)
    municipality_code: Mapped[str] = mapped_column(String(5))
    department_code: Mapped[str] = mapped_column(String(2))
    pdet_subregion: Mapped[str | None] = mapped_column(String(80))
    cooperative_id: Mapped[int] = mapped_column(Integer)
    buyer_id: Mapped[int] = mapped_column(Integer)
    women_led: Mapped[bool] = mapped_column(Boolean)
    youth_led: Mapped[bool] = mapped_column(Boolean)
    price_per_kg: Mapped[Decimal] = mapped_column(Money)
    kg: Mapped[Decimal] = mapped_column(Kilograms)
    cop: Mapped[Decimal] = mapped_column(Money)  # goods paid for this line
    logistics_cop: Mapped[Decimal] = mapped_column(Money)  # actual if recorded, else the estimate's share


class SalesMonth(db.Model):
    """Monthly sums of sale facts by product, municipality, cooperative and buyer."""

    __tablename__ = "sales_month"
    __table_args__ = (
        UniqueConstraint("month", "product_id", "municipality_code", "cooperative_id", "buyer_id",
                         name="uq_sales_month_key"),
        Index("ix_sales_month_product_month", "product_id", "month"),
        Index("ix_sales_month_buyer", "buyer_id", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date, index=True)
    product_id: Mapped[int] = mapped_column(Integer)
    municipality_code: Mapped[str] = mapped_column(String(5))
    department_code: Mapped[str] = mapped_column(String(2))
    pdet_subregion: Mapped[str | None] = mapped_column(String(80))
    cooperative_id: Mapped[int] = mapped_column(Integer)
    buyer_id: Mapped[int] = mapped_column(Integer)
    women_led: Mapped[bool] = mapped_column(Boolean)
    youth_led: Mapped[bool] = mapped_column(Boolean)
    kg: Mapped[Decimal] = mapped_column(Kilograms)
    cop: Mapped[Decimal] = mapped_column(Money)
    logistics_cop: Mapped[Decimal] = mapped_column(Money)
    lines: Mapped[int] = mapped_column(Integer)
    parts: Mapped[int] = mapped_column(Integer)  # order parts (one cooperative's share of an order)


class PriceMonth(db.Model):
    """How many sale lines (and kg) were paid each price, by month, product and municipality:
    enough to compute exact medians and quartiles of the price paid without the raw rows."""

    __tablename__ = "price_month"
    __table_args__ = (
        UniqueConstraint("month", "product_id", "municipality_code", "price_per_kg", name="uq_price_month_key"),
        # Covers a product's quartiles: (month, price) groups come out of the index in order.
        Index("ix_price_month_product_month_price", "product_id", "month", "price_per_kg", "lines"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date] = mapped_column(Date)
    product_id: Mapped[int] = mapped_column(Integer)
    municipality_code: Mapped[str] = mapped_column(String(5))
    department_code: Mapped[str] = mapped_column(String(2))
    pdet_subregion: Mapped[str | None] = mapped_column(String(80))
    price_per_kg: Mapped[Decimal] = mapped_column(Money)
    lines: Mapped[int] = mapped_column(Integer)
    kg: Mapped[Decimal] = mapped_column(Kilograms)


class TransactionReview(db.Model):
    """What staff found about a transaction flagged as priced far from its reference."""

    __tablename__ = "transaction_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("order_line.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[str] = mapped_column(String(20))  # justified, suspicious, error
    note: Mapped[str] = mapped_column(Text)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IndicatorTarget(db.Model):
    """A programme's goal for an impact indicator over a year (for example 2,000 t sold)."""

    __tablename__ = "indicator_target"
    __table_args__ = (UniqueConstraint("indicator", "year", name="uq_indicator_target_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator: Mapped[str] = mapped_column(String(40))
    year: Mapped[int] = mapped_column(Integer)
    target: Mapped[Decimal] = mapped_column(Money)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
