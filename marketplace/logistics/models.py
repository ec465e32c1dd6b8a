"""Transport modes (staff-edited prices), known road distances, the first-mile legs of a
collection point, shipments with their legs and the order parts they carry, and
consolidated route plans."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import DeliverySite
from marketplace.catalog.models import CollectionPoint
from marketplace.core.models import utcnow
from marketplace.core.types import Coordinate, Kilograms, Money, UTCDateTime
from marketplace.extensions import db


class TransportMode(db.Model):
    """A way of moving produce and what it costs; defaults documented in ``costing``."""

    __tablename__ = "transport_mode"
    __table_args__ = (
        CheckConstraint("fixed_cop >= 0", name="fixed_nonnegative"),
        CheckConstraint("per_km_cop >= 0", name="per_km_nonnegative"),
        CheckConstraint("capacity_kg > 0", name="capacity_positive"),
    )

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(60))
    fixed_cop: Mapped[Decimal] = mapped_column(Money)
    per_km_cop: Mapped[Decimal] = mapped_column(Money)
    capacity_kg: Mapped[Decimal] = mapped_column(Kilograms)
    # Comma-separated leg kinds it can take: road, trail, river.
    kinds: Mapped[str] = mapped_column(String(30), default="road")
    max_road_km: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))  # not offered for longer road legs
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


class RouteDistance(db.Model):
    """A road distance staff know, from a collection point to a delivery site, used instead
    of the straight line times the circuity factor."""

    __tablename__ = "route_distance"
    __table_args__ = (
        UniqueConstraint("collection_point_id", "delivery_site_id"),
        CheckConstraint("road_km >= 0", name="road_km_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_point_id: Mapped[int] = mapped_column(ForeignKey("collection_point.id", ondelete="CASCADE"))
    delivery_site_id: Mapped[int] = mapped_column(ForeignKey("delivery_site.id", ondelete="CASCADE"))
    road_km: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    terrain: Mapped[str] = mapped_column(String(20), default="rolling")
    note: Mapped[str | None] = mapped_column(Text)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    collection_point: Mapped[CollectionPoint] = relationship()
    delivery_site: Mapped[DeliverySite] = relationship()


class AccessLeg(db.Model):
    """A stretch from a collection point to the road before any truck can load: a mule
    track or a river. Quotes from that point start with these legs."""

    __tablename__ = "access_leg"
    __table_args__ = (
        UniqueConstraint("collection_point_id", "position"),
        CheckConstraint("km >= 0", name="km_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_point_id: Mapped[int] = mapped_column(ForeignKey("collection_point.id", ondelete="CASCADE"),
                                                     index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))  # trail, river, road
    mode_code: Mapped[str] = mapped_column(ForeignKey("transport_mode.code"))
    km: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    terrain: Mapped[str] = mapped_column(String(20), default="mountainous")
    description: Mapped[str | None] = mapped_column(String(160))

    mode: Mapped[TransportMode] = relationship(lazy="joined")


class Shipment(db.Model):
    """Order parts picked up together, and the legs that carry them."""

    __tablename__ = "shipment"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="planned", index=True)  # planned, in_transit, delivered
    carrier_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="SET NULL"), index=True)
    carrier_name: Mapped[str | None] = mapped_column(String(120))  # a carrier not on the platform
    planned_pickup: Mapped[date] = mapped_column(Date)
    planned_delivery: Mapped[date] = mapped_column(Date)
    actual_pickup: Mapped[date | None] = mapped_column(Date)
    actual_delivery: Mapped[date | None] = mapped_column(Date)
    estimated_cop: Mapped[Decimal] = mapped_column(Money)
    actual_cop: Mapped[Decimal | None] = mapped_column(Money)
    route_plan_id: Mapped[int | None] = mapped_column(ForeignKey("route_plan.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    legs: Mapped[list[ShipmentLeg]] = relationship(back_populates="shipment", order_by="ShipmentLeg.position",
                                                   cascade="all, delete-orphan")
    stops: Mapped[list[ShipmentPart]] = relationship(back_populates="shipment", cascade="all, delete-orphan")

    @property
    def number(self) -> str:
        return f"EN-{self.id:06d}"


class ShipmentLeg(db.Model):
    __tablename__ = "shipment_leg"
    __table_args__ = (
        UniqueConstraint("shipment_id", "position"),
        CheckConstraint("km >= 0", name="km_nonnegative"),
        CheckConstraint("estimated_cop >= 0", name="estimated_nonnegative"),
        CheckConstraint("actual_cop IS NULL OR actual_cop >= 0", name="actual_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipment.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    mode_code: Mapped[str] = mapped_column(ForeignKey("transport_mode.code"))
    from_label: Mapped[str] = mapped_column(String(160))
    to_label: Mapped[str] = mapped_column(String(160))
    km: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    terrain: Mapped[str] = mapped_column(String(20))
    trips: Mapped[int] = mapped_column(Integer)
    estimated_cop: Mapped[Decimal] = mapped_column(Money)
    actual_cop: Mapped[Decimal | None] = mapped_column(Money)
    # Who pays the carrier for this leg: the cooperative (its ledger bears it) or the platform.
    paid_by: Mapped[str] = mapped_column(String(12), default="platform")

    shipment: Mapped[Shipment] = relationship(back_populates="legs")
    mode: Mapped[TransportMode] = relationship(lazy="joined")


class ShipmentPart(db.Model):
    """An order part carried by a shipment; a part travels in one shipment."""

    __tablename__ = "shipment_part"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipment.id", ondelete="CASCADE"), index=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("order_part.id", ondelete="CASCADE"), unique=True)
    kg: Mapped[Decimal] = mapped_column(Kilograms)

    shipment: Mapped[Shipment] = relationship(back_populates="stops")


class RoutePlan(db.Model):
    """A proposal of consolidated collection routes for one region and day."""

    __tablename__ = "route_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_code: Mapped[str] = mapped_column(String(2))
    day: Mapped[date] = mapped_column(Date)
    depot_label: Mapped[str] = mapped_column(String(160))
    depot_latitude: Mapped[Decimal] = mapped_column(Coordinate)
    depot_longitude: Mapped[Decimal] = mapped_column(Coordinate)
    mode_code: Mapped[str] = mapped_column(ForeignKey("transport_mode.code"))
    routes: Mapped[list] = mapped_column(JSON)  # [[part ids in visiting order], ...]
    distance_km: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    cost_cop: Mapped[Decimal] = mapped_column(Money)
    baseline_cop: Mapped[Decimal] = mapped_column(Money)  # one trip per pickup
    status: Mapped[str] = mapped_column(String(12), default="proposed")  # proposed, accepted
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    mode: Mapped[TransportMode] = relationship(lazy="joined")
