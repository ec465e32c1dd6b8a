"""Production plots of a cooperative's members, with their geolocation as validated."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.core.models import Municipality, utcnow
from marketplace.core.types import UTCDateTime
from marketplace.extensions import db


class Plot(db.Model):
    """A member's plot: who farms it, where, what, and its point or polygon exactly as
    validated (``geometry_geojson`` keeps the coordinates' decimals as written)."""

    __tablename__ = "plot"

    id: Mapped[int] = mapped_column(primary_key=True)
    cooperative_id: Mapped[int] = mapped_column(ForeignKey("cooperative.id", ondelete="CASCADE"), index=True)
    producer_name: Mapped[str] = mapped_column(String(120))
    member_code: Mapped[str | None] = mapped_column(String(40))
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"))
    declared_area_ha: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    geometry_geojson: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10))
    area_ha: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    municipality: Mapped[Municipality] = relationship(lazy="joined")
    product = relationship("Product", lazy="joined")
